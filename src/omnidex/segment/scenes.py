"""Shot-boundary detection on plain numpy frames: PySceneDetect's adaptive content detector.

Frames are RGB ``uint8`` arrays ``(height, width, 3)``, or grey ``(height, width)``, at whatever
small size the caller decoded them (160-256 px wide is plenty and keeps the detector cheap).

The score of frame *i* is the mean absolute difference of its hue, saturation and value planes
from frame *i-1*, on OpenCV's 8-bit HSV scale, weighted as ``ContentWeights`` says (PySceneDetect's
``content_val``; its fourth, edge component is not implemented). Grey frames score on value alone,
like PySceneDetect's ``luma_only``. The adaptive ratio divides a frame's score by the mean score of
the ``window_width`` frames on each side; a frame starts a new scene when that ratio reaches
``adaptive_threshold`` and its score reaches ``min_content_val``, at least ``min_scene_len`` frames
after the previous cut (or after the first frame). A cut is reported as the index of the first
frame of the new scene. A fade changes every frame a little, so neither its scores nor its ratios
stand out, and ``min_scene_len`` stops one fade from yielding more than one cut.

One addition: in a static shot (the frames around score at most ``STATIC_BACKGROUND``) a frame
that reaches ``static_content_val`` (2.0) is a cut even below ``min_content_val``: a new slide in a
recorded talk changes some text on a white page, which PySceneDetect's floor of 15 never sees. It
must also change some pixels for real: at least ``STATIC_MIN_CHANGED`` of the value plane by more
than ``CHANGE_LEVEL``. An encoder's periodic key frame in a held shot scores as much as a slide
change (its compression noise is re-drawn over the whole picture, about 2-3), but that noise moves
no pixel far, while new text moves its strokes by a hundred levels or more.

Three differences from PySceneDetect: hue distance is taken around the circle (OpenCV's hue wraps
from 179 to 0, and a noisy red otherwise scores as if it changed colour every frame);
``min_scene_len`` is measured from the cut frame itself (not from the frame ``window_width``
later); and the frames within ``window_width`` of either end are judged on a truncated window
instead of never, so a cut in the first or last frames is found.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
STATIC_BACKGROUND = 0.5
"""Mean score of the surrounding frames under which a shot counts as static (a slide, a still):
compression noise of a held slide scores about 0.1-1, a slide change about 3."""
CHANGE_LEVEL = 32
"""A pixel whose value moves by more than this (of 255) changed for real, not by compression noise
(a re-drawn key frame moves pixels by 25 at most, even at x264's crf 30)."""
STATIC_MIN_CHANGED = 0.001
"""Share of the pixels that must change for real for the static rule to cut: a changed word on a
slide is several times this at 256 px wide."""
_RATIO_CAP = 255.0
"""PySceneDetect's ceiling for the adaptive ratio, also used when the window's mean is zero."""


class SceneDetector(Protocol):
    """Fed every frame in order; reports cuts (first frames of new scenes) as they become known."""

    def process(self, index: int, frame: np.ndarray) -> list[int]: ...

    def finish(self) -> list[int]: ...


class ContentWeights(NamedTuple):
    """Weights of the hue, saturation and value differences in a frame's content score."""

    delta_hue: float = 1.0
    delta_sat: float = 1.0
    delta_lum: float = 1.0


DEFAULT_WEIGHTS = ContentWeights()


def rgb_to_hsv(rgb: np.ndarray) -> U8:
    """RGB ``uint8`` → HSV ``uint8`` on OpenCV's scale: H 0..179 (degrees / 2), S and V 0..255."""
    return np.moveaxis(_hsv_planes(rgb), 0, -1)


def _hsv_planes(rgb: np.ndarray) -> U8:
    """HSV of an RGB ``(..., 3)`` array as three planes ``(3, ...)``, the layout scoring wants."""
    r, g, b = np.moveaxis(rgb, -1, 0).astype(np.float32)
    value = np.maximum(np.maximum(r, g), b)
    delta = value - np.minimum(np.minimum(r, g), b)
    sat = np.divide(delta * 255.0, value, out=np.zeros_like(value), where=value > 0)
    # Hue in degrees / 2 with OpenCV's precedence: red is the max, then green, then blue.
    scale = np.divide(30.0, delta, out=np.zeros_like(delta), where=delta > 0)
    hue = np.where(value == r, g - b, np.where(value == g, b - r + 2 * delta, r - g + 4 * delta))
    hue = np.floor(hue * scale + 0.5)
    hue[hue < 0] += 180.0
    out = np.empty((3, *value.shape), np.uint8)
    out[0], out[1], out[2] = hue, np.floor(sat + 0.5), value
    return out


def _mean_distance(a: U8, b: U8) -> float:
    return float(np.abs(np.subtract(a, b, dtype=np.int16)).mean())


def _mean_hue_distance(a: U8, b: U8) -> float:
    """Mean distance around the hue circle (180 steps), so that reds near 0 and 179 stay close."""
    distance = np.abs(np.subtract(a, b, dtype=np.int16))
    return float(np.minimum(distance, 180 - distance).mean())


class FrameScore(NamedTuple):
    """A frame's content score, and the share of its pixels that changed for real."""

    score: float
    changed: float


class ContentScorer:
    """Content score of each frame against the one before it (0.0 for the first frame)."""

    def __init__(self, weights: ContentWeights = DEFAULT_WEIGHTS) -> None:
        if sum(abs(w) for w in weights) == 0:
            raise ValueError("at least one content weight must be non-zero")
        self.weights = weights
        self._last: U8 | None = None

    def score(self, frame: np.ndarray) -> float:
        """Score ``frame`` against the previous call's frame and remember it for the next call."""
        return self.measure(frame).score

    def measure(self, frame: np.ndarray) -> FrameScore:
        """``score``, with the share of pixels whose value changed by more than CHANGE_LEVEL."""
        planes = _planes(frame)
        last, self._last = self._last, planes
        if last is None or last.shape != planes.shape:
            return FrameScore(0.0, 0.0)
        if planes.ndim == 2:
            return FrameScore(_mean_distance(planes, last), _changed(planes, last))
        parts = [
            _mean_hue_distance(planes[0], last[0]),
            _mean_distance(planes[1], last[1]),
            _mean_distance(planes[2], last[2]),
        ]
        total = sum(p * w for p, w in zip(parts, self.weights, strict=True))
        return FrameScore(total / sum(abs(w) for w in self.weights), _changed(planes[2], last[2]))


def _changed(value: U8, last: U8) -> float:
    """Share of pixels whose value moved by more than CHANGE_LEVEL."""
    return float((np.abs(np.subtract(value, last, dtype=np.int16)) > CHANGE_LEVEL).mean())


def _planes(frame: np.ndarray) -> U8:
    """HSV planes ``(3, H, W)`` of an RGB frame, or a grey frame itself (its value plane)."""
    if frame.ndim == 2:
        return frame.astype(np.uint8, copy=False)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return _hsv_planes(frame)
    raise ValueError(f"expected a grey (H, W) or RGB (H, W, 3) frame, got shape {frame.shape}")


@dataclass(frozen=True)
class Judged:
    """A frame's score and its adaptive ratio against the frames around it."""

    index: int
    score: float
    ratio: float
    background: float = 0.0
    """Mean score of the frames around it: near zero inside a static shot (a slide, a still)."""
    changed: float = 1.0
    """Share of its pixels that changed for real (see ``ContentScorer.measure``)."""


class AdaptiveRatio:
    """Streams ``(index, score)`` pairs and judges each once its window is known (or at flush)."""

    def __init__(self, window_width: int) -> None:
        if window_width < 1:
            raise ValueError("window_width must be at least 1")
        self.window_width = window_width
        self._buffer: deque[tuple[int, float, float]] = deque(maxlen=2 * window_width + 1)
        self._next = 0
        """Position in the buffer of the next pair to judge."""

    def push(self, index: int, score: float, changed: float = 1.0) -> list[Judged]:
        """Add one pair (and its share of changed pixels); returns the pair ``window_width`` back,
        now that its window is full."""
        if len(self._buffer) == self._buffer.maxlen:
            self._next -= 1
        self._buffer.append((index, score, changed))
        ready = []
        while self._next < len(self._buffer) - self.window_width:
            ready.append(self._judge(self._next))
            self._next += 1
        return ready

    def flush(self) -> list[Judged]:
        """Judge the pairs still waiting for right-hand neighbours, on a truncated window."""
        ready = [self._judge(i) for i in range(self._next, len(self._buffer))]
        self._next = len(self._buffer)
        return ready

    def _judge(self, position: int) -> Judged:
        index, score, changed = self._buffer[position]
        lo, hi = max(0, position - self.window_width), position + self.window_width + 1
        others = [s for i, (_, s, _) in enumerate(self._buffer) if lo <= i < hi and i != position]
        mean = sum(others) / len(others) if others else 0.0
        if mean > 1e-5:
            ratio = min(score / mean, _RATIO_CAP)
        else:
            ratio = _RATIO_CAP if score > 1e-5 else 0.0
        return Judged(index, score, ratio, mean, changed)


@dataclass(frozen=True)
class CutRule:
    """When a judged frame starts a new scene, before ``min_scene_len`` is applied."""

    adaptive_threshold: float = 3.0
    min_content_val: float = 15.0
    static_content_val: float = 2.0

    def is_cut(self, frame: Judged) -> bool:
        strong = frame.score >= self.min_content_val
        # a slide change is a small change (some text on a white page) against a static
        # background; PySceneDetect's floor of 15 misses it, so static shots get a lower one, and
        # the change must move some pixels far, which a key frame's re-drawn noise does not
        static = (
            frame.score >= self.static_content_val
            and frame.background <= STATIC_BACKGROUND
            and frame.changed >= STATIC_MIN_CHANGED
        )
        return frame.ratio >= self.adaptive_threshold and (strong or static)


DEFAULT_RULE = CutRule()


def keep_apart(cuts: Iterable[int], *, first: int, min_scene_len: int) -> list[int]:
    """The cuts (in order) that start at least ``min_scene_len`` frames after the previous kept
    cut, or after the ``first`` frame."""
    kept: list[int] = []
    last = first
    for cut in cuts:
        if cut - last >= min_scene_len:
            kept.append(cut)
            last = cut
    return kept


def judge_run(frames: Iterable[tuple[int, np.ndarray]], window_width: int = 2) -> list[Judged]:
    """Every frame of a run of consecutive frames but the first, judged against its neighbours
    within the run (on a truncated window near the run's ends)."""
    scorer = ContentScorer()
    ratios = AdaptiveRatio(window_width)
    judged: list[Judged] = []
    for position, (index, frame) in enumerate(frames):
        score = scorer.measure(frame)
        if position:
            judged.extend(ratios.push(index, *score))
    return judged + ratios.flush()


class AdaptiveContentDetector:
    """PySceneDetect's AdaptiveDetector on numpy frames; see the module docstring."""

    def __init__(
        self,
        *,
        rule: CutRule = DEFAULT_RULE,
        min_scene_len: int = 15,
        window_width: int = 2,
        weights: ContentWeights = DEFAULT_WEIGHTS,
    ) -> None:
        self.rule = rule
        self.min_scene_len = min_scene_len
        self._scorer = ContentScorer(weights)
        self._ratios = AdaptiveRatio(window_width)
        self._last_cut: int | None = None

    def process(self, index: int, frame: np.ndarray) -> list[int]:
        """Feed frame ``index`` (indices must increase); returns cuts that became known."""
        score = self._scorer.measure(frame)
        if self._last_cut is None:
            self._last_cut = index
            return []  # the first frame has no score: nothing to compare it with
        return self._cuts(self._ratios.push(index, *score))

    def finish(self) -> list[int]:
        """Cuts among the last ``window_width`` frames, once no more frames will come."""
        return self._cuts(self._ratios.flush())

    def _cuts(self, judged: Iterable[Judged]) -> list[int]:
        assert self._last_cut is not None
        candidates = [frame.index for frame in judged if self.rule.is_cut(frame)]
        cuts = keep_apart(candidates, first=self._last_cut, min_scene_len=self.min_scene_len)
        self._last_cut = cuts[-1] if cuts else self._last_cut
        return cuts


def detect_cuts(frames: Iterable[np.ndarray], detector: SceneDetector | None = None) -> list[int]:
    """All cuts in a sequence of frames numbered from 0 (a fresh default detector when None)."""
    detector = detector or AdaptiveContentDetector()
    cuts: list[int] = []
    for index, frame in enumerate(frames):
        cuts.extend(detector.process(index, frame))
    cuts.extend(detector.finish())
    return cuts
