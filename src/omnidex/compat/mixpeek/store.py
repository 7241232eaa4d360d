"""What Mixpeek has and omnidex does not: buckets, their objects and uploads, batches, and the
Mixpeek form of collections and retrievers, kept in a small SQLite file beside the catalog.

Each row belongs to one namespace and is only ever read through it, so a key sees only its own
namespace's buckets. Values that Mixpeek nests (schemas, blobs, stages) are stored as JSON.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnidex.errors import AlreadyExistsError, NotFoundError

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (namespace, name));
CREATE TABLE IF NOT EXISTS objects (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, bucket_id TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS objects_bucket ON objects (bucket_id, created_at);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, bucket_id TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, bucket_id TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (namespace, name));
CREATE TABLE IF NOT EXISTS retrievers (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (namespace, name));
"""

KINDS = ("buckets", "objects", "uploads", "batches", "collections", "retrievers")
PREFIXES = {
    "buckets": "bkt",
    "objects": "obj",
    "uploads": "upl",
    "batches": "btch",
    "collections": "col",
    "retrievers": "ret",
}
SINGULAR = {
    "buckets": "bucket",
    "objects": "object",
    "uploads": "upload",
    "batches": "batch",
    "collections": "collection",
    "retrievers": "retriever",
}


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{secrets.token_hex(8)}"


def now() -> str:
    return datetime.now(UTC).isoformat()


class Row(dict[str, Any]):
    """A stored row: its JSON body with ``id``, ``namespace``, ``created_at``, ``updated_at``."""


class MixpeekStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def insert(self, kind: str, namespace: str, body: dict[str, Any], **keys: str) -> Row:
        """Store ``body`` as a new row of ``kind`` (``keys``: its ``name`` or ``bucket_id``)."""
        row_id, stamp = body.get("id") or new_id(kind), now()
        columns = ["id", "namespace", *keys, "body", "created_at", "updated_at"]
        values = [row_id, namespace, *keys.values(), json.dumps(body), stamp, stamp]
        try:
            with self._connect() as db:
                db.execute(
                    f"INSERT INTO {_table(kind)} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    values,
                )
        except sqlite3.IntegrityError:  # a request with the same name got there first
            name = keys.get("name", row_id)
            raise AlreadyExistsError(f"{SINGULAR[kind]} {name!r} already exists") from None
        return _row(row_id, namespace, body, stamp, stamp)

    def update(self, kind: str, row: Row, **changes: Any) -> Row:
        body = {k: v for k, v in row.items() if k not in _META} | changes
        stamp = now()
        with self._connect() as db:
            db.execute(
                f"UPDATE {_table(kind)} SET body = ?, updated_at = ? WHERE id = ?",
                (json.dumps(body), stamp, row["id"]),
            )
        return _row(row["id"], row["namespace"], body, row["created_at"], stamp)

    def get(self, kind: str, namespace: str, identifier: str) -> Row:
        """The row whose id (or, for named kinds, name) is ``identifier`` in ``namespace``;
        NotFoundError otherwise, the same whether it is absent or another namespace's."""
        named = kind in ("buckets", "collections", "retrievers")
        where = "(id = ? OR name = ?)" if named else "id = ?"
        args = (identifier, identifier) if named else (identifier,)
        rows = self._select(kind, f"namespace = ? AND {where}", (namespace, *args))
        if not rows:
            raise NotFoundError(
                f"{SINGULAR[kind]} {identifier!r} does not exist", **{SINGULAR[kind]: identifier}
            )
        return rows[0]

    def find(self, kind: str, namespace: str, identifier: str) -> Row | None:
        try:
            return self.get(kind, namespace, identifier)
        except NotFoundError:
            return None

    def rows(self, kind: str, namespace: str, bucket_id: str | None = None) -> list[Row]:
        if bucket_id is None:
            return self._select(kind, "namespace = ?", (namespace,))
        return self._select(kind, "namespace = ? AND bucket_id = ?", (namespace, bucket_id))

    def delete(self, kind: str, row_id: str) -> None:
        with self._connect() as db:
            db.execute(f"DELETE FROM {_table(kind)} WHERE id = ?", (row_id,))

    def _select(self, kind: str, where: str, args: tuple[Any, ...]) -> list[Row]:
        with self._connect() as db:
            found = db.execute(
                f"SELECT id, namespace, body, created_at, updated_at FROM {_table(kind)} "
                f"WHERE {where} ORDER BY created_at, id",
                args,
            ).fetchall()
        return [_row(i, ns, json.loads(body), c, u) for i, ns, body, c, u in found]


_META = ("id", "namespace", "created_at", "updated_at")


def _table(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return kind


def _row(row_id: str, namespace: str, body: dict[str, Any], created: str, updated: str) -> Row:
    return Row(
        body | {"id": row_id, "namespace": namespace, "created_at": created, "updated_at": updated}
    )
