"""The LanceDB implementation of the :class:`~omnidex.store.documents.DocumentStore` protocol.

One Lance table per collection, named by the collection id. Document fields are plain columns,
user metadata is a Lance JSON column (with typed, indexed copies of its keys for fast filters,
:mod:`omnidex.store.lance_metadata`), and each feature has one column whose name is derived from
its address (``text_embedding@v1/vector`` → ``f__text_embedding_v1__vector``); the address and
type travel in the Arrow field metadata, so a table describes itself.

Text features carry native Lance full-text (BM25) indexes. Vector features are searched by cosine
similarity through an in-memory faiss index kept beside the table
(:mod:`omnidex.store.lance_vectors`: built by the first search in each process, caught up with
every write before a search answers). LanceDB's own search answers while that index is being built
on a thread and for tables that are not on a local disk: exact below
:data:`VECTOR_INDEX_MIN_ROWS` rows, through the IVF_HNSW_SQ index ``optimize`` builds, with a
refine step, above it. Filters are compiled by :mod:`omnidex.store.filter_sql` and applied before
the top-k. Replacing an object's documents is one ``merge_insert``: atomic. A write that loses a
commit race to another writer of the table is retried (:mod:`omnidex.store.lance_conflicts`);
``optimize`` compacts, updates indexes and deletes old versions on a budget
(:mod:`omnidex.store.lance_upkeep`).

Reads go through Lance itself (schema, ``get``, ``count``, ``vectors``, full-text and, for a local
table, the in-memory vector search), so a process that only reads never imports LanceDB, whose
import costs seconds; writes, listings and LanceDB's own vector search open the table through
LanceDB on first use.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

import lance
import numpy as np
import pyarrow as pa
from lance.query import FullTextOperator, MultiMatchQuery

from omnidex.config import Limits
from omnidex.errors import InvalidSpecError, LimitExceededError, NotFoundError, StoreError
from omnidex.store import lance_conflicts, lance_metadata, lance_upkeep
from omnidex.store.filter_sql import compile_filter, sql_literal
from omnidex.store.filters import Filter
from omnidex.store.lance_vectors import MemoryIndexes
from omnidex.types import Document, FeatureColumn, FeatureType, split_feature_address

# Listing indexes warns on every call unless this is set; we never read the centroids.
os.environ.setdefault("LANCE_INCLUDE_VECTOR_CENTROIDS", "false")

VECTOR_INDEX_MIN_ROWS = 50_000
"""Below this many rows vector search is exact (flat); from it on, optimize builds an ANN index."""

_ROWS_PER_PARTITION = 12_500
_SEARCH_NPROBES = 16
_SEARCH_EF = 100
_SEARCH_REFINE = 2
_ADDRESS = b"omnidex.address"
_TYPE = b"omnidex.type"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_WORD = re.compile(r"\w+")
_JSON = pa.json_(pa.utf8())
T = TypeVar("T")

_BASE_FIELDS = [
    pa.field("id", pa.utf8(), nullable=False),
    pa.field("object_id", pa.utf8(), nullable=False),
    pa.field("kind", pa.utf8(), nullable=False),
    pa.field("key", pa.utf8(), nullable=False),
    pa.field("source", pa.utf8(), nullable=False),
    pa.field("page", pa.int32()),
    pa.field("start_s", pa.float64()),
    pa.field("end_s", pa.float64()),
    pa.field("start_frame", pa.int64()),
    pa.field("end_frame", pa.int64()),
    pa.field("fps", pa.float64()),
    pa.field("metadata", _JSON),
    pa.field("spec_version", pa.int32(), nullable=False),
    pa.field("extractors", pa.list_(pa.utf8())),
    pa.field("thumbnail", pa.large_binary()),
]
_PLAIN_FIELDS = [f.name for f in _BASE_FIELDS if f.name not in ("metadata", "extractors")]


def column_name(address: str) -> str:
    """The column that holds the feature at ``address``: deterministic and SQL-safe."""
    try:
        ref, feature = split_feature_address(address)
    except ValueError as exc:
        raise InvalidSpecError(str(exc), field=address) from None
    return f"f__{_UNSAFE.sub('_', ref.replace('@', '_'))}__{_UNSAFE.sub('_', feature)}"


def _arrow_type(feature: FeatureColumn) -> pa.DataType:
    if feature.type is FeatureType.VECTOR:
        if not feature.dim or feature.dim < 1:
            raise InvalidSpecError("a vector feature needs a dim", field=feature.address)
        return pa.list_(pa.float32(), feature.dim)
    return {
        FeatureType.TEXT: pa.utf8(),
        FeatureType.LABEL: pa.utf8(),
        FeatureType.JSON: _JSON,
        FeatureType.NUMBER: pa.float64(),
    }[feature.type]


def _feature_field(feature: FeatureColumn) -> pa.Field:
    metadata = {_ADDRESS: feature.address.encode(), _TYPE: feature.type.value.encode()}
    return pa.field(column_name(feature.address), _arrow_type(feature), metadata=metadata)


def _write_schema(features: Sequence[FeatureColumn]) -> pa.Schema:
    return pa.schema([*_BASE_FIELDS, *(_feature_field(f) for f in features)])


@dataclass(frozen=True)
class _Layout:
    """A collection's table with what its schema says: feature columns, typed metadata columns
    and the write schema. ``path`` is the table's folder when it is on a local disk (where Lance
    reads it directly and the in-memory vector index serves searches), else None; the LanceDB
    table is opened by ``opener`` when first needed."""

    schema: pa.Schema
    path: str | None
    opener: Callable[[], Any]

    @classmethod
    def of(cls, table: Any) -> _Layout:
        uri = str(table.to_lance().uri)
        return cls(_writable(table.schema), None if "://" in uri else uri, lambda: table)

    def reopened(self) -> _Layout:
        """This layout after its table's schema changed (same table, same path)."""
        table = self.table
        return _Layout(_writable(table.schema), self.path, lambda: table)

    @cached_property
    def table(self) -> Any:
        """The LanceDB table (writes, listings, and searches of tables not on a local disk)."""
        return self.opener()

    def dataset(self) -> Any:
        """The table's latest version as a Lance dataset."""
        return self.table.to_lance() if self.path is None else lance.dataset(self.path)

    @cached_property
    def features(self) -> tuple[FeatureColumn, ...]:
        return _features_of(self.schema)

    @cached_property
    def meta(self) -> dict[tuple[str, str], str]:
        return lance_metadata.columns_of(self.schema)

    @cached_property
    def columns(self) -> dict[str, str]:
        return {f.address: column_name(f.address) for f in self.features}

    @cached_property
    def hit_columns(self) -> list[str]:
        """What a search returns: documents without vectors and thumbnails (``get`` has those)
        and without the typed copies of the metadata."""
        vectors = {column_name(f.address) for f in self.features if f.type is FeatureType.VECTOR}
        skipped = {"thumbnail", *vectors, *self.meta.values()}
        return [n for n in self.schema.names if n not in skipped]

    @cached_property
    def held_columns(self) -> list[str]:
        """The hit columns the in-memory vector index holds beside the vectors: the document's
        fields and metadata, not its features (long texts are read per search)."""
        features = set(self.columns.values())
        return [n for n in self.hit_columns if n not in features]

    def where(self, f: Filter) -> str:
        return compile_filter(f, self.columns, self.meta)

    def feature(self, address: str, kind: FeatureType) -> str:
        found = next((f for f in self.features if f.address == address), None)
        if found is None or found.type is not kind:
            raise InvalidSpecError(
                f"{address!r} is not a {kind.value} feature of this collection", field=address
            )
        return column_name(address)

    def text_columns(self) -> list[str]:
        return [column_name(f.address) for f in self.features if f.type is FeatureType.TEXT]


