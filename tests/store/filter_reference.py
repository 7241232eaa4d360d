"""What a filter means, in plain Python over documents: the oracle the property tests hold the
store's SQL and the in-memory matcher to (docs/search.md, "Filters").

Written from the grammar's meaning, not from either implementation: a missing value (absent or
null) fails every comparison but ``= null``; a value compares with a literal of its own type
(numbers as doubles, text by code point, booleans by equality); another type fails all but
``!=``; ``contains`` is a part of a text or a text element of a list; logic is two-valued.
"""

from __future__ import annotations

from typing import Any

from omnidex.store.filters import DOCUMENT_FIELDS, And, Compare, Filter, In, Not, Or
from omnidex.types import Document

MISSING = object()


def value_of(document: Document, compare: Compare | In) -> Any:
    name = compare.field.name
    if compare.field.metadata:
        found = document.metadata.get(name, MISSING)
    elif name in DOCUMENT_FIELDS:
        found = getattr(document, name)
    else:
        found = document.features.get(name, MISSING)
    return MISSING if found is None else found


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) else "other"


def holds(f: Filter, document: Document) -> bool:
    if isinstance(f, And):
        return all(holds(item, document) for item in f.items)
    if isinstance(f, Or):
        return any(holds(item, document) for item in f.items)
    if isinstance(f, Not):
        return not holds(f.item, document)
    if isinstance(f, In):
        return any(holds(Compare(f.field, "=", v), document) for v in f.values)
    value, wanted = value_of(document, f), f.value
    if wanted is None:
        return (value is MISSING) == (f.op == "=")
    if value is MISSING:
        return False
    if f.op == "contains":
        if isinstance(value, list):
            return wanted in [item for item in value if isinstance(item, str)]
        return isinstance(value, str) and wanted in value
    same = kind(value) == kind(wanted) != "other"
    a, b = (float(value), float(wanted)) if same and kind(value) == "number" else (value, wanted)
    if f.op == "=":
        return same and a == b
    if f.op == "!=":
        return not (same and a == b)
    if not same:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[f.op]
