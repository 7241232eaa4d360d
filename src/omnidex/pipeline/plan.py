"""From a collection spec to a checked plan: extractor instances, their features, chunking.

Planning is where a spec is validated as a whole (Haystack-style: contracts are checked when the
pipeline is built, not when data first flows): each extractor's params, unique references, and
each extractor's references to the features of the extractors before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from omnidex.errors import InvalidSpecError
from omnidex.extractors import registry
from omnidex.extractors.base import Extractor
from omnidex.extractors.image_embedding import default_model_missing
from omnidex.types import (
    DEFAULT_EXTRACTORS,
    IMAGE_EXTRACTOR,
    CollectionSpec,
    ExtractorResources,
    ExtractorSpec,
    FeatureColumn,
    QueryEncoder,
    SegmentationSpec,
)

DEFAULT_CHUNKING = (256, 32)


@runtime_checkable
class ChunkingSource(Protocol):
    def text_chunking(self) -> tuple[int, int]: ...


@dataclass
class Plan:
    spec: CollectionSpec
    extractors: list[Extractor]
    features: list[FeatureColumn]
    chunking: tuple[int, int]

    @property
    def extractor_refs(self) -> list[str]:
        return [e.ref for e in self.extractors]

    def resources(self, index: int) -> ExtractorResources:
        return self.spec.extractors[index].resources

    def batch_size(self, index: int) -> int:
        """Segments per call of extractor ``index``: the spec's, else the extractor's own."""
        return self.resources(index).batch_size or self.extractors[index].batch_size

    def query_encoders(self) -> dict[str, QueryEncoder]:
        """Vector feature address → the extractor that embeds queries for it (of the kinds its
        ``query_kinds`` names)."""
        return {
            column.address: extractor
            for extractor in self.extractors
            if isinstance(extractor, QueryEncoder)
            for column in self.features
            if column.address.startswith(extractor.ref + "/") and column.dim
        }


def default_extractors() -> tuple[list[str], str | None]:
    """The default pipeline: :data:`DEFAULT_EXTRACTORS`, then :data:`IMAGE_EXTRACTOR` when its
    default model can be found here; with a one-line notice when it cannot."""
    notice = default_model_missing()
    return [*DEFAULT_EXTRACTORS, *([IMAGE_EXTRACTOR] if notice is None else [])], notice


def normalize_spec(
    extractors: list[str | dict[str, Any] | ExtractorSpec] | None,
    segmentation: SegmentationSpec | dict[str, Any] | None = None,
) -> CollectionSpec:
    """Accept ``"ocr@v1"``, ``{"name": "ocr@v1", "params": {…}}`` or ExtractorSpec items, and
    segmentation options as a dict or a SegmentationSpec."""
    items = list(extractors) if extractors is not None else default_extractors()[0]
    specs: list[ExtractorSpec] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, ExtractorSpec):
                specs.append(item)
            elif isinstance(item, str):
                specs.append(ExtractorSpec(name=item))
            else:
                specs.append(ExtractorSpec.model_validate(item))
        except ValueError as exc:
            raise InvalidSpecError(
                f"extractors[{index}]: {_first_error(exc)}", field=f"extractors[{index}]"
            ) from None
    if not specs:
        raise InvalidSpecError("a collection needs at least one extractor", field="extractors")
    try:
        cut = SegmentationSpec.model_validate(segmentation or {})
    except ValueError as exc:
        message = _first_error(exc)
        field = message.split(":")[0] if ":" in message else ""
        raise InvalidSpecError(
            f"segmentation: {message}", field=f"segmentation.{field}".rstrip(".")
        ) from None
    return CollectionSpec(extractors=specs, segmentation=cut)


def build_plan(spec: CollectionSpec, features: list[FeatureColumn] | None = None) -> Plan:
    """Instantiate and check every extractor. ``features`` are the stored columns of an existing
    collection (so nothing loads); when None the spec is new: they are computed (a model may
    load for its dim) and each extractor's :meth:`~Extractor.preflight` runs."""
    extractors: list[Extractor] = []
    upstream: list[FeatureColumn] = []
    for index, item in enumerate(spec.extractors):
        extractor = registry.create(item, index=index)
        if extractor.ref in (e.ref for e in extractors):
            raise InvalidSpecError(
                f"extractors[{index}]: {extractor.ref} appears twice", field=f"extractors[{index}]"
            )
        try:
            extractor.bind(upstream)
            if features is None:
                extractor.preflight()
        except InvalidSpecError as exc:
            raise InvalidSpecError(
                f"extractors[{index}] ({extractor.ref}): {exc.message}",
                **{**exc.context, "field": f"extractors[{index}].{exc.context.get('field', '')}"},
            ) from None
        if features is None:
            upstream.extend(extractor.columns())
        else:
            upstream.extend(c for c in features if c.address.startswith(extractor.ref + "/"))
        extractors.append(extractor)
    return Plan(spec, extractors, upstream, _chunking(extractors))


def _chunking(extractors: list[Extractor]) -> tuple[int, int]:
    for extractor in extractors:
        if isinstance(extractor, ChunkingSource):
            return extractor.text_chunking()
    return DEFAULT_CHUNKING


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        location = ".".join(str(p) for p in first["loc"])
        return f"{location}: {first['msg']}" if location else str(first["msg"])
    return str(exc)
