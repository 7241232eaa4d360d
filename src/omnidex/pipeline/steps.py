"""What every runner does to an object, wherever it runs: identities, the rule for skipping an
object already ingested, one extractor over a batch of segments, and an object's documents.

The local runner and the Ray runner both call these, so that the same inputs give the same
documents, id for id and field for field, whichever runner ingested them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from omnidex.config import Limits
from omnidex.errors import ExtractionError, OmnidexError, SourceError, SourceNotFoundError
from omnidex.extractors.base import Extractor
from omnidex.media.kinds import detect_kind
from omnidex.sources.local import sha256_file
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import Compare, Field
from omnidex.types import (
    CollectionInfo,
    Document,
    IngestResult,
    IngestStatus,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    Segment,
)

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)


def object_id_for(sha256: str) -> str:
    return "obj_" + sha256[:24]


def document_id_for(collection_id: str, sha256: str, segment_key: str) -> str:
    """Deterministic: the same collection, content and segment always give the same id."""
    digest = hashlib.sha256(f"{collection_id}\0{sha256}\0{segment_key}".encode())
    return "doc_" + digest.hexdigest()[:28]


def identify(path: Path, limits: Limits) -> tuple[str, ObjectKind | SourceError]:
    """A source's sha256 and its kind, or the error refusing it (empty, too large, unsupported):
    a refused file is still an object, recorded as failed so that its failure is listed, retried
    and deleted like any other. A file that is not there is no object: SourceNotFoundError."""
    try:
        kind: ObjectKind | SourceError = detect_kind(path, limits)
    except SourceNotFoundError:
        raise
    except SourceError as exc:
        kind = exc
    try:
        return sha256_file(path), kind
    except OSError as exc:
        raise SourceNotFoundError(
            f"{path}: cannot be read: {exc.strerror}", source=str(path)
        ) from exc


def is_current(
    existing: ObjectRecord | None,
    collection: CollectionInfo,
    metadata: dict[str, Any],
    stored: int,
) -> bool:
    """Whether an object needs no work: ingested with this spec version and this metadata, and
    its documents all still in the store (``stored`` is how many it holds there), so that lost
    documents are restored by ingesting the object again."""
    return (
        existing is not None
        and existing.status is ObjectStatus.SUCCEEDED
        and existing.spec_version == collection.spec_version
        and existing.metadata == metadata
        and stored == existing.document_count
    )


def stored_documents(documents: DocumentStore, collection_id: str, object_id: str) -> int:
    """How many documents of one object the store holds."""
    return documents.count(collection_id, Compare(Field("object_id"), "=", object_id))


def extract(
    extractor: Extractor,
    work: Sequence[tuple[Key, Segment]],
    batch_size: int,
    label: Callable[[Key], str],
) -> dict[Key, OmnidexError]:
    """Run one extractor over ``work`` (segments tagged with the object they belong to) in
    batches, storing its features on each segment. A failing batch is retried object by object,
    so that only the objects at fault fail; their errors are returned by key. The extractor must
    be loaded."""
    errors: dict[Key, OmnidexError] = {}
    size = max(1, batch_size)
    for start in range(0, len(work), size):
        batch = work[start : start + size]
        try:
            _apply(extractor, [s for _, s in batch])
        except Exception:
            for key in dict.fromkeys(k for k, _ in batch):
                try:
                    _apply(extractor, [s for k, s in batch if k == key])
                except Exception as exc:
                    errors[key] = _extraction_error(extractor, label(key), exc)
    return errors


def _apply(extractor: Extractor, segments: list[Segment]) -> None:
    outputs = extractor.extract(segments)
    if len(outputs) != len(segments):
        raise ExtractionError(
            f"{extractor.ref} returned {len(outputs)} results for {len(segments)} segments",
            extractor=extractor.ref,
        )
    for segment, output in zip(segments, outputs, strict=True):
        for name, value in output.items():
            segment.features[f"{extractor.ref}/{name}"] = value


def _extraction_error(extractor: Extractor, source: str, exc: Exception) -> OmnidexError:
    if isinstance(exc, OmnidexError):
        return exc
    log.exception("%s failed on %s", extractor.ref, source)
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    return ExtractionError(
        f"{extractor.ref} failed on {name}: {type(exc).__name__}: {exc}",
        extractor=extractor.ref,
        source=source,
    )


def documents_of(
    collection: CollectionInfo,
    extractor_refs: list[str],
    record: ObjectRecord,
    segments: Sequence[Segment],
) -> list[Document]:
    """The documents of one object's segments, with their lineage."""
    return [
        Document(
            id=document_id_for(collection.id, record.sha256, segment.key),
            object_id=record.id,
            kind=segment.kind,
            key=segment.key,
            source=record.source,
            page=segment.page,
            start_s=segment.start_s,
            end_s=segment.end_s,
            start_frame=segment.start_frame,
            end_frame=segment.end_frame,
            fps=segment.fps,
            features=segment.features,
            thumbnail=segment.thumbnail,
            metadata=record.metadata,
            spec_version=collection.spec_version,
            extractors=extractor_refs,
        )
        for segment in segments
    ]


def failed(source: str, error: OmnidexError, object_id: str | None = None) -> IngestResult:
    return IngestResult(
        source=source,
        status=IngestStatus.FAILED,
        object_id=object_id,
        error=str(error),
        error_code=error.code,
    )
