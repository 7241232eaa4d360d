"""API keys in the SQL catalog: one row per key, holding its public id and hash, never the key.

A revoked key keeps its row (listings show when it was revoked) but is never found by its hash
again. ``last_used_at`` is written at most once a minute per key, so recording each request's use
costs a read, not a synchronous write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError
from omnidex.store.api_keys import check_stored_key
from omnidex.store.sql_rows import CatalogRows, Connection, as_time
from omnidex.types import ApiKeyInfo, KeyRole

TOUCH_INTERVAL = timedelta(minutes=1)
_MAX_NAME = 64


class ApiKeyRows(CatalogRows):
    """The API key half of the SQL catalog; it lends its connections and transactions."""

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
            except self.integrity_errors:
                raise AlreadyExistsError(
                    f"API key {key_id!r} already exists", namespace=namespace, key_id=key_id
                ) from None
            return self._api_key(conn, key_id, None)

    def find_api_key(self, key_hash: str) -> ApiKeyInfo | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return None if row is None else _api_key_info(row)

    def list_api_keys(self, namespace: str | None = None) -> list[ApiKeyInfo]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM api_keys WHERE (CAST(? AS TEXT) IS NULL OR namespace = ?)"
                " ORDER BY rowid",
                (namespace, namespace),
            ).fetchall()
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
        with self._read() as conn:
            last_used = self._api_key(conn, key_id, None).last_used_at
        now = _now()
        if last_used is not None and now - last_used < TOUCH_INTERVAL:
            return
        with self._write() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now.isoformat(), key_id)
            )

    def _api_key(self, conn: Connection, key_id: str, namespace: str | None) -> ApiKeyInfo:
        row = conn.execute(
            "SELECT * FROM api_keys WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR namespace = ?)",
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


def _time(value: str | datetime | None) -> datetime | None:
    return None if value is None else as_time(value)


def _api_key_info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        role=KeyRole(row["role"]),
        created_at=as_time(row["created_at"]),
        last_used_at=_time(row["last_used_at"]),
        revoked_at=_time(row["revoked_at"]),
    )
