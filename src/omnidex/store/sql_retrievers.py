"""Saved retrievers in the SQL catalog: one row per version of each retriever of a namespace.

Saving a spec that differs from the latest version adds a version; saving the same spec again
changes nothing. Old versions stay readable by number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omnidex.errors import NotFoundError
from omnidex.store.sql_rows import CatalogRows, Connection, as_time, now_iso
from omnidex.types import RetrieverInfo, RetrieverSpec


class RetrieverRows(CatalogRows):
    """The retriever half of the SQL catalog; it lends its connections and transactions."""

    def save_retriever(self, namespace: str, spec: RetrieverSpec) -> RetrieverInfo:
        text = spec.model_dump_json()
        with self._write() as conn:
            self._require_namespace(conn, namespace)
            self._serialize(conn, f"retriever/{namespace}/{spec.name}")
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
        with self._read() as conn:
            return self._retriever(conn, namespace, name, version)

    def list_retrievers(self, namespace: str) -> list[RetrieverInfo]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT name FROM retrievers WHERE namespace = ? ORDER BY name",
                (namespace,),
            ).fetchall()
            return [self._retriever(conn, namespace, row["name"], None) for row in rows]

    def delete_retriever(self, namespace: str, name: str) -> None:
        with self._write() as conn:
            self._retriever(conn, namespace, name, None)
            conn.execute(
                "DELETE FROM retrievers WHERE namespace = ? AND name = ?", (namespace, name)
            )

    def _retriever(
        self, conn: Connection, namespace: str, name: str, version: int | None
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
            created_at=as_time(rows[0]["created_at"]),
            updated_at=as_time(chosen["created_at"]),
        )


def _versions(conn: Connection, namespace: str, name: str, *, newest_first: bool) -> Iterator[Any]:
    order = "DESC" if newest_first else "ASC"
    yield from conn.execute(
        f"SELECT * FROM retrievers WHERE namespace = ? AND name = ? ORDER BY version {order}",
        (namespace, name),
    ).fetchall()