def _writable(schema: pa.Schema) -> pa.Schema:
    """A table's schema as writes must give it: Lance reports its JSON columns as the binary
    they are stored in, but takes them as JSON text."""
    return pa.schema(
        [
            pa.field(f.name, _JSON, f.nullable, metadata=_without_extension(f.metadata))
            if (f.metadata or {}).get(b"ARROW:extension:name") == b"lance.json"
            else f
            for f in schema
        ]
    )


def _without_extension(metadata: Mapping[bytes, bytes] | None) -> dict[bytes, bytes] | None:
    kept = {k: v for k, v in (metadata or {}).items() if not k.startswith(b"ARROW:extension")}
    return kept or None


def _features_of(schema: pa.Schema) -> tuple[FeatureColumn, ...]:
    """The features a table's schema declares, in column order."""
    features = []
    for field in schema:
        meta = field.metadata or {}
        if _ADDRESS not in meta:
            continue
        address = meta[_ADDRESS].decode()
        kind = FeatureType(meta[_TYPE].decode())
        dim = field.type.list_size if kind is FeatureType.VECTOR else None
        name = split_feature_address(address)[1]
        features.append(FeatureColumn(name=name, type=kind, dim=dim, address=address))
    return tuple(features)


_MAX_METADATA_COLUMNS: int = Limits.model_fields["max_metadata_columns"].default


