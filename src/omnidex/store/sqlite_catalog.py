"""The SQLite implementation of the :class:`~omnidex.store.catalog.Catalog` protocol.

One file in WAL mode with ``synchronous=FULL``: a method that returned has committed, and the
commit survives a kill -9. One connection per thread (SQLite connections are not shared across
threads); ``busy_timeout`` makes writers from several threads or processes wait for each other.
``PRAGMA user_version`` records the schema version so later versions can migrate.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError, StoreError
from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.store.sqlite_keys import API_KEYS_SCHEMA, ApiKeyRows
from omnidex.store.sqlite_queue import QueueRows, add_queue_columns
from omnidex.store.sqlite_retrievers import RETRIEVERS_SCHEMA, RetrieverRows
from omnidex.store.sqlite_rows import now_iso
from omnidex.store.sqlite_webhooks import WEBHOOKS_SCHEMA, WebhookRows
from omnidex.types import (
    CollectionInfo,
    CollectionSpec,
    FeatureColumn,
    ObjectRecord,
    ObjectStatus,
    TaskRecord,
    TaskState,
)

SCHEMA_VERSION = 5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FEATURES = TypeAdapter(list[FeatureColumn])

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    spec_version INTEGER NOT NULL,
    features TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS objects (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    document_count INTEGER NOT NULL,
    spec_version INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection_id, id)
);
CREATE INDEX IF NOT EXISTS objects_by_status ON objects (collection_id, status, seq);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (collection_id, seq);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    object_id TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_collection ON tasks (collection_id, seq);
CREATE INDEX IF NOT EXISTS tasks_by_object ON tasks (collection_id, object_id);
"""
    + RETRIEVERS_SCHEMA
    + ";"
    + API_KEYS_SCHEMA
    + ";"
    + WEBHOOKS_SCHEMA
)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidSpecError(
            f"{what} name {name!r} must match {_NAME.pattern}", field="name", value=name
        )


