"""API keys in the SQLite catalog: one row per key, holding its public id and hash, never the key.

A revoked key keeps its row (listings show when it was revoked) but is never found by its hash
again. ``last_used_at`` is written at most once a minute per key, so recording each request's use
costs a read, not a synchronous write.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError
from omnidex.store.api_keys import check_stored_key
from omnidex.store.sqlite_rows import CatalogRows
from omnidex.types import ApiKeyInfo, KeyRole

API_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('read', 'write')),
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_by_namespace ON api_keys (namespace)
"""
TOUCH_INTERVAL = timedelta(minutes=1)
_MAX_NAME = 64


class ApiKeyRows(CatalogRows):
    """The API key half of ``SqliteCatalog``; it lends its connection and transactions."""

    def create_api_key(
        self, namespace: str, name: str, role: KeyRole, key_hash: str, key_id: str
    ) -> ApiKeyInfo:
        _check_key_name(name)
        check_stored_key(key_id, key_hash)
        with self._write() as conn:
            self._require_namespace(conn, namespace)
            try:
                conn.execute(
                    "INSERT INTO api_keys (id, namespace, name, role, key_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key_id, namespace, name, KeyRole(role).value, key_hash, _now().isoformat()),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExistsError(
                    f"API key {key_id!r} already exists", namespace=namespace, key_id=key_id
                ) from None
            return self._api_key(conn, key_id, None)

    def find_api_key(self, key_hash: str) -> ApiKeyInfo | None:
        row = (
            self._connection()
            .execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            )
            .fetchone()
        )
        return None if row is None else _api_key_info(row)

    def list_api_keys(self, namespace: str | None = None) -> list[ApiKeyInfo]:
        rows = self._connection().execute(
            "SELECT * FROM api_keys WHERE (? IS NULL OR namespace = ?) ORDER BY rowid",
            (namespace, namespace),
        )
        return [_api_key_info(row) for row in rows]

    def revoke_api_key(self, key_id: str, namespace: str | None = None) -> ApiKeyInfo:
        with self._write() as conn:
            self._api_key(conn, key_id, namespace)
            conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                (_now().isoformat(), key_id),
            )
            return self._api_key(conn, key_id, namespace)

    def touch_api_key(self, key_id: str) -> None:
        last_used = self._api_key(self._connection(), key_id, None).last_used_at
        now = _now()
        if last_used is not None and now - last_used < TOUCH_INTERVAL:
            return
        with self._write() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now.isoformat(), key_id)
            )

    def _api_key(self, conn: sqlite3.Connection, key_id: str, namespace: str | None) -> ApiKeyInfo:
        row = conn.execute(
            "SELECT * FROM api_keys WHERE id = ? AND (? IS NULL OR namespace = ?)",
            (key_id, namespace, namespace),
        ).fetchone()
        if row is None:
            where = f" in namespace {namespace!r}" if namespace is not None else ""
            raise NotFoundError(
                f"API key {key_id!r} does not exist{where}", namespace=namespace, key_id=key_id
            )
        return _api_key_info(row)


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise InvalidSpecError(
            f"a key name has 1 to {_MAX_NAME} characters, not {name!r}", field="name", value=name
        )
    if not name.isprintable():
        raise InvalidSpecError(f"key name {name!r} is not printable", field="name", value=name)


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _api_key_info(row: sqlite3.Row) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        role=KeyRole(row["role"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        last_used_at=_time(row["last_used_at"]),
        revoked_at=_time(row["revoked_at"]),
    )