class LanceDocumentStore:
    """Documents of every collection under one LanceDB directory (or object-store URI); a
    collection gets at most ``max_metadata_columns`` typed metadata columns, and a write that
    would add more is refused (LimitExceededError)."""

    def __init__(
        self,
        uri: str | Path,
        max_metadata_columns: int = _MAX_METADATA_COLUMNS,
        *,
        keep_versions_for: timedelta = lance_upkeep.KEEP_VERSIONS_FOR,
    ) -> None:
        self.uri = str(uri)
        self.max_metadata_columns = max_metadata_columns
        self.keep_versions_for = keep_versions_for
        """How long a version stays readable after a newer one replaced it (readers of it may
        be searching); ``optimize`` deletes older ones."""
        self._local = None if "://" in self.uri else Path(self.uri).absolute()
        if self._local is not None:
            self._local.mkdir(parents=True, exist_ok=True)
        self._layouts: dict[str, _Layout] = {}
        self._lock = threading.Lock()
        self._memory = MemoryIndexes()

    @cached_property
    def _db(self) -> Any:
        import lancedb  # seconds to import: only once something needs it

        return lancedb.connect(self.uri, read_consistency_interval=timedelta(0))

    # --- tables ------------------------------------------------------------------------------

    def _layout(self, collection_id: str) -> _Layout:
        with self._lock:
            layout = self._layouts.get(collection_id)
        if layout is not None:
            return layout
        if not _TABLE_NAME.match(collection_id):
            raise NotFoundError(
                f"collection {collection_id!r} does not exist", collection=collection_id
            )
        layout = self._read_layout(collection_id) or _Layout.of(self._open_table(collection_id))
        with self._lock:
            self._layouts[collection_id] = layout
        return layout

    def _read_layout(self, collection_id: str) -> _Layout | None:
        """The layout of a local table read by Lance, without LanceDB; None when the store is
        not on a local disk or Lance finds no table there (LanceDB then opens it, or says
        it does not exist)."""
        if self._local is None:
            return None
        path = str(self._local / f"{collection_id}.lance")
        try:
            dataset = lance.dataset(path)
        except (ValueError, OSError):
            return None
        return _Layout(_writable(dataset.schema), path, partial(self._open_table, collection_id))

    def _open_table(self, collection_id: str) -> Any:
        try:
            return self._db.open_table(collection_id)
        except (ValueError, FileNotFoundError):
            raise NotFoundError(
                f"collection {collection_id!r} does not exist", collection=collection_id
            ) from None

    def create_collection(self, collection_id: str, features: Sequence[FeatureColumn]) -> None:
        if not _TABLE_NAME.match(collection_id):
            raise InvalidSpecError(
                f"{collection_id!r} is not a valid collection id", field="collection_id"
            )
        _check_unique_columns(features)
        self._retrying(
            collection_id,
            "creating the collection's table",
            lambda: self._create(collection_id, features),
        )

    def _create(self, collection_id: str, features: Sequence[FeatureColumn]) -> None:
        try:
            layout = self._layout(collection_id)
        except NotFoundError:
            schema = _write_schema(features)
            table = self._db.create_table(collection_id, schema=schema, exist_ok=True)
            layout = _Layout.of(table)
        missing = [f for f in features if f.address not in layout.columns]
        if missing:
            layout.table.add_columns([_feature_field(f) for f in missing])
            layout = layout.reopened()
        with self._lock:
            self._layouts[collection_id] = layout
        _ensure_fts(layout)

    def _retrying(self, collection_id: str, what: str, action: Callable[[], T]) -> T:
        """``action()``, run again (on the table's latest schema) while another writer's commit
        wins the race (:mod:`omnidex.store.lance_conflicts`)."""

        def forget() -> None:
            with self._lock:
                self._layouts.pop(collection_id, None)

        return lance_conflicts.retrying(action, what, forget, collection=collection_id)

    def exists(self, collection_id: str) -> bool:
        try:
            self._layout(collection_id)
        except NotFoundError:
            return False
        return True

    def drop_collection(self, collection_id: str) -> None:
        with self._lock:
            layout = self._layouts.pop(collection_id, None)
        if layout is not None and layout.path is not None:
            self._memory.forget(layout.path)
        if not _TABLE_NAME.match(collection_id):
            return
        with contextlib.suppress(ValueError, FileNotFoundError):
            self._db.drop_table(collection_id)

    # --- writes ------------------------------------------------------------------------------

    def replace_objects(
        self, collection_id: str, documents: Mapping[str, Sequence[Document]]
    ) -> None:
        if not documents:
            return
        self._retrying(
            collection_id, "writing documents", lambda: self._replace(collection_id, documents)
        )

    def _replace(self, collection_id: str, documents: Mapping[str, Sequence[Document]]) -> None:
        layout = self._layout(collection_id)
        for object_id, docs in documents.items():
            for doc in docs:
                if doc.object_id != object_id:
                    raise StoreError(
                        f"document {doc.id!r} belongs to {doc.object_id!r}, not {object_id!r}",
                        collection=collection_id,
                        object=object_id,
                    )
        all_docs = [d for docs in documents.values() for d in docs]
        layout = self._with_metadata_columns(collection_id, layout, [d.metadata for d in all_docs])
        rows = _to_arrow(all_docs, layout)
        scope = "object_id IN (" + ", ".join(sql_literal(o) for o in documents) + ")"
        (
            layout.table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(scope)
            .execute(rows, on_bad_vectors="null")  # null vectors stay null
        )

    def _with_metadata_columns(
        self, collection_id: str, layout: _Layout, metadatas: Sequence[Mapping[str, Any]]
    ) -> _Layout:
        """The layout after adding typed columns for metadata keys seen for the first time."""
        new = lance_metadata.wanted(metadatas) - set(layout.meta)
        if not new:
            return layout
        empty = layout.table.count_rows() == 0
        addable = [
            lance_metadata.field_for(key, kind)
            for key, kind in sorted(new)
            if empty or layout.table.count_rows(lance_metadata.held_by_rows(key, kind)) == 0
        ]
        if not addable:
            return layout
        if len(layout.meta) + len(addable) > self.max_metadata_columns:
            raise LimitExceededError(
                f"metadata: {len(addable)} new keys would take the collection's typed metadata "
                f"columns to {len(layout.meta) + len(addable)}, over the limit of "
                f"{self.max_metadata_columns} (max_metadata_columns)",
                collection=collection_id,
                field="metadata",
                limit="max_metadata_columns",
            )
        layout.table.add_columns(addable)
        layout = layout.reopened()
        with self._lock:
            self._layouts[collection_id] = layout
        return layout

    def delete_object(self, collection_id: str, object_id: str) -> int:
        def delete() -> int:
            table = self._layout(collection_id).table
            return int(table.delete(f"object_id = {sql_literal(object_id)}").num_deleted_rows)

        return self._retrying(collection_id, "deleting documents", delete)

    def set_metadata(self, collection_id: str, object_id: str, metadata: Mapping[str, Any]) -> int:
        """One Lance ``update`` of the JSON column and its typed copies: a single commit."""
        layout = self._layout(collection_id)
        layout = self._with_metadata_columns(collection_id, layout, [metadata])
        values = {"metadata": sql_literal(json.dumps(metadata))}
        values.update(lance_metadata.sql_values(metadata, layout.meta))
        result = layout.table.update(
            where=f"object_id = {sql_literal(object_id)}", values_sql=values
        )
        return int(result.rows_updated)

    def object_ids(self, collection_id: str, where: Filter) -> builtins.set[str]:
        layout = self._layout(collection_id)
        predicate = layout.where(where)
        matching = layout.table.count_rows(predicate)
        if matching == 0:
            return set()
        found = layout.table.search().where(predicate).select(["object_id"]).limit(matching)
        return set(found.to_arrow()["object_id"].to_pylist())

    # --- reads -------------------------------------------------------------------------------

    def get(self, collection_id: str, doc_id: str) -> Document | None:
        layout = self._layout(collection_id)
        found = layout.dataset().to_table(filter=f"id = {sql_literal(doc_id)}", limit=1)
        docs = _documents(found, layout)
        return docs[0] if docs else None

    def list(
        self,
        collection_id: str,
        where: Filter | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Document]:
        from lancedb.query import ColumnOrdering

        layout = self._layout(collection_id)
        query = layout.table.search().order_by(
            [ColumnOrdering(column_name="object_id"), ColumnOrdering(column_name="key")]
        )
        if where is not None:
            query = query.where(layout.where(where))
        return _documents(query.offset(offset).limit(limit).to_arrow(), layout)

    def count(self, collection_id: str, where: Filter | None = None) -> int:
        layout = self._layout(collection_id)
        predicate = None if where is None else layout.where(where)
        return int(layout.dataset().count_rows(predicate))

    def object_counts(self, collection_id: str) -> dict[str, int]:
        table = self._layout(collection_id).table
        ids = table.search().select(["object_id"]).limit(None).to_arrow()
        counted = ids.group_by("object_id").aggregate([([], "count_all")])
        return dict(
            zip(counted["object_id"].to_pylist(), counted["count_all"].to_pylist(), strict=True)
        )

    def vector_search(
        self,
        collection_id: str,
        address: str,
        vector: Sequence[float],
        k: int,
        where: Filter | None = None,
    ) -> builtins.list[tuple[Document, float]]:
        layout = self._layout(collection_id)
        column = layout.feature(address, FeatureType.VECTOR)
        if layout.path is not None:
            sql = None if where is None else layout.where(where)
            found = self._memory.search(
                layout.path, column, vector, k, sql, layout.hit_columns, layout.held_columns
            )
            if found is not None:
                rows, similarities = found
                return list(zip(_documents(rows, layout), similarities, strict=True))
        query = (
            layout.table.search(np.asarray(vector, dtype=np.float32), vector_column_name=column)
            .distance_type("cosine")
            .nprobes(_SEARCH_NPROBES)
            .ef(_SEARCH_EF)
            .refine_factor(_SEARCH_REFINE)
            .select([*layout.hit_columns, "_distance"])
            .limit(k)
        )
        if where is not None:
            query = query.where(layout.where(where), prefilter=True)
        found = query.to_arrow()
        similarities = [1.0 - d for d in found["_distance"].to_pylist()]
        return list(zip(_documents(found, layout), similarities, strict=True))

    def text_search(
        self,
        collection_id: str,
        query: str,
        k: int,
        addresses: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> builtins.list[tuple[Document, float]]:
        layout = self._layout(collection_id)
        if addresses is None:
            columns = layout.text_columns()
        else:
            columns = [layout.feature(a, FeatureType.TEXT) for a in addresses]
        words = " ".join(_WORD.findall(query))
        if not words or not columns or k < 1:
            return []
        sql = None if where is None else layout.where(where)
        found = layout.dataset().to_table(
            columns=[*layout.hit_columns, "_score"],
            full_text_query=MultiMatchQuery(words, columns, operator=FullTextOperator.OR),
            filter=sql,
            prefilter=sql is not None,
            limit=k,
            disable_scoring_autoprojection=True,
        )
        return list(zip(_documents(found, layout), found["_score"].to_pylist(), strict=True))

    def vectors(
        self, collection_id: str, address: str, doc_ids: Sequence[str]
    ) -> dict[str, builtins.list[float]]:
        layout = self._layout(collection_id)
        column = layout.feature(address, FeatureType.VECTOR)
        if not doc_ids:
            return {}
        wanted = ", ".join(sql_literal(i) for i in dict.fromkeys(doc_ids))
        found = layout.dataset().to_table(
            columns=["id", column],
            filter=f"id IN ({wanted}) AND {column} IS NOT NULL",
            limit=len(doc_ids),
        )
        return dict(zip(found["id"].to_pylist(), found[column].to_pylist(), strict=True))

    # --- maintenance -------------------------------------------------------------------------

    def prepare_search(self, collection_id: str) -> None:
        """Build (or catch up) the in-memory indexes of the collection's vector features now,
        rather than on the first search; a server may call it for collections it expects to
        search."""
        layout = self._layout(collection_id)
        if layout.path is None:
            return
        for feature in layout.features:
            if feature.type is FeatureType.VECTOR:
                column = column_name(feature.address)
                self._memory.prepare(layout.path, column, layout.held_columns)

    def optimize(self, collection_id: str) -> None:
        """Compact and update indexes on a budget (:mod:`omnidex.store.lance_upkeep`), build
        the indexes a table lacks, and delete versions past the retention window; each step is
        retried on its own when another writer's commit wins."""
        self._layout(collection_id)  # NotFoundError for a missing table
        steps: list[tuple[str, Callable[[_Layout], object]]] = [
            ("compacting", lambda layout: lance_upkeep.compact(layout.table.to_lance())),
            ("updating indexes", lambda layout: lance_upkeep.fold_into_indexes(layout.table)),
            ("building text indexes", _ensure_fts),
            ("building vector indexes", _ensure_vector_indexes),
            ("building metadata indexes", _ensure_metadata_indexes),
            (
                "deleting old versions",
                lambda layout: lance_upkeep.clean(layout.table.to_lance(), self.keep_versions_for),
            ),
        ]
        for what, step in steps:
            self._retrying(
                collection_id, what, functools.partial(self._on_layout, collection_id, step)
            )

    def _on_layout(self, collection_id: str, step: Callable[[_Layout], object]) -> object:
        return step(self._layout(collection_id))


def _check_unique_columns(features: Sequence[FeatureColumn]) -> None:
    seen: dict[str, str] = {}
    for feature in features:
        name = column_name(feature.address)
        if name in seen and seen[name] != feature.address:
            raise InvalidSpecError(
                f"features {seen[name]!r} and {feature.address!r} map to the same column",
                field=feature.address,
            )
        seen[name] = feature.address


def _indexed_columns(layout: _Layout) -> set[str]:
    return {column for index in layout.table.list_indices() for column in index.columns}


def _ensure_fts(layout: _Layout) -> None:
    from lancedb.index import FTS

    indexed = _indexed_columns(layout)
    for column in layout.text_columns():
        if column not in indexed:
            layout.table.create_index(
                column,
                config=FTS(
                    base_tokenizer="simple",
                    language="English",
                    lower_case=True,
                    stem=True,
                    remove_stop_words=True,
                    ascii_folding=True,
                ),
            )


def _ensure_vector_indexes(layout: _Layout) -> None:
    from lancedb.index import IvfHnswSq

    rows = layout.table.count_rows()
    if rows < VECTOR_INDEX_MIN_ROWS:
        return
    indexed = _indexed_columns(layout)
    for feature in layout.features:
        column = column_name(feature.address)
        if feature.type is FeatureType.VECTOR and column not in indexed:
            config = IvfHnswSq(
                distance_type="cosine", num_partitions=max(1, rows // _ROWS_PER_PARTITION)
            )
            layout.table.create_index(column, config=config)


def _ensure_metadata_indexes(layout: _Layout) -> None:
    import pyarrow.compute as pc
    from lancedb.index import Bitmap, BTree

    indexed = _indexed_columns(layout)
    for (_, kind), column in layout.meta.items():
        if column in indexed:
            continue
        values = layout.table.search().select([column]).to_arrow()[column]
        distinct = len(pc.unique(values))
        config = Bitmap() if lance_metadata.index_kind(kind, distinct) == "BITMAP" else BTree()
        layout.table.create_index(column, config=config)


# --- conversion ---------------------------------------------------------------------------------


def _to_arrow(docs: Sequence[Document], layout: _Layout) -> pa.Table:
    """Documents as one Arrow table in the collection's write schema."""
    columns = layout.columns
    for doc in docs:
        unknown = set(doc.features) - set(columns)
        if unknown:
            raise StoreError(
                f"document {doc.id!r} has features the collection does not store",
                document=doc.id,
                field=sorted(unknown)[0],
            )
    schema = layout.schema
    arrays: dict[str, pa.Array] = {
        name: pa.array([getattr(d, name) for d in docs], type=schema.field(name).type)
        for name in _PLAIN_FIELDS
    }
    arrays["metadata"] = pa.array([json.dumps(d.metadata) for d in docs], type=_JSON)
    arrays.update(lance_metadata.arrays(docs, layout.meta))
    arrays["extractors"] = pa.array([d.extractors for d in docs], type=pa.list_(pa.utf8()))
    for feature in layout.features:
        values = [d.features.get(feature.address) for d in docs]
        arrays[column_name(feature.address)] = _feature_array(feature, values)
    return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)


def _feature_array(feature: FeatureColumn, values: Sequence[Any]) -> pa.Array:
    kind = _arrow_type(feature)
    try:
        if feature.type is FeatureType.JSON:
            return pa.array([None if v is None else json.dumps(v) for v in values], type=kind)
        if feature.type is FeatureType.VECTOR:
            return _vector_array(feature, values)
        return pa.array(values, type=kind)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise StoreError(
            f"bad value for feature {feature.address!r}: {exc}", field=feature.address
        ) from None


def _vector_array(feature: FeatureColumn, values: Sequence[Any]) -> pa.Array:
    dim = feature.dim or 0
    matrix = np.zeros((len(values), dim), dtype=np.float32)
    present = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            continue
        row = np.asarray(value, dtype=np.float32).ravel()
        if row.shape != (dim,) or not np.isfinite(row).all():
            raise StoreError(
                f"vector for {feature.address!r} must be {dim} finite numbers",
                field=feature.address,
            )
        matrix[i], present[i] = row, True
    flat = pa.array(matrix.ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, dim, mask=pa.array(~present))


def _documents(found: pa.Table, layout: _Layout) -> list[Document]:
    """Rows read back from a table as Documents, features keyed by address, nulls omitted.

    They were validated on the way in and the schema holds their types, so they are built
    without validating again (a search turns up to hundreds of rows into documents).
    """
    features = [(f, column_name(f.address)) for f in layout.features]
    docs = []
    for row in found.to_pylist():
        values = {
            f.address: json.loads(row[col]) if f.type is FeatureType.JSON else row[col]
            for f, col in features
            if row.get(col) is not None
        }
        metadata = row.get("metadata")
        docs.append(
            Document.model_construct(
                **{name: row.get(name) for name in _PLAIN_FIELDS},
                metadata=json.loads(metadata) if metadata else {},
                extractors=row.get("extractors") or [],
                features=values,
            )
        )
    return docs
