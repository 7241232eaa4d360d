"""Ingest workers in the server process: they claim queued tasks from the catalog and run them.

Each task is claimed with a lease (``lease_s``) that a heartbeat renews while the ingest runs, so
a task whose worker died — the process was killed — is claimed again once its lease expires. A
task that raises is retried later with exponential backoff and jitter; after ``max_attempts`` it
fails with its last error kept. A bad file is not retried: the runner records why it failed, and
that is final, while a failure of the machinery (a model server down, a store error) is retried.
A task that reaches a final state tells the namespace's webhooks (:mod:`omnidex.server.webhooks`).
Ingests into one collection run one at a time (its LanceDB table has one writer). With
``runner: ray`` each ingest runs on a Ray cluster (:mod:`omnidex.pipeline.ray_runner`).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import defaultdict
from pathlib import Path

from omnidex.embedded import Runner
from omnidex.errors import OmnidexError
from omnidex.pipeline.ray_runner import RayOptions
from omnidex.server.state import ServerState
from omnidex.server.uploads import move_into
from omnidex.server.webhooks import task_finished
from omnidex.sources.http import FetchPolicy, fetch_url
from omnidex.sources.object_storage import fetch_object, is_object_url
from omnidex.types import IngestStatus, TaskRecord, TaskState

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
TRANSIENT = {
    *("model_server_error", "store_error", "missing_dependency", "model_load_failed"),
    "cluster_error",
}
"""Failures of the machinery rather than of the file: the task is tried again later."""
NETWORK_REASONS = {"dns", "connect", "tls", "protocol", "disconnected", "truncated"}


def transient(error: OmnidexError) -> bool:
    """Whether trying again may help: the machinery failed, or the network did."""
    return (
        error.code in TRANSIENT
        or error.context.get("reason") in NETWORK_REASONS
        or int(error.context.get("status") or 0) >= 500
    )


def backoff_s(attempt: int) -> float:
    """Seconds before try ``attempt + 1``: exponential from 2 s, capped at 5 minutes, and
    jittered to between half and all of that so that retries of many tasks spread out."""
    return random.uniform(0.5, 1.0) * min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


class Workers:
    """``count`` threads that claim and run ingest tasks until :meth:`stop`."""

    def __init__(self, state: ServerState, count: int) -> None:
        self.state = state
        self.count = count
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._collection_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        config = state.config
        self._runner: Runner = (
            RayOptions(address=config.ray_address) if config.runner == "ray" else "local"
        )

    def start(self) -> None:
        for number in range(self.count):
            name = f"omnidex-worker-{number}-{uuid.uuid4().hex[:6]}"
            thread = threading.Thread(target=self._loop, args=(name,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.state.wake_workers()
        for thread in self._threads:
            thread.join(timeout_s)

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            task = self.state.catalog.claim_task(worker, self.state.config.lease_s)
            if task is None:
                self.state.work_queued.wait(IDLE_WAIT_S)
                self.state.work_queued.clear()
                continue
            self._run(worker, task)

    def _run(self, worker: str, task: TaskRecord) -> None:
        beat = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(worker, task, beat), daemon=True)
        heartbeat.start()
        try:
            self._ingest(worker, task)
        except OmnidexError as exc:
            if transient(exc):
                self._retry_or_fail(worker, task, exc.message, exc.code)
            else:  # a URL that is refused, gone or too big stays so
                self._fail(worker, task, exc.message, exc.code)
        except Exception as exc:  # anything else: retried, and the worker goes on
            log.exception("task %s failed on attempt %d", task.id, task.attempts)
            self._retry_or_fail(worker, task, f"{type(exc).__name__}: {exc}", "internal_error")
        finally:
            beat.set()
            heartbeat.join()

    def _heartbeat(self, worker: str, task: TaskRecord, done: threading.Event) -> None:
        lease = self.state.config.lease_s
        while not done.wait(lease / 3):
            if not self.state.catalog.renew_lease(task.id, worker, lease):
                log.warning("task %s: lease lost", task.id)
                return

    def _ingest(self, worker: str, task: TaskRecord) -> None:
        payload = task.payload
        collection = self.state.collection_by_id(task.collection_id)
        self.state.catalog.update_task(task.id, stage="fetch" if "url" in payload else "queued")
        path = Path(payload["path"]) if "path" in payload else self._fetch(payload["url"])
        with self._collection_locks[task.collection_id]:
            result = collection.ingest_queued(
                path, task.id, payload.get("metadata") or {}, self._runner
            )
        if result.status is not IngestStatus.FAILED:
            self.state.catalog.update_task(task.id, progress=1.0, object_id=result.object_id)
            self._finish(worker, task, TaskState.SUCCEEDED)
        elif result.error_code in TRANSIENT:  # e.g. the model server was down
            self._retry_or_fail(worker, task, result.error or "", result.error_code)
        else:  # the file itself is bad: trying again would fail again
            self._fail(worker, task, result.error, result.error_code)

    def _fetch(self, url: str) -> Path:
        """The file at ``url`` in the uploads folder: read from object storage, or fetched over
        http(s) with the SSRF guard."""
        limits, config = self.state.settings.limits, self.state.config
        max_bytes = min(limits.max_file_bytes, config.max_upload_bytes)
        if is_object_url(url):
            fetched = fetch_object(url, self.state.uploads, max_bytes)
        else:
            policy = FetchPolicy(max_bytes=max_bytes, allow_hosts=tuple(config.url_allow_hosts))
            fetched = fetch_url(url, self.state.uploads, policy)
        return move_into(fetched.path, self.state.uploads, fetched.filename_hint or url)

    def _fail(self, worker: str, task: TaskRecord, error: str | None, code: str | None) -> None:
        self._finish(worker, task, TaskState.FAILED, error, code)

    def _finish(
        self,
        worker: str,
        task: TaskRecord,
        final: TaskState,
        error: str | None = None,
        code: str | None = None,
    ) -> None:
        """End the task in ``final`` and, if this worker still held it, emit its event."""
        if self.state.catalog.release_task(task.id, worker, final, error=error, error_code=code):
            task_finished(self.state, task.id)

    def _retry_or_fail(self, worker: str, task: TaskRecord, error: str, code: str | None) -> None:
        if task.attempts >= task.max_attempts:
            self._fail(worker, task, error, code)
        else:
            self.state.catalog.release_task(
                task.id,
                worker,
                TaskState.QUEUED,
                error=error,
                error_code=code,
                delay_s=backoff_s(task.attempts),
            )
