"""Evaluate the filter AST of :mod:`omnidex.store.filters` on a document in memory.

Retrieval applies a filter this way once candidates are in hand (a filter stage after a search);
before a search the same filter is compiled into the store's query instead
(:mod:`omnidex.store.filter_sql`). Both read a filter the same way, which
the store conformance suite checks against the store itself:

- a missing value (an absent field, feature or metadata key, or null) matches no comparison but
  ``= null``, and ``not`` of a comparison it fails matches;
- metadata numbers compare as numbers (a text value never matches ``<`` a number), strings and
  booleans exactly; ``contains`` on metadata matches an element of a list or a part of a string;
- ``contains`` on a field matches a part of its text.
"""

from __future__ import annotations

import json
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
    if f.field.metadata:
        return _metadata_compare(f.op, value, f.value)
    if f.op == "contains":
        return isinstance(value, str) and isinstance(f.value, str) and f.value in value
    return _plain_compare(f.op, value, f.value)


def _value(f: Compare, document: Document) -> tuple[bool, Any]:
    name = f.field.name
    if f.field.metadata:
        return name in document.metadata, document.metadata.get(name)
    if name in DOCUMENT_FIELDS:
        return True, getattr(document, name)
    return name in document.features, document.features.get(name)


def _plain_compare(op: str, value: Any, wanted: Scalar) -> bool:
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    try:
        return bool(_ORDER[op](value, wanted))
    except TypeError:
        return False


def _metadata_compare(op: str, value: Any, wanted: Scalar) -> bool:
    """As the SQL compiler reads JSON metadata: numbers by value, everything else as JSON text."""
    if op == "contains":
        if isinstance(value, list):
            return wanted in value
        return isinstance(wanted, str) and wanted in (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
    if isinstance(wanted, bool | str):
        text = json.dumps(value, ensure_ascii=False)
        target = json.dumps(wanted, ensure_ascii=False)
        return _plain_compare(op, text, target)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _plain_compare(op, value, wanted)
