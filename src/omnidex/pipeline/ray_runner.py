"""The Ray runner: the local runner's ingest as a Ray Data pipeline on a cluster.

Sources become rows of a Ray dataset, one read task each (CPU): the source is hashed, skipped when
the catalog holds it already at this spec version and metadata, and segmented; its rows are its
segments. Each run of consecutive extractors asking for the same resources (the spec's
``resources``: CPUs, GPUs, actors, batch size) is one ``map_batches`` stage over segments, in a
pool of actors that build the extractors from the spec and load each model once per actor.

This process, the driver, is the only writer. It streams the segments back, and once all the
segments of an object are in, it upserts the object's documents with one atomic
``replace_objects`` into the collection's LanceDB table (a local or shared folder, or object
storage), then records the object and its task in the catalog. So a run killed at any point
leaves each object either as it was or fully ingested, and running it again skips what is done
and finishes the rest without duplicates. A failing object fails alone and is reported; with an
error budget (``max_failures``) the run stops once more objects than that have failed.

Workers read sources and decode video and audio into ``scratch_dir``: on a cluster of several
machines both must be on storage every node sees (see docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from omnidex.config import Settings
from omnidex.errors import (
    ClusterError,
    ErrorBudgetExceededError,
    InvalidSpecError,
    MissingDependencyError,
    OmnidexError,
)
from omnidex.pipeline.leases import settle_abandoned
from omnidex.pipeline.ledger import Ledger, unchanged
from omnidex.pipeline.local_runner import ProgressCallback
from omnidex.pipeline.plan import Plan
from omnidex.pipeline.ray_options import RayOptions
from omnidex.pipeline.ray_stages import (
    UNCHANGED,
    ExtractorStage,
    ProgressBoard,
    StageContext,
    segment_rows,
)
from omnidex.pipeline.steps import failed, is_current
from omnidex.store.catalog import Catalog
from omnidex.store.documents import DocumentStore
from omnidex.types import (
    CollectionInfo,
    IngestResult,
    IngestStatus,
    ObjectRecord,
    ObjectStatus,
    Segment,
)

STREAM_ROWS = 64
"""Rows an actor takes at once unless an extractor's spec asks for a larger batch."""
POLL_S = 0.5
"""How often the driver reads the progress board while a run goes on."""
CONNECT_TIMEOUT_S = 10.0
"""How long joining a cluster waits for its address to answer before it fails."""
WORKER_RETRIES = 3
"""How often a task is retried, or an actor restarted, after its worker process died (a lost
node, an OOM kill). Ray's default is forever, which turns a file that crashes its worker every
time into a run that never ends; past this bound the run stops with :class:`ClusterError`."""


def import_ray() -> ModuleType:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Ray runner needs Ray: pip install 'omnidex[ray]' ({exc})"
        ) from None
    return ray


