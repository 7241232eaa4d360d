"""The embedded API: a database in one folder, its collections, ingest, search, retrievers, keys.

``db = omnidex.connect(path)`` opens ``path/catalog.sqlite`` (the SQLite catalog, or the
PostgreSQL one ``catalog_url`` names: :mod:`omnidex.store.catalogs`) and ``path/documents/`` (the
LanceDB document store, or the URI ``documents_uri`` names). ``omnidex.Client(url, api_key)``
(:mod:`omnidex.remote`) exposes the same methods over HTTP.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import ValidationError

from omnidex.config import Settings
from omnidex.errors import (
    CollectionDamagedError,
    InvalidSpecError,
    NotFoundError,
    TaskStateError,
)
from omnidex.media.images import as_image, open_image
from omnidex.metadata import check_change, check_metadata, merge_metadata
from omnidex.pipeline.leases import settle_abandoned
from omnidex.pipeline.plan import Plan, build_plan, default_extractors, normalize_spec
from omnidex.pipeline.ray_options import RayOptions
from omnidex.presets import preset_spec
from omnidex.retrieval.candidates import Source
from omnidex.retrieval.defaults import default_retriever_spec
from omnidex.retrieval.executor import Retriever
from omnidex.sources.local import expand_sources
from omnidex.store import api_keys
from omnidex.store.catalog import DEFAULT_NAMESPACE, Catalog, ensure_namespace
from omnidex.store.catalogs import open_catalog
from omnidex.store.doctor import diagnose
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import Filter, parse_filter
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import (
    ApiKeyInfo,
    CollectionInfo,
    CollectionSpec,
    DeletedObjects,
    Document,
    DriftReport,
    ExtractorSpec,
    Hit,
    IngestResult,
    KeyRole,
    ObjectRecord,
    ObjectStatus,
    ReembedReport,
    RetrievalResult,
    RetrieverInfo,
    RetrieverSpec,
    SegmentationSpec,
)

if TYPE_CHECKING:
    from PIL import Image

    from omnidex.pipeline.local_runner import LocalRunner, ProgressCallback
    from omnidex.pipeline.ray_runner import RayRunner
    from omnidex.pipeline.reembed import ReembedProgress

ImageArg: TypeAlias = "str | Path | bytes | Image.Image"
log = logging.getLogger(__name__)
ExtractorsArg = Sequence[str | dict[str, Any] | ExtractorSpec]
Runner = Literal["local", "ray"] | RayOptions
MAX_K = 1000
OBJECT_PAGE = 1000
"""Objects read from the catalog at a time when a listing wants them all."""


class Database:
    """An embedded omnidex database: one folder on disk, one namespace at a time."""

    def __init__(
        self,
        catalog: Catalog,
        documents: DocumentStore,
        settings: Settings,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.catalog = catalog
        self.documents = documents
        self.settings = settings
        self.namespace = namespace

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        catalog_url: str | None = None,
    ) -> Database:
        settings = Settings.from_env(
            home=Path(path) if path is not None else None, catalog_url=catalog_url
        )
        settings.home.expanduser().mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings)
        ensure_namespace(catalog, namespace)
        return cls(
            catalog,
            LanceDocumentStore(settings.documents, settings.limits.max_metadata_columns),
            settings,
            namespace,
        )

    @property
    def path(self) -> Path:
        return self.settings.home

    def create_collection(
        self,
        name: str,
        extractors: ExtractorsArg | None = None,
        segmentation: SegmentationSpec | dict[str, Any] | None = None,
        *,
        preset: str | None = None,
        phi4: Mapping[str, Any] | None = None,
        embedding_model: str | None = None,
    ) -> Collection:
        """Create a collection whose pipeline runs ``extractors`` in order (default:
        ``page_text@v1``, ``ocr@v1``, ``transcription@v1``, ``text_embedding@v1``) and cuts video
        and audio as ``segmentation`` says (default: scenes of at most 30 s). The spec is checked
        as a whole (names, params, references between extractors) before anything is stored.

        Or start from a ``preset`` (:mod:`omnidex.presets`, e.g. ``meeting``), with ``phi4``
        options for its Phi-4-multimodal extractors and its ``embedding_model``."""
        if preset is None:
            if phi4 is not None or embedding_model is not None:
                raise InvalidSpecError("phi4 and embedding_model go with a preset", field="preset")
            spec = normalize_spec(
                list(extractors) if extractors is not None else None, segmentation
            )
        elif extractors is not None or segmentation is not None:
            raise InvalidSpecError(
                "give a preset or extractors and segmentation, not both", field="preset"
            )
        else:
            spec = preset_spec(preset, phi4, embedding_model)
        plan = build_plan(spec)
        info = self.catalog.create_collection(self.namespace, name, spec, plan.features)
        try:
            self.documents.create_collection(info.id, plan.features)
        except BaseException:  # Ctrl-C too: no catalog entry without its table
            self.catalog.drop_collection(self.namespace, name)
            raise
        collection = Collection(self, info, plan)
        if extractors is None and preset is None:
            collection.notice = default_extractors()[1]
            if collection.notice:
                log.warning("collection %s: %s", name, collection.notice)
        return collection

    def collection(self, name: str) -> Collection:
        """The collection ``name``. Its documents table is created again if a create cut short
        (a crash between the catalog's row and the table) left none; CollectionDamagedError
        if the table of a collection with objects is gone."""
        info = self.catalog.get_collection(self.namespace, name)
        plan = build_plan(info.spec, info.features)
        if not self.documents.exists(info.id):
            if self.catalog.list_objects(info.id, None, 1, 0):
                raise CollectionDamagedError(
                    f"collection {name!r} has lost its documents table; drop it "
                    f"(omnidex collection drop {name}) and ingest its sources again",
                    collection=name,
                )
            log.warning("collection %s had no documents table (a create cut short)", name)
            self.documents.create_collection(info.id, plan.features)
        return Collection(self, info, plan)

    def collections(self) -> list[CollectionInfo]:
        return self.catalog.list_collections(self.namespace)

    def document_count(self, name: str) -> int | None:
        """How many documents the collection holds; None when it lost its documents table
        (:meth:`collection` raises CollectionDamagedError for it), so listings still work."""
        try:
            return self.collection(name).count()
        except CollectionDamagedError:
            return None

    def update_collection(
        self,
        name: str,
        extractors: ExtractorsArg,
        segmentation: SegmentationSpec | dict[str, Any] | None = None,
    ) -> Collection:
        """Replace a collection's pipeline (checked as a whole first); its spec version goes up,
        new feature columns are added, and each object is extracted again when next ingested."""
        current = self.catalog.get_collection(self.namespace, name)
        spec = normalize_spec(list(extractors), segmentation or current.spec.segmentation)
        plan = build_plan(spec)
        self.documents.create_collection(current.id, plan.features)
        info = self.catalog.update_collection(self.namespace, name, spec, plan.features)
        return Collection(self, info, plan)

    def drop_collection(self, name: str) -> None:
        info = self.catalog.get_collection(self.namespace, name)
        self.documents.drop_collection(info.id)
        self.catalog.drop_collection(self.namespace, name)

    def doctor(self, *, dry_run: bool = False) -> list[DriftReport]:
        """Find, and unless ``dry_run`` repair, drift between the catalog and the documents of
        each of this namespace's collections (:mod:`omnidex.store.doctor`), and tasks left
        running by runs that died (:mod:`omnidex.pipeline.leases`)."""
        found = settle_abandoned(self.catalog, repair=not dry_run)
        abandoned = Counter(task.collection_id for task in found)
        reports = []
        for info in self.collections():
            report = diagnose(self.catalog, self.documents, info, repair=not dry_run)
            report.abandoned_tasks = abandoned[info.id]
            reports.append(report)
        return reports

    # --- retrievers ---------------------------------------------------------------------------

    def create_retriever(self, spec: RetrieverSpec | dict[str, Any]) -> RetrieverInfo:
        """Check ``spec`` against its collections and save it (a changed spec is a new version).
        InvalidSpecError names the stage and field of anything that cannot work."""
        checked = _retriever_spec(spec)
        self._retriever(checked)
        return self.catalog.save_retriever(self.namespace, checked)

    def retriever(self, name: str, version: int | None = None) -> SavedRetriever:
        """A saved retriever (its latest version, or ``version``), ready to run."""
        info = self.catalog.get_retriever(self.namespace, name, version)
        return SavedRetriever(info, self._retriever(info.spec))

    def retrievers(self) -> list[RetrieverInfo]:
        return self.catalog.list_retrievers(self.namespace)

    def delete_retriever(self, name: str) -> None:
        self.catalog.delete_retriever(self.namespace, name)

    def retrieve(
        self,
        spec: RetrieverSpec | dict[str, Any],
        inputs: dict[str, Any] | None = None,
        *,
        explain: bool = False,
    ) -> RetrievalResult:
        """Run a retriever spec without saving it; with ``explain``, the result has each stage's
        report too, as :meth:`SavedRetriever.explain` gives."""
        return _shown(self._retriever(_retriever_spec(spec)).run(inputs), explain)

    def _retriever(self, spec: RetrieverSpec) -> Retriever:
        sources = [self.collection(name).source() for name in spec.collections]
        return Retriever(spec, sources, self.documents)

    # --- API keys -------------------------------------------------------------------------------

    def create_key(self, name: str, role: KeyRole | str = KeyRole.READ) -> tuple[ApiKeyInfo, str]:
        """A new API key for this namespace: its info and the key itself, which is not stored
        and cannot be shown again. ``read`` keys may only read; ``write`` keys may also write."""
        key = api_keys.new_key()
        info = self.catalog.create_api_key(
            self.namespace, name, _key_role(role), api_keys.hash_key(key), api_keys.key_id_of(key)
        )
        return info, key

    def keys(self) -> list[ApiKeyInfo]:
        """This namespace's API keys, revoked ones included, oldest first; never their secrets."""
        return self.catalog.list_api_keys(self.namespace)

    def revoke_key(self, key_id: str) -> ApiKeyInfo:
        """Revoke one of this namespace's keys for good; NotFoundError if it has no such key."""
        return self.catalog.revoke_api_key(key_id, self.namespace)

    def authenticate(self, key: str) -> ApiKeyInfo:
        """The key's info if it is an active key of this namespace: AuthenticationError if it is
        malformed, unknown or revoked, PermissionDeniedError if it belongs to another namespace.
        A server serving every namespace uses :func:`omnidex.store.api_keys.authenticate`."""
        info = api_keys.authenticate(self.catalog, key)
        api_keys.authorize(info, self.namespace)
        return info

    def query_image(self, image: ImageArg) -> Image.Image:
        """A query image (a path, an image file's bytes, a PIL image) decoded within the limits."""
        if isinstance(image, str | Path):
            return open_image(Path(image).expanduser(), self.settings.limits)
        return as_image(image, self.settings.limits, "query image")

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Collection:
    """One collection: ingest sources into it, search it, look at its objects and documents."""

    def __init__(self, db: Database, info: CollectionInfo, plan: Plan) -> None:
        self.db = db
        self.info = info
        self.plan = plan
        self._lock = threading.Lock()
        self._searches: dict[int, Retriever] = {}
        """The default retriever for each ``k`` asked for, checked once."""
        self.notice: str | None = None
        """What a new collection's creator should know (the default pipeline left a part out)."""

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, extractors={self.plan.extractor_refs})"

    def ingest(
        self,
        sources: str | Path | Sequence[str | Path],
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        runner: Runner = "local",
    ) -> list[IngestResult]:
        """Ingest files, directories (recursively) and glob patterns. Returns one result per
        file: ingested, unchanged (same content, spec and metadata as before) or failed, with
        the reason. A bad file never stops the others.

        ``runner``: ``"local"`` (this process), or ``"ray"`` / :class:`RayOptions` (a Ray
        cluster: :mod:`omnidex.pipeline.ray_runner`); both give the same documents."""
        items = [sources] if isinstance(sources, str | Path) else list(sources)
        check_metadata(metadata or {}, self.db.settings.limits)
        with self._lock:
            return self._runner(runner).ingest(expand_sources(items), metadata, progress)

    def ingest_queued(
        self,
        paths: Sequence[Path],
        task_ids: Sequence[str],
        metadata: dict[str, Any],
        runner: Runner = "local",
    ) -> list[IngestResult]:
        """Ingest stored files for queued tasks (the server's workers), which report them."""
        check_metadata(metadata, self.db.settings.limits)
        with self._lock:
            return self._runner(runner).ingest(paths, metadata, task_ids=task_ids)

    def _runner(self, runner: Runner) -> LocalRunner | RayRunner:
        # the runners are imported here: a process that only searches never needs them
        from omnidex.pipeline.local_runner import LocalRunner
        from omnidex.pipeline.ray_runner import RayRunner

        args = (self.db.catalog, self.db.documents, self.info, self.plan, self.db.settings)
        if runner == "local":
            return LocalRunner(*args)
        if runner == "ray":
            return RayRunner(*args)
        if isinstance(runner, RayOptions):
            return RayRunner(*args, runner)
        raise InvalidSpecError(f"unknown runner {runner!r}; 'local' or 'ray'", field="runner")

    def search(
        self,
        query: str | None = None,
        k: int = 10,
        where: str | Filter | None = None,
        *,
        image: ImageArg | None = None,
    ) -> list[Hit]:
        """Hybrid search, the collection's default retriever: vector similarity on every
        embeddable vector feature and BM25 on the text, fused by reciprocal rank. ``query`` is
        text; ``image`` (a path, the bytes of an image file, or a PIL image) searches the image
        vectors by example; both together are fused."""
        return self.explain(query, k, where, image=image).hits

    def explain(
        self,
        query: str | None = None,
        k: int = 10,
        where: str | Filter | None = None,
        *,
        image: ImageArg | None = None,
    ) -> RetrievalResult:
        """:meth:`search` with each stage's timing and candidate counts."""
        if not 1 <= k <= MAX_K:
            raise InvalidSpecError(f"k must be between 1 and {MAX_K}, not {k}", field="k")
        if not query and image is None:
            raise InvalidSpecError("give a text query, an image, or both", field="query")
        retriever = self._searches.get(k)
        if retriever is None:
            source = self.source()
            features = [(f.address, f.type) for f in self.info.features]
            kinds = {a: e.query_kinds() for a, e in source.encoders.items()}
            spec = default_retriever_spec(self.name, features, kinds, k)
            retriever = self._searches[k] = Retriever(spec, [source], self.db.documents)
        inputs: dict[str, Any] = {"query": query or None}
        if image is not None:
            inputs["image"] = self.db.query_image(image)
        return retriever.run(inputs, where=_filter(where))

    def add_extractor(
        self,
        extractor: str | dict[str, Any] | ExtractorSpec,
        progress: ReembedProgress | None = None,
    ) -> ReembedReport:
        """Add an extractor that works from what is stored (``image_embedding@v1``) to this
        collection and run it over the documents already there, without segmenting or
        extracting again: OCR text, transcripts and captions stay as they are. Each object is
        written at once, so an interrupted run resumes where it stopped when called again (the
        objects done are skipped); searches use the old spec until every object is done, then
        the spec version goes up. ``progress(done, total, source)`` follows each object."""
        from omnidex.pipeline.reembed import added_extractor, reembed

        with self._lock:
            current = self.db.catalog.get_collection(self.db.namespace, self.name)
            plan = build_plan(current.spec, current.features)
            wanted = normalize_spec([extractor], current.spec.segmentation).extractors[0]
            there = next((s for s in current.spec.extractors if s.name == wanted.name), None)
            if there is None:
                spec = CollectionSpec(
                    extractors=[*current.spec.extractors, wanted],
                    segmentation=current.spec.segmentation,
                )
                new = build_plan(spec)
                added, switch = added_extractor(plan, new), True
            elif there.params == wanted.params:  # added before: finish what is not done
                new, switch = plan, False
                added = plan.extractors[current.spec.extractors.index(there)]
            else:
                raise InvalidSpecError(
                    f"{wanted.name} is already in collection {self.name!r} with other params; "
                    "changing them in place is not supported: update_collection, then ingest "
                    "again",
                    field="extractor",
                )
            report = reembed(
                self.db.catalog,
                self.db.documents,
                current,
                new,
                added,
                self.db.settings,
                progress,
                switch=switch,
            )
            info = self.db.catalog.get_collection(self.db.namespace, self.name)
            self._refresh(info, build_plan(info.spec, info.features))
            return report

    def _refresh(self, info: CollectionInfo, plan: Plan) -> None:
        self.info, self.plan = info, plan
        self._searches.clear()

    def source(self) -> Source:
        """The collection as retrieval stages see it: its info and its query encoders."""
        return Source(self.info, self.plan.query_encoders())

    def get(self, doc_id: str) -> Document:
        document = self.db.documents.get(self.info.id, doc_id)
        if document is None:
            raise NotFoundError(f"no document {doc_id!r} in collection {self.name!r}", id=doc_id)
        return document

    def ask(self, doc_id: str, question: str, max_new_tokens: int = 256) -> str:
        """Ask Phi-4-multimodal a question about one image, PDF page or video scene, with the
        model and backend of the collection's Phi-4 extractor (see :mod:`omnidex.pipeline.ask`)."""
        from omnidex.pipeline.ask import ask, phi4_options

        options = phi4_options(self.info.spec, self.name)
        return ask(options, self.get(doc_id), question, self.db.settings, max_new_tokens)

    def documents(
        self, where: str | Filter | None = None, limit: int = 100, offset: int = 0
    ) -> list[Document]:
        return self.db.documents.list(self.info.id, _filter(where), limit, offset)

    def count(self, where: str | Filter | None = None) -> int:
        return self.db.documents.count(self.info.id, _filter(where))

    def objects(
        self, status: ObjectStatus | str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[ObjectRecord]:
        """The collection's objects in order of ingest from ``offset``: all of them, or
        ``limit`` (see :meth:`count_objects` for how many there are)."""
        wanted = _status(status)
        if limit is not None:
            return self.db.catalog.list_objects(self.info.id, wanted, limit, offset)
        records: list[ObjectRecord] = []
        while page := self.db.catalog.list_objects(self.info.id, wanted, OBJECT_PAGE, offset):
            records.extend(page)
            offset += len(page)
        return records

    def count_objects(self, status: ObjectStatus | str | None = None) -> int:
        """How many objects the collection holds (with ``status``, if given)."""
        return self.db.catalog.count_objects(self.info.id, _status(status))

    def object(self, object_id: str) -> ObjectRecord:
        record = self.db.catalog.get_object(self.info.id, object_id)
        if record is None:
            raise NotFoundError(
                f"no object {object_id!r} in collection {self.name!r}", id=object_id
            )
        return record

    def update_metadata(
        self,
        object_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> ObjectRecord:
        """Merge ``metadata`` into an object's metadata and drop the keys in ``remove``, without
        extracting anything again: its documents keep their ids and features and get the new
        metadata in one atomic write, so filters see it at once, and ingesting the same file
        with the new metadata is then ``unchanged``. Returns the updated object."""
        given = check_change(metadata, remove)
        with self._lock:
            record = self.object(object_id)
            if record.status in (ObjectStatus.PENDING, ObjectStatus.PROCESSING):
                raise TaskStateError(
                    f"object {object_id!r} is being ingested ({record.status.value}); change "
                    "its metadata once that is done",
                    id=object_id,
                )
            merged = merge_metadata(record.metadata, given, remove)
            check_metadata(merged, self.db.settings.limits)
            self.db.documents.set_metadata(self.info.id, object_id, merged)
            return self.db.catalog.put_object(record.model_copy(update={"metadata": merged}))

    def delete_object(self, object_id: str) -> int:
        """Remove an object and all its documents; returns how many documents went."""
        self.object(object_id)
        with self._lock:
            return self._delete(object_id)

    def delete_objects(
        self, where: str | Filter | None, *, dry_run: bool = False
    ) -> DeletedObjects:
        """Remove every object that has a document matching ``where`` (the filter language of
        :meth:`search`), with all its documents; with ``dry_run``, only say which. An empty
        filter is refused rather than read as "everything". Each object goes in its own atomic
        step, so an interruption leaves whole objects, deleted or not."""
        if where is None or (isinstance(where, str) and not where.strip()):
            raise InvalidSpecError(
                "give a where filter to delete by; an empty one would delete every object "
                "(drop the collection for that)",
                field="where",
            )
        wanted = parse_filter(where) if isinstance(where, str) else where
        with self._lock:
            records = [
                record
                for object_id in sorted(self.db.documents.object_ids(self.info.id, wanted))
                if (record := self.db.catalog.get_object(self.info.id, object_id)) is not None
            ]
            if dry_run:
                documents = sum(r.document_count for r in records)
            else:
                documents = sum(self._delete(r.id) for r in records)
        return DeletedObjects(objects=records, documents=documents, dry_run=dry_run)

    def _delete(self, object_id: str) -> int:
        removed = self.db.documents.delete_object(self.info.id, object_id)
        self.db.catalog.delete_object(self.info.id, object_id)
        return removed


class SavedRetriever:
    """A saved retriever, checked against its collections: run it, or run it and explain."""

    def __init__(self, info: RetrieverInfo, retriever: Retriever) -> None:
        self.info = info
        self._retriever = retriever

    @property
    def name(self) -> str:
        return self.info.name

    def run(self, inputs: dict[str, Any] | None = None) -> RetrievalResult:
        """The hits (``.hits``) and the run's time."""
        return _shown(self._retriever.run(inputs), explain=False)

    def explain(self, inputs: dict[str, Any] | None = None) -> RetrievalResult:
        """:meth:`run`'s result with each stage's timing and candidate counts (``.stages``)."""
        return self._retriever.run(inputs)


def _shown(result: RetrievalResult, explain: bool) -> RetrievalResult:
    """A run's result as a caller asked for it: with its stage reports only when explaining."""
    return result if explain else result.model_copy(update={"stages": None})


def _retriever_spec(spec: RetrieverSpec | dict[str, Any]) -> RetrieverSpec:
    if isinstance(spec, RetrieverSpec):
        return spec
    try:
        return RetrieverSpec.model_validate(spec)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidSpecError(f"{where}: {error['msg']}", field=where) from None


def _key_role(role: KeyRole | str) -> KeyRole:
    try:
        return KeyRole(role)
    except ValueError:
        known = ", ".join(r.value for r in KeyRole)
        raise InvalidSpecError(f"unknown role {role!r}; one of {known}", field="role") from None


def _filter(where: str | Filter | None) -> Filter | None:
    return parse_filter(where) if isinstance(where, str) else where


def _status(status: ObjectStatus | str | None) -> ObjectStatus | None:
    try:
        return ObjectStatus(status) if status is not None else None
    except ValueError:
        known = ", ".join(s.value for s in ObjectStatus)
        raise InvalidSpecError(
            f"unknown status {status!r}; one of {known}", field="status"
        ) from None
