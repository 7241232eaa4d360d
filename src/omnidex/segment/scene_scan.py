"""Shot boundaries and keyframes of a video in two passes that decode only what they need.

**Pass 1** decodes the reference frames alone (I, P and reference B frames: the decoder skips the
others, about half the frames of a typical H.264 or HEVC file, and that is exact, since no frame
refers to them) with the loop filter off, and compares each with the one before on a small 4:2:0
picture. A hard cut between two reference frames is a jump that stands out from the jumps around it
(``COARSE_RATIO``, far below the detector's own 3.0) and is more than noise (``COARSE_FLOOR``,
below the detector's lowest floor): a candidate.

**Pass 2** decodes every frame around each candidate, from far enough before to far enough after
that each frame in between gets the full ``window_width`` context, and runs the adaptive content
detector (:mod:`omnidex.segment.scenes`) there, frame by frame on HSV, exactly as it would run over
the whole video. Cuts are then kept ``min_scene_len`` apart, in order. One change HSV scores high
while the 4:2:0 picture barely moves: the hue and saturation of near-black pixels swing wildly, so
the frame-by-frame detector may cut at the black end of a fade. Pass 1 therefore also takes any
jump at all (``DARK_FLOOR``) next to a near-black picture (``DARK_LUMA``) as a candidate: fades to
and from black, and black frames, are looked at frame by frame.

Pass 2 seeks to the key frames pass 1 saw decoded, not to those the container flags (AVI flags
frames that are not). Keyframes ride on pass 2: taking every candidate for a cut gives a first
guess of the spans; each guessed span's keyframe candidates, moved to the nearest reference frame,
are decoded in pass 2 too (exactly: the loop filter is on), and the sharpest per span is encoded.
Once the real cuts are known, a span takes the sharpest keyframe found in its middle half, give or
take the distance between reference frames (by which a guessed cut can be off). A span with none
(when a candidate was no cut, say, and two guesses merged) is left to the caller to fill.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from omnidex.media.video import DecodedFrame, FrameIndex, decode_frames, small_yuv
from omnidex.segment.keyframes import (
    KEYFRAME_WIDTH,
    THUMBNAIL_WIDTH,
    in_middle_half,
    keyframe_candidates,
    sharpness,
    thumbnail,
)
from omnidex.segment.scenes import (
    DEFAULT_RULE,
    AdaptiveRatio,
    CutRule,
    Judged,
    judge_run,
    keep_apart,
)
from omnidex.segment.spans import Span, Timeline, plan_spans

COARSE_WIDTH = 256
COARSE_FLOOR = 1.0
"""Mean absolute difference of two small 4:2:0 pictures under which nothing can be a cut: the
detector's lowest floor (``static_content_val``, 2.0 on HSV) is about twice this on 4:2:0."""
COARSE_RATIO = 1.2
"""A jump this much larger than the jumps around it is looked at frame by frame. Between reference
frames two to four frames apart, motion scores close to what a cut does, so the margin is wide."""
DARK_LUMA = 40.0
"""Mean luma (of 255, black being 16) under which a picture's hue and saturation are noise."""
DARK_FLOOR = 0.05
"""Next to a near-black picture, a jump this small is a candidate: HSV may score it high."""
DETECT_WIDTH = 256
"""Frames are scored for shot changes at this width: cuts do not need detail."""
SHARPNESS_WIDTH = 640


@dataclass(frozen=True)
class Keyframe:
    """The picture chosen for a guessed span: its frame, how sharp it is, and its JPEGs."""

    index: int
    sharpness: float
    image: bytes
    """JPEG, ``KEYFRAME_WIDTH`` wide at most."""
    thumbnail: bytes


@dataclass(frozen=True)
class SceneScan:
    """What the two passes found: every frame's time, the cuts, and keyframes to hand out."""

    timeline: Timeline
    cuts: list[int]
    keyframes: list[Keyframe]
    decoded_until_s: float
    """End of the last frame pass 1 decoded: short of the stream's length when it is truncated."""
    slack: int
    """Frames by which a guessed cut, and so a guessed span's middle, can be off."""

    def keyframe_for(self, span: Span) -> Keyframe | None:
        """The sharpest keyframe found in the middle half of ``span``, if any."""
        inside = (k for k in self.keyframes if in_middle_half(span, k.index, self.slack))
        return max(inside, key=lambda k: k.sharpness, default=None)


