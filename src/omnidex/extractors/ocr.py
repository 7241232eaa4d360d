"""``ocr@v1``: the text of images, scanned pages and slides in scenes.

The OCR engine sits behind the small :class:`OcrEngine` interface; :data:`ENGINES` maps an
``engine`` param value to a factory, so adding an engine is one entry:

- ``tesseract`` (default): the tesseract program, each word with its box and confidence;
- ``phi4mm``: Phi-4-multimodal's vision adapter, in process or served (:class:`Phi4Options`); it
  reads slides, handwriting and layouts tesseract cannot, and gives text only (no boxes).

A batch of segments is read in one engine call: tesseract runs one process per CPU, Phi-4 one
batched generation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Self

from pydantic import Field, model_validator

from omnidex.errors import ExtractionError, InvalidSpecError, MissingDependencyError
from omnidex.extractors.base import Extractor, check_engine_params
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.models.phi4mm_tasks import Phi4OcrEngine
from omnidex.models.tesseract import OcrResult, TesseractEngine, missing_languages_message
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

if TYPE_CHECKING:
    from PIL import Image

ENGINE_PARAMS = {
    "tesseract": {"languages", "psm", "min_confidence"},
    "phi4mm": {*Phi4Options.model_fields, "max_side", "max_crops", "max_new_tokens"},
}


class OcrEngine(Protocol):
    def check(self) -> None:
        """Raise MissingDependencyError (or ModelLoadError) when the engine cannot run here."""

    def read_many(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        """The text (and, where the engine has them, words and confidence) of each image."""
        ...


class OcrParams(Phi4Options):
    engine: Literal["tesseract", "phi4mm"] = "tesseract"
    languages: str = Field(
        "eng",
        pattern=r"^[\w/-]+(\+[\w/-]+)*$",
        description="tesseract languages, e.g. eng+deu",
    )
    psm: int = Field(3, ge=0, le=13, description="tesseract page segmentation mode")
    min_confidence: float = Field(0, ge=0, le=100, description="words below it are dropped")
    max_side: int = Field(1792, ge=224, le=8192, description="phi4mm: longest image side, px")
    max_crops: int = Field(16, ge=1, le=64, description="phi4mm: HD crops per image at most")
    max_new_tokens: int = Field(1024, ge=1, le=8192, description="phi4mm: longest text read")

    @model_validator(mode="after")
    def _params_of_the_engine(self) -> Self:
        check_engine_params(self, self.engine, ENGINE_PARAMS)
        return self


ENGINES: dict[str, Callable[[OcrParams], OcrEngine]] = {
    "tesseract": lambda p: TesseractEngine(languages=p.languages, psm=p.psm),
    "phi4mm": lambda p: Phi4OcrEngine(
        functools.partial(generator_for, p),
        max_side=p.max_side,
        max_crops=p.max_crops,
        max_new_tokens=p.max_new_tokens,
    ),
}


class Ocr(Extractor):
    """Text of image, page and scene segments; with tesseract also words, boxes and confidence."""

    name = "ocr"
    version = 1
    Params = OcrParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"image", "page", "scene"})
    batch_size = 8
    params: OcrParams

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.engine = ENGINES[self.params.engine](self.params)
        self._checked = False

    def features(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(name="text", type=FeatureType.TEXT, description="the text read"),
            FeatureSpec(
                name="words",
                type=FeatureType.JSON,
                description="[{text, conf, box: [x, y, w, h]}] (tesseract only)",
            ),
            FeatureSpec(
                name="confidence",
                type=FeatureType.NUMBER,
                description="mean word confidence 0..100 (tesseract only)",
            ),
        ]

    def preflight(self) -> None:
        """A tesseract language pack that tesseract here lacks is refused at once; nothing is
        said where tesseract itself is absent (ingest may run on other machines)."""
        if not isinstance(self.engine, TesseractEngine):
            return
        try:
            missing = self.engine.missing_languages()
        except MissingDependencyError:
            return
        if missing:
            raise InvalidSpecError(
                missing_languages_message(missing), field="params.languages", languages=missing
            )

    def load(self) -> None:
        if not self._checked:
            self.engine.check()
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        seen = [(n, segment.image()) for n, segment in enumerate(segments) if segment.image]
        try:
            results = self.engine.read_many([image for _, image in seen])
        except ExtractionError as exc:
            exc.context.setdefault("extractor", self.ref)
            raise
        features: list[dict[str, Any]] = [{} for _ in segments]
        for (number, _), result in zip(seen, results, strict=True):
            features[number] = self._features(result)
        return features

    def _features(self, result: OcrResult) -> dict[str, Any]:
        if not result.words:
            return {"text": result.text} if result.text.strip() else {}
        words = [w for w in result.words if w.conf >= self.params.min_confidence]
        if len(words) != len(result.words):
            result = OcrResult.from_words(words)
        if not result.text.strip():
            return {}
        return {
            "text": result.text,
            "words": [w.to_dict() for w in result.words],
            "confidence": result.confidence,
        }
