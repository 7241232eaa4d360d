"""Types shared by every layer: specs, segments, documents, hits, retrievers, keys, objects,
tasks and webhooks.

Feature addresses have the form ``extractor@vN/feature`` (``text_embedding@v1/vector``); extractor
references have the form ``extractor@vN``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

SegmentKind = Literal["text", "image", "page", "scene", "audio"]
"""``text``: a chunk of a text file or of a PDF page's text layer; ``image``: an image file;
``page``: a PDF page without a text layer, read as an image; ``scene``: a span of a video (its
keyframe is ``image``, its sound ``audio``); ``audio``: a span of an audio-only file."""

ObjectKind = Literal["text", "image", "pdf", "video", "audio"]
RecordKind = ObjectKind | Literal["unknown"]
"""An object's kind in the catalog: ``unknown`` for a file refused before its kind was known
(empty, too large, unsupported), recorded as failed so that its failure is listed."""

_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)@v(?P<version>[1-9][0-9]*)$")


def parse_extractor_ref(ref: str) -> tuple[str, int]:
    """``"ocr@v1"`` → ``("ocr", 1)``; ValueError for anything else."""
    match = _REF.match(ref)
    if not match:
        raise ValueError(f"{ref!r} is not an extractor reference of the form name@vN")
    return match["name"], int(match["version"])


def feature_address(extractor_ref: str, feature: str) -> str:
    return f"{extractor_ref}/{feature}"


def split_feature_address(address: str) -> tuple[str, str]:
    """``"ocr@v1/text"`` → ``("ocr@v1", "text")``; ValueError when malformed."""
    ref, sep, feature = address.partition("/")
    if not sep or not feature:
        raise ValueError(f"{address!r} is not a feature address of the form name@vN/feature")
    parse_extractor_ref(ref)
    return ref, feature


class _Model(BaseModel):
    """The base of the models here: each builds its validator on first use rather than at
    import, since most processes use only a few of them (a search, a listing)."""

    model_config = ConfigDict(defer_build=True)


# --- specs ------------------------------------------------------------------------------------


class FeatureType(StrEnum):
    TEXT = "text"
    VECTOR = "vector"
    JSON = "json"
    NUMBER = "number"
    LABEL = "label"
    """A short keyword (a language code, an engine name): filterable, never searched or embedded."""


class FeatureSpec(_Model):
    """One output of an extractor. Text features are full-text indexed; vectors have a ``dim``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: FeatureType
    dim: int | None = None
    description: str = ""


class FeatureColumn(FeatureSpec):
    """A feature as a collection stores it: with its full address."""

    address: str


class ExtractorResources(_Model):
    """What one extractor asks of the machine that runs it.

    ``batch_size`` (segments per call) applies to every runner; the rest is for the Ray runner:
    each extractor runs in a pool of up to ``concurrency`` actors that hold ``num_cpus`` CPUs and
    ``num_gpus`` GPUs each and load the model once per actor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int | None = Field(None, ge=1, le=4096, description="segments per call")
    num_cpus: float = Field(1.0, ge=0, le=256, description="CPUs per actor (Ray runner)")
    num_gpus: float = Field(0.0, ge=0, le=16, description="GPUs per actor (Ray runner)")
    concurrency: int = Field(1, ge=1, le=1024, description="most actors (Ray runner)")


class ExtractorSpec(_Model):
    """An extractor as named in a collection spec: ``{"name": "ocr@v1", "params": {}}``, with
    optional ``resources`` (batch size; CPUs, GPUs and actors on a Ray cluster)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    resources: ExtractorResources = Field(default_factory=ExtractorResources)

    @field_validator("name")
    @classmethod
    def _is_reference(cls, value: str) -> str:
        parse_extractor_ref(value)
        return value


DEFAULT_EXTRACTORS = ("page_text@v1", "ocr@v1", "transcription@v1", "text_embedding@v1")
"""What a collection created without extractors runs, in order."""
IMAGE_EXTRACTOR = "image_embedding@v1"
"""Part of the default pipeline too, where its default model can be found (else a notice)."""
DEFAULT_MIN_SEGMENT_S = 0.25
"""Spans shorter than this merge into a neighbour: flicker of a few frames (under 8 at 30 fps),
while a real short shot (the shot detector keeps cuts 15 frames apart) stays a document."""


class SegmentationSpec(_Model):
    """How video and audio are cut into segments (text chunking is ``page_text@v1``'s params).

    ``scene``: at shot boundaries (video; audio-only files fall back to ``silence``); ``time``:
    fixed windows of ``window_s``; ``silence``: at pauses in the sound. Spans longer than
    ``max_segment_s`` (at most an hour) are split evenly; spans shorter than ``min_segment_s``
    are merged.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    split: Literal["scene", "time", "silence"] = "scene"
    max_segment_s: float = Field(30.0, gt=0, le=3600)
    min_segment_s: float = Field(DEFAULT_MIN_SEGMENT_S, ge=0, le=600)
    window_s: float = Field(10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _ordered(self) -> SegmentationSpec:
        if self.min_segment_s >= self.max_segment_s:
            raise ValueError(
                f"min_segment_s ({self.min_segment_s}) must be below max_segment_s "
                f"({self.max_segment_s})"
            )
        return self


class CollectionSpec(_Model):
    """How sources become documents: how media is cut, and the extractors that run, in order."""

    model_config = ConfigDict(extra="forbid")

    extractors: list[ExtractorSpec] = Field(min_length=1)
    segmentation: SegmentationSpec = Field(default_factory=SegmentationSpec)


class CollectionInfo(_Model):
    id: str
    namespace: str
    name: str
    spec: CollectionSpec
    spec_version: int
    features: list[FeatureColumn]
    created_at: datetime
    updated_at: datetime

    def feature(self, address: str) -> FeatureColumn | None:
        return next((f for f in self.features if f.address == address), None)


# --- segments and documents ------------------------------------------------------------------


@dataclass
class Segment:
    """A piece of an object that becomes one document. Pixels are loaded lazily by ``image``."""

    object_id: str
    kind: SegmentKind
    key: str
    source: str
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    fps: float | None = None
    text: str | None = None
    image: Callable[[], Image.Image] | None = None
    audio: Callable[[], np.ndarray] | None = None
    """The segment's sound, 16 kHz mono float32, loaded lazily (scenes and audio spans)."""
    frames: Callable[[int], list[Image.Image]] | None = None
    """``frames(n)``: n frames spread over a scene, decoded on demand (video scenes only)."""
    thumbnail: bytes | None = None
    features: dict[str, Any] = field(default_factory=dict)
    """Features produced so far by earlier extractors, by address (text for the embedder)."""


class Document(_Model):
    """The retrievable unit: coordinates, features by address, thumbnail, lineage, metadata."""

    id: str
    object_id: str
    kind: SegmentKind
    key: str
    source: str
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    fps: float | None = None
    features: dict[str, Any] = Field(default_factory=dict)
    thumbnail: bytes | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec_version: int = 1
    extractors: list[str] = Field(default_factory=list)

    def text(self) -> str:
        """Every string feature joined, in feature order. Labels are strings too: where the
        collection's feature types are known, join its text features instead (as search does)."""
        return "\n".join(v for v in self.features.values() if isinstance(v, str) and v.strip())


class StageScore(_Model):
    score: float
    rank: int


class Evidence(_Model):
    """Text of a hit that matched: which feature it came from and the passage."""

    field: str
    text: str


class Moment(_Model):
    """Adjacent hits of one object merged into one time range (or page run, ``page`` to
    ``end_page``) by ``group_by``."""

    score: float
    ids: list[str]
    page: int | None = None
    end_page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    snippet: str = ""