def scan_scenes(
    path: Path,
    index: FrameIndex,
    fps: float,
    *,
    min_segment_s: float,
    max_segment_s: float,
    rule: CutRule = DEFAULT_RULE,
    min_scene_len: int = 15,
    window_width: int = 2,
) -> SceneScan:
    """Cuts (first frames of new scenes) and keyframes of ``path``; see the module docstring."""
    timeline = Timeline(len(index), fps, index.times())
    refs, keys, coarse, last_s = _reference_pass(path, index)
    index = replace(index, keyframes=tuple(keys) or (0,))
    candidates = _candidates(refs, coarse, window_width)
    windows = _windows(candidates, refs, window_width, len(index))
    guess_cuts = keep_apart([b for _, b in candidates], first=0, min_scene_len=min_scene_len)
    guesses = plan_spans(timeline, guess_cuts, min_segment_s, max_segment_s)
    picks = {span: _snap(keyframe_candidates(span), refs, span) for span in guesses}
    judged, keyframes = _detail_pass(path, index, windows, picks, window_width)
    cut_frames = sorted(j.index for j in judged if rule.is_cut(j))
    cuts = keep_apart(cut_frames, first=0, min_scene_len=min_scene_len)
    slack = max((b - a for a, b in candidates), default=0)
    return SceneScan(timeline, cuts, keyframes, last_s + 1 / fps if refs else 0.0, slack)


# --- pass 1 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Jump:
    """How far a reference frame's picture moved from the one before, and whether either is dark."""

    index: int
    jump: float
    dark: bool


