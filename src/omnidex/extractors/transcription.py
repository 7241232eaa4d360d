"""``transcription@v1``: what is said in scenes and audio spans, with each word's time.

The speech engine sits behind the small :class:`~omnidex.models.speech.SpeechEngine` interface;
:data:`ENGINES` maps an ``engine`` param value to a factory, so adding an engine is one entry:

- ``auto`` (default): ``whisper`` when its model resolves and loads, else ``pocketsphinx``, with
  a warning that says why (:class:`~omnidex.models.speech_choice.PreferredEngine`);
- ``whisper``: faster-whisper on CTranslate2 (CPU int8, CUDA float16), voice-activity detection,
  a time and a confidence for every word, the language detected or given;
- ``pocketsphinx``: offline, on the CPU, a time for every word, English by default;
- ``phi4mm``: Phi-4-multimodal's speech adapter, in process or served (:class:`Phi4Options`),
  for GPUs; it gives no word times, so ``words`` holds one entry per ≤ 30 s window.

Times are absolute in the source: the segment's ``start_s`` plus the time inside the segment.
Every transcribed document records its ``language`` (a code such as ``en``), its ``confidence``
(the mean word confidence) and the ``engine`` that ran, all three filterable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from omnidex.errors import OmnidexError
from omnidex.extractors.base import Extractor, check_engine_params
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.models.phi4mm_tasks import Phi4SpeechEngine
from omnidex.models.pocketsphinx_asr import PocketsphinxEngine
from omnidex.models.speech import SpeechEngine, language_code
from omnidex.models.speech_choice import PreferredEngine
from omnidex.models.whisper_asr import WhisperEngine
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

WHISPER_PARAMS = {"model", "compute_type", "vad", "beam_size", "temperature_fallback", "device"}
ENGINE_PARAMS = {
    "phi4mm": {*Phi4Options.model_fields, "max_new_tokens"},
    "whisper": WHISPER_PARAMS,
    "auto": WHISPER_PARAMS,
}


class TranscriptionParams(Phi4Options):
    engine: Literal["auto", "whisper", "pocketsphinx", "phi4mm"] = Field(
        "auto", description="auto: whisper when its model resolves, else pocketsphinx"
    )
    language: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="language of the speech as a code (en, en-us); unset: whisper detects it, "
        "pocketsphinx and phi4mm take en-us",
    )
    model: str = Field(
        "base",
        min_length=1,
        description="whisper: a size (tiny, base, small, medium, large-v3, turbo), a hub id or a "
        "local folder (CTranslate2 or transformers format)",
    )
    compute_type: str = Field(
        "auto",
        pattern=r"^[a-z0-9_]+$",
        description="whisper: auto (int8 on CPU, float16 on CUDA) or a CTranslate2 compute type",
    )
    vad: bool = Field(True, description="whisper: skip silence and music (Silero VAD)")
    beam_size: int = Field(5, ge=1, le=16, description="whisper: beam search width")
    temperature_fallback: bool = Field(
        True, description="whisper: decode a window again, hotter, when it loops or is unsure"
    )
    max_new_tokens: int = Field(512, ge=1, le=4096, description="per 30 s window (phi4mm)")

    @model_validator(mode="after")
    def _params_of_the_engine(self) -> Self:
        check_engine_params(self, self.engine, ENGINE_PARAMS)
        return self


def _whisper(p: TranscriptionParams) -> WhisperEngine:
    return WhisperEngine(
        model=p.model,
        language=p.language,
        device=p.device,
        compute_type=p.compute_type,
        vad=p.vad,
        beam_size=p.beam_size,
        temperature_fallback=p.temperature_fallback,
    )


def _pocketsphinx(p: TranscriptionParams) -> PocketsphinxEngine:
    return PocketsphinxEngine(language=p.language or "en-us")


ENGINES: dict[str, Callable[[TranscriptionParams], SpeechEngine]] = {
    "auto": lambda p: PreferredEngine(_whisper(p), _pocketsphinx(p)),
    "whisper": _whisper,
    "pocketsphinx": _pocketsphinx,
    "phi4mm": lambda p: Phi4SpeechEngine(
        functools.partial(generator_for, p),
        language=p.language or "en-us",
        max_new_tokens=p.max_new_tokens,
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
                description="[{text, start_s, end_s, confidence}], seconds from the start of the "
                "source (phi4mm: one entry per window of up to 30 s, no confidence)",
            ),
            FeatureSpec(
                name="language",
                type=FeatureType.LABEL,
                description="the language spoken, as a code (en, fr): detected or given",
            ),
            FeatureSpec(
                name="confidence",
                type=FeatureType.NUMBER,
                description="mean word confidence 0..1 (none from phi4mm)",
            ),
            FeatureSpec(
                name="engine",
                type=FeatureType.LABEL,
                description="the engine that transcribed it (whisper, pocketsphinx, phi4mm)",
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
                    "language": language_code(transcript.language),
                    "confidence": transcript.confidence,
                    "engine": self.engine.name,
                }
        return features
