"""Saved retrievers in the SQLite catalog: one row per version of each retriever of a namespace.

Saving a spec that differs from the latest version adds a version; saving the same spec again
changes nothing. Old versions stay readable by number.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime

from omnidex.errors import NotFoundError
from omnidex.store.sqlite_rows import CatalogRows, now_iso
from omnidex.types import RetrieverInfo, RetrieverSpec

RETRIEVERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS retrievers (
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (namespace, name, version)
)
"""


class RetrieverRows(CatalogRows):
    """The retriever half of ``SqliteCatalog``; it lends its connection and transactions."""

    def save_retriever(self, namespace: str, spec: RetrieverSpec) -> RetrieverInfo:
        text = spec.model_dump_json()
        with self._write() as conn:
            self._require_namespace(conn, namespace)
            latest = _versions(conn, namespace, spec.name, newest_first=True)
            row = next(latest, None)
            if row is None or row["spec"] != text:
                version = 1 if row is None else row["version"] + 1
                conn.execute(
                    "INSERT INTO retrievers (namespace, name, version, spec, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (namespace, spec.name, version, text, now_iso()),
                )
            return self._retriever(conn, namespace, spec.name, None)

    def get_retriever(self, namespace: str, name: str, version: int | None = None) -> RetrieverInfo:
        return self._retriever(self._connection(), namespace, name, version)

    def list_retrievers(self, namespace: str) -> list[RetrieverInfo]:
        rows = self._connection().execute(
            "SELECT DISTINCT name FROM retrievers WHERE namespace = ? ORDER BY name", (namespace,)
        )
        conn = self._connection()
        return [self._retriever(conn, namespace, row["name"], None) for row in rows.fetchall()]

    def delete_retriever(self, namespace: str, name: str) -> None:
        with self._write() as conn:
            self._retriever(conn, namespace, name, None)
            conn.execute(
                "DELETE FROM retrievers WHERE namespace = ? AND name = ?", (namespace, name)
            )

    def _retriever(
        self, conn: sqlite3.Connection, namespace: str, name: str, version: int | None
    ) -> RetrieverInfo:
        rows = list(_versions(conn, namespace, name, newest_first=False))
        chosen = rows[-1] if rows and version is None else None
        chosen = next((r for r in rows if r["version"] == version), chosen)
        if chosen is None:
            which = f"version {version} of " if version is not None and rows else ""
            raise NotFoundError(
                f"{which}retriever {name!r} does not exist in namespace {namespace!r}",
                namespace=namespace,
                retriever=name,
            )
        return RetrieverInfo(
            namespace=namespace,
            name=name,
            version=chosen["version"],
            spec=RetrieverSpec.model_validate_json(chosen["spec"]),
            created_at=datetime.fromisoformat(rows[0]["created_at"]),
            updated_at=datetime.fromisoformat(chosen["created_at"]),
        )


def _versions(
    conn: sqlite3.Connection, namespace: str, name: str, *, newest_first: bool
) -> Iterator[sqlite3.Row]:
    order = "DESC" if newest_first else "ASC"
    yield from conn.execute(
        f"SELECT * FROM retrievers WHERE namespace = ? AND name = ? ORDER BY version {order}",
        (namespace, name),
    ).fetchall()
