"""Typed columns for user metadata in a Lance table, so that filters on it use indexes.

Metadata lives in one JSON column, and a filter on it (``speaker = 'ann'``) parses that JSON for
every row. So each top-level metadata key also gets a typed column per kind of value it holds —
``s`` text, ``n`` number, ``b`` boolean — named ``m__<key>__<hash>__<kind>`` with the key in the
field's metadata, and optimize puts a scalar index on it. The JSON stays the source of truth:
filters whose meaning the typed column gives exactly (``=`` and ``in`` on text and booleans, ``=``
and ``< <= > >=`` on numbers) use it; everything else reads the JSON
(:mod:`omnidex.store.filter_sql`).

A column is added only while no row holds that key with that kind of value yet (true of a key
that first arrives with the rows being written); otherwise the rows already there would read as
missing in the new column, so the key stays in the JSON alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa

from omnidex.store.filter_sql import json_value, sql_literal
from omnidex.types import Document

MetaKind = Literal["s", "n", "b"]
MetaColumns = Mapping[tuple[str, str], str]
"""``(metadata key, kind) → column name``."""

_KEY = b"omnidex.meta_key"
_KIND = b"omnidex.meta_kind"
_TYPES: dict[MetaKind, pa.DataType] = {"s": pa.utf8(), "n": pa.float64(), "b": pa.bool_()}
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
BITMAP_MAX_DISTINCT = 1000
"""Text columns with at most this many distinct values get a bitmap index, others a B-tree."""


def kind_of(value: Any) -> MetaKind | None:
    """Which typed column a metadata value belongs in (None: lists, objects, null)."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    if isinstance(value, str):
        return "s"
    return None


def column_for(key: str, kind: str) -> str:
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"m__{_UNSAFE.sub('_', key)[:40]}__{digest}__{kind}"


def field_for(key: str, kind: str) -> pa.Field:
    return pa.field(
        column_for(key, kind),
        _TYPES[kind],  # type: ignore[index]
        metadata={_KEY: key.encode(), _KIND: kind.encode()},
    )


def columns_of(schema: pa.Schema) -> dict[tuple[str, str], str]:
    """The typed metadata columns a table's schema declares."""
    found: dict[tuple[str, str], str] = {}
    for field in schema:
        meta = field.metadata or {}
        if _KEY in meta and meta[_KIND].decode() in _TYPES:
            found[(meta[_KEY].decode(), meta[_KIND].decode())] = field.name
    return found


def wanted(metadatas: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """Every ``(key, kind)`` the metadata dicts hold."""
    return {
        (key, kind)
        for metadata in metadatas
        for key, value in metadata.items()
        if (kind := kind_of(value)) is not None
    }


def held_by_rows(key: str, kind: str) -> str:
    """A predicate true for rows whose JSON metadata holds ``key`` with a ``kind`` value."""
    value = json_value(key)
    if kind == "n":
        return f"try_cast({value} AS DOUBLE) IS NOT NULL"
    if kind == "b":
        return f"{value} IN ('true', 'false')"
    return f"{value} LIKE '\"%'"


def arrays(docs: Sequence[Document], columns: MetaColumns) -> dict[str, pa.Array]:
    """Each typed column's values for ``docs`` (null where a document has no such value)."""
    out = {}
    for (key, kind), column in columns.items():
        values = [
            _typed(doc.metadata.get(key)) if kind_of(doc.metadata.get(key)) == kind else None
            for doc in docs
        ]
        out[column] = pa.array(values, type=_TYPES[kind])  # type: ignore[index]
    return out


def sql_values(metadata: Mapping[str, Any], columns: MetaColumns) -> dict[str, str]:
    """Each typed column's value for ``metadata`` as a SQL literal (NULL where it has none)."""
    return {
        column: sql_literal(_typed(metadata.get(key)))
        if kind_of(metadata.get(key)) == kind
        else "NULL"
        for (key, kind), column in columns.items()
    }


def _typed(value: Any) -> Any:
    """A number as the double its column holds (Arrow refuses an int beyond 2**53 otherwise)."""
    return float(value) if kind_of(value) == "n" else value


def index_kind(kind: str, distinct: int) -> Literal["BITMAP", "BTREE"]:
    if kind == "b" or (kind == "s" and distinct <= BITMAP_MAX_DISTINCT):
        return "BITMAP"
    return "BTREE"
