"""User metadata of objects: checked to be JSON, and changed by merging keys in and removing keys.

The embedded API and the remote client check a change the same way, so both raise the same error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from omnidex.errors import InvalidSpecError


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
