"""The SQLite backend of the catalog: the embedded default, one file.

One file in WAL mode with ``synchronous=FULL``: a method that returned has committed, and the
commit survives a kill -9. One connection per thread (SQLite connections are not shared across
threads); ``busy_timeout`` makes writers from several threads or processes wait for each other.
Every write transaction is ``BEGIN IMMEDIATE``, so writes run one at a time: a check-then-write
needs no other lock, and claims never meet. A file that can be read but not written (a read-only
mount, a folder of another user) is opened for reading only: reads work, each write raises
:class:`ReadOnlyStoreError`. SQLite's own faults (a damaged file, a full disk) are
:class:`StoreError` naming the file. The schema and its versions:
:mod:`omnidex.store.sqlite_schema`. The catalog's logic: :mod:`omnidex.store.sql_catalog`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from omnidex.errors import ReadOnlyStoreError, StorageFullError, StoreError, is_storage_full
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
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.read_only: str | None = None
        """Why the file was opened for reading only (it can be read, not written), or None."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.migrated_from = self._migrate()
        except (OSError, StoreError) as exc:
            fault = self._fault(exc)
            if not self.path.is_file() or "schema_version" in fault.context:
                raise fault from None
            self._drop_connections()
            folder = self.path.parent
            writable = os.access(folder, os.W_OK) and os.access(self.path, os.W_OK)
            self.read_only = (
                fault.context.get("why", fault.message) if writable else f"{folder} is read-only"
            )
            try:
                self.migrated_from = self._check_version()
            except ReadOnlyStoreError:
                raise
            except StoreError:
                raise fault from None  # unreadable too: the first reason says most

    def _fault(self, exc: BaseException) -> StoreError:
        """A storage fault as a one-line error naming the catalog file."""
        if isinstance(exc, StoreError):
            return exc
        if is_storage_full(exc):
            return StorageFullError("the catalog cannot be written: no space left on its disk")
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in why:
            why = "it is not a SQLite database (damaged, or not omnidex's catalog)"
        return StoreError(
            f"cannot use the catalog {self.path}: {why}", path=str(self.path), why=why
        )

    def _check_version(self) -> int:
        """The schema version of a file opened for reading only, which cannot be migrated."""
        version = self.schema_version
        if version != SCHEMA_VERSION:
            raise ReadOnlyStoreError(
                f"the catalog {self.path} has schema version {version}, this omnidex reads "
                f"{SCHEMA_VERSION}, and it cannot be written ({self.read_only}) to migrate it",
                path=str(self.path),
            )
        return version

    def __repr__(self) -> str:
        return f"SqliteCatalog({str(self.path)!r})"

    # --- connections ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError("the catalog is closed", path=str(self.path))
        try:
            conn = self._connect() if self.read_only is None else self._connect_read_only()
        except sqlite3.Error as exc:
            raise self._fault(exc) from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """``mode=ro``; where SQLite cannot make the WAL's shared-memory file beside it (a
        read-only folder), ``immutable=1``, which reads the file as it is, without locks."""
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(
                f"file:{quote(str(self.path.absolute()))}?{flags}",
                uri=True,
                timeout=30.0,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                self._configure(conn)
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if "immutable" in flags:
                    raise
        raise AssertionError("unreachable")

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        conn = self._connection()
        try:
            yield conn
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One immediate transaction: committed when the block ends, rolled back on error.
        StorageFullError when the disk is full (nothing was written)."""
        if self.read_only is not None:
            raise ReadOnlyStoreError(
                f"the catalog {self.path} cannot be written ({self.read_only}), so it was opened "
                "for reading only: searching and listing work, this does not",
                path=str(self.path),
            )
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
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc) from exc

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
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
