"""What every runner records about the objects it ingests, wherever their work ran: an object
started (its record processing, its task running), its documents written in one atomic upsert,
and how it ended (the object's status, then its task's), as an :class:`IngestResult`.

The local runner and the Ray runner's driver both keep their books through a :class:`Ledger`, so
that the catalog reads the same whichever runner ingested an object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from omnidex.errors import OmnidexError, StoreError
from omnidex.pipeline.leases import Leases
from omnidex.pipeline.steps import documents_of, failed
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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ledger:
    catalog: Catalog
    documents: DocumentStore
    collection: CollectionInfo
    extractor_refs: list[str]
    leases: Leases = field(init=False)
    """The leases of the tasks this ledger makes, renewed until :meth:`close`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "leases", Leases(self.catalog))

    def close(self) -> None:
        """Stop renewing leases: the run is over (its tasks settled, or left to be found
        abandoned)."""
        self.leases.close()

    def start(
        self,
        existing: ObjectRecord | None,
        new: ObjectRecord,
        task_id: str | None,
        stage: str | None = None,
    ) -> tuple[ObjectRecord, str]:
        """``new`` recorded as processing (keeping the source and document count of an earlier
        ingest, ``existing``) and its task: ``task_id`` if the caller gave one (a queued task,
        which the caller ends), else a new task, running under this run's lease. Returns the record
        and the task id."""
        record = self.catalog.put_object(
            new.model_copy(
                update={
                    "status": ObjectStatus.PROCESSING,
                    "source": existing.source if existing else new.source,
                    "document_count": existing.document_count if existing else 0,
                }
            )
        )
        if task_id is None:
            task_id = self.catalog.create_task(self.collection.id, record.id).id
            self.leases.hold(task_id)
        self.catalog.update_task(task_id, stage=stage, object_id=record.id)
        return record, task_id

    def write(
        self, objects: Sequence[tuple[ObjectRecord, Sequence[Segment]]]
    ) -> OmnidexError | None:
        """The documents of ``objects`` in one atomic upsert (each object whole); the error that
        failed it, if any."""
        if not objects:
            return None
        try:
            self.documents.replace_objects(
                self.collection.id,
                {
                    record.id: documents_of(self.collection, self.extractor_refs, record, segments)
                    for record, segments in objects
                },
            )
        except Exception as exc:
            return exc if isinstance(exc, OmnidexError) else StoreError(f"write failed: {exc}")
        return None

    def settle(
        self,
        source: str,
        record: ObjectRecord,
        task_id: str,
        owns_task: bool,
        documents: int,
        error: OmnidexError | None,
    ) -> IngestResult:
        """Record how an object ended: its status, then its task's unless the caller owns the
        task (a queued one it gave)."""
        cid = self.collection.id
        if error is None:
            self.catalog.set_object_status(
                cid,
                record.id,
                ObjectStatus.SUCCEEDED,
                document_count=documents,
                spec_version=self.collection.spec_version,
            )
            if owns_task:
                self.catalog.update_task(task_id, state=TaskState.SUCCEEDED, progress=1.0)
            return IngestResult(
                source=source,
                status=IngestStatus.INGESTED,
                object_id=record.id,
                documents=documents,
            )
        log.warning("ingest of %s failed: %s", source, error)
        self.catalog.set_object_status(cid, record.id, ObjectStatus.FAILED, error=str(error))
        if owns_task:
            self.catalog.update_task(task_id, state=TaskState.FAILED, error=str(error))
        return failed(source, error, record.id)


def unchanged(source: str, existing: ObjectRecord | None, object_id: str) -> IngestResult:
    """The result of an object that needed no work."""
    return IngestResult(
        source=source,
        status=IngestStatus.UNCHANGED,
        object_id=object_id,
        documents=existing.document_count if existing else 0,
    )
