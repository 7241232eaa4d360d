"""Compile the filter AST of :mod:`omnidex.store.filters` to a Lance (DataFusion) SQL predicate.

This is the only place where user values become SQL: every literal goes through
:func:`sql_literal`, every identifier is either a known document column or a column name the
store chose itself, and metadata keys are quoted as string literals. Where the store keeps a typed
copy of a metadata key (``metadata``: ``(key, kind) → column``, see
:mod:`omnidex.store.lance_metadata`), comparisons it answers exactly read that column instead of
parsing the JSON: ``=`` on text, booleans and numbers, and ``< <= > >=`` on numbers.

What a filter means is :mod:`omnidex.store.filter_match`'s docstring; tests check this compiler
against a plain-Python reference of it with generated documents and filters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from omnidex.errors import InvalidFilterError
from omnidex.store.filters import (
    DOCUMENT_FIELDS,
    And,
    Compare,
    Field,
    Filter,
    In,
    Not,
    Or,
    Scalar,
    check_depth,
    check_value,
)

_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_INT_RANGES = {  # the integer document fields and what their columns hold
    "page": (-(2**31), 2**31 - 1),
    "start_frame": (-(2**63), 2**63 - 1),
    "end_frame": (-(2**63), 2**63 - 1),
}


def sql_literal(value: Scalar) -> str:
    """A SQL literal for a Python scalar: strings quoted with single quotes doubled."""
    check_value(value)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise InvalidFilterError(f"unsupported filter value {value!r}", value=repr(value))


def compile_filter(
    f: Filter,
    columns: Mapping[str, str],
    metadata: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """SQL for ``f``; ``columns`` maps feature addresses to the column names that hold them,
    ``metadata`` typed metadata keys to theirs.

    The SQL holds no ``NOT``: negations are pushed down to the comparisons (a missing value fails
    a comparison, so ``not`` of it holds), and ``and``/``or`` inside their own kind are flattened.
    Nested ``NOT``/``coalesce`` make DataFusion's planner take exponential time, and its parser
    refuses deep nesting, so the SQL nests no deeper than the filter's ``and``/``or``
    alternations, which :func:`check_depth` bounds."""
    return _compile(check_depth(f), False, columns, metadata or {})


def _compile(
    f: Filter, negate: bool, columns: Mapping[str, str], typed: Mapping[tuple[str, str], str]
) -> str:
    if isinstance(f, Not):
        return _compile(f.item, not negate, columns, typed)
    if isinstance(f, And | Or):
        conjunction = isinstance(f, And) != negate  # De Morgan
        parts = [_compile(item, negate, columns, typed) for item in _flat(f)]
        if not parts:
            return "TRUE" if conjunction else "FALSE"
        return "(" + (" AND " if conjunction else " OR ").join(parts) + ")"
    if isinstance(f, In):
        sql = _in(f, columns, typed)
    elif isinstance(f, Compare):
        sql = _compare(f, columns, typed)
    else:
        raise InvalidFilterError(f"unsupported filter node {type(f).__name__}")
    # a comparison is NULL where a value is missing: that fails it, and so holds its negation
    return f"(NOT coalesce({sql}, FALSE))" if negate else sql


def _flat(f: And | Or) -> list[Filter]:
    """The items of ``f``, with those of the same kind inside it taken in."""
    items: list[Filter] = []
    for item in f.items:
        items.extend(
            _flat(item) if isinstance(item, And | Or) and type(item) is type(f) else [item]
        )
    return items


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
    if kind is int and isinstance(f.value, int | float):
        return _integer_compare(column, f.op, f.value, _INT_RANGES[f.field.name])
    return f"({column} {_SQL_OPS[f.op]} {sql_literal(f.value)})"


def _integer_compare(column: str, op: str, value: float, bounds: tuple[int, int]) -> str:
    """``column op value`` for an integer column, with ``value`` turned into an integer the
    column's type holds: ``page < 1.5`` is ``page <= 1``, ``page = 1.5`` and ``page > 10**12``
    match nothing (DataFusion refuses a literal its column type cannot hold)."""
    low, high = bounds
    present = f"({column} IS NOT NULL)"
    if op in ("=", "!="):
        if value != math.floor(value) or not low <= value <= high:
            return "FALSE" if op == "=" else present
        return f"({column} {_SQL_OPS[op]} {int(value)})"
    # column < value ⟺ column < ceil(value); column <= value ⟺ column <= floor(value)
    bound = math.ceil(value) if op in ("<", ">=") else math.floor(value)
    if bound < low or bound > high:
        below = bound > high  # every value the column holds is below the bound
        holds = below if op in ("<", "<=") else not below
        return present if holds else "FALSE"
    return f"({column} {_SQL_OPS[op]} {bound})"


def _null_test(f: Compare, columns: Mapping[str, str]) -> str:
    if f.op not in ("=", "!="):
        raise InvalidFilterError(f"{f.op} cannot compare with null", field=f.field.name)
    if f.field.metadata:
        return _missing(f.field.name) if f.op == "=" else _present(f.field.name)
    negate = "NOT " if f.op == "!=" else ""
    return f"({_column(f.field, columns)[0]} IS {negate}NULL)"


def _missing(key: str) -> str:
    """True where the metadata has no ``key`` or holds null there (never NULL itself)."""
    target = json_value(key)
    return f"({target} IS NULL OR {target} = 'null')"


def _present(key: str) -> str:
    target = json_value(key)
    return f"({target} IS NOT NULL AND {target} <> 'null')"


def _json_path(key: str) -> str:
    """A JSONPath to the top-level ``key`` of the metadata, as a SQL literal."""
    return sql_literal("$[" + json.dumps(key, ensure_ascii=False) + "]")


def json_value(key: str) -> str:
    """The metadata value at ``key`` as JSON text; NULL when the key is absent."""
    return f"json_extract(metadata, {_json_path(key)})"


def _metadata_compare(key: str, op: str, value: str | int | float | bool) -> str:
    """A metadata value against a literal of its own type: strings as text (ordered by code
    point), numbers as numbers, booleans by ``=``/``!=``; a value of another type (or a list or
    an object) matches no comparison but ``!=`` and ``contains``."""
    target = json_value(key)
    is_text = f"starts_with({target}, '\"')"
    # the text itself from its JSON: quotes off, \" and \\ unescaped (Lance's SQL has neither
    # CASE nor a json_get_string that is safe on lists; control characters stay escaped). Both
    # sides of an AND are computed for every row, so the count is abs()'d: a one-character
    # non-text value (``1``) would make it -1, which Lance refuses for the whole query
    text = (
        f"replace(replace(substr({target}, 2, abs(length({target}) - 2)), '\\\"', '\"'), "
        "'\\\\', '\\')"
    )
    if op == "contains":
        if not isinstance(value, str):
            raise InvalidFilterError("contains needs a text value", field=key)
        needle = sql_literal(json.dumps(value, ensure_ascii=False))  # an element that is text
        element = f"json_array_contains(metadata, {_json_path(key)}, {needle})"
        part = f"({is_text} AND strpos({text}, {sql_literal(value)}) > 0)"
        return f"(coalesce({element}, FALSE) OR coalesce({part}, FALSE))"
    if op == "!=":
        equal = _metadata_compare(key, "=", value)
        return f"({_present(key)} AND NOT coalesce({equal}, FALSE))"
    if isinstance(value, bool):
        if op != "=":
            raise InvalidFilterError(f"{op} cannot compare booleans", field=key)
        return f"({target} = {sql_literal(json.dumps(value))})"
    if isinstance(value, str) and op == "=":  # json_extract writes text as json.dumps does
        return f"({target} = {sql_literal(json.dumps(value, ensure_ascii=False))})"
    if isinstance(value, str):
        return f"({is_text} AND {text} {_SQL_OPS[op]} {sql_literal(value)})"
    # try_cast: a key that holds text in some documents must not fail the query
    return f"(try_cast({target} AS DOUBLE) {_SQL_OPS[op]} {sql_literal(float(value))})"


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
        return _compile(equal, False, columns, typed)
    column, kind = _column(f.field, columns)
    present = [v for v in f.values if v is not None]
    for value in present:
        _check_type(f.field.name, kind, value)
    if kind is int:  # only the values the integer column can hold: page IN (1.5) fails Lance
        low, high = _INT_RANGES[f.field.name]
        numbers = [float(v) for v in present if isinstance(v, int | float)]
        present = [int(v) for v in numbers if v == math.floor(v) and low <= v <= high]
    parts = [f"{column} IN ({', '.join(sql_literal(v) for v in present)})"] if present else []
    if None in f.values:
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


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
