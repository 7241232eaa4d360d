"""``transcription@v1``: what is said in scenes and audio spans, with each word's time.

The speech engine sits behind the small :class:`SpeechEngine` interface; :data:`ENGINES` maps an
``engine`` param value to a factory, so adding an engine is one entry:

- ``pocketsphinx`` (default): offline, on the CPU, a time for every word;
- ``phi4mm``: Phi-4-multimodal's speech adapter, in process or served (:class:`Phi4Options`),
  far more accurate; it gives no word times, so ``words`` holds one entry per ≤ 30 s window.

Times are absolute in the source: the segment's ``start_s`` plus the time inside the segment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Self

from pydantic import Field, model_validator

from omnidex.errors import OmnidexError
from omnidex.extractors.base import Extractor, check_engine_params
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.models.phi4mm_tasks import Phi4SpeechEngine
from omnidex.models.pocketsphinx_asr import PocketsphinxEngine
from omnidex.models.speech import Transcript
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

if TYPE_CHECKING:
    import numpy as np


class SpeechEngine(Protocol):
    def check(self) -> None:
        """Raise MissingDependencyError (or ModelLoadError) when the engine cannot run here."""

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        """The timed words of each clip of 16 kHz mono float samples, times from its offset."""
        ...


ENGINE_PARAMS = {"phi4mm": {*Phi4Options.model_fields, "max_new_tokens"}}


class TranscriptionParams(Phi4Options):
    engine: Literal["pocketsphinx", "phi4mm"] = "pocketsphinx"
    language: str = Field(
        "en-us",
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="language of the speech as a code (en-us), as the engine names it",
    )
    max_new_tokens: int = Field(512, ge=1, le=4096, description="per 30 s window (phi4mm)")

    @model_validator(mode="after")
    def _params_of_the_engine(self) -> Self:
        check_engine_params(self, self.engine, ENGINE_PARAMS)
        return self


ENGINES: dict[str, Callable[[TranscriptionParams], SpeechEngine]] = {
    "pocketsphinx": lambda p: PocketsphinxEngine(language=p.language),
    "phi4mm": lambda p: Phi4SpeechEngine(
        functools.partial(generator_for, p), language=p.language, max_new_tokens=p.max_new_tokens
    ),
}


class Transcription(Extractor):
    """The transcript and timed words of scene and audio segments."""

    name = "transcription"
    version = 1
    Params = TranscriptionParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"scene", "audio"})
    batch_size = 16
    params: TranscriptionParams

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.engine = ENGINES[self.params.engine](self.params)
        self._checked = False

    def features(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(name="text", type=FeatureType.TEXT, description="what is said"),
            FeatureSpec(
                name="words",
                type=FeatureType.JSON,
                description="[{text, start_s, end_s}], seconds from the start of the source "
                "(phi4mm: one entry per window of up to 30 s)",
            ),
        ]

    def load(self) -> None:
        if not self._checked:
            self.engine.check()
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        heard = [
            (number, samples, segment.start_s or 0.0)
            for number, segment in enumerate(segments)
            if segment.audio is not None and (samples := segment.audio()).size
        ]
        try:
            transcripts = self.engine.transcribe_many([(s, offset) for _, s, offset in heard])
        except OmnidexError as exc:
            exc.context.setdefault("extractor", self.ref)
            if len(heard) == 1:
                exc.context.setdefault("segment", segments[heard[0][0]].key)
            raise
        features: list[dict[str, Any]] = [{} for _ in segments]
        for (number, _, _), transcript in zip(heard, transcripts, strict=True):
            if transcript.words:
                features[number] = {
                    "text": transcript.text,
                    "words": [w.to_dict() for w in transcript.words],
                }
        return features
