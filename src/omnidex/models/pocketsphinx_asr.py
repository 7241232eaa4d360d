"""Offline speech recognition with pocketsphinx: timed words from 16 kHz mono samples.

:class:`PocketsphinxEngine` cuts long audio into windows of at most ``max_window_s`` seconds at
quiet points (:func:`split_windows`), decodes each window as one utterance with the acoustic model,
language model and dictionary pocketsphinx ships for ``language`` (``en-us`` is bundled), and keeps
word times absolute: ``offset_s`` + the window's start + the decoder's frame / 100.

Creating a decoder loads the model (about 0.3 s) and a decoder is not thread-safe, so each thread
keeps one decoder per language for the life of the process. pocketsphinx holds the GIL while it
decodes: running engines in threads does not add throughput, only processes do.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from omnidex.errors import ExtractionError, MissingDependencyError, ModelLoadError
from omnidex.models.speech import (
    FRAMES_PER_S,
    SAMPLE_RATE,
    TimedWord,
    Transcript,
    speech_windows,
)

if TYPE_CHECKING:
    from pocketsphinx import Decoder

INSTALL_HINT = "install it with `pip install 'omnidex[video]'`"

_MIN_SPEECH = SAMPLE_RATE // 10
"""Windows shorter than 100 ms hold no word; the decoder cannot even start an utterance on them."""
_SILENT_PEAK = 1e-3
"""Windows whose loudest sample is under -60 dBFS are silence; the decoder is not asked, because
on digital silence it hears words ("it", "dog") and its normalization turns to NaN."""
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in -1..1 as little-endian 16-bit PCM; out-of-range values are clipped."""
    clean = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return (np.clip(clean, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def clean_word(word: str) -> str | None:
    """The word without an alternate-pronunciation suffix (``read(2)``); None for fillers."""
    if _FILLER.match(word):
        return None
    return _ALTERNATE.sub("", word)


class _Decoders(threading.local):
    """Decoders by language, one set per thread (a decoder is not thread-safe)."""

    def __init__(self) -> None:
        self.by_language: dict[str, Decoder] = {}


_DECODERS = _Decoders()


def _import_pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:
        raise MissingDependencyError(
            f"speech transcription needs the pocketsphinx package; {INSTALL_HINT}",
            dependency="pocketsphinx",
        ) from None
    return pocketsphinx


class PocketsphinxEngine:
    """Speech to timed words with pocketsphinx and its model for ``language``."""

    name = "pocketsphinx"

    def __init__(self, language: str = "en-us", max_window_s: float = 30.0) -> None:
        self.language = language
        self.max_window_s = max_window_s

    def model_dir(self) -> Path:
        """The folder of the model for ``language``; MissingDependencyError when absent."""
        root = Path(_import_pocketsphinx().get_model_path())
        folder = root / self.language
        if not (folder / self.language).is_dir():
            available = sorted(p.name for p in root.iterdir() if (p / p.name).is_dir())
            raise MissingDependencyError(
                f"pocketsphinx has no model for language {self.language!r} in {root} "
                f"(available: {', '.join(available) or 'none'}); put the model folder there "
                f"as {self.language}/ with {self.language}/, {self.language}.lm.bin and "
                f"cmudict-{self.language}.dict",
                dependency="pocketsphinx",
                language=self.language,
            )
        return folder

    def check(self) -> None:
        """MissingDependencyError when pocketsphinx or the model for ``language`` is absent."""
        self.model_dir()

    def transcribe(self, samples: np.ndarray, offset_s: float = 0.0) -> Transcript:
        """The words of 16 kHz mono float ``samples``, timed from ``offset_s``; silence → none."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ExtractionError(
                f"speech transcription needs mono samples, got shape {samples.shape}"
            )
        if samples.size < _MIN_SPEECH:
            return Transcript(text="", language=self.language)
        decoder = self._decoder()
        words: list[TimedWord] = []
        for start, end in speech_windows(samples, self.max_window_s):
            words += self._decode(decoder, samples[start:end], offset_s + start / SAMPLE_RATE)
        return Transcript.from_words(words, self.language)

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        """The transcript of each ``(samples, offset_s)`` clip, one after another."""
        return [self.transcribe(samples, offset_s) for samples, offset_s in clips]

    def _decoder(self) -> Decoder:
        """This thread's decoder for ``language``, created on first use."""
        decoders = _DECODERS.by_language
        if self.language not in decoders:
            decoders[self.language] = self._new_decoder()
        return decoders[self.language]

    def _new_decoder(self) -> Decoder:
        pocketsphinx = _import_pocketsphinx()
        folder = self.model_dir()
        try:
            return pocketsphinx.Decoder(
                hmm=str(folder / self.language),
                lm=str(folder / f"{self.language}.lm.bin"),
                dict=str(folder / f"cmudict-{self.language}.dict"),
                samprate=SAMPLE_RATE,
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"pocketsphinx cannot load its {self.language} model from {folder}: {exc}",
                language=self.language,
            ) from exc

    def _decode(self, decoder: Decoder, window: np.ndarray, offset_s: float) -> list[TimedWord]:
        """The words of one window, decoded as one utterance, with times from ``offset_s``."""
        if window.size < _MIN_SPEECH or float(np.abs(window).max()) < _SILENT_PEAK:
            return []
        decoder.start_utt()
        decoder.process_raw(to_pcm16(window), full_utt=True)
        decoder.end_utt()
        words = []
        for seg in decoder.seg() or ():
            text = clean_word(seg.word)
            if text is None:
                continue
            words.append(
                TimedWord(
                    text=text,
                    start_s=round(offset_s + seg.start_frame / FRAMES_PER_S, 3),
                    end_s=round(offset_s + (seg.end_frame + 1) / FRAMES_PER_S, 3),
                    confidence=round(min(max(float(seg.prob), 0.0), 1.0), 3),
                )
            )
        return words
