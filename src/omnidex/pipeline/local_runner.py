"""The local runner: ingest sources into one collection inside this process.

Each source becomes an object (content-addressed by sha256) with an ingest task. Objects are
prepared and segmented one by one, then gathered into groups of about
``settings.ingest_batch_segments`` segments so that every extractor runs on large batches across
objects. A group is written with one atomic ``replace_objects`` call, and only then are its objects
marked succeeded: a crash leaves each object either as it was or fully ingested, and a retry
converges to the same documents. One bad object fails alone; the others land.

An interrupt (Ctrl-C) settles the objects under way back to ``pending`` (their tasks
``canceled``) before it propagates. Whatever ends a run, even SIGKILL, the next ingest takes every
object not ``succeeded`` at once: an unfinished one is simply done again. The tasks a run makes
are held under leases (:mod:`omnidex.pipeline.leases`), so that those of a killed run are found
abandoned by the next one and failed, not left ``running``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnidex.config import Settings
from omnidex.errors import OmnidexError, ReadOnlyStoreError
from omnidex.pipeline.interrupts import checkpoint
from omnidex.pipeline.leases import settle_abandoned
from omnidex.pipeline.ledger import Ledger, unchanged
from omnidex.pipeline.plan import Plan
from omnidex.pipeline.steps import (
    extract,
    failed,
    identify,
    is_current,
    object_id_for,
    stored_documents,
)
from omnidex.segment.objects import segment_object
from omnidex.store.catalog import Catalog
from omnidex.store.documents import DocumentStore
from omnidex.types import (
    CollectionInfo,
    IngestResult,
    IngestStatus,
    ObjectRecord,
    ObjectStatus,
    Segment,
    TaskState,
)

ProgressCallback = Callable[[IngestResult], None]
INTERRUPTED = "interrupted before it finished; ingest it again to resume"


@dataclass(eq=False)
class _Job:
    """One object on its way through the runner."""

    index: int
    path: Path
    record: ObjectRecord
    task_id: str
    """Empty until the ledger has started the object."""
    owns_task: bool
    """False for a queued task given by the caller, who records how it ended."""
    segments: list[Segment] = field(default_factory=list)
    error: OmnidexError | None = None
    workdir: Path | None = None
    """Scratch space of a video or audio object (its decoded sound), removed when it settles."""
    settled: bool = False


class LocalRunner:
    def __init__(
        self,
        catalog: Catalog,
        documents: DocumentStore,
        collection: CollectionInfo,
        plan: Plan,
        settings: Settings,
    ) -> None:
        self.catalog = catalog
        self.documents = documents
        self.collection = collection
        self.plan = plan
        self.settings = settings
        self.ledger = Ledger(catalog, documents, collection, plan.extractor_refs)

    def ingest(
        self,
        paths: Sequence[Path],
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        task_ids: Sequence[str] | None = None,
    ) -> list[IngestResult]:
        """Ingest ``paths``; one result per path, in order. Never raises for a bad source.

        ``task_ids``, one per path, are queued tasks (the server's) that report each ingest's
        progress, while the caller records how they end; without them each object gets a new
        task."""
        if task_ids is not None and len(task_ids) != len(paths):
            raise ValueError("one task id per path")
        results: list[IngestResult | None] = [None] * len(paths)

        def finish(index: int, result: IngestResult) -> None:
            results[index] = result
            if progress:
                progress(result)

        settle_abandoned(self.catalog)
        group: list[_Job] = []
        try:
            for job_or_result in self._prepare_all(paths, metadata or {}, task_ids):
                if isinstance(job_or_result, tuple):
                    finish(*job_or_result)
                    continue
                group.append(job_or_result)
                if sum(len(j.segments) for j in group) >= self.settings.ingest_batch_segments:
                    for done in self._process(group):
                        finish(*done)
                    group = []
            for done in self._process(group):
                finish(*done)
        except KeyboardInterrupt:
            self._interrupted(group)
            raise
        finally:
            self.ledger.close()
        if any(r and r.status is IngestStatus.INGESTED for r in results):
            self.documents.optimize(self.collection.id)
        return [r for r in results if r is not None]

    # --- preparing one object ---------------------------------------------------------------

    def _prepare_all(
        self, paths: Sequence[Path], metadata: dict[str, Any], task_ids: Sequence[str] | None
    ) -> Iterator[_Job | tuple[int, IngestResult]]:
        for index, path in enumerate(paths):
            try:
                yield self._prepare(index, path, metadata, task_ids[index] if task_ids else None)
            except ReadOnlyStoreError:  # no file can be recorded: not one file's failure
                raise
            except OmnidexError as exc:
                yield index, failed(str(path), exc)

    def _prepare(
        self, index: int, path: Path, metadata: dict[str, Any], task_id: str | None
    ) -> _Job | tuple[int, IngestResult]:
        source = str(path)
        sha256, kind = identify(path, self.settings.limits)
        object_id = object_id_for(sha256)
        existing = self.catalog.get_object(self.collection.id, object_id)
        if existing is not None and is_current(
            existing,
            self.collection,
            metadata,
            stored_documents(self.documents, self.collection.id, object_id),
        ):
            return index, unchanged(source, existing, object_id)
        new = ObjectRecord(
            id=object_id,
            collection_id=self.collection.id,
            sha256=sha256,
            source=source,
            size=path.stat().st_size,
            kind="unknown" if isinstance(kind, OmnidexError) else kind,
            metadata=metadata,
        )
        job = _Job(index, path, new, task_id or "", owns_task=task_id is None)
        try:
            job.record, job.task_id = self.ledger.start(existing, new, task_id, stage="segment")
            if isinstance(kind, OmnidexError):
                job.error = kind  # refused: settled as failed, with its reason
                return job
            if kind in ("video", "audio"):
                job.workdir = Path(tempfile.mkdtemp(prefix="omnidex-ingest-"))
            try:
                job.segments = segment_object(
                    object_id=object_id,
                    path=path,
                    kind=kind,
                    source=job.record.source,
                    settings=self.settings,
                    chunk_tokens=self.plan.chunking[0],
                    overlap_tokens=self.plan.chunking[1],
                    segmentation=self.collection.spec.segmentation,
                    workdir=job.workdir,
                )
            except OmnidexError as exc:
                job.error = exc
            checkpoint()
        except KeyboardInterrupt:
            self._interrupted([job])
            raise
        return job

    # --- extracting and writing a group -----------------------------------------------------

    def _process(self, group: list[_Job]) -> list[tuple[int, IngestResult]]:
        """Extract, write and settle a group of objects; their results by source index."""
        live = [job for job in group if job.error is None]
        steps = len(self.plan.extractors) + 1
        for step, extractor in enumerate(self.plan.extractors):
            checkpoint()
            self._stage(live, f"extract:{extractor.ref}", step / steps)
            self._extract(step, live)
            live = [job for job in live if job.error is None]
        checkpoint()
        self._stage(live, "write", (steps - 1) / steps)
        if error := self.ledger.write([(job.record, job.segments) for job in live]):
            for job in live:
                job.error = error
        return [(job.index, self._settle(job)) for job in group]

    def _extract(self, index: int, jobs: list[_Job]) -> None:
        """Run extractor ``index`` over the accepted segments of all jobs, loading it first."""
        extractor = self.plan.extractors[index]
        work = [(job, s) for job in jobs for s in job.segments if extractor.accepts_segment(s)]
        if not work:
            return  # nothing to do: its model need not even load
        try:
            extractor.load()  # idempotent
        except OmnidexError as exc:  # a missing program or model fails only the jobs needing it
            for job, _ in work:
                job.error = exc
            return
        errors = extract(extractor, work, self.plan.batch_size(index), lambda j: str(j.path))
        for job, error in errors.items():
            job.error = error

    def _stage(self, jobs: list[_Job], stage: str, progress: float) -> None:
        for job in jobs:
            self.catalog.update_task(job.task_id, stage=stage, progress=progress)

    def _settle(self, job: _Job) -> IngestResult:
        """Record the outcome, then release the object's pixels, text and scratch space."""
        result = self.ledger.settle(
            str(job.path), job.record, job.task_id, job.owns_task, len(job.segments), job.error
        )
        self._release(job)
        return result

    def _interrupted(self, jobs: list[_Job]) -> None:
        """Put the objects under way back to pending, their own tasks canceled: not done, and
        taken at once by the next ingest."""
        for job in jobs:
            if job.settled:
                continue
            stored = self.catalog.get_object(self.collection.id, job.record.id)
            if stored is not None and stored.status is ObjectStatus.PROCESSING:
                self.catalog.set_object_status(
                    self.collection.id, job.record.id, ObjectStatus.PENDING, error=INTERRUPTED
                )
            if job.owns_task and job.task_id:  # "" until the ledger has made it
                self.catalog.update_task(job.task_id, state=TaskState.CANCELED, error=INTERRUPTED)
            self._release(job)

    @staticmethod
    def _release(job: _Job) -> None:
        job.settled = True
        job.segments = []
        if job.workdir is not None:
            shutil.rmtree(job.workdir, ignore_errors=True)
