"""Shot-boundary detection on synthetic frames: hard cuts, fades, camera motion."""

from __future__ import annotations

import colorsys
from collections.abc import Iterator

import numpy as np
import pytest

from omnidex.segment.scenes import (
    AdaptiveContentDetector,
    ContentScorer,
    CutRule,
    detect_cuts,
    rgb_to_hsv,
)

W, H = 160, 90
CUTS = [97, 205, 310, 388, 502]
N_FRAMES = 600
COLORS = [
    (200, 40, 40),
    (40, 160, 60),
    (30, 60, 200),
    (220, 200, 50),
    (120, 120, 120),
    (90, 30, 140),
]
SHAPES = [(250, 250, 250), (10, 10, 10), (250, 120, 0), (0, 0, 0), (30, 200, 220), (240, 240, 0)]


def scene_frame(
    color: tuple[int, int, int], shape: tuple[int, int, int], t: int, rng: np.random.Generator
) -> np.ndarray:
    """A flat colour with noise and a square moving 2 px per frame."""
    frame = np.empty((H, W, 3), np.int16)
    frame[:] = color
    x = (10 + 2 * t) % (W - 20)
    frame[30:50, x : x + 20] = shape
    frame += rng.integers(-8, 9, size=frame.shape, dtype=np.int16)
    return np.clip(frame, 0, 255).astype(np.uint8)


def six_scenes(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    bounds = [0, *CUTS, N_FRAMES]
    return [
        scene_frame(COLORS[s], SHAPES[s], t, rng)
        for s in range(len(COLORS))
        for t in range(bounds[s + 1] - bounds[s])
    ]


def fade_through_black(hold: int) -> list[np.ndarray]:
    """1 s fade to black at 30 fps, ``hold`` black frames, 1 s back, steady frames around it."""
    rng = np.random.default_rng(1)
    gains = [1.0] * 60 + [1 - i / 30 for i in range(1, 31)] + [0.0] * hold
    gains += [i / 30 for i in range(1, 31)] + [1.0] * 60
    frames = []
    for t, gain in enumerate(gains):
        base = scene_frame(COLORS[1], SHAPES[1], t, rng).astype(np.float32) * gain
        noisy = base + rng.integers(-3, 4, size=base.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def panning(n: int = 300) -> Iterator[np.ndarray]:
    """A textured pattern panning fast (6 px per frame) past the camera, shaking vertically."""
    rng = np.random.default_rng(2)
    texture = rng.integers(0, 256, size=(H + 40, W * 20, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(texture[::8, ::8], 8, axis=0), 8, axis=1)
    for t in range(n):
        dy = int(10 + 8 * np.sin(t / 5))
        yield texture[dy : dy + H, 6 * t : 6 * t + W]


def test_hard_cuts_found_within_one_frame() -> None:
    cuts = detect_cuts(six_scenes())
    assert len(cuts) == len(CUTS)
    assert all(abs(found - true) <= 1 for found, true in zip(cuts, CUTS, strict=True))


def test_cuts_are_frame_accurate() -> None:
    assert detect_cuts(six_scenes(seed=3)) == CUTS


def test_cuts_reported_while_streaming() -> None:
    detector = AdaptiveContentDetector()
    reported_at = {}
    for index, frame in enumerate(six_scenes()):
        for cut in detector.process(index, frame):
            reported_at[cut] = index
    assert detector.finish() == []
    assert all(index - cut == 2 for cut, index in reported_at.items())  # window_width frames late


@pytest.mark.parametrize("hold", [0, 10])
def test_fade_through_black_is_at_most_one_cut(hold: int) -> None:
    assert len(detect_cuts(fade_through_black(hold))) <= 1


def test_camera_motion_is_not_a_cut() -> None:
    frames = list(panning())
    scorer = ContentScorer()
    assert np.mean([scorer.score(f) for f in frames][1:]) > 15  # the scores are high...
    assert detect_cuts(frames) == []  # ...but steady, so the adaptive ratio stays low


def test_min_scene_len_respected() -> None:
    rng = np.random.default_rng(4)
    # A new colour every 5 frames: each change is a hard cut, too close to the previous one.
    frames = [scene_frame(COLORS[(i // 5) % 6], SHAPES[0], i, rng) for i in range(120)]
    cuts = detect_cuts(frames, AdaptiveContentDetector(min_scene_len=15))
    assert cuts
    assert all(b - a >= 15 for a, b in zip([0, *cuts], cuts, strict=False))


def test_cut_in_the_last_frames_found_at_finish() -> None:
    frames = six_scenes()[: CUTS[0] + 1]
    assert detect_cuts(frames) == [CUTS[0]]


def test_grey_frames_score_on_luma() -> None:
    gray = [np.full((H, W), 50, np.uint8)] * 20 + [np.full((H, W), 200, np.uint8)] * 20
    assert detect_cuts(gray) == [20]


def test_rgb_to_hsv_matches_opencv_scale() -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(3000, 3), dtype=np.uint8)
    hsv = rgb_to_hsv(pixels[None])[0].astype(int)
    expected = []
    for p in pixels:
        h, s, v = colorsys.rgb_to_hsv(*(int(c) / 255 for c in p))
        expected.append((round(h * 180) % 180, round(s * 255), round(v * 255)))
    assert np.abs(hsv - np.array(expected)).max() <= 1
    assert hsv[:, 0].max() <= 179


def test_bad_frame_shape_raises() -> None:
    with pytest.raises(ValueError, match="frame"):
        ContentScorer().score(np.zeros((4, 4, 4), np.uint8))


def slide_frames(changes: list[int], n: int, seed: int = 3) -> list[np.ndarray]:
    """White 'slides' whose dark text block moves at ``changes``, with faint noise and a small
    refresh flicker every 20 frames, like a screen recording encoded with periodic keyframes."""
    rng = np.random.default_rng(seed)
    frames = []
    slide = 0
    for index in range(n):
        if index in changes:
            slide += 1
        frame = np.full((72, 128, 3), 245, dtype=np.int16)
        top = 8 + (slide * 13) % 40
        frame[top : top + 10, 10 + slide % 3 * 20 : 100] = 30  # the "text" of this slide
        frame += rng.integers(-1, 2, (72, 128, 1), dtype=np.int16)  # grey sensor noise
        if index % 20 == 0:
            frame += 3  # keyframe refresh
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def test_slide_changes_in_a_static_recording_are_cuts() -> None:
    changes = [90, 200, 330]
    assert detect_cuts(slide_frames(changes, 450)) == changes


def test_slide_changes_are_below_pyscenedetects_floor() -> None:
    """The same frames with the static rule off: the plain detector sees nothing."""
    changes = [90, 200, 330]
    plain = AdaptiveContentDetector(rule=CutRule(static_content_val=float("inf")))
    assert detect_cuts(slide_frames(changes, 450), plain) == []