class Hit(_Model):
    """One result: the document's coordinates, its score and, in ``provenance``, each stage's score
    and rank for it (searches inside a stage as ``stage/search``); ``matched`` names the searches
    that found it, ``evidence`` the text that matched; ``moments`` the best moments of a group."""

    id: str
    score: float
    object_id: str
    source: str
    kind: SegmentKind
    key: str
    collection: str = ""
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    snippet: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, StageScore] = Field(default_factory=dict)
    matched: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    moments: list[Moment] = Field(default_factory=list)


# --- queries ---------------------------------------------------------------------------------

QueryKind = Literal["text", "image"]
"""What a query is: words (``str``) or a picture (a decoded RGB ``PIL.Image.Image``)."""

QueryValue = Any
"""A query: a ``str`` for ``text``, a ``PIL.Image.Image`` for ``image`` (see :func:`query_kind`)."""


def query_kind(value: QueryValue) -> QueryKind | None:
    """The kind of a query value: ``text`` for a string, ``image`` for a PIL image, else None."""
    if isinstance(value, str):
        return "text"
    from PIL import Image

    return "image" if isinstance(value, Image.Image) else None


@runtime_checkable
class QueryEncoder(Protocol):
    """Whatever embeds queries for a vector feature (the extractor that made those vectors).

    It owns how a query of each kind it takes becomes a vector: ``query_kinds`` says which kinds
    (``text``, ``image``); ``embed_queries`` embeds queries of those kinds (:func:`query_kind`
    tells them apart), one L2-normalized float32 row each, in order. A new query modality is a new
    kind here and in the encoders that take it; callers do not change.
    """

    def query_kinds(self) -> frozenset[QueryKind]: ...

    def embed_queries(self, queries: Sequence[QueryValue]) -> np.ndarray: ...


# --- retrievers -------------------------------------------------------------------------------

InputType = Literal["text", "string", "number", "boolean", "date", "image"]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InputSpec(_Model):
    """An input a retriever declares: ``query: text`` (embedded and matched as words), ``string``
    (a plain value, e.g. a speaker), ``number``, ``boolean``, ``date`` (ISO 8601), ``image``."""

    model_config = ConfigDict(extra="forbid")

    type: InputType
    required: bool = True
    default: Any = None
    description: str = ""


class StageSpec(_Model):
    """One stage: a registered ``type``, its ``params`` (values may be ``{{inputs.name}}``), and
    an ``id`` naming it in provenance and ``explain`` (default: its type, numbered if repeated)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class RetrieverSpec(_Model):
    """A saved multi-stage retrieval pipeline over one or more collections of a namespace."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    collections: list[str] = Field(min_length=1)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    stages: list[StageSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"retriever name {name!r} must match {_NAME.pattern}")
        return name

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, inputs: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in inputs:
            if not _IDENTIFIER.match(name):
                raise ValueError(f"input name {name!r} must be an identifier")
        return inputs


class RetrieverInfo(_Model):
    namespace: str
    name: str
    version: int
    spec: RetrieverSpec
    created_at: datetime
    updated_at: datetime


class StageReport(_Model):
    """What one stage did in a run: its time and how many candidates went in and came out."""

    id: str
    type: str
    ms: float
    candidates_in: int
    candidates_out: int
    notes: list[str] = Field(default_factory=list)


class RetrievalResult(_Model):
    """What every retriever run answers (``run``, ``retrieve``, ``explain``, a collection's
    ``explain``): the hits and the run's time. ``stages`` is what explaining adds — each stage's
    time, candidates in and out, and notes — and is None for a plain run."""

    hits: list[Hit]
    total_ms: float
    stages: list[StageReport] | None = None


# --- API keys ----------------------------------------------------------------------------------


class KeyRole(StrEnum):
    """What an API key may do in its namespace: ``read`` only, or ``write`` (read and write)."""

    READ = "read"
    WRITE = "write"


class ApiKeyInfo(_Model):
    """An API key as it may be shown: its public id and bookkeeping, never its secret or hash."""

    id: str
    namespace: str
    name: str
    role: KeyRole
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


# --- objects, tasks, ingest results ----------------------------------------------------------


class ObjectStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ObjectRecord(_Model):
    id: str
    collection_id: str
    sha256: str
    source: str
    size: int
    kind: RecordKind
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: ObjectStatus = ObjectStatus.PENDING
    error: str | None = None
    document_count: int = 0
    spec_version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DeletedObjects(BaseModel):
    """What a delete by filter removed, or with ``dry_run`` would remove: the objects that had a
    document matching the filter, and how many documents they had."""

    objects: list[ObjectRecord]
    documents: int
    dry_run: bool = False


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class TaskRecord(_Model):
    id: str
    collection_id: str
    object_id: str | None
    kind: str = "ingest"
    state: TaskState = TaskState.QUEUED
    stage: str | None = None
    progress: float = 0.0
    attempts: int = 0
    max_attempts: int = 1
    error: str | None = None
    error_code: str | None = None
    """The error's stable code (``corrupt_media``, ``unsafe_url``…) when the task failed."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    object_deleted: bool = False
    """True once the task's object was deleted: the task stays, as a record of what was done."""
    payload: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """What a queued task works on (a stored file, its metadata); internal, never sent out."""

    @property
    def retryable(self) -> bool:
        """Whether the task holds its input, so that it can be queued again."""
        return bool(self.payload)


class DriftReport(BaseModel):
    """What ``omnidex doctor`` found in one collection where its catalog and its documents
    disagree, and whether it repaired it (:mod:`omnidex.store.doctor`)."""

    collection: str
    objects_without_documents: list[str] = Field(default_factory=list)
    """Objects recorded as succeeded whose documents are not all in the store: set to pending, so
    that ingesting them again restores their documents."""
    documents_without_object: int = 0
    """Documents of objects the catalog does not know (deleted): removed."""
    objects_gone: list[str] = Field(default_factory=list)
    """The unknown objects those documents belonged to."""
    abandoned_tasks: int = 0
    """Tasks left running by a run that died (killed): failed, their objects pending."""
    repaired: bool = False
    """False for a dry run: nothing was changed."""

    @property
    def clean(self) -> bool:
        return not (
            self.objects_without_documents or self.documents_without_object or self.abandoned_tasks
        )


class IngestStatus(StrEnum):
    INGESTED = "ingested"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class IngestResult(_Model):
    """What happened to one source: its object, how many documents, or why it failed."""

    source: str
    status: IngestStatus
    object_id: str | None = None
    documents: int = 0
    error: str | None = None
    error_code: str | None = None


class ReembedReport(BaseModel):
    """What adding an extractor to a filled collection did: objects embedded now, objects done
    by an earlier (interrupted) run, documents written, failures by source with the reason, and
    the collection's spec version after (it goes up once every object is done)."""

    extractor: str
    embedded: int = 0
    already_done: int = 0
    documents: int = 0
    failed: dict[str, str] = Field(default_factory=dict)
    spec_version: int = 0


# --- webhooks ----------------------------------------------------------------------------------


class WebhookEventType(StrEnum):
    """What a webhook may listen to: a task that reached a final state, an object deleted."""

    TASK_SUCCEEDED = "task.succeeded"
    TASK_FAILED = "task.failed"
    OBJECT_DELETED = "object.deleted"


class WebhookInfo(_Model):
    """A webhook as it may be shown: where it posts and what it listens to, never its secret."""

    id: str
    namespace: str
    url: str
    events: list[WebhookEventType]
    created_at: datetime


class WebhookEvent(_Model):
    """What a webhook receives, the JSON body of a delivery: ``data`` is the task or object."""

    id: str
    type: WebhookEventType
    created_at: datetime
    namespace: str
    data: dict[str, Any]


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(_Model):
    """One event on its way to one webhook: ``attempts`` so far, the last answer's status or the
    last error. ``url``, ``secret`` and ``body`` are what the sender needs; never sent out."""

    id: str
    webhook_id: str
    event_id: str
    event: WebhookEventType
    state: DeliveryState
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime
    url: str = Field("", exclude=True)
    secret: str = Field("", exclude=True, repr=False)
    body: str = Field("", exclude=True, repr=False)
