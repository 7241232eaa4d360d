"""Adding an extractor to a collection that already holds documents, from what is stored.

An extractor that can work from stored documents (``Extractor.from_stored``: image_embedding@v1
reads a document's thumbnail — a scene's keyframe, a page's picture — or the source image file
when it is still there) runs over every object's documents without segmenting or extracting
anything again: OCR text, transcripts and captions are copied as they are. Each object is one
atomic write of its documents, with the new features and the next spec version in their lineage,
so a run killed at any point leaves every object either as it was or done, and the next run
skips the objects already done (their documents name the extractor): it resumes, never
duplicates. Searches keep using the collection's current spec, and so every old feature, until
all objects are done; then the spec switches in one catalog write.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omnidex.config import Settings
from omnidex.errors import InvalidSpecError, OmnidexError
from omnidex.extractors.base import Extractor
from omnidex.media.images import open_image
from omnidex.pipeline.plan import Plan
from omnidex.pipeline.steps import extract
from omnidex.store.catalog import Catalog
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import parse_filter
from omnidex.types import (
    CollectionInfo,
    Document,
    ObjectRecord,
    ObjectStatus,
    ReembedReport,
    Segment,
)

PAGE = 1000

ReembedProgress = Callable[[int, int, str], None]
"""``progress(done, total, source)``: objects done so far (skipped ones included), of all."""


def added_extractor(current: Plan, new: Plan) -> Extractor:
    """The extractor ``new`` has and ``current`` has not, if it can work from stored documents;
    else InvalidSpecError saying why."""
    before = set(current.extractor_refs)
    added = next(e for e in new.extractors if e.ref not in before)
    if not added.from_stored:
        raise InvalidSpecError(
            f"{added.ref} needs the media itself, not what is stored; add it with "
            "update_collection and ingest again",
            field="extractor",
            extractor=added.ref,
        )
    return added


def reembed(
    catalog: Catalog,
    documents: DocumentStore,
    info: CollectionInfo,
    plan: Plan,
    extractor: Extractor,
    settings: Settings,
    progress: ReembedProgress | None = None,
    *,
    switch: bool = True,
) -> ReembedReport:
    """Run ``extractor`` (the one ``plan`` adds to ``info``'s spec) over every stored object
    whose documents lack it, then, with ``switch``, move the collection to ``plan``'s spec if
    none failed (without: ``plan`` is already its spec, and objects join its version)."""
    target = info.spec_version + 1 if switch else info.spec_version
    documents.create_collection(info.id, plan.features)  # the new columns, empty
    records = _succeeded(catalog, info.id)
    report = ReembedReport(extractor=extractor.ref, spec_version=info.spec_version)
    index = plan.extractor_refs.index(extractor.ref)
    refs = plan.extractor_refs
    extractor.load()
    for done, record in enumerate(records, 1):
        docs = _object_documents(documents, info.id, record.id)
        if all(extractor.ref in d.extractors for d in docs):
            report.already_done += 1
        else:
            error = _embed(
                documents,
                info,
                record,
                docs,
                extractor,
                plan.batch_size(index),
                refs,
                target,
                settings,
            )
            if error is None:
                catalog.set_object_status(
                    info.id,
                    record.id,
                    ObjectStatus.SUCCEEDED,
                    document_count=len(docs),
                    spec_version=target,
                )
                report.embedded += 1
                report.documents += len(docs)
            else:
                report.failed[record.source] = str(error)
        if progress is not None:
            progress(done, len(records), record.source)
    if switch and not report.failed:
        report.spec_version = catalog.update_collection(
            info.namespace, info.name, plan.spec, plan.features
        ).spec_version
    return report


def _embed(
    documents: DocumentStore,
    info: CollectionInfo,
    record: ObjectRecord,
    docs: list[Document],
    extractor: Extractor,
    batch_size: int,
    refs: list[str],
    target: int,
    settings: Settings,
) -> OmnidexError | None:
    """One object: its documents with the extractor's features added, written at once."""
    segments = [_segment(d, settings) for d in docs]
    wanted = [(0, s) for s in segments if extractor.accepts_segment(s)]
    errors = extract(extractor, wanted, batch_size, lambda _: record.source)
    if errors:
        return errors[0]
    updated = [
        d.model_copy(update={"features": s.features, "spec_version": target, "extractors": refs})
        for d, s in zip(docs, segments, strict=True)
    ]
    documents.replace_objects(info.id, {record.id: updated})
    return None


def _segment(doc: Document, settings: Settings) -> Segment:
    """A stored document as the segment it came from, as far as what is stored allows: its
    coordinates, features so far and thumbnail; an image's pixels from its source file when
    that is still there (else the thumbnail stands in)."""
    source = Path(doc.source)
    image = None
    if doc.kind == "image" and source.is_file():
        image = lambda: open_image(source, settings.limits)  # noqa: E731
    return Segment(
        object_id=doc.object_id,
        kind=doc.kind,
        key=doc.key,
        source=doc.source,
        page=doc.page,
        start_s=doc.start_s,
        end_s=doc.end_s,
        start_frame=doc.start_frame,
        end_frame=doc.end_frame,
        fps=doc.fps,
        image=image,
        thumbnail=doc.thumbnail,
        features=dict(doc.features),
    )


def _succeeded(catalog: Catalog, collection_id: str) -> list[ObjectRecord]:
    records: list[ObjectRecord] = []
    while True:
        page = catalog.list_objects(collection_id, ObjectStatus.SUCCEEDED, PAGE, len(records))
        records += page
        if len(page) < PAGE:
            return records


def _object_documents(
    documents: DocumentStore, collection_id: str, object_id: str
) -> list[Document]:
    where = parse_filter("object_id = $o", {"o": object_id})
    found: list[Document] = []
    while True:
        page = documents.list(collection_id, where, PAGE, len(found))
        found += page
        if len(page) < PAGE:
            return found
