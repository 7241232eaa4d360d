"""The :class:`~omnidex.store.catalog.Catalog` protocol in SQL, once for every backend.

Namespaces, collections, objects and tasks here; retrievers, API keys, the ingest queue and
webhooks in the mixins it inherits. The SQL is what SQLite and PostgreSQL both run; a backend
(:class:`~omnidex.store.sqlite_catalog.SqliteCatalog`,
:class:`~omnidex.store.postgres_catalog.PostgresCatalog`) adds connections, transactions, its
schema and the hooks of :class:`~omnidex.store.sql_rows.CatalogRows`.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from pydantic import TypeAdapter

from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError
from omnidex.store.sql_keys import ApiKeyRows
from omnidex.store.sql_queue import QueueRows
from omnidex.store.sql_retrievers import RetrieverRows
from omnidex.store.sql_rows import Connection, as_json, as_time, now_iso
from omnidex.store.sql_webhooks import WebhookRows
from omnidex.types import (
    CollectionInfo,
    CollectionSpec,
    FeatureColumn,
    ObjectRecord,
    ObjectStatus,
    TaskRecord,
    TaskState,
)

TASK_COLUMNS = (
    "tasks.*, (tasks.object_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM objects"
    " WHERE objects.collection_id = tasks.collection_id AND objects.id = tasks.object_id))"
    " AS object_deleted"
)
"""A task's row, with whether its object is gone (the task is then a tombstone)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FEATURES = TypeAdapter(list[FeatureColumn])


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidSpecError(
            f"{what} name {name!r} must match {_NAME.pattern}", field="name", value=name
        )


