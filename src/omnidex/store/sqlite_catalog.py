"""The SQLite backend of the catalog: the embedded default, one file.

One file in WAL mode with ``synchronous=FULL``: a method that returned has committed, and the
commit survives a kill -9. One connection per thread (SQLite connections are not shared across
threads); ``busy_timeout`` makes writers from several threads or processes wait for each other.
Every write transaction is ``BEGIN IMMEDIATE``, so writes run one at a time: a check-then-write
needs no other lock, and claims never meet. The schema and its versions:
:mod:`omnidex.store.sqlite_schema`. The catalog's logic: :mod:`omnidex.store.sql_catalog`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omnidex.errors import StorageFullError, StoreError, is_storage_full
from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.store.sql_catalog import SqlCatalog
from omnidex.store.sql_rows import Connection, now_iso
from omnidex.store.sqlite_schema import SCHEMA_VERSION, create_tables


class SqliteCatalog(SqlCatalog):
    """Namespaces, collections, objects, tasks, retrievers, API keys and webhooks in one SQLite
    file."""

    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.migrated_from = self._migrate()

    def __repr__(self) -> str:
        return f"SqliteCatalog({str(self.path)!r})"

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
    def _read(self) -> Iterator[Connection]:
        yield self._connection()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One immediate transaction: committed when the block ends, rolled back on error.
        StorageFullError when the disk is full (nothing was written)."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if is_storage_full(exc):
                raise StorageFullError(
                    "the catalog cannot be written: no space left on its disk"
                ) from exc
            raise

    def _next_seq(self, conn: Connection, table: str, collection_id: str) -> int:
        """One more than the largest: objects count per collection (an index answers), tasks
        across the catalog. Safe because the write transaction holds the file."""
        where = " WHERE collection_id = ?" if table == "objects" else ""
        params = (collection_id,) if where else ()
        row = conn.execute(
            f"SELECT coalesce(max(seq), 0) + 1 AS n FROM {table}{where}", params
        ).fetchone()
        return int(row["n"])

    def _serialize(self, conn: Connection, key: str) -> None:
        """Nothing to do: the write transaction already runs alone."""

    def _migrate(self) -> int:
        """Bring the file to ``SCHEMA_VERSION``; the version it had (0 for a new file)."""
        with self._write() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    "the catalog was written by a newer omnidex",
                    path=str(self.path),
                    schema_version=version,
                )
            create_tables(conn)
            conn.execute(
                "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)",
                (DEFAULT_NAMESPACE, now_iso()),
            )
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return version

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
