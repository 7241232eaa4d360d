"""Ingest workers in the server process: they claim queued tasks from the catalog and run them.

Each task is claimed with a lease (``lease_s``) that a heartbeat renews while the ingest runs, so
a task whose worker died — the process was killed — is claimed again once its lease expires. A
task that raises is retried later with exponential backoff and jitter; after ``max_attempts`` it
fails with its last error kept. A bad file is not retried: the runner records why it failed, and
that is final, while a failure of the machinery (a model server down, a store error) is retried.
A task that reaches a final state tells the namespace's webhooks (:mod:`omnidex.server.webhooks`).
Ingests into one collection run one at a time (its LanceDB table has one writer). With
``runner: ray`` a worker claims every due task (up to ``ray_batch``) and hands them to a Ray
cluster in one run (:mod:`omnidex.pipeline.ray_runner`), so that the cluster's actors start and
load their models once per batch rather than once per file; a task retried after the cluster
failed under it runs alone. When the catalog cannot be reached (a PostgreSQL catalog restarting),
workers and heartbeats wait and go on; a task cut off then is claimed again once its lease ends.
A worker never dies from a task: anything a task raises, even past its own bookkeeping (its object
deleted while it finished), is logged and the worker goes on; :meth:`Workers.alive` tells
readiness how many are running.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import defaultdict
from pathlib import Path

from omnidex.embedded import Runner
from omnidex.errors import ClusterError, NotFoundError, OmnidexError, StoreError
from omnidex.pipeline.ray_options import RayOptions
from omnidex.server import content
from omnidex.server.object_access import check_object_access
from omnidex.server.state import ServerState
from omnidex.server.uploads import move_into
from omnidex.server.webhooks import task_finished
from omnidex.sources.http import FetchPolicy, fetch_url
from omnidex.sources.object_storage import fetch_object, is_object_url
from omnidex.types import IngestResult, IngestStatus, TaskRecord, TaskState

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5
CATALOG_RETRY_S = 1.0
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
TRANSIENT = {
    *("model_server_error", "store_error", "missing_dependency", "model_load_failed"),
    *("cluster_error", "catalog_unavailable"),
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

    def alive(self) -> int:
        """How many of the worker threads are running."""
        return sum(thread.is_alive() for thread in self._threads)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.state.wake_workers()
        for thread in self._threads:
            thread.join(timeout_s)

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                tasks = self._claim(worker)
                if tasks:
                    self._run(worker, tasks)
                    continue
            except StoreError as exc:  # the catalog is unreachable: wait, and go on
                log.warning("worker %s: %s", worker, exc.message)
                self._stop.wait(CATALOG_RETRY_S)
                continue
            except BaseException:  # a bug, or a plugin calling sys.exit: the worker goes on
                log.exception("worker %s: a task raised past its handling", worker)
                self._stop.wait(CATALOG_RETRY_S)
                continue
            self.state.work_queued.wait(IDLE_WAIT_S)
            self.state.work_queued.clear()

    def _claim(self, worker: str) -> list[TaskRecord]:
        """One task for the local runner; for Ray, every due task up to ``ray_batch``, so that
        one cluster run (one start of its actors and models) takes them all. Tasks claimed before
        the catalog failed are run."""
        config = self.state.config
        most = config.ray_batch if config.runner == "ray" else 1
        tasks: list[TaskRecord] = []
        try:
            while len(tasks) < most and (
                task := self.state.catalog.claim_task(worker, config.lease_s)
            ):
                tasks.append(task)
        except StoreError:
            if not tasks:
                raise
        return tasks

    def _run(self, worker: str, tasks: list[TaskRecord]) -> None:
        beat = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(worker, tasks, beat), daemon=True
        )
        heartbeat.start()
        try:
            ready: dict[tuple[str, str, str], list[tuple[TaskRecord, Path]]] = defaultdict(list)
            for task in tasks:
                try:
                    path = self._input(task)
                except Exception as exc:
                    self._failed(worker, task, exc)
                    continue
                metadata = task.payload.get("metadata") or {}
                key = (task.collection_id, json.dumps(metadata, sort_keys=True, default=str))
                ready[(*key, self._alone(task))].append((task, path))
            for (collection_id, _, _), group in ready.items():
                self._ingest(worker, collection_id, group)
        finally:
            beat.set()
            heartbeat.join()

    @staticmethod
    def _alone(task: TaskRecord) -> str:
        """The task's id if it must run in a batch of its own, else "": after the cluster failed
        under it, so that a file that kills its worker every time fails by itself instead of
        taking its whole batch down at each attempt."""
        return task.id if task.error_code == ClusterError.code else ""

    def _failed(self, worker: str, task: TaskRecord, exc: Exception) -> None:
        if isinstance(exc, OmnidexError):
            if transient(exc):
                self._retry_or_fail(worker, task, exc.message, exc.code)
            else:  # a URL that is refused, gone or too big stays so
                self._fail(worker, task, exc.message, exc.code)
        else:  # anything else: retried, and the worker goes on
            log.exception("task %s failed on attempt %d", task.id, task.attempts, exc_info=exc)
            self._retry_or_fail(worker, task, f"{type(exc).__name__}: {exc}", "internal_error")

    def _heartbeat(self, worker: str, tasks: list[TaskRecord], done: threading.Event) -> None:
        lease = self.state.config.lease_s
        held = list(tasks)
        while held and not done.wait(lease / 3):
            for task in list(held):
                try:
                    renewed = self.state.catalog.renew_lease(task.id, worker, lease)
                except StoreError as exc:  # tried again at the next beat
                    log.warning("task %s: lease not renewed: %s", task.id, exc.message)
                    continue
                if not renewed:
                    log.warning("task %s: lease lost", task.id)
                    held.remove(task)

    def _input(self, task: TaskRecord) -> Path:
        """The file a task ingests: its stored upload, or its URL fetched now."""
        payload = task.payload
        self.state.catalog.update_task(task.id, stage="fetch" if "url" in payload else "queued")
        if "path" in payload:
            return Path(payload["path"])
        namespace = self.state.catalog.collection_by_id(task.collection_id).namespace
        return self._fetch(payload["url"], namespace)

    def _ingest(
        self, worker: str, collection_id: str, group: list[tuple[TaskRecord, Path]]
    ) -> None:
        """Ingest the files of tasks of one collection with the same metadata, in one run."""
        try:
            collection = self.state.collection_by_id(collection_id)
            with self._collection_locks[collection_id]:
                results = collection.ingest_queued(
                    [path for _, path in group],
                    [task.id for task, _ in group],
                    group[0][0].payload.get("metadata") or {},
                    self._runner,
                )
        except Exception as exc:
            for task, _ in group:
                self._failed(worker, task, exc)
            return
        for (task, path), result in zip(group, results, strict=True):
            try:
                self._settle(worker, task, path, result)
            except NotFoundError:  # its collection was dropped meanwhile
                log.info("task %s: gone before it was settled", task.id)

    def _settle(self, worker: str, task: TaskRecord, path: Path, result: IngestResult) -> None:
        """End ``task`` as its ingest ``result`` says."""
        if result.status is not IngestStatus.FAILED:
            self.state.catalog.update_task(task.id, progress=1.0, object_id=result.object_id)
            self._finish(worker, task, TaskState.SUCCEEDED)
        elif result.error_code in TRANSIENT:  # e.g. the model server was down
            self._retry_or_fail(worker, task, result.error or "", result.error_code)
        else:  # the file itself is bad: trying again would fail again, so it need not be kept
            self._fail(worker, task, result.error, result.error_code)
            content.release(path, self.state.uploads, self.state.catalog)

    def _fetch(self, url: str, namespace: str) -> Path:
        """The file at ``url`` in the uploads folder: read from object storage if the operator
        lets ``namespace`` read it, or fetched over http(s) with the SSRF guard."""
        limits, config = self.state.settings.limits, self.state.config
        max_bytes = min(limits.max_file_bytes, config.max_upload_bytes)
        if is_object_url(url):
            check_object_access(config.object_store_allow, namespace, url)
            fetched = fetch_object(url, self.state.uploads, max_bytes)
        else:
            policy = FetchPolicy(
                max_bytes=max_bytes,
                timeout_s=config.url_fetch_timeout_s,
                allow_hosts=tuple(config.url_allow_hosts),
            )
            fetched = fetch_url(url, self.state.uploads, policy)
        moved = move_into(fetched.path, self.state.uploads, fetched.filename_hint or url, limits)
        with content.LOCK:
            return content.place(moved, self.state.uploads)

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