class SqlCatalog(RetrieverRows, ApiKeyRows, QueueRows, WebhookRows):
    """Namespaces, collections, objects, tasks, retrievers, API keys and webhooks in SQL tables;
    a subclass says where they live."""

    migrated_from: int
    """The schema version the catalog had when this process opened it (0: it was empty)."""

    @property
    def schema_version(self) -> int:
        """The schema version the catalog has now."""
        raise NotImplementedError

    # --- namespaces -------------------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        _check_name(name, "namespace")
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO namespaces (name, created_at) VALUES (?, ?)", (name, now_iso())
                )
            except self.integrity_errors:
                raise AlreadyExistsError(
                    f"namespace {name!r} already exists", namespace=name
                ) from None

    def list_namespaces(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT name FROM namespaces ORDER BY name").fetchall()
        return [row["name"] for row in rows]

    def _require_namespace(self, conn: Connection, namespace: str) -> None:
        row = conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (namespace,)).fetchone()
        if row is None:
            raise NotFoundError(f"namespace {namespace!r} does not exist", namespace=namespace)

    # --- collections ------------------------------------------------------------------------

    def create_collection(
        self,
        namespace: str,
        name: str,
        spec: CollectionSpec,
        features: list[FeatureColumn],
    ) -> CollectionInfo:
        _check_name(name, "collection")
        now = now_iso()
        with self._write() as conn:
            self._require_namespace(conn, namespace)
            try:
                conn.execute(
                    "INSERT INTO collections (id, namespace, name, spec, spec_version, features,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                    (
                        "col_" + secrets.token_hex(8),
                        namespace,
                        name,
                        spec.model_dump_json(),
                        _FEATURES.dump_json(features).decode(),
                        now,
                        now,
                    ),
                )
            except self.integrity_errors:
                raise AlreadyExistsError(
                    f"collection {name!r} already exists in namespace {namespace!r}",
                    namespace=namespace,
                    collection=name,
                ) from None
            return self._collection(conn, namespace, name)

    def _collection(self, conn: Connection, namespace: str, name: str) -> CollectionInfo:
        row = conn.execute(
            "SELECT * FROM collections WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"collection {name!r} does not exist in namespace {namespace!r}",
                namespace=namespace,
                collection=name,
            )
        return _collection_info(row)

    def get_collection(self, namespace: str, name: str) -> CollectionInfo:
        with self._read() as conn:
            return self._collection(conn, namespace, name)

    def collection_by_id(self, collection_id: str) -> CollectionInfo:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM collections WHERE id = ?", (collection_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"collection {collection_id!r} does not exist", id=collection_id)
        return _collection_info(row)

    def list_collections(self, namespace: str) -> list[CollectionInfo]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM collections WHERE namespace = ? ORDER BY name", (namespace,)
            ).fetchall()
        return [_collection_info(row) for row in rows]

    def update_collection(
        self, namespace: str, name: str, spec: CollectionSpec, features: list[FeatureColumn]
    ) -> CollectionInfo:
        with self._write() as conn:
            self._collection(conn, namespace, name)
            conn.execute(
                "UPDATE collections SET spec = ?, features = ?, spec_version = spec_version + 1,"
                " updated_at = ? WHERE namespace = ? AND name = ?",
                (
                    spec.model_dump_json(),
                    _FEATURES.dump_json(features).decode(),
                    now_iso(),
                    namespace,
                    name,
                ),
            )
            return self._collection(conn, namespace, name)

    def drop_collection(self, namespace: str, name: str) -> None:
        with self._write() as conn:
            info = self._collection(conn, namespace, name)
            conn.execute("DELETE FROM collections WHERE id = ?", (info.id,))

    # --- objects ----------------------------------------------------------------------------

    def put_object(self, record: ObjectRecord) -> ObjectRecord:
        now = now_iso()
        with self._write() as conn:
            self._require_collection_id(conn, record.collection_id)
            conn.execute(
                "INSERT INTO objects (collection_id, id, seq, sha256, source, size, kind,"
                " metadata, status, error, document_count, spec_version, created_at, updated_at)"
                " VALUES (:collection_id, :id, :seq, :sha256, :source, :size, :kind, :metadata,"
                " :status, :error, :document_count, :spec_version, :now, :now)"
                " ON CONFLICT (collection_id, id) DO UPDATE SET sha256 = excluded.sha256,"
                " source = excluded.source, size = excluded.size, kind = excluded.kind,"
                " metadata = excluded.metadata, status = excluded.status,"
                " error = excluded.error, document_count = excluded.document_count,"
                " spec_version = excluded.spec_version, updated_at = excluded.updated_at",
                {
                    **record.model_dump(
                        include={
                            "collection_id",
                            "id",
                            "sha256",
                            "source",
                            "size",
                            "kind",
                            "error",
                            "document_count",
                            "spec_version",
                        }
                    ),
                    "seq": self._next_seq(conn, "objects", record.collection_id),
                    "metadata": json.dumps(record.metadata),
                    "status": record.status.value,
                    "now": now,
                },
            )
            return self._object(conn, record.collection_id, record.id)

    def _require_collection_id(self, conn: Connection, collection_id: str) -> None:
        row = conn.execute("SELECT 1 FROM collections WHERE id = ?", (collection_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"collection {collection_id!r} does not exist", collection=collection_id
            )

    def _object(self, conn: Connection, collection_id: str, object_id: str) -> ObjectRecord:
        row = conn.execute(
            "SELECT * FROM objects WHERE collection_id = ? AND id = ?", (collection_id, object_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"object {object_id!r} does not exist",
                collection=collection_id,
                object=object_id,
            )
        return _object_record(row)

    def get_object(self, collection_id: str, object_id: str) -> ObjectRecord | None:
        try:
            with self._read() as conn:
                return self._object(conn, collection_id, object_id)
        except NotFoundError:
            return None

    def list_objects(
        self,
        collection_id: str,
        status: ObjectStatus | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[ObjectRecord]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM objects WHERE collection_id = ?"
                " AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY seq LIMIT ? OFFSET ?",
                (collection_id, _value(status), _value(status), limit, offset),
            ).fetchall()
        return [_object_record(row) for row in rows]

    def count_objects(self, collection_id: str, status: ObjectStatus | None = None) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM objects WHERE collection_id = ?"
                " AND (CAST(? AS TEXT) IS NULL OR status = ?)",
                (collection_id, _value(status), _value(status)),
            ).fetchone()
        return int(row["n"])

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
        with self._write() as conn:
            self._object(conn, collection_id, object_id)
            conn.execute(
                "UPDATE objects SET status = ?, error = ?,"
                " document_count = coalesce(?, document_count),"
                " spec_version = coalesce(?, spec_version), updated_at = ?"
                " WHERE collection_id = ? AND id = ?",
                (
                    status.value,
                    error,
                    document_count,
                    spec_version,
                    now_iso(),
                    collection_id,
                    object_id,
                ),
            )

    def delete_object(self, collection_id: str, object_id: str) -> None:
        with self._write() as conn:
            self._object(conn, collection_id, object_id)
            conn.execute(
                "DELETE FROM objects WHERE collection_id = ? AND id = ?",
                (collection_id, object_id),
            )

    def content_in_use(self, source: str) -> bool:
        named = "%" + json.dumps(source)[1:-1] + "%"  # as the JSON payload spells it
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM objects WHERE source = ? AND status != 'failed' UNION ALL"
                " SELECT 1 FROM tasks WHERE state IN ('queued', 'running') AND payload LIKE ?"
                " LIMIT 1",
                (source, named),
            ).fetchone()
        return row is not None

    # --- tasks ------------------------------------------------------------------------------

    def create_task(
        self, collection_id: str, object_id: str | None, kind: str = "ingest"
    ) -> TaskRecord:
        task_id, now = "task_" + secrets.token_hex(12), now_iso()
        with self._write() as conn:
            self._require_collection_id(conn, collection_id)
            conn.execute(
                "INSERT INTO tasks (id, seq, collection_id, object_id, kind, state, stage,"
                " progress, attempts, error, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL, 0, 0, NULL, ?, ?)",
                (
                    task_id,
                    self._next_seq(conn, "tasks", collection_id),
                    collection_id,
                    object_id,
                    kind,
                    TaskState.QUEUED.value,
                    now,
                    now,
                ),
            )
            return self._task(conn, task_id)

    def _task(self, conn: Connection, task_id: str) -> TaskRecord:
        row = conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"task {task_id!r} does not exist", task=task_id)
        return _task_record(row)

    def get_task(self, task_id: str) -> TaskRecord:
        with self._read() as conn:
            return self._task(conn, task_id)

    def update_task(
        self,
        task_id: str,
        *,
        state: TaskState | None = None,
        stage: str | None = None,
        progress: float | None = None,
        error: str | None = None,
        attempt: bool = False,
        object_id: str | None = None,
    ) -> TaskRecord:
        changes: dict[str, Any] = {
            "state": _value(state),
            "stage": stage,
            "progress": progress,
            "error": error,
            "object_id": object_id,
        }
        assignments = [f"{column} = :{column}" for column, v in changes.items() if v is not None]
        if attempt:
            assignments.append("attempts = attempts + 1")
        assignments.append("updated_at = :now")
        with self._write() as conn:
            self._task(conn, task_id)
            conn.execute(
                f"UPDATE tasks SET {', '.join(assignments)} WHERE id = :id",
                {**changes, "now": now_iso(), "id": task_id},
            )
            return self._task(conn, task_id)

    def list_tasks(
        self,
        collection_id: str | None = None,
        state: TaskState | None = None,
        limit: int = 1000,
    ) -> list[TaskRecord]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks"
                " WHERE (CAST(? AS TEXT) IS NULL OR collection_id = ?)"
                " AND (CAST(? AS TEXT) IS NULL OR state = ?) ORDER BY seq DESC LIMIT ?",
                (collection_id, collection_id, _value(state), _value(state), limit),
            ).fetchall()
        return [_task_record(row) for row in rows]


