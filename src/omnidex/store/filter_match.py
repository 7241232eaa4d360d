"""Evaluate the filter AST of :mod:`omnidex.store.filters` on a document in memory.

Retrieval applies a filter this way once candidates are in hand (a filter stage after a search);
before a search the same filter is compiled into the store's query instead
(:mod:`omnidex.store.filter_sql`). Both read a filter the same way, which
the store conformance suite checks against the store itself:

- a missing value (an absent field, feature or metadata key, or null) matches no comparison but
  ``= null``, and ``not`` of a comparison it fails matches;
- a value compares with a literal of its own type: numbers as numbers (double precision, so
  ``page < 1.5`` holds for page 1), text as text (by code point), booleans by ``=``/``!=``; a
  value of another type (text against a number, a list, an object) fails every comparison but
  ``!=``, which holds for any value there is that does not equal the literal;
- ``contains`` matches a part of a text value, or an element of a list that is that text;
- ``in (…)`` is ``=`` with any of its values; ``and``, ``or`` and ``not`` are two-valued.
"""

from __future__ import annotations

from typing import Any

from omnidex.errors import InvalidFilterError
from omnidex.store.filters import DOCUMENT_FIELDS, And, Compare, Filter, In, Not, Or, Scalar
from omnidex.types import Document

_ORDER = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(f: Filter, document: Document) -> bool:
    """Whether ``document`` passes ``f``."""
    if isinstance(f, Compare):
        return _compare(f, document)
    if isinstance(f, In):
        return any(_compare(Compare(f.field, "=", value), document) for value in f.values)
    if isinstance(f, And):
        return all(matches(item, document) for item in f.items)
    if isinstance(f, Or):
        return any(matches(item, document) for item in f.items)
    if isinstance(f, Not):
        return not matches(f.item, document)
    raise InvalidFilterError(f"unsupported filter node {type(f).__name__}")


def _compare(f: Compare, document: Document) -> bool:
    present, value = _value(f, document)
    if f.value is None:
        missing = not present or value is None
        return missing if f.op == "=" else not missing
    if not present or value is None:
        return False
    if f.op == "contains":
        if isinstance(value, list):
            return any(isinstance(item, str) and item == f.value for item in value)
        return isinstance(value, str) and isinstance(f.value, str) and f.value in value
    if f.op == "!=":
        return not _equal(value, f.value)
    if f.op == "=":
        return _equal(value, f.value)
    if _number(value) and _number(f.value):
        return bool(_ORDER[f.op](float(value), float(f.value)))
    if isinstance(value, str) and isinstance(f.value, str):
        return bool(_ORDER[f.op](value, f.value))
    return False


def _value(f: Compare, document: Document) -> tuple[bool, Any]:
    name = f.field.name
    if f.field.metadata:
        return name in document.metadata, document.metadata.get(name)
    if name in DOCUMENT_FIELDS:
        return True, getattr(document, name)
    return name in document.features, document.features.get(name)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(value: Any, wanted: Scalar) -> bool:
    if _number(value) and _number(wanted):
        return float(value) == float(wanted)  # type: ignore[arg-type]
    if isinstance(value, bool) and isinstance(wanted, bool):
        return value == wanted
    return isinstance(value, str) and isinstance(wanted, str) and value == wanted
