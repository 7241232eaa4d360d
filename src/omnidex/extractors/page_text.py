"""``page_text@v1``: the text of text-file chunks and PDF text layers, as a full-text feature.

The text segmenter has already cut the chunks; this extractor's params say how (``chunk_tokens``,
``chunk_overlap``), because that is where a user looks for them, and the pipeline planner reads them
back with :meth:`PageText.text_chunking` to configure the segmenter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from omnidex.extractors.base import Extractor, ExtractorParams
from omnidex.media.text import normalize_whitespace
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind


class PageTextParams(ExtractorParams):
    chunk_tokens: int = Field(256, ge=16, le=4096, description="tokens per text chunk")
    chunk_overlap: int = Field(32, ge=0, description="tokens shared by consecutive chunks")

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> PageTextParams:
        if self.chunk_overlap >= self.chunk_tokens:
            message = "chunk_overlap ({overlap}) must be smaller than chunk_tokens ({tokens})"
            detail = InitErrorDetails(
                type=PydanticCustomError(
                    "overlap_too_large",
                    message,
                    {"overlap": self.chunk_overlap, "tokens": self.chunk_tokens},
                ),
                loc=("chunk_overlap",),
                input=self.chunk_overlap,
            )
            raise ValidationError.from_exception_data(type(self).__name__, [detail])
        return self


class PageText(Extractor):
    """The text of a text segment, whitespace normalized."""

    name = "page_text"
    version = 1
    Params = PageTextParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"text"})
    batch_size = 256
    params: PageTextParams

    def features(self) -> list[FeatureSpec]:
        return [FeatureSpec(name="text", type=FeatureType.TEXT, description="the segment's text")]

    def text_chunking(self) -> tuple[int, int]:
        """``(chunk_tokens, chunk_overlap)``, for the text segmenter."""
        return self.params.chunk_tokens, self.params.chunk_overlap

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for segment in segments:
            text = normalize_whitespace(segment.text or "")
            results.append({"text": text} if text else {})
        return results
