"""User metadata of objects: the limits it must respect before it is stored, and changes to it
(merging keys in, removing keys).

Every top-level metadata key can become a typed column of its collection's table
(:mod:`omnidex.store.lance_metadata`), so metadata is the cheapest way to make a collection
expensive: thousands of keys in one small upload mean thousands of columns. :func:`check_metadata`
refuses, with a :class:`~omnidex.errors.LimitExceededError` naming the limit, metadata with more
than ``max_metadata_keys`` top-level keys, a key longer than ``max_metadata_key_chars`` (at any
depth), more than ``max_metadata_bytes`` as JSON, or objects and lists nested deeper than
``max_metadata_depth``. The server checks before it accepts an ingest, the embedded API before it
starts one or changes an object's metadata; the store caps the columns of a whole collection
(``max_metadata_columns``). The embedded API and the remote client check a change the same way
(:func:`check_change`), so both raise the same error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def as_json(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` as the JSON object it will be stored as; InvalidSpecError if it is not one."""
    try:
        loaded = json.loads(json.dumps(dict(metadata or {}), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"metadata is not JSON: {exc}", field="metadata") from None
    return dict(loaded)


def check_change(metadata: Mapping[str, Any] | None, remove: Sequence[str]) -> dict[str, Any]:
    """The keys to set, as JSON, once checked against the keys to remove."""
    given = as_json(metadata)
    both = sorted(set(given) & set(remove))
    if both:
        raise InvalidSpecError(f"metadata key {both[0]!r} is both set and removed", field="remove")
    if not given and not remove:
        raise InvalidSpecError("give metadata to set or keys to remove", field="metadata")
    return given


def merge_metadata(
    current: Mapping[str, Any], given: Mapping[str, Any], remove: Sequence[str]
) -> dict[str, Any]:
    """``current`` with ``given``'s keys set (checked by :func:`check_change`) and ``remove``'s
    keys gone."""
    gone = set(remove)
    merged = {key: value for key, value in current.items() if key not in gone}
    merged.update(given)
    return merged
