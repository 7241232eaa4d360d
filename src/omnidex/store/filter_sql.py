"""Compile the filter AST of :mod:`omnidex.store.filters` to a Lance (DataFusion) SQL predicate.

This is the only place where user values become SQL: every literal goes through
:func:`sql_literal`, every identifier is either a known document column or a column name the
store chose itself, and metadata keys are quoted as string literals. Where the store keeps a typed
copy of a metadata key (``metadata``: ``(key, kind) → column``, see
:mod:`omnidex.store.lance_metadata`), comparisons it answers exactly read that column instead of
parsing the JSON: ``=`` on text, booleans and numbers, and ``< <= > >=`` on numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from omnidex.errors import InvalidFilterError
from omnidex.store.filters import DOCUMENT_FIELDS, And, Compare, Field, Filter, In, Not, Or, Scalar

_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def sql_literal(value: Scalar) -> str:
    """A SQL literal for a Python scalar: strings quoted with single quotes doubled."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFilterError(f"{value!r} is not a finite number", value=str(value))
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidFilterError("a filter value may not contain a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise InvalidFilterError(f"unsupported filter value {value!r}", value=repr(value))


def compile_filter(
    f: Filter,
    columns: Mapping[str, str],
    metadata: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """SQL for ``f``; ``columns`` maps feature addresses to the column names that hold them,
    ``metadata`` typed metadata keys to theirs."""
    typed = metadata or {}
    if isinstance(f, Compare):
        return _compare(f, columns, typed)
    if isinstance(f, In):
        return _in(f, columns, typed)
    if isinstance(f, And):
        parts = [compile_filter(item, columns, typed) for item in f.items]
        return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
    if isinstance(f, Or):
        parts = [compile_filter(item, columns, typed) for item in f.items]
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
    if isinstance(f, Not):
        # NULL (a missing value) counts as "does not match", so NOT of it matches.
        return f"(NOT coalesce({compile_filter(f.item, columns, typed)}, FALSE))"
    raise InvalidFilterError(f"unsupported filter node {type(f).__name__}")


def _compare(f: Compare, columns: Mapping[str, str], typed: Mapping[tuple[str, str], str]) -> str:
    if f.value is None:
        return _null_test(f, columns)
    if f.field.metadata:
        column = _typed_column(f, typed)
        if column is not None:
            return f"({column} {_SQL_OPS[f.op]} {sql_literal(f.value)})"
        return _metadata_compare(f.field.name, f.op, f.value)
    column, kind = _column(f.field, columns)
    _check_type(f.field.name, kind, f.value)
    if f.op == "contains":
        if kind not in (str, None):
            raise InvalidFilterError("contains needs a text field", field=f.field.name)
        return f"(strpos({column}, {sql_literal(f.value)}) > 0)"
    return f"({column} {_SQL_OPS[f.op]} {sql_literal(f.value)})"


def _null_test(f: Compare, columns: Mapping[str, str]) -> str:
    if f.op not in ("=", "!="):
        raise InvalidFilterError(f"{f.op} cannot compare with null", field=f.field.name)
    negate = "NOT " if f.op == "!=" else ""
    if f.field.metadata:
        target = json_value(f.field.name)
        return f"({negate}coalesce({target} = 'null', TRUE))"
    return f"({_column(f.field, columns)[0]} IS {negate}NULL)"


def _json_path(key: str) -> str:
    """A JSONPath to the top-level ``key`` of the metadata, as a SQL literal."""
    return sql_literal("$[" + json.dumps(key, ensure_ascii=False) + "]")


def json_value(key: str) -> str:
    """The metadata value at ``key`` as JSON text; NULL when the key is absent."""
    return f"json_extract(metadata, {_json_path(key)})"


def _metadata_compare(key: str, op: str, value: str | int | float | bool) -> str:
    """Compare the JSON text of a metadata value: exact for strings and booleans (json_extract
    writes JSON the way ``json.dumps(..., ensure_ascii=False)`` does), numeric for numbers."""
    target = json_value(key)
    if op == "contains":
        if not isinstance(value, str):
            raise InvalidFilterError("contains needs a text value", field=key)
        inner = sql_literal(json.dumps(value, ensure_ascii=False)[1:-1])
        element = f"json_array_contains(metadata, {_json_path(key)}, {sql_literal(value)})"
        return f"(coalesce({element}, FALSE) OR coalesce(strpos({target}, {inner}) > 0, FALSE))"
    if isinstance(value, bool):
        if op not in ("=", "!="):
            raise InvalidFilterError(f"{op} cannot compare booleans", field=key)
        return f"({target} {_SQL_OPS[op]} {sql_literal(json.dumps(value))})"
    if isinstance(value, str):
        return f"({target} {_SQL_OPS[op]} {sql_literal(json.dumps(value, ensure_ascii=False))})"
    # try_cast: a key that holds text in some documents must not fail the query
    return f"(try_cast({target} AS DOUBLE) {_SQL_OPS[op]} {sql_literal(value)})"


def _typed_column(f: Compare, typed: Mapping[tuple[str, str], str]) -> str | None:
    """The typed metadata column that answers ``f`` exactly, if the store keeps one."""
    value = f.value
    ops: tuple[str, ...]
    if isinstance(value, bool):
        kind, ops = "b", ("=",)
    elif isinstance(value, int | float):
        kind, ops = "n", ("=", "<", "<=", ">", ">=")
    else:
        kind, ops = "s", ("=",)
    return typed.get((f.field.name, kind)) if f.op in ops else None


def _in(f: In, columns: Mapping[str, str], typed: Mapping[tuple[str, str], str]) -> str:
    if not f.values:
        return "FALSE"
    if f.field.metadata:
        equal = Or(tuple(Compare(f.field, "=", v) for v in f.values))
        return compile_filter(equal, columns, typed)
    column, kind = _column(f.field, columns)
    present = [v for v in f.values if v is not None]
    for value in present:
        _check_type(f.field.name, kind, value)
    parts = [f"{column} IN ({', '.join(sql_literal(v) for v in present)})"] if present else []
    if len(present) < len(f.values):
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")"


def _column(field: Field, columns: Mapping[str, str]) -> tuple[str, type | None]:
    """The column for a document field or feature address, with its Python type if known."""
    if field.name in DOCUMENT_FIELDS:
        return field.name, DOCUMENT_FIELDS[field.name]
    if field.name in columns:
        return columns[field.name], None
    raise InvalidFilterError(f"unknown field {field.name!r}", field=field.name)


def _check_type(name: str, kind: type | None, value: Scalar) -> None:
    if kind is None:
        return
    if kind is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise InvalidFilterError(
            f"{name} takes a {kind.__name__} value, not {value!r}", field=name, value=repr(value)
        )
