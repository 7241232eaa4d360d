"""The limits user metadata must respect before it is stored with an object.

Every top-level metadata key can become a typed column of its collection's table
(:mod:`omnidex.store.lance_metadata`), so metadata is the cheapest way to make a collection
expensive: thousands of keys in one small upload mean thousands of columns. :func:`check_metadata`
refuses, with a :class:`~omnidex.errors.LimitExceededError` naming the limit, metadata with more
than ``max_metadata_keys`` top-level keys, a key longer than ``max_metadata_key_chars`` (at any
depth), more than ``max_metadata_bytes`` as JSON, or objects and lists nested deeper than
``max_metadata_depth``. The server checks before it accepts an ingest, the embedded API before it
starts one; the store caps the columns of a whole collection (``max_metadata_columns``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from omnidex.config import Limits
from omnidex.errors import InvalidSpecError, LimitExceededError


def check_metadata(metadata: Mapping[str, Any], limits: Limits) -> None:
    """LimitExceededError (``field="metadata"``, ``limit`` the one exceeded) unless ``metadata``
    is within ``limits``; InvalidSpecError when it is not JSON."""
    if len(metadata) > limits.max_metadata_keys:
        raise _over(
            f"{len(metadata)} keys, over the limit of {limits.max_metadata_keys}",
            "max_metadata_keys",
        )
    _check_nested(metadata, limits, 1)
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"metadata is not JSON: {exc}", field="metadata") from None
    if size > limits.max_metadata_bytes:
        raise _over(
            f"{size} bytes as JSON, over the limit of {limits.max_metadata_bytes}",
            "max_metadata_bytes",
        )


def _check_nested(value: Any, limits: Limits, depth: int) -> None:
    """Depth and key lengths, without recursing past the depth limit."""
    if not isinstance(value, dict | list):
        return
    if depth > limits.max_metadata_depth:
        raise _over(f"nested deeper than {limits.max_metadata_depth} levels", "max_metadata_depth")
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict):
        for key in value:
            if len(str(key)) > limits.max_metadata_key_chars:
                raise _over(
                    f"key {str(key)[:40]!r}… is {len(str(key))} characters, over the limit "
                    f"of {limits.max_metadata_key_chars}",
                    "max_metadata_key_chars",
                )
    for child in children:
        _check_nested(child, limits, depth + 1)


def _over(what: str, limit: str) -> LimitExceededError:
    return LimitExceededError(f"metadata: {what} ({limit})", field="metadata", limit=limit)
