"""``transcription@v1``: what is said in scenes and audio spans, with each word's time.

The speech engine sits behind the small :class:`SpeechEngine` interface; :data:`ENGINES` maps an
``engine`` param value to a factory, so adding an engine is one entry. Word times are absolute in
the source: the segment's ``start_s`` plus the time inside the segment. Segments are transcribed one
after another, in order: pocketsphinx holds the GIL while it decodes, so threads would not help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field

from omnidex.errors import OmnidexError
from omnidex.extractors.base import Extractor, ExtractorParams
from omnidex.models.pocketsphinx_asr import PocketsphinxEngine, Transcript
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

if TYPE_CHECKING:
    import numpy as np


class SpeechEngine(Protocol):
    def check(self) -> None:
        """Raise MissingDependencyError when the engine cannot run here."""

    def transcribe(self, samples: np.ndarray, offset_s: float = 0.0) -> Transcript:
        """The timed words of 16 kHz mono float samples, times counted from ``offset_s``."""


class TranscriptionParams(ExtractorParams):
    engine: Literal["pocketsphinx"] = "pocketsphinx"
    language: str = Field(
        "en-us",
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="language of the speech as a code (en-us), as the engine names it",
    )


ENGINES: dict[str, Callable[[TranscriptionParams], SpeechEngine]] = {
    "pocketsphinx": lambda p: PocketsphinxEngine(language=p.language),
}


class Transcription(Extractor):
    """The transcript and timed words of scene and audio segments."""

    name = "transcription"
    version = 1
    Params = TranscriptionParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"scene", "audio"})
    batch_size = 4
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
                description="[{text, start_s, end_s}], seconds from the start of the source",
            ),
        ]

    def load(self) -> None:
        if not self._checked:
            self.engine.check()
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        return [self._extract_one(segment) for segment in segments]

    def _extract_one(self, segment: Segment) -> dict[str, Any]:
        samples = segment.audio() if segment.audio is not None else None
        if samples is None or samples.size == 0:
            return {}
        try:
            transcript = self.engine.transcribe(samples, offset_s=segment.start_s or 0.0)
        except OmnidexError as exc:
            exc.context.setdefault("extractor", self.ref)
            exc.context.setdefault("segment", segment.key)
            raise
        if not transcript.words:
            return {}
        return {"text": transcript.text, "words": [w.to_dict() for w in transcript.words]}
