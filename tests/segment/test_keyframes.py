"""Keyframes: candidates in the middle of a span, the sharpest one chosen, JPEG thumbnails."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from omnidex.segment.keyframes import keyframe_candidates, pick_keyframe, sharpness, thumbnail
from omnidex.segment.spans import Span


def textured(seed: int = 0, size: tuple[int, int] = (90, 160)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(size[0] // 4, size[1] // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)


def box_blur(image: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k box (edges padded), applied to each channel."""
    pad = k // 2
    padded = np.pad(image.astype(np.float32), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.zeros(image.shape, np.float32)
    for dy in range(k):
        for dx in range(k):
            out += padded[dy : dy + image.shape[0], dx : dx + image.shape[1]]
    return (out / (k * k)).astype(np.uint8)


def test_sharpness_ranks_blur() -> None:
    image = textured()
    gray = image.mean(axis=2)
    assert sharpness(image) > sharpness(box_blur(image, 3)) > sharpness(box_blur(image, 7))
    assert sharpness(gray) > 0
    assert sharpness(np.full((50, 50), 128, np.uint8)) == 0.0


def test_sharpest_candidate_chosen() -> None:
    sharp = textured(1)
    frames = [box_blur(sharp, 5), box_blur(sharp, 3), sharp, box_blur(sharp, 9)]
    candidates = [(100 + i, (100 + i) / 30, f) for i, f in enumerate(frames)]
    assert pick_keyframe(candidates) == 102


def test_flat_frame_not_chosen_over_texture() -> None:
    black = np.zeros((90, 160, 3), np.uint8)
    candidates = [(0, 0.0, black), (5, 0.2, box_blur(textured(), 5)), (9, 0.3, black)]
    assert pick_keyframe(candidates) == 5


def test_no_candidates_raises() -> None:
    with pytest.raises(ValueError, match="candidates"):
        pick_keyframe([])


def test_candidates_in_the_middle_half() -> None:
    span = Span(100, 300, 0.0, 0.0)
    picks = keyframe_candidates(span, k=5)
    assert picks == [150, 175, 200, 225, 250]
    assert all(120 <= p < 280 for p in picks)  # never in the first or last 10%


def test_candidates_of_tiny_spans() -> None:
    assert keyframe_candidates(Span(10, 12, 0.0, 0.0), k=5) == [10, 11]
    assert keyframe_candidates(Span(10, 11, 0.0, 0.0)) == [10]
    assert keyframe_candidates(Span(10, 10, 0.0, 0.0)) == []
    assert keyframe_candidates(Span(0, 100, 0.0, 0.0), k=1) == [50]


def test_thumbnail_is_640_wide_jpeg() -> None:
    data = thumbnail(textured(size=(720, 1280)))
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (640, 360)
