"""Finding and repairing drift between a collection's catalog and its documents.

The catalog says which objects a collection holds and how many documents each has; the document
store holds the documents. They can disagree when one was changed without the other: documents
deleted from the table by hand, a table restored from an older backup, a delete that stopped
between the two stores. :func:`diagnose` finds

- objects recorded as succeeded whose documents are not all there: they are set to ``pending``
  (the next ingest of the same file restores them, since the skip rule checks the documents too);
- documents of objects the catalog does not know: they are removed.

With ``repair=False`` it only reports.
"""

from __future__ import annotations

from omnidex.store.catalog import Catalog, all_objects
from omnidex.store.documents import DocumentStore
from omnidex.types import CollectionInfo, DriftReport, ObjectStatus

LOST = "its documents were lost from the store; ingest it again to restore them"


def diagnose(
    catalog: Catalog, documents: DocumentStore, collection: CollectionInfo, *, repair: bool
) -> DriftReport:
    """What disagrees between the catalog and the documents of ``collection``, repaired unless
    ``repair`` is False."""
    stored = documents.object_counts(collection.id)
    records = all_objects(catalog, collection.id)
    short = [
        r.id
        for r in records
        if r.status is ObjectStatus.SUCCEEDED and stored.get(r.id, 0) != r.document_count
    ]
    known = {r.id for r in records}
    gone = sorted(object_id for object_id in stored if object_id not in known)
    report = DriftReport(
        collection=collection.name,
        objects_without_documents=short,
        documents_without_object=sum(stored[object_id] for object_id in gone),
        objects_gone=gone,
        repaired=repair,
    )
    if repair:
        for object_id in short:
            catalog.set_object_status(collection.id, object_id, ObjectStatus.PENDING, error=LOST)
        for object_id in gone:
            documents.delete_object(collection.id, object_id)
    return report
