"""Segment planning: turn cuts, fixed windows or pauses in speech into spans of frames and seconds.

Every planner ends the same way: spans shorter than ``min_segment_s`` (by default
``DEFAULT_MIN_SEGMENT_S``, a quarter second) are merged into the span that follows them (the last
one into the one before it), so a flicker of a few frames does not become a document of its own,
while a real short shot does, then spans longer than ``max_segment_s`` are split into near-equal
parts of at most ``max_segment_s`` each, so a slide held for minutes still becomes several
documents, each short enough for a captioning model.

Times come from ``pts`` (seconds, one per frame, increasing) when given, which is what
variable-frame-rate video needs, and from ``index / fps`` otherwise. The end of the last frame is
its start plus one frame period (``1 / fps``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnidex.types import DEFAULT_MIN_SEGMENT_S

_EPS = 1e-9


@dataclass(frozen=True)
class Span:
    """Frames ``start_frame`` up to ``end_frame`` (exclusive), from ``start_s`` to ``end_s``."""

    start_frame: int
    end_frame: int
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class Timeline:
    """Frame index ↔ seconds, from per-frame ``pts`` when given, else from ``fps``."""

    def __init__(self, n_frames: int, fps: float, pts: Sequence[float] | None = None) -> None:
        if n_frames < 0 or fps <= 0:
            raise ValueError(f"need n_frames >= 0 and fps > 0, got {n_frames} and {fps}")
        if pts is not None and len(pts) != n_frames:
            raise ValueError(f"pts has {len(pts)} entries for {n_frames} frames")
        if pts is None:
            starts = np.arange(n_frames + 1, dtype=np.float64) / fps
        else:
            last = pts[-1] + 1.0 / fps if n_frames else 0.0
            starts = np.append(np.asarray(pts, dtype=np.float64), last)
        if np.any(np.diff(starts) <= 0):
            raise ValueError("pts must be strictly increasing")
        self.n_frames = n_frames
        self._starts = starts
        """Start time of each frame, then the end time of the last one."""

    def time(self, frame: int) -> float:
        """Start time of ``frame``; ``time(n_frames)`` is the end of the last frame."""
        return float(self._starts[frame])

    def frame_at(self, seconds: float) -> int:
        """The first frame that starts at or after ``seconds`` (``n_frames`` past the end)."""
        return int(np.searchsorted(self._starts, seconds - _EPS, side="left"))

    def span(self, start: int, end: int) -> Span:
        return Span(start, end, self.time(start), self.time(end))


def scene_spans(
    cuts: Sequence[int],
    n_frames: int,
    fps: float,
    pts: Sequence[float] | None = None,
    min_segment_s: float = DEFAULT_MIN_SEGMENT_S,
    max_segment_s: float = 30.0,
) -> list[Span]:
    """Spans between the cuts (first frames of new scenes), merged and split as the module says."""
    timeline = Timeline(n_frames, fps, pts)
    return plan_spans(timeline, cuts, min_segment_s, max_segment_s)


def time_spans(
    duration_s: float, fps: float, window_s: float, pts: Sequence[float] | None = None
) -> list[Span]:
    """Near-equal consecutive spans of at most ``window_s`` covering ``duration_s``."""
    n_frames = len(pts) if pts is not None else max(1, round(duration_s * fps))
    return plan_spans(Timeline(n_frames, fps, pts), [], 0.0, window_s)


def plan_spans(
    timeline: Timeline, cuts: Sequence[int], min_segment_s: float, max_segment_s: float
) -> list[Span]:
    """Spans between ``cuts`` on ``timeline``, short ones merged, long ones split."""
    if not 0 <= min_segment_s <= max_segment_s or max_segment_s <= 0:
        raise ValueError(
            f"need 0 <= min_segment_s <= max_segment_s and max_segment_s > 0, "
            f"got {min_segment_s} and {max_segment_s}"
        )
    if timeline.n_frames == 0:
        return []
    inner = sorted({c for c in cuts if 0 < c < timeline.n_frames})
    bounds = _merge_short([0, *inner, timeline.n_frames], timeline, min_segment_s)
    spans: list[Span] = []
    for start, end in itertools.pairwise(bounds):
        spans.extend(_split_long(timeline, start, end, max_segment_s))
    return spans


def _merge_short(bounds: list[int], timeline: Timeline, min_s: float) -> list[int]:
    """Drop boundaries so that every span lasts ``min_s`` or more (unless there is only one)."""
    kept = [bounds[0]]
    for bound in bounds[1:-1]:
        if timeline.time(bound) - timeline.time(kept[-1]) >= min_s - _EPS:
            kept.append(bound)
    end = bounds[-1]
    if len(kept) > 1 and timeline.time(end) - timeline.time(kept[-1]) < min_s - _EPS:
        kept.pop()  # the last span is short: it joins the one before it
    return [*kept, end]


def _split_long(timeline: Timeline, start: int, end: int, max_s: float) -> list[Span]:
    """``start..end`` in as few near-equal parts as keep each within ``max_s``."""
    t0, t1 = timeline.time(start), timeline.time(end)
    parts = max(1, math.ceil((t1 - t0) / max_s - _EPS))
    while True:
        bounds = [start, *_split_points(timeline, start, end, parts), end]
        spans = [timeline.span(a, b) for a, b in itertools.pairwise(bounds)]
        if parts >= end - start or all(s.duration_s <= max_s + _EPS for s in spans):
            return spans
        parts += 1  # frame boundaries of a variable frame rate left one part too long


def _split_points(timeline: Timeline, start: int, end: int, parts: int) -> list[int]:
    t0, t1 = timeline.time(start), timeline.time(end)
    points = {timeline.frame_at(t0 + (t1 - t0) * k / parts) for k in range(1, parts)}
    return sorted(p for p in points if start < p < end)


def frame_energy(samples: np.ndarray, sample_rate: int, hop_s: float = 0.01) -> np.ndarray:
    """Mean square of each ``hop_s`` frame of mono ``samples`` (a partial last frame is dropped)."""
    hop = max(1, round(sample_rate * hop_s))
    usable = (len(samples) // hop) * hop
    frames = np.asarray(samples[:usable], dtype=np.float64).reshape(-1, hop)
    return np.asarray((frames**2).mean(axis=1))


def silence_spans(
    audio: np.ndarray,
    *,
    sample_rate: int | None = None,
    hop_s: float = 0.01,
    min_silence_s: float = 0.5,
    threshold_db: float = -30.0,
    min_segment_s: float = DEFAULT_MIN_SEGMENT_S,
    max_segment_s: float = 30.0,
) -> list[Span]:
    """Spans of speech cut in the middle of each pause of ``min_silence_s`` or more.

    ``audio`` is one energy value (mean square) per ``hop_s`` frame, or raw mono samples when
    ``sample_rate`` is given. A frame is silent when its level is ``threshold_db`` or more below
    the track's level (its 95th-percentile frame level), so the same setting serves quiet and
    loud recordings. Pauses at the very start or end do not cut. Frame numbers in the spans count
    ``hop_s`` frames.
    """
    energy = frame_energy(audio, sample_rate, hop_s) if sample_rate else np.asarray(audio)
    cuts = [(a + b) // 2 for a, b in _silent_runs(energy, threshold_db, min_silence_s / hop_s)]
    timeline = Timeline(len(energy), 1.0 / hop_s)
    return plan_spans(timeline, cuts, min_segment_s, max_segment_s)


def _silent_runs(
    energy: np.ndarray, threshold_db: float, min_frames: float
) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of ``min_frames`` silent frames or more, inside the track."""
    if len(energy) == 0:
        return []
    level = 10.0 * np.log10(np.asarray(energy, dtype=np.float64) + 1e-12)
    silent = level < np.percentile(level, 95) + threshold_db
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    runs = zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
    return [(a, b) for a, b in runs if b - a >= min_frames and a > 0 and b < len(energy)]