def _reference_pass(
    path: Path, index: FrameIndex
) -> tuple[list[int], list[int], list[_Jump], float]:
    """Indices of the reference frames and of the key frames among them, each reference frame's
    jump from the one before, and the last one's time."""
    refs: list[int] = []
    keys: list[int] = []
    jumps: list[_Jump] = []
    last: np.ndarray | None = None
    last_dark = False
    last_s = 0.0
    for decoded in decode_frames(path, index, fast=True):
        picture = small_yuv(decoded.frame, COARSE_WIDTH)
        dark = float(picture[: picture.shape[0] * 2 // 3].mean()) < DARK_LUMA
        if last is not None and last.shape == picture.shape:
            jump = float(np.abs(picture - last.astype(np.int16)).mean())
            jumps.append(_Jump(decoded.index, jump, dark or last_dark))
        refs.append(decoded.index)
        if decoded.is_key:
            keys.append(decoded.index)
        last, last_dark, last_s = picture, dark, decoded.pts_s
    return refs, keys, jumps, last_s


def _candidates(refs: list[int], jumps: list[_Jump], window_width: int) -> list[tuple[int, int]]:
    """``(a, b)``: reference frames between which a cut may lie (a cut at ``a + 1`` to ``b``)."""
    ratios = AdaptiveRatio(window_width)
    judged: list[Judged] = []
    for jump in jumps:
        judged.extend(ratios.push(jump.index, jump.jump))
    judged.extend(ratios.flush())
    dark = {jump.index for jump in jumps if jump.dark}
    position = {ref: i for i, ref in enumerate(refs)}
    return [
        (refs[position[j.index] - 1], j.index)
        for j in judged
        if (j.score >= COARSE_FLOOR and j.ratio >= COARSE_RATIO)
        or (j.index in dark and j.score >= DARK_FLOOR)
    ]


def _windows(
    candidates: list[tuple[int, int]], refs: list[int], window_width: int, n_frames: int
) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` to decode whole, one around each candidate, merged."""
    ranges: list[tuple[int, int]] = []
    for a, b in candidates:
        start = refs[max(0, bisect.bisect_right(refs, a - window_width) - 1)]
        after = bisect.bisect_left(refs, b + window_width)
        end = refs[after] + 1 if after < len(refs) else n_frames
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        else:
            ranges.append((start, end))
    return ranges


def _snap(wanted: list[int], refs: list[int], span: Span) -> list[int]:
    """Each wanted frame moved to the nearest reference frame, if in ``span``'s middle half."""
    snapped = set()
    for frame in wanted:
        at = bisect.bisect_left(refs, frame)
        nearest = min(refs[max(0, at - 1) : at + 1], key=lambda r: abs(r - frame), default=None)
        if nearest is not None and in_middle_half(span, nearest):
            snapped.add(nearest)
    return sorted(snapped)


# --- pass 2 ------------------------------------------------------------------------------------


def _detail_pass(
    path: Path,
    index: FrameIndex,
    windows: list[tuple[int, int]],
    picks: dict[Span, list[int]],
    window_width: int,
) -> tuple[list[Judged], list[Keyframe]]:
    """Every frame of the windows judged, and the sharpest pick of each guessed span encoded."""
    judge = _WindowJudge(windows, window_width, len(index))
    keyframes = _KeyframePicker(picks)
    wanted = {frame for frames in picks.values() for frame in frames}
    for decoded in decode_frames(path, index, ranges=windows, picks=wanted):
        judge.add(decoded)
        keyframes.add(decoded)
    return judge.finish(), keyframes.finish()


class _WindowJudge:
    """Scores the frames of each window as they come, and judges a window once it is complete,
    keeping the frames whose judgement had its full context (or stood at the video's ends)."""

    def __init__(self, windows: list[tuple[int, int]], window_width: int, n_frames: int) -> None:
        self._windows = windows
        self._starts = [start for start, _ in windows]
        self._width = window_width
        self._n_frames = n_frames
        self._current: tuple[int, int] | None = None
        self._frames: list[tuple[int, np.ndarray]] = []
        self._judged: list[Judged] = []

    def add(self, decoded: DecodedFrame) -> None:
        at = bisect.bisect_right(self._starts, decoded.index) - 1
        if at < 0 or decoded.index >= self._windows[at][1]:
            return
        if self._windows[at] != self._current:
            self._judge()
            self._current = self._windows[at]
        self._frames.append((decoded.index, decoded.to_array(width=DETECT_WIDTH, fast=True)))

    def finish(self) -> list[Judged]:
        self._judge()
        return self._judged

    def _judge(self) -> None:
        if self._current is None:
            return
        start, end = self._current
        low = 1 if start == 0 else start + self._width + 1
        high = self._n_frames if end == self._n_frames else end - self._width
        self._judged.extend(
            j for j in judge_run(self._frames, self._width) if low <= j.index < high
        )
        self._current, self._frames = None, []


class _KeyframePicker:
    """Keeps the sharpest decoded pick of each guessed span; encodes it after its last pick."""

    def __init__(self, picks: dict[Span, list[int]]) -> None:
        self._span_of = {frame: span for span, frames in picks.items() for frame in frames}
        self._last = {span: frames[-1] for span, frames in picks.items() if frames}
        self._best: dict[Span, tuple[float, float, DecodedFrame]] = {}
        self._done: list[Keyframe] = []

    def add(self, decoded: DecodedFrame) -> None:
        span = self._span_of.get(decoded.index)
        if span is None:
            return
        gray = decoded.to_array(width=SHARPNESS_WIDTH, gray=True)
        middle = (span.start_frame + span.end_frame) / 2
        rank = (sharpness(gray), -abs(decoded.index - middle), decoded)
        best = self._best.get(span)
        if best is None or rank[:2] > best[:2]:
            self._best[span] = rank
        if decoded.index == self._last[span]:
            self._encode(span)

    def finish(self) -> list[Keyframe]:
        for span in list(self._best):
            self._encode(span)
        return sorted(self._done, key=lambda k: k.index)

    def _encode(self, span: Span) -> None:
        score, _, decoded = self._best.pop(span)
        image, small = (decoded.to_array(width=w) for w in (KEYFRAME_WIDTH, THUMBNAIL_WIDTH))
        jpegs = thumbnail(image, KEYFRAME_WIDTH), thumbnail(small, THUMBNAIL_WIDTH)
        self._done.append(Keyframe(decoded.index, score, *jpegs))
