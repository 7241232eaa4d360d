"""What the SQLite catalog's table mixins share: the catalog's connection and transactions, the
row checks they lean on, and the clock they stamp rows with.

Each mixin (retrievers, API keys, the ingest queue, webhooks) subclasses :class:`CatalogRows`;
``SqliteCatalog`` provides the real methods.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from omnidex.types import TaskRecord


def now_iso() -> str:
    """The current UTC time as ISO 8601, as rows store it."""
    return datetime.now(UTC).isoformat()


class CatalogRows:
    """The catalog's own methods a table mixin calls; ``SqliteCatalog`` defines them."""

    def _connection(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _require_namespace(self, conn: sqlite3.Connection, namespace: str) -> None:
        raise NotImplementedError

    def _require_collection_id(self, conn: sqlite3.Connection, collection_id: str) -> None:
        raise NotImplementedError

    def _task(self, conn: sqlite3.Connection, task_id: str) -> TaskRecord:
        raise NotImplementedError
