"""What the SQL catalog's parts share: the dialect hooks each backend fills in, the connection
they hand out, and how rows' times and JSON are read and stamped.

The catalog's logic (:mod:`omnidex.store.sql_catalog` and its table mixins: retrievers, API
keys, the ingest queue, webhooks) is written once, in SQL both SQLite and PostgreSQL run, with
``?`` and ``:name`` placeholders. A backend (:mod:`omnidex.store.sqlite_catalog`,
:mod:`omnidex.store.postgres_catalog`) subclasses :class:`CatalogRows` and provides only what
differs: connections and transactions, the next ``seq`` number, row locks that skip rows other
claimers hold, and a lock that serializes a check-then-write.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from omnidex.types import TaskRecord


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the shared SQL calls: ``sqlite3.Connection`` as it is, PostgreSQL through a small
    adapter. Rows are read by column name."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...


def now_iso() -> str:
    """The current UTC time as ISO 8601, as rows are stamped."""
    return datetime.now(UTC).isoformat()


def as_time(value: str | datetime) -> datetime:
    """A stored time: SQLite keeps ISO 8601 text, PostgreSQL a ``timestamptz``."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def as_json(value: Any) -> Any:
    """A stored JSON value: text in SQLite, already decoded from PostgreSQL's ``jsonb``."""
    return json.loads(value) if isinstance(value, str | bytes) else value


class CatalogRows:
    """The hooks a backend fills and the catalog's own methods a table mixin calls."""

    integrity_errors: tuple[type[Exception], ...] = ()
    """What the driver raises when a write breaks a unique or foreign key constraint."""
    skip_locked: str = ""
    """Appended to a claim's ``SELECT … LIMIT 1``: PostgreSQL's ``FOR UPDATE SKIP LOCKED``, so
    that claimers in other processes pass over each other's rows; empty for SQLite, whose write
    transactions already run one at a time."""

    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for reads outside a transaction."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        """One transaction: committed when the block ends, rolled back on error."""
        raise NotImplementedError

    def _next_seq(self, conn: Connection, table: str, collection_id: str) -> int:
        """The ``seq`` of a new row of ``table`` (``objects`` or ``tasks``): rows sort by it in
        order of creation."""
        raise NotImplementedError

    def _serialize(self, conn: Connection, key: str) -> None:
        """Hold off, until this transaction ends, every other transaction that serializes on
        ``key``: for a read-then-write that a unique constraint alone does not make safe."""
        raise NotImplementedError

    def _require_namespace(self, conn: Connection, namespace: str) -> None:
        raise NotImplementedError

    def _require_collection_id(self, conn: Connection, collection_id: str) -> None:
        raise NotImplementedError

    def _task(self, conn: Connection, task_id: str) -> TaskRecord:
        raise NotImplementedError