class SqliteCatalog(RetrieverRows, ApiKeyRows, QueueRows, WebhookRows):
    """Namespaces, collections, objects, tasks, retrievers, API keys and webhooks in one SQLite
    file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._migrate()

    # --- connections ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError("the catalog is closed", path=str(self.path))
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: committed when the block ends, rolled back on error."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        """Bring the file to ``SCHEMA_VERSION``. Every table is ``CREATE … IF NOT EXISTS``, so an
        older catalog gains the tables added since: retrievers in version 2, API keys in 3,
        webhooks and their deliveries in 5; version 4 adds the queue's columns to ``tasks``
        (:func:`add_queue_columns`)."""
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    "the catalog was written by a newer omnidex",
                    path=str(self.path),
                    schema_version=version,
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            add_queue_columns(conn)
            conn.execute(
                "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)",
                (DEFAULT_NAMESPACE, now_iso()),
            )
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # --- namespaces -------------------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        _check_name(name, "namespace")
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO namespaces (name, created_at) VALUES (?, ?)", (name, now_iso())
                )
            except sqlite3.IntegrityError:
                raise AlreadyExistsError(
                    f"namespace {name!r} already exists", namespace=name
                ) from None

    def list_namespaces(self) -> list[str]:
        rows = self._connection().execute("SELECT name FROM namespaces ORDER BY name")
        return [row["name"] for row in rows]

    def _require_namespace(self, conn: sqlite3.Connection, namespace: str) -> None:
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
            except sqlite3.IntegrityError:
                raise AlreadyExistsError(
                    f"collection {name!r} already exists in namespace {namespace!r}",
                    namespace=namespace,
                    collection=name,
                ) from None
            return self._collection(conn, namespace, name)

    def _collection(self, conn: sqlite3.Connection, namespace: str, name: str) -> CollectionInfo:
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
        return self._collection(self._connection(), namespace, name)

    def collection_by_id(self, collection_id: str) -> CollectionInfo:
        row = (
            self._connection()
            .execute("SELECT * FROM collections WHERE id = ?", (collection_id,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"collection {collection_id!r} does not exist", id=collection_id)
        return _collection_info(row)

    def list_collections(self, namespace: str) -> list[CollectionInfo]:
        rows = self._connection().execute(
            "SELECT * FROM collections WHERE namespace = ? ORDER BY name", (namespace,)
        )
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
                " VALUES (:collection_id, :id,"
                " (SELECT coalesce(max(seq), 0) + 1 FROM objects WHERE collection_id ="
                " :collection_id), :sha256, :source, :size, :kind, :metadata, :status, :error,"
                " :document_count, :spec_version, :now, :now)"
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
                    "metadata": json.dumps(record.metadata),
                    "status": record.status.value,
                    "now": now,
                },
            )
            return self._object(conn, record.collection_id, record.id)

    def _require_collection_id(self, conn: sqlite3.Connection, collection_id: str) -> None:
        row = conn.execute("SELECT 1 FROM collections WHERE id = ?", (collection_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"collection {collection_id!r} does not exist", collection=collection_id
            )

    def _object(self, conn: sqlite3.Connection, collection_id: str, object_id: str) -> ObjectRecord:
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
            return self._object(self._connection(), collection_id, object_id)
        except NotFoundError:
            return None

    def list_objects(
        self,
        collection_id: str,
        status: ObjectStatus | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[ObjectRecord]:
        rows = self._connection().execute(
            "SELECT * FROM objects WHERE collection_id = ? AND (? IS NULL OR status = ?)"
            " ORDER BY seq LIMIT ? OFFSET ?",
            (collection_id, _value(status), _value(status), limit, offset),
        )
        return [_object_record(row) for row in rows]

    def count_objects(self, collection_id: str, status: ObjectStatus | None = None) -> int:
        row = (
            self._connection()
            .execute(
                "SELECT count(*) FROM objects WHERE collection_id = ?"
                " AND (? IS NULL OR status = ?)",
                (collection_id, _value(status), _value(status)),
            )
            .fetchone()
        )
        return int(row[0])

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
                "DELETE FROM tasks WHERE collection_id = ? AND object_id = ?",
                (collection_id, object_id),
            )
            conn.execute(
                "DELETE FROM objects WHERE collection_id = ? AND id = ?",
                (collection_id, object_id),
            )

    # --- tasks ------------------------------------------------------------------------------

    def create_task(
        self, collection_id: str, object_id: str | None, kind: str = "ingest"
    ) -> TaskRecord:
        task_id, now = "task_" + secrets.token_hex(12), now_iso()
        with self._write() as conn:
            self._require_collection_id(conn, collection_id)
            conn.execute(
                "INSERT INTO tasks (id, seq, collection_id, object_id, kind, state, stage,"
                " progress, attempts, error, created_at, updated_at) VALUES (?,"
                " (SELECT coalesce(max(seq), 0) + 1 FROM tasks), ?, ?, ?, ?, NULL, 0, 0, NULL,"
                " ?, ?)",
                (task_id, collection_id, object_id, kind, TaskState.QUEUED.value, now, now),
            )
            return self._task(conn, task_id)

    def _task(self, conn: sqlite3.Connection, task_id: str) -> TaskRecord:
        row = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"task {task_id!r} does not exist", task=task_id)
        return _task_record(row)

    def get_task(self, task_id: str) -> TaskRecord:
        return self._task(self._connection(), task_id)

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
        rows = self._connection().execute(
            "SELECT * FROM tasks WHERE (? IS NULL OR collection_id = ?)"
            " AND (? IS NULL OR state = ?) ORDER BY seq DESC LIMIT ?",
            (collection_id, collection_id, _value(state), _value(state), limit),
        )
        return [_task_record(row) for row in rows]


def _value(member: ObjectStatus | TaskState | None) -> str | None:
    return None if member is None else member.value


def _collection_info(row: sqlite3.Row) -> CollectionInfo:
    return CollectionInfo(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        spec=CollectionSpec.model_validate_json(row["spec"]),
        spec_version=row["spec_version"],
        features=_FEATURES.validate_json(row["features"]),
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _object_record(row: sqlite3.Row) -> ObjectRecord:
    return ObjectRecord(
        id=row["id"],
        collection_id=row["collection_id"],
        sha256=row["sha256"],
        source=row["source"],
        size=row["size"],
        kind=row["kind"],
        metadata=json.loads(row["metadata"]),
        status=ObjectStatus(row["status"]),
        error=row["error"],
        document_count=row["document_count"],
        spec_version=row["spec_version"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _task_record(row: sqlite3.Row) -> TaskRecord:
    payload = row["payload"]
    return TaskRecord(
        payload=json.loads(payload) if payload else {},
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
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )
