"""Speech shared by the engines: timed words, transcripts, and long audio cut at pauses.

Every engine (:class:`SpeechEngine`) answers with a :class:`Transcript` whose word times are
absolute in the source, and cuts audio longer than its window into pieces that end at the quietest
point near the limit (:func:`speech_windows`), so a window boundary rarely splits a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16_000
FRAMES_PER_S = 100
"""Energy is measured per 10 ms frame; pocketsphinx's word boundaries are such frame numbers."""
_FRAME = SAMPLE_RATE // FRAMES_PER_S
_PAUSE_FRAMES = 20
"""Energy is averaged over 200 ms when looking for a pause to cut a window at."""
_ENERGY_CHUNK = 1000
"""Frames (10 s) whose energy is computed at once."""
_AS_QUIET = 1.1
"""Points within 10 % of the quietest energy count as equally good places to cut."""


@dataclass(frozen=True)
class TimedWord:
    """One recognized word with its absolute start and end in seconds and its posterior 0..1."""

    text: str
    start_s: float
    end_s: float
    confidence: float | None = None

    def to_dict(self) -> dict[str, object]:
        timed: dict[str, object] = {"text": self.text, "start_s": self.start_s, "end_s": self.end_s}
        if self.confidence is not None:
            timed["confidence"] = self.confidence
        return timed


@dataclass(frozen=True)
class Transcript:
    """The words of a span of speech, in order, the text they make and the language spoken."""

    text: str
    words: list[TimedWord] = field(default_factory=list)
    language: str = "en-us"

    @classmethod
    def from_words(cls, words: list[TimedWord], language: str) -> Transcript:
        return cls(text=" ".join(w.text for w in words), words=words, language=language)

    @property
    def confidence(self) -> float | None:
        """The mean confidence of the words that have one (0..1); None when none has."""
        known = [w.confidence for w in self.words if w.confidence is not None]
        return round(sum(known) / len(known), 3) if known else None


class SpeechEngine(Protocol):
    """What every engine offers: a check that it can run here, then transcripts of clips."""

    @property
    def name(self) -> str:
        """What a document records as the engine that transcribed it."""
        ...

    def check(self) -> None:
        """Raise MissingDependencyError (or ModelLoadError) when the engine cannot run here."""

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        """The timed words of each clip of 16 kHz mono float samples, times from its offset."""
        ...


def language_code(tag: str | None) -> str | None:
    """The primary code of a language tag (``en-us`` → ``en``); None for none."""
    return tag.replace("_", "-").split("-")[0].lower() or None if tag else None


def split_windows(frame_energy: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """``(start, end)`` frame ranges of at most ``max_frames`` that cover every frame.

    Each window that is not the last ends at the quietest point (energy averaged over 200 ms) of
    its second half, so cuts fall in pauses between words where the audio has any; among points
    about as quiet (within :data:`_AS_QUIET`), the latest, so sound without pauses (music, a
    tone) is cut into full windows.
    """
    total = len(frame_energy)
    if total <= max_frames:
        return [(0, total)]
    smooth = np.convolve(frame_energy, np.ones(_PAUSE_FRAMES) / _PAUSE_FRAMES, mode="same")
    windows = []
    start = 0
    while total - start > max_frames:
        low = start + max(1, max_frames // 2)
        candidates = smooth[low : start + max_frames + 1]
        quiet = np.flatnonzero(candidates <= candidates.min() * _AS_QUIET + 1e-12)
        end = low + int(quiet[-1])
        windows.append((start, end))
        start = end
    windows.append((start, total))
    return windows


def frame_energy(samples: np.ndarray) -> np.ndarray:
    """Mean squared amplitude of each 10 ms frame (a last partial frame counts as one).

    Computed :data:`_ENERGY_CHUNK` frames at a time, so an hour of samples needs no copy of
    itself, only one float per frame."""
    energy = np.empty(-(-len(samples) // _FRAME))
    for first in range(0, len(energy), _ENERGY_CHUNK):
        piece = samples[first * _FRAME : (first + _ENERGY_CHUNK) * _FRAME]
        padded = np.pad(piece, (0, -len(piece) % _FRAME))
        frames = np.square(padded.reshape(-1, _FRAME), dtype=np.float64).mean(axis=1)
        energy[first : first + len(frames)] = frames
    return energy


def speech_windows(samples: np.ndarray, max_window_s: float) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges of at most ``max_window_s`` that cover ``samples``, cut
    at pauses (:func:`split_windows`)."""
    max_frames = max(1, int(max_window_s * FRAMES_PER_S))
    windows = split_windows(frame_energy(samples), max_frames)
    return [(start * _FRAME, min(end * _FRAME, len(samples))) for start, end in windows]
