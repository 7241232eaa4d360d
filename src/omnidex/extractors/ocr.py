"""``ocr@v1``: the text of images and scanned pages, with each word's box and confidence.

The OCR engine sits behind the small :class:`OcrEngine` interface; :data:`ENGINES` maps an
``engine`` param value to a factory, so adding an engine is one entry. Images are read in parallel
threads (each engine call may run a process), bounded by the CPU count, in segment order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field

from omnidex.errors import ExtractionError
from omnidex.extractors.base import Extractor, ExtractorParams
from omnidex.models.tesseract import OcrResult, TesseractEngine
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

if TYPE_CHECKING:
    from PIL import Image


class OcrEngine(Protocol):
    def check(self) -> None:
        """Raise MissingDependencyError when the engine cannot run here."""

    def read(self, image: Image.Image) -> OcrResult:
        """The words, text and mean confidence of one image."""


class OcrParams(ExtractorParams):
    engine: Literal["tesseract"] = "tesseract"
    languages: str = Field("eng", min_length=1, description="tesseract languages, e.g. eng+deu")
    psm: int = Field(3, ge=0, le=13, description="tesseract page segmentation mode")
    min_confidence: float = Field(0, ge=0, le=100, description="words below it are dropped")


ENGINES: dict[str, Callable[[OcrParams], OcrEngine]] = {
    "tesseract": lambda p: TesseractEngine(languages=p.languages, psm=p.psm),
}


class Ocr(Extractor):
    """Text, words (with boxes) and mean confidence of image and page segments."""

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
                name="words", type=FeatureType.JSON, description="[{text, conf, box: [x, y, w, h]}]"
            ),
            FeatureSpec(
                name="confidence",
                type=FeatureType.NUMBER,
                description="mean word confidence 0..100",
            ),
        ]

    def load(self) -> None:
        if not self._checked:
            self.engine.check()
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        workers = max(1, min(len(segments), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
            return list(pool.map(self._extract_one, segments))

    def _extract_one(self, segment: Segment) -> dict[str, Any]:
        if segment.image is None:
            return {}
        try:
            result = self.engine.read(segment.image())
        except ExtractionError as exc:
            exc.context.setdefault("extractor", self.ref)
            exc.context.setdefault("segment", segment.key)
            raise
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
