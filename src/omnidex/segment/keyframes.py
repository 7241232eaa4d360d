"""Keyframes: which frames of a span to look at, the sharpest of them, and its JPEG thumbnail.

Candidates are spread over the middle half of a span, away from its first and last tenth where
fades, dissolves and motion blur around cuts live. Among them the sharpest frame (largest variance
of the Laplacian) wins, so a frame caught mid-pan or out of focus is passed over for a crisp one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from omnidex.media.images import thumbnail_jpeg
from omnidex.segment.spans import Span

KEYFRAME_WIDTH = 1280
"""Keyframes are kept at this width at most, enough for OCR of slides."""
THUMBNAIL_WIDTH = 640
_MIDDLE = (0.25, 0.75)
"""The middle half of a span, where keyframes are looked for."""
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness(image: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of a grey (or RGB, taken as luma) image: higher is sharper."""
    gray = image.astype(np.float32) @ _LUMA if image.ndim == 3 else image.astype(np.float32)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    centre = gray[1:-1, 1:-1]
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def keyframe_candidates(span: Span, k: int = 5) -> list[int]:
    """Up to ``k`` frame indices spread evenly over the middle 50% of ``span``, in order."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    length = span.end_frame - span.start_frame
    if length <= 0:
        return []
    if k == 1:
        return [span.start_frame + length // 2]
    low, high = _MIDDLE
    fractions = [low + (high - low) * i / (k - 1) for i in range(k)]
    picks = {span.start_frame + min(length - 1, int(length * f)) for f in fractions}
    return sorted(picks)


def in_middle_half(span: Span, frame: int, slack: int = 0) -> bool:
    """Whether ``frame`` lies where ``keyframe_candidates`` looks, the middle half of ``span``,
    give or take ``slack`` frames (kept inside the span)."""
    length = span.end_frame - span.start_frame
    low, high = _MIDDLE
    first = max(span.start_frame, span.start_frame + int(length * low) - slack)
    last = min(span.end_frame - 1, span.start_frame + min(length - 1, int(length * high)) + slack)
    return length > 0 and first <= frame <= last


def pick_keyframe(candidates: list[tuple[int, float, np.ndarray]]) -> int:
    """Frame index of the sharpest candidate ``(frame index, time in s, pixels)``.

    Ties go to the candidate nearest the middle of the list, the most representative moment.
    """
    if not candidates:
        raise ValueError("no keyframe candidates")
    middle = (len(candidates) - 1) / 2

    def rank(position: int) -> tuple[float, float]:
        return sharpness(candidates[position][2]), -abs(position - middle)

    best = max(range(len(candidates)), key=rank)
    return candidates[best][0]


def thumbnail(image: np.ndarray, width: int = 640) -> bytes:
    """JPEG bytes of an RGB (or grey) ``uint8`` frame, ``width`` pixels wide at most."""
    return thumbnail_jpeg(Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)), width)
