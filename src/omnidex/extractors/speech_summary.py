"""``speech_summary@v1``: a summary of what is said in long audio, by Phi-4-multimodal.

Meant for long spans — a whole meeting cut with ``segmentation: {split: time, window_s: 1800}``,
or a podcast — where a transcript is too long to read. Phi-4-multimodal summarizes up to 30
minutes of audio in one request; longer spans are summarized per window and the window summaries
merged by the language model (:func:`~omnidex.models.phi4mm_tasks.summarize_speech`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field

from omnidex.extractors.base import Extractor
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.models.phi4mm_tasks import (
    MAX_SUMMARY_WINDOW_S,
    SUMMARY_INSTRUCTION,
    summarize_speech,
)
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind


class SpeechSummaryParams(Phi4Options):
    prompt: str = Field(SUMMARY_INSTRUCTION, min_length=1, max_length=4000)
    max_new_tokens: int = Field(512, ge=1, le=4096, description="longest summary, in tokens")
    max_window_s: float = Field(
        MAX_SUMMARY_WINDOW_S,
        ge=10,
        le=MAX_SUMMARY_WINDOW_S,
        description="audio per request; longer spans are summarized per window, then merged",
    )


class SpeechSummary(Extractor):
    """A summary of the speech of each audio span and scene."""

    name = "speech_summary"
    version = 1
    Params = SpeechSummaryParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"audio", "scene"})
    batch_size = 4
    params: SpeechSummaryParams

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._generator = functools.partial(generator_for, self.params)
        self._checked = False

    def features(self) -> list[FeatureSpec]:
        return [FeatureSpec(name="summary", type=FeatureType.TEXT, description="what is said")]

    def load(self) -> None:
        if not self._checked:
            self._generator().check(["speech"])
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        heard = [(n, s.audio()) for n, s in enumerate(segments) if s.audio is not None]
        summaries = summarize_speech(
            self._generator(),
            [samples for _, samples in heard],
            instruction=self.params.prompt,
            max_new_tokens=self.params.max_new_tokens,
            max_window_s=self.params.max_window_s,
        )
        features: list[dict[str, Any]] = [{} for _ in segments]
        for (number, _), summary in zip(heard, summaries, strict=True):
            if summary:
                features[number] = {"summary": summary}
        return features