def _value(member: ObjectStatus | TaskState | None) -> str | None:
    return None if member is None else member.value


def _collection_info(row: Any) -> CollectionInfo:
    return CollectionInfo(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        spec=CollectionSpec.model_validate_json(row["spec"]),
        spec_version=row["spec_version"],
        features=_FEATURES.validate_json(row["features"]),
        created_at=as_time(row["created_at"]),
        updated_at=as_time(row["updated_at"]),
    )


def _object_record(row: Any) -> ObjectRecord:
    return ObjectRecord(
        id=row["id"],
        collection_id=row["collection_id"],
        sha256=row["sha256"],
        source=row["source"],
        size=row["size"],
        kind=row["kind"],
        metadata=as_json(row["metadata"]),
        status=ObjectStatus(row["status"]),
        error=row["error"],
        document_count=row["document_count"],
        spec_version=row["spec_version"],
        created_at=as_time(row["created_at"]),
        updated_at=as_time(row["updated_at"]),
    )


def _task_record(row: Any) -> TaskRecord:
    payload = row["payload"]
    return TaskRecord(
        payload=as_json(payload) if payload else {},
        error_code=row["error_code"],
        max_attempts=row["max_attempts"],
        id=row["id"],
        collection_id=row["collection_id"],
        object_id=row["object_id"],
        kind=row["kind"],
        state=TaskState(row["state"]),
        stage=row["stage"],
        progress=row["progress"],
        attempts=row["attempts"],
        error=row["error"],
        created_at=as_time(row["created_at"]),
        updated_at=as_time(row["updated_at"]),
        object_deleted=bool(row["object_deleted"]),
    )