def connect(address: str | None) -> ModuleType:
    """Ray, joined to the cluster at ``address`` (or started here) unless already joined."""
    ray = import_ray()
    from ray.util.debug import log_once

    if not ray.is_initialized():
        joined = address or os.environ.get("RAY_ADDRESS") or "local"
        check_reachable(joined)
        try:
            ray.init(address=joined, include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(
                f"cannot join the Ray cluster at {joined}: {reason}", address=joined
            ) from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows progress (the CLI's bar, tasks)
    context.print_on_execution_start = False
    log_once("ray_data_progress_manager_disabled")  # Ray's notice that it is off: no news here
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-run INFO lines
    return ray


def check_reachable(address: str) -> None:
    """ClusterError within :data:`CONNECT_TIMEOUT_S` when nothing listens at the cluster's
    address (Ray itself would retry for minutes); ``auto`` is first resolved as Ray does, to
    the cluster last started on this machine. ``local`` starts one: nothing to check."""
    if address == "local":
        return
    described, target = address, address.removeprefix("ray://")
    if target == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            found = canonicalize_bootstrap_address("auto")
        except ConnectionError:
            raise ClusterError(
                "--address auto found no Ray cluster running on this machine "
                "(`ray start --head` starts one; or name a cluster's address)",
                address=address,
            ) from None
        if found is None:
            return
        described, target = f"auto (the cluster last started here, {found})", found
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidSpecError(
            f"not a Ray address: {address!r} (host:port, ray://host:port, auto or local)",
            field="address",
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Ray cluster at {described}: {reason} "
            f"(tried {host}:{port} for up to {CONNECT_TIMEOUT_S:g} s)",
            address=address,
        ) from None


@dataclass(eq=False)
class _Object:
    """One object on its way through a run, as the driver sees it."""

    index: int
    record: ObjectRecord
    task_id: str
    owns_task: bool
    workdir: str
    count: int | None = None
    """How many segments to wait for; None until its first row arrives."""
    segments: dict[int, Segment] = field(default_factory=dict)
    error: OmnidexError | None = None
    received: int = 0

    @property
    def complete(self) -> bool:
        return self.count is not None and self.received >= max(self.count, 1)


class RayRunner:
    """Ingest into one collection on a Ray cluster; the local runner's interface and results."""

    def __init__(
        self,
        catalog: Catalog,
        documents: DocumentStore,
        collection: CollectionInfo,
        plan: Plan,
        settings: Settings,
        options: RayOptions | None = None,
    ) -> None:
        self.catalog = catalog
        self.documents = documents
        self.collection = collection
        self.plan = plan
        self.settings = settings
        self.options = options or RayOptions()

    def ingest(
        self,
        paths: Sequence[Path],
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        task_ids: Sequence[str] | None = None,
    ) -> list[IngestResult]:
        """Ingest ``paths`` on the cluster; one result per path, in order, as the local runner.
        Raises :class:`ErrorBudgetExceededError` when more objects failed than allowed."""
        if task_ids is not None and len(task_ids) != len(paths):
            raise ValueError("one task id per path")
        if not paths:
            return []
        ray = connect(self.options.address)
        settle_abandoned(self.catalog)
        run = _Run(self, list(paths), metadata or {}, task_ids, progress)
        board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        stop = threading.Event()
        follower = threading.Thread(target=run.follow, args=(ray, board, stop), daemon=True)
        follower.start()
        try:
            dataset = self._dataset(ray, paths, self._context(board, run.metadata))
            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                run.receive(batch.to_pylist())
        except BaseException as exc:
            run.abandon("the run stopped before this object was done")
            if isinstance(exc, OmnidexError) or not isinstance(exc, Exception):
                raise
            # a worker, an actor or the cluster itself was lost
            raise ClusterError(f"the Ray run failed: {type(exc).__name__}: {exc}") from exc
        finally:
            stop.set()
            follower.join()
            ray.kill(board)
            run.ledger.close()
        run.abandon("the run ended without this object's segments")
        if any(r.status is IngestStatus.INGESTED for r in run.results.values()):
            self.documents.optimize(self.collection.id)
        return [run.results[i] for i in range(len(paths))]

    def _context(self, board: Any, metadata: dict[str, Any]) -> StageContext:
        return StageContext(
            spec=self.collection.spec,
            features=list(self.collection.features),
            settings=self.settings,
            chunking=self.plan.chunking,
            current=frozenset(self._current(metadata)),
            scratch=str(self.options.scratch_dir or self.settings.home / "scratch"),
            board=board,
        )

    def _current(self, metadata: dict[str, Any]) -> set[str]:
        """Ids of the objects that need no work: ingested with this spec and this metadata, their
        documents all in the store."""
        current: set[str] = set()
        stored = self.documents.object_counts(self.collection.id)
        offset, page = 0, 5000
        while records := self.catalog.list_objects(
            self.collection.id, ObjectStatus.SUCCEEDED, page, offset
        ):
            current.update(
                r.id
                for r in records
                if is_current(r, self.collection, metadata, stored.get(r.id, 0))
            )
            offset += page
        return current

    def _dataset(self, ray: ModuleType, paths: Sequence[Path], ctx: StageContext) -> Any:
        stages = self._stages()
        self._check_fits(ray, stages)
        items = [{"index": i, "path": str(p)} for i, p in enumerate(paths)]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        dataset = dataset.flat_map(
            segment_rows,
            fn_args=(ctx,),
            num_cpus=self.options.segment_cpus,
            max_retries=WORKER_RETRIES,
        )
        for first, last in stages:
            wanted = self.plan.resources(first)
            dataset = dataset.map_batches(
                ExtractorStage,
                fn_constructor_args=(ctx, first, last),
                batch_size=self._rows_per_call(first, last),
                batch_format="pyarrow",
                num_cpus=wanted.num_cpus,
                num_gpus=wanted.num_gpus or None,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=wanted.concurrency),
                max_restarts=WORKER_RETRIES,
                max_task_retries=WORKER_RETRIES,
            )
        return dataset

    def _rows_per_call(self, first: int, last: int) -> int:
        """Segments an actor of a stage takes at once: its largest extractor batch, so that each
        extractor can fill its own, but no more than ``STREAM_ROWS`` unless the spec asks for
        it, so that extraction starts while sources are still being segmented."""
        span = range(first, last)
        asked = [self.plan.resources(i).batch_size or 0 for i in span]
        return min(max(self.plan.batch_size(i) for i in span), max(STREAM_ROWS, *asked))

    def _check_fits(self, ray: ModuleType, stages: list[tuple[int, int]]) -> None:
        """Refuse a pipeline the cluster cannot hold at once (one actor per stage and a segment
        task): Ray would wait forever for the missing CPUs or GPUs."""
        have = ray.cluster_resources()
        firsts = [self.plan.resources(first) for first, _ in stages]
        needs = {
            "CPU": self.options.segment_cpus + sum(r.num_cpus for r in firsts),
            "GPU": sum(r.num_gpus for r in firsts),
        }
        for name, need in needs.items():
            if need > have.get(name, 0) + 1e-9:
                heads = ", ".join(self.plan.extractors[first].ref for first, _ in stages)
                raise InvalidSpecError(
                    f"the Ray cluster has {have.get(name, 0):g} {name}s but this pipeline needs "
                    f"{need:g} at once: an actor for each of its {len(stages)} stages (starting "
                    f"at {heads}) and a segmenting task; lower the extractors' "
                    "resources.num_cpus / num_gpus, or grow the cluster",
                    field="resources",
                )

    def _stages(self) -> list[tuple[int, int]]:
        """Runs of consecutive extractors with the same CPUs, GPUs and actors: one stage each."""
        stages: list[tuple[int, int]] = []
        for index in range(len(self.plan.extractors)):
            if stages and _same_actors(self.plan, stages[-1][0], index):
                stages[-1] = (stages[-1][0], index + 1)
            else:
                stages.append((index, index + 1))
        return stages


def _same_actors(plan: Plan, a: int, b: int) -> bool:
    first, second = plan.resources(a), plan.resources(b)
    return (first.num_cpus, first.num_gpus, first.concurrency) == (
        second.num_cpus,
        second.num_gpus,
        second.concurrency,
    )


class _Run:
    """The driver's book of one run: objects under way, their tasks, writes and results."""

    def __init__(
        self,
        runner: RayRunner,
        paths: list[Path],
        metadata: dict[str, Any],
        task_ids: Sequence[str] | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.runner = runner
        self.paths = paths
        self.metadata = metadata
        self.task_ids = task_ids
        self.progress = progress
        self.objects: dict[int, _Object] = {}
        self.by_id: dict[str, _Object] = {}
        self.results: dict[int, IngestResult] = {}
        self.failures = 0
        self.lock = threading.Lock()
        refs = runner.plan.extractor_refs
        self.ledger = Ledger(runner.catalog, runner.documents, runner.collection, refs)
        self.stage_progress = {f"extract:{ref}": i / (len(refs) + 1) for i, ref in enumerate(refs)}

    # --- progress posted by the workers -----------------------------------------------------

    def follow(self, ray: ModuleType, board: Any, stop: threading.Event) -> None:
        """Apply the workers' posts to the tasks until ``stop``, then once more."""
        while True:
            finished = stop.wait(POLL_S)
            try:
                posts = ray.get(board.take.remote())
            except Exception:  # the board is gone with the run
                return
            with self.lock:
                for post in posts:
                    self._posted(post)
            if finished:
                return

    def _posted(self, post: dict[str, Any]) -> None:
        if "index" in post:
            if post["index"] not in self.results:
                started = self._start(post["index"], post)
                self.runner.catalog.update_task(started.task_id, stage="segment", progress=0.0)
        elif (job := self.by_id.get(post["object_id"])) is not None and job.index not in (
            self.results
        ):
            fraction = self.stage_progress.get(post["stage"], 0.0)
            self.runner.catalog.update_task(job.task_id, stage=post["stage"], progress=fraction)

    def _start(self, index: int, identity: dict[str, Any]) -> _Object:
        """The object of source ``index``: recorded as processing with a running task, once."""
        if (job := self.objects.get(index)) is not None:
            return job
        collection = self.runner.collection
        existing = self.runner.catalog.get_object(collection.id, identity["object_id"])
        new = ObjectRecord(
            id=identity["object_id"],
            collection_id=collection.id,
            sha256=identity["sha256"],
            source=str(self.paths[index]),
            size=identity["size"],
            kind=identity["kind"],
            metadata=self.metadata,
        )
        given = self.task_ids[index] if self.task_ids is not None else None
        record, task_id = self.ledger.start(existing, new, given)
        job = _Object(index, record, task_id, given is None, identity.get("workdir", ""))
        self.objects[index] = self.by_id[record.id] = job
        return job

    # --- segments streamed back -------------------------------------------------------------

    def receive(self, rows: list[dict[str, Any]]) -> None:
        """Take a batch of finished rows; write and settle every object now complete."""
        with self.lock:
            complete = [job for row in rows if (job := self._take(row)) is not None]
            self._write([job for job in complete if job.error is None])
            for job in complete:
                self._settle(job)
        budget = self.runner.options.max_failures
        if budget is not None and self.failures > budget:
            raise ErrorBudgetExceededError(
                f"{self.failures} objects failed, more than the error budget of {budget}; "
                "the run stopped (run it again to resume)",
                failed=self.failures,
                budget=budget,
            )

    def _take(self, row: dict[str, Any]) -> _Object | None:
        """Book one row; the object it completes, if any."""
        index = int(row["index"])
        error: OmnidexError | None = pickle.loads(row["error"]) if row["error"] else None
        if not row["object_id"]:  # refused before it was even hashed
            self._finish(index, failed(row["source"], error or OmnidexError("unreadable")))
            return None
        if row["status"] == UNCHANGED:
            self._finish(index, self._unchanged(index, row["object_id"]))
            return None
        job = self._start(index, row)
        job.workdir = job.workdir or row["workdir"]
        job.count = int(row["count"])
        job.received += 1
        if error is not None:
            job.error = job.error or error
        elif row["segment"]:
            job.segments[int(row["seq"])] = pickle.loads(row["segment"])
        return job if job.complete else None

    def _unchanged(self, index: int, object_id: str) -> IngestResult:
        existing = self.runner.catalog.get_object(self.runner.collection.id, object_id)
        return unchanged(str(self.paths[index]), existing, object_id)

    def _write(self, jobs: list[_Object]) -> None:
        """One atomic upsert for all objects completed by a batch (each one whole)."""
        objects = [(job.record, [job.segments[s] for s in sorted(job.segments)]) for job in jobs]
        if error := self.ledger.write(objects):
            for job in jobs:
                job.error = error

    def _settle(self, job: _Object) -> None:
        """Record the outcome, then release the object's segments and scratch space."""
        source = str(self.paths[job.index])
        result = self.ledger.settle(
            source, job.record, job.task_id, job.owns_task, len(job.segments), job.error
        )
        job.segments = {}
        if job.workdir:
            shutil.rmtree(job.workdir, ignore_errors=True)
        self._finish(job.index, result)

    def _finish(self, index: int, result: IngestResult) -> None:
        self.results[index] = result
        if result.status is IngestStatus.FAILED:
            self.failures += 1
        if self.progress:
            self.progress(result)

    def abandon(self, reason: str) -> None:
        """Fail every source without a result: objects under way and sources never reached."""
        with self.lock:
            for index in range(len(self.paths)):
                if index in self.results:
                    continue
                if (job := self.objects.get(index)) is not None:
                    job.error = job.error or OmnidexError(reason)
                    self._settle(job)
                else:
                    self._finish(index, failed(str(self.paths[index]), OmnidexError(reason)))
