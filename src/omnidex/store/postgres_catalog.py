"""The PostgreSQL backend of the catalog: several servers and Ray drivers share one deployment.

``OMNIDEX_CATALOG_URL=postgresql://user:password@host/db`` chooses it
(:func:`omnidex.store.catalogs.open_catalog`). It runs the same SQL as the SQLite backend
(:mod:`omnidex.store.sql_catalog`) through a pool of psycopg 3 connections, and differs where the
database does:

- claims (tasks, webhook deliveries) lock the row they take with ``FOR UPDATE SKIP LOCKED``, so
  replicas claiming at once take different rows instead of waiting for each other;
- ``seq`` numbers come from sequences, and a read-then-write that no unique constraint guards
  (a retriever's next version) holds a transaction-level advisory lock;
- the schema is versioned migrations (:mod:`omnidex.store.postgres_schema`), applied when the
  catalog opens, under an advisory lock so that replicas starting at once migrate once;
- rate-limit buckets live in the database, so every replica takes from the same ones
  (:meth:`PostgresCatalog.take_rate_token`).

A database that cannot be reached (down, restarting, the pool exhausted for ``timeout_s``) raises
:class:`~omnidex.errors.CatalogUnavailableError` (HTTP 503, retry after a few seconds); the pool
checks each connection before lending it and replaces broken ones, so the catalog recovers by
itself once the database is back. A value PostgreSQL cannot store (a NUL character in text, NaN in
JSON) raises :class:`~omnidex.errors.InvalidSpecError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from omnidex.errors import CatalogUnavailableError, InvalidSpecError, StoreError
from omnidex.store.postgres_schema import PgConnection, migrate, schema_version
from omnidex.store.sql_catalog import SqlCatalog
from omnidex.store.sql_rows import Connection, Cursor

RETRY_AFTER_S = 5.0
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """The shared SQL's placeholders (``?``, ``:name``) in psycopg's style (``%s``,
    ``%(name)s``), with literal ``%`` doubled."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%")).replace("?", "%s")


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _Adapter:
    """A psycopg connection that speaks the shared SQL's placeholders."""

    def __init__(self, raw: PgConnection) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        return self.raw.execute(to_psycopg(sql), parameters or None)


class PostgresCatalog(SqlCatalog):
    """Namespaces, collections, objects, tasks, retrievers, API keys, webhooks and rate limits
    in one PostgreSQL database, shared by every replica that opens it."""

    integrity_errors = (psycopg.IntegrityError,)
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 5.0) -> None:
        self.url = url
        self._pool: ConnectionPool[PgConnection] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "options": "-c TimeZone=UTC"},
            check=ConnectionPool.check_connection,
            timeout=timeout_s,
            name="omnidex-catalog",
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except PoolTimeout:
            self._pool.close()
            raise CatalogUnavailableError(
                f"cannot reach the catalog database {redacted(url)}",
                retry_after_s=RETRY_AFTER_S,
            ) from None
        with self._guard(), self._pool.connection() as raw:
            self.migrated_from = migrate(raw)

    def __repr__(self) -> str:
        return f"PostgresCatalog({redacted(self.url)!r})"

    # --- connections ------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """The driver's and the pool's failures as omnidex's typed errors."""
        try:
            yield
        except PoolClosed:
            raise StoreError("the catalog is closed", url=redacted(self.url)) from None
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise CatalogUnavailableError(
                f"the catalog database is unavailable: {str(exc).strip() or type(exc).__name__}",
                retry_after_s=RETRY_AFTER_S,
            ) from exc
        except psycopg.DataError as exc:
            raise InvalidSpecError(f"a value the catalog cannot store: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._guard(), self._pool.connection() as raw:
            yield _Adapter(raw)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._guard(), self._pool.connection() as raw, raw.transaction():
            yield _Adapter(raw)

    def _next_seq(self, conn: Connection, table: str, collection_id: str) -> int:
        row = conn.execute(f"SELECT nextval('{table}_seq') AS n").fetchone()
        return int(row["n"])

    def _serialize(self, conn: Connection, key: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    @property
    def schema_version(self) -> int:
        with self._guard(), self._pool.connection() as raw:
            return schema_version(raw)

    # --- rate limits shared by every replica --------------------------------------------------

    def take_rate_token(self, key: str, per_minute: float, burst: int) -> float | None:
        """Take one request's token from ``key``'s bucket (``burst`` tokens, refilled at
        ``per_minute``, on the database's clock): None when allowed, else the seconds until a
        token is back (nothing is taken then). One statement: replicas never race on a bucket."""
        rate = per_minute / 60.0
        refilled = "least(:burst, b.tokens + greatest(0, extract(epoch FROM now()) - b.at) * :rate)"
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO rate_buckets AS b (key, tokens, at, allowed)"
                " VALUES (:key, :burst - 1, extract(epoch FROM now()), TRUE)"
                f" ON CONFLICT (key) DO UPDATE SET tokens = CASE WHEN {refilled} >= 1"
                f" THEN {refilled} - 1 ELSE {refilled} END, allowed = {refilled} >= 1,"
                " at = extract(epoch FROM now()) RETURNING tokens, allowed",
                {"key": key, "burst": float(burst), "rate": rate},
            ).fetchone()
        return None if row["allowed"] else (1 - float(row["tokens"])) / rate

    def close(self) -> None:
        self._pool.close()
