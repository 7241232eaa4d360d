"""Speech recognition with faster-whisper (Whisper on CTranslate2): timed words, language, VAD.

:class:`WhisperEngine` loads the model ``model`` names (:mod:`omnidex.models.whisper_weights`)
once per process per (resolved folder, device, compute type): int8 on the CPU, float16 on CUDA
unless ``compute_type`` says otherwise. Each clip is cut at pauses into windows of at most
``window_s`` seconds (:func:`~omnidex.models.speech.speech_windows`) and each window is decoded on
its own, so however long a clip is, the model sees one window's features at a time. Inside a window
faster-whisper's Silero voice-activity detector (shipped in the package, nothing to download)
drops silence and music before decoding, and word times come back in the window's own seconds;
they are made absolute here (clip offset + window start + time in the window, clamped to the
window). The language is the one given or, when none is, the one Whisper detects on the first
window that holds words, kept for the rest of the clip.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from omnidex.errors import ExtractionError, InvalidSpecError, MissingDependencyError
from omnidex.models.speech import (
    SAMPLE_RATE,
    TimedWord,
    Transcript,
    language_code,
    speech_windows,
)
from omnidex.models.whisper_weights import ctranslate2_folder

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

INSTALL_HINT = "install it with `pip install 'omnidex[whisper]'`"
_MIN_SPEECH = SAMPLE_RATE // 10
"""Clips shorter than 100 ms hold no word."""

_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Whisper's own schedule: a window whose decoding loops or is unsure is decoded again hotter."""

_MODELS: dict[tuple[str, str, str], WhisperModel] = {}
_LOADING = threading.Lock()


def _faster_whisper() -> Any:
    try:
        import faster_whisper
    except ImportError:
        raise MissingDependencyError(
            f"whisper transcription needs the faster-whisper package; {INSTALL_HINT}",
            dependency="faster-whisper",
        ) from None
    return faster_whisper


def default_device() -> str:
    """``cuda`` when CTranslate2 sees a GPU, else ``cpu``."""
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def load_whisper(model: str, device: str | None = None, compute_type: str = "auto") -> WhisperModel:
    """The faster-whisper model for ``model`` on ``device``, loaded once per process per
    resolved folder (``model`` is resolved on each call: a size names what the cache holds now)."""
    faster_whisper = _faster_whisper()
    device = device or default_device()
    if compute_type == "auto":
        compute_type = "float16" if device.startswith("cuda") else "int8"
    with _LOADING:
        folder = ctranslate2_folder(model)
        key = (str(folder), device, compute_type)
        if key not in _MODELS:
            kind, _, index = device.partition(":")
            _MODELS[key] = faster_whisper.WhisperModel(
                str(folder), device=kind, device_index=int(index or 0), compute_type=compute_type
            )
        return _MODELS[key]


class WhisperEngine:
    """Speech to timed words, a language and word confidences with a Whisper model."""

    name = "whisper"

    def __init__(
        self,
        model: str = "base",
        language: str | None = None,
        device: str | None = None,
        compute_type: str = "auto",
        vad: bool = True,
        beam_size: int = 5,
        temperature_fallback: bool = True,
        window_s: float = 30.0,
    ) -> None:
        self.model = model
        self.language = language_code(language)
        self.device = device
        self.compute_type = compute_type
        self.vad = vad
        self.beam_size = beam_size
        self.temperature_fallback = temperature_fallback
        self.window_s = window_s
        self._loaded: WhisperModel | None = None

    def _model(self) -> WhisperModel:
        if self._loaded is None:
            self._loaded = load_whisper(self.model, self.device, self.compute_type)
        return self._loaded

    def check(self) -> None:
        """Load the model; MissingDependencyError, ModelLoadError or InvalidSpecError when it
        cannot run here or does not know ``language``."""
        model = self._model()
        if self.language is not None and self.language not in model.supported_languages:
            raise InvalidSpecError(
                f"whisper model {self.model!r} does not know language {self.language!r}; "
                "leave language unset to detect it",
                field="params.language",
                language=self.language,
            )

    def transcribe(self, samples: np.ndarray, offset_s: float = 0.0) -> Transcript:
        """The words of 16 kHz mono float ``samples``, timed from ``offset_s``; no speech → none."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ExtractionError(
                f"speech transcription needs mono samples, got shape {samples.shape}"
            )
        language = self.language
        words: list[TimedWord] = []
        if samples.size >= _MIN_SPEECH:
            model = self._model()
            for start, end in speech_windows(samples, self.window_s):
                heard, detected = self._decode(
                    model, samples[start:end], offset_s + start / SAMPLE_RATE, language
                )
                if heard:
                    words += heard
                    language = language or detected
        return Transcript.from_words(words, language or "")

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        """The transcript of each ``(samples, offset_s)`` clip, one after another."""
        return [self.transcribe(samples, offset_s) for samples, offset_s in clips]

    def _decode(
        self, model: WhisperModel, window: np.ndarray, offset_s: float, language: str | None
    ) -> tuple[list[TimedWord], str]:
        """The words of one window with absolute times, and the language they were decoded in."""
        length_s = window.size / SAMPLE_RATE
        try:
            segments, info = model.transcribe(
                window,
                language=language,
                vad_filter=self.vad,
                word_timestamps=True,
                beam_size=self.beam_size,
                condition_on_previous_text=False,
                temperature=_FALLBACK_TEMPERATURES if self.temperature_fallback else 0.0,
            )
            found = [word for segment in segments for word in segment.words or ()]
        except (RuntimeError, ValueError) as exc:
            raise ExtractionError(f"whisper failed on a window of {length_s:.1f} s: {exc}") from exc
        words = []
        for word in found:
            text = word.word.strip()
            if not text:
                continue
            start = min(max(float(word.start), 0.0), length_s)
            end = min(max(float(word.end), start), length_s)
            words.append(
                TimedWord(
                    text=text,
                    start_s=round(offset_s + start, 3),
                    end_s=round(offset_s + end, 3),
                    confidence=round(min(max(float(word.probability), 0.0), 1.0), 3),
                )
            )
        return words, info.language
