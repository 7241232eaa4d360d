"""The Catalog protocol: namespaces, collections, objects, tasks, retrievers: the bookkeeping.

One implementation to start (SQLite, :mod:`omnidex.store.sqlite_catalog`); any other must pass the
conformance suite in ``tests/store/test_catalog_conformance.py``. An acknowledged write (a method
that returned) survives a kill -9 of the process.
"""

from __future__ import annotations

from typing import Protocol

from omnidex.types import (
    CollectionInfo,
    CollectionSpec,
    FeatureColumn,
    ObjectRecord,
    ObjectStatus,
    RetrieverInfo,
    RetrieverSpec,
    TaskRecord,
    TaskState,
)

DEFAULT_NAMESPACE = "default"


class Catalog(Protocol):
    # namespaces: "default" always exists
    def create_namespace(self, name: str) -> None:
        """AlreadyExistsError if present; InvalidSpecError for a bad name."""

    def list_namespaces(self) -> list[str]: ...

    # collections
    def create_collection(
        self,
        namespace: str,
        name: str,
        spec: CollectionSpec,
        features: list[FeatureColumn],
    ) -> CollectionInfo:
        """AlreadyExistsError if the name is taken in that namespace; NotFoundError if the
        namespace does not exist; InvalidSpecError for a bad name. spec_version starts at 1."""

    def get_collection(self, namespace: str, name: str) -> CollectionInfo:
        """NotFoundError if absent."""

    def list_collections(self, namespace: str) -> list[CollectionInfo]:
        """Sorted by name."""

    def update_collection(
        self, namespace: str, name: str, spec: CollectionSpec, features: list[FeatureColumn]
    ) -> CollectionInfo:
        """Replace the spec; spec_version goes up by one."""

    def drop_collection(self, namespace: str, name: str) -> None:
        """Removes its objects and tasks too; NotFoundError if absent."""

    # objects (keyed by collection id + object id)
    def put_object(self, record: ObjectRecord) -> ObjectRecord:
        """Insert, or update every field of an existing one but ``created_at``."""

    def get_object(self, collection_id: str, object_id: str) -> ObjectRecord | None: ...

    def list_objects(
        self,
        collection_id: str,
        status: ObjectStatus | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[ObjectRecord]:
        """In order of creation."""

    def count_objects(self, collection_id: str, status: ObjectStatus | None = None) -> int: ...

    def set_object_status(
        self,
        collection_id: str,
        object_id: str,
        status: ObjectStatus,
        *,
        error: str | None = None,
        document_count: int | None = None,
        spec_version: int | None = None,
    ) -> None:
        """NotFoundError if absent. ``error`` is cleared unless given."""

    def delete_object(self, collection_id: str, object_id: str) -> None:
        """Removes the object's tasks too; NotFoundError if absent."""

    # tasks
    def create_task(
        self, collection_id: str, object_id: str | None, kind: str = "ingest"
    ) -> TaskRecord:
        """A new task in state ``queued`` with a fresh unique id."""

    def get_task(self, task_id: str) -> TaskRecord:
        """NotFoundError if absent."""

    def update_task(
        self,
        task_id: str,
        *,
        state: TaskState | None = None,
        stage: str | None = None,
        progress: float | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> TaskRecord:
        """Change the given fields; ``attempt`` adds one to ``attempts``. NotFoundError if
        absent."""

    def list_tasks(
        self,
        collection_id: str | None = None,
        state: TaskState | None = None,
        limit: int = 1000,
    ) -> list[TaskRecord]:
        """Newest first."""

    # retrievers (keyed by namespace + name; every change is a new version)
    def save_retriever(self, namespace: str, spec: RetrieverSpec) -> RetrieverInfo:
        """Create ``spec.name``, or add a version when ``spec`` differs from the latest one (the
        same spec again changes nothing). NotFoundError if the namespace does not exist."""

    def get_retriever(self, namespace: str, name: str, version: int | None = None) -> RetrieverInfo:
        """The latest version, or ``version``; NotFoundError if absent."""

    def list_retrievers(self, namespace: str) -> list[RetrieverInfo]:
        """Latest versions, sorted by name."""

    def delete_retriever(self, namespace: str, name: str) -> None:
        """Every version; NotFoundError if absent."""

    def close(self) -> None: ...
