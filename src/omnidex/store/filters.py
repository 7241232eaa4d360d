"""Typed filters over documents: the AST every store compiles, and the parser for ``where`` strings.

Fields are document coordinates (``kind``, ``source``, ``object_id``, ``key``, ``page``,
``start_s``, ``end_s``, ``start_frame``, ``end_frame``), feature addresses of text or number
features (``ocr@v1/confidence``) and user metadata (``metadata.speaker``, or a bare name that is
none of the above, e.g. ``speaker``). Values are literals; nothing a user types reaches a store
unparsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scalar = str | int | float | bool | None
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "contains"]

DOCUMENT_FIELDS: dict[str, type] = {
    "id": str,
    "object_id": str,
    "kind": str,
    "key": str,
    "source": str,
    "page": int,
    "start_s": float,
    "end_s": float,
    "start_frame": int,
    "end_frame": int,
}


@dataclass(frozen=True)
class Field:
    """A document field, a feature address, or a metadata key (``metadata`` is True)."""

    name: str
    metadata: bool = False


@dataclass(frozen=True)
class Compare:
    field: Field
    op: CompareOp
    value: Scalar


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    item: Filter


Filter = Compare | In | And | Or | Not
