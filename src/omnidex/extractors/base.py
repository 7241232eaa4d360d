"""The Extractor contract: a versioned, validated unit that turns segments into features.

An extractor is a class with a ``name``, a ``version``, a pydantic ``Params`` model that forbids
unknown fields, the segment kinds it ``accepts`` and the features it outputs. Its constructor is
cheap and only validates; models load in :meth:`Extractor.load`, which is idempotent. A call takes a
batch of segments and returns one feature dict per segment (an empty dict where it has nothing to
say about a segment).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from omnidex.errors import InvalidSpecError
from omnidex.types import FeatureColumn, FeatureSpec, Segment, SegmentKind, feature_address


class ExtractorParams(BaseModel):
    """Base of every extractor's ``Params``: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_engine_params(params: BaseModel, engine: str, owned: Mapping[str, set[str]]) -> None:
    """ValueError naming the params that were set but belong to an engine other than ``engine``.

    ``owned`` maps each engine to the params only it reads; params no engine owns are shared.
    """
    others = set().union(*(fields for name, fields in owned.items() if name != engine))
    if foreign := params.model_fields_set & (others - owned.get(engine, set())):
        raise ValueError(f"{', '.join(sorted(foreign))}: not a param of engine {engine!r}")


class Extractor(ABC):
    name: ClassVar[str]
    version: ClassVar[int]
    Params: ClassVar[type[ExtractorParams]] = ExtractorParams
    accepts: ClassVar[frozenset[SegmentKind]]
    batch_size: ClassVar[int] = 32
    from_stored: ClassVar[bool] = False
    """Whether it can run on segments rebuilt from stored documents (thumbnail, coordinates,
    earlier features; an image's source file): so it can be added to a filled collection
    without extracting again (:mod:`omnidex.pipeline.reembed`)."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        try:
            self.params = self.Params(**(params or {}))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or None
            raise InvalidSpecError(
                f"{self.ref}: bad params: {field + ': ' if field else ''}{error['msg']}",
                extractor=self.ref,
                field=f"params.{field}" if field else "params",
            ) from None

    @classmethod
    def reference(cls) -> str:
        return f"{cls.name}@v{cls.version}"

    @property
    def ref(self) -> str:
        return self.reference()

    @abstractmethod
    def features(self) -> list[FeatureSpec]:
        """The features this extractor outputs with its params (vector dims resolved)."""

    def columns(self) -> list[FeatureColumn]:
        return [
            FeatureColumn(address=feature_address(self.ref, f.name), **f.model_dump())
            for f in self.features()
        ]

    def bind(self, upstream: Sequence[FeatureColumn]) -> None:  # noqa: B027 - optional hook
        """Check references to features of extractors that run earlier; raise InvalidSpecError.

        Called once when a pipeline is planned, with the features of the extractors before it.
        """

    def preflight(self) -> None:  # noqa: B027 - optional hook
        """Raise InvalidSpecError for params this machine can already tell will fail (a
        language pack that is not installed…); cheap, loads no model.

        Called once when a collection is created or its spec changes, not when one is opened,
        so a collection stays readable when the machine changes.
        """

    def load(self) -> None:  # noqa: B027 - optional hook, a no-op for extractors without models
        """Load models or check programs; idempotent; may run in a worker."""

    def accepts_segment(self, segment: Segment) -> bool:
        return segment.kind in self.accepts

    @abstractmethod
    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        """One feature dict (feature name → value) per segment, in order."""
