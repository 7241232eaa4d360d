"""The DocumentStore protocol: where documents, their vectors, text and thumbnails live.

One implementation to start (LanceDB, :mod:`omnidex.store.lance_documents`); any other must pass
the conformance suite in ``tests/store/test_document_store_conformance.py``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from omnidex.store.filters import Filter
from omnidex.types import Document, FeatureColumn


class DocumentStore(Protocol):
    def create_collection(self, collection_id: str, features: Sequence[FeatureColumn]) -> None:
        """Create the collection's table: document fields, one column per feature (vectors of
        their ``dim``), full-text indexes on text features, a thumbnail column. Idempotent."""

    def exists(self, collection_id: str) -> bool:
        """Whether the collection's table exists (a create cut short may have left none)."""

    def drop_collection(self, collection_id: str) -> None:
        """Remove the table and everything in it; no error if absent."""

    def replace_objects(
        self, collection_id: str, documents: Mapping[str, Sequence[Document]]
    ) -> None:
        """Make each given object's documents exactly ``documents[object_id]``, in one atomic
        write keyed by document id: documents of those objects not listed are removed, the rest
        inserted or updated. A crash leaves the old state or the new, never half."""

    def delete_object(self, collection_id: str, object_id: str) -> int:
        """Remove every document of one object; returns how many were removed."""

    def set_metadata(self, collection_id: str, object_id: str, metadata: Mapping[str, Any]) -> int:
        """Make ``metadata`` the user metadata of every document of one object, in one atomic
        write that leaves their ids, features, vectors and thumbnails as they are; filters see
        the new values at once. Returns how many documents there were."""

    def object_ids(self, collection_id: str, where: Filter) -> builtins.set[str]:
        """The ids of the objects that have at least one document matching ``where``."""

    def get(self, collection_id: str, doc_id: str) -> Document | None: ...

    def list(
        self,
        collection_id: str,
        where: Filter | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Document]:
        """Documents matching ``where`` in a stable order (object, then key)."""

    def count(self, collection_id: str, where: Filter | None = None) -> int: ...

    def object_counts(self, collection_id: str) -> dict[str, int]:
        """How many documents each object holds, by object id (objects with none are absent)."""

    def vector_search(
        self,
        collection_id: str,
        address: str,
        vector: Sequence[float],
        k: int,
        where: Filter | None = None,
    ) -> builtins.list[tuple[Document, float]]:
        """Nearest documents by cosine similarity on the vector feature ``address``, best first,
        with their similarity (1 = same direction). ``where`` is applied before the top-k.
        Like ``text_search``, it leaves vectors and thumbnails out of the documents (``get`` has
        them): a search reads only what a hit shows."""

    def text_search(
        self,
        collection_id: str,
        query: str,
        k: int,
        addresses: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> builtins.list[tuple[Document, float]]:
        """BM25 full-text search over the text features ``addresses`` (default: all), best
        first, with their BM25 score. ``where`` is applied before the top-k."""

    def vectors(
        self, collection_id: str, address: str, doc_ids: Sequence[str]
    ) -> dict[str, builtins.list[float]]:
        """The vector feature ``address`` of each listed document that has one, by id."""

    def optimize(self, collection_id: str) -> None:
        """Compact small writes and build or refresh indexes; safe to call at any time."""
