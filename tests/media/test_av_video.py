"""Streaming video decoding: sizes, rotation, indices with VFR and seeking, flat memory."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest

from omnidex.errors import UnsupportedMediaError
from omnidex.media.video import frame_at, frames_near, iter_frames


def _brightness(image: np.ndarray) -> float:
    """Mean of the bottom-right quarter: ``index * 8`` in ``gradient_frame``, far from the red."""
    h, w = image.shape[:2]
    return float(image[h // 2 :, w // 2 :].mean())


def test_every_frame_in_order_at_the_requested_width(av_media: Any) -> None:
    frames = list(iter_frames(av_media.video(n_frames=30), width=80))
    assert [f.index for f in frames] == list(range(30))
    assert [f.pts_s for f in frames] == pytest.approx([i / 25 for i in range(30)])
    assert all(f.image.shape == (60, 80, 3) and f.image.dtype == np.uint8 for f in frames)
    assert _brightness(frames[10].image) == pytest.approx(80, abs=4)


def test_gray_and_native_size(av_media: Any) -> None:
    frame = next(iter_frames(av_media.video(n_frames=5), gray=True))
    assert frame.image.shape == (120, 160)


@pytest.mark.parametrize(
    ("rotate", "shape", "red_at"), [(90, (80, 60), (-1, 0)), (-90, (80, 60), (0, -1))]
)
def test_frames_come_out_upright(
    av_media: Any, rotate: int, shape: tuple[int, int], red_at: tuple[int, int]
) -> None:
    # The red block is the stored top-left; turned counter-clockwise by 90° it ends bottom-left.
    image = next(iter_frames(av_media.video(n_frames=5, rotate=rotate), width=60)).image
    assert image.shape[:2] == shape
    red = image[red_at]
    assert red[0] > 200 and red[1] < 50 and red[2] < 50


def test_variable_frame_rate_indices_follow_presentation_order(av_media: Any) -> None:
    frames = list(iter_frames(av_media.video(n_frames=20, vfr=True)))
    assert [f.index for f in frames] == list(range(20))
    assert frames[2].pts_s == pytest.approx(0.16) and frames[3].pts_s == pytest.approx(0.2)


@pytest.mark.parametrize("vfr", [False, True])
def test_seeking_keeps_indices_from_the_start(av_media: Any, vfr: bool) -> None:
    clip = av_media.video(n_frames=50, vfr=vfr)
    everything = [(f.index, f.pts_s) for f in iter_frames(clip)]
    window = [(f.index, f.pts_s) for f in iter_frames(clip, start_s=1.0, end_s=1.5)]
    assert window == [(i, t) for i, t in everything if 1.0 <= t <= 1.5]
    assert window


def test_key_frames_only_keep_their_true_indices(av_media: Any) -> None:
    clip = av_media.video(n_frames=50, vfr=True)
    keys = list(iter_frames(clip, skip_nonkey=True, fast=True, threads=2))
    by_index = {f.index: f.pts_s for f in iter_frames(clip)}
    assert keys and keys[0].index == 0
    assert all(by_index[f.index] == f.pts_s for f in keys)


def test_fast_mode_gives_the_same_frames_roughly(av_media: Any) -> None:
    clip = av_media.video(n_frames=20)
    exact = [f.image for f in iter_frames(clip)]
    fast = [f.image for f in iter_frames(clip, fast=True)]
    assert len(exact) == len(fast)
    assert all(np.abs(a.astype(int) - b).mean() < 8 for a, b in zip(exact, fast, strict=True))


def test_frame_at_and_frames_near(av_media: Any) -> None:
    clip = av_media.video(n_frames=50)
    assert _brightness(frame_at(clip, 0.42, width=80)) == pytest.approx(80, abs=4)  # frame 10
    near = frames_near(clip, [1.0, 0.0, 99.0], width=40)
    assert set(near) == {0.0, 1.0, 99.0}
    assert _brightness(near[0.0]) == pytest.approx(0, abs=4)
    assert _brightness(near[1.0]) == pytest.approx(200, abs=4)  # frame 25
    assert _brightness(near[99.0]) == pytest.approx(392 % 256, abs=4)  # the last frame
    assert near[0.0].shape == (30, 40, 3)


def test_no_video_stream(av_media: Any) -> None:
    with pytest.raises(UnsupportedMediaError):
        next(iter_frames(av_media.audio("a.wav", av_media.tone(1.0))))


def test_frames_are_not_accumulated(av_media: Any) -> None:
    # Each yielded image must be freed once the caller drops it: the decoder keeps none.
    clip = av_media.video(n_frames=60)
    alive: list[weakref.ref[np.ndarray]] = []
    most_alive = 0
    for frame in iter_frames(clip):
        alive.append(weakref.ref(frame.image))
        del frame
        gc.collect()
        most_alive = max(most_alive, sum(ref() is not None for ref in alive))
    assert len(alive) == 60
    assert most_alive <= 1


@pytest.mark.parametrize("gray", [False, True])
def test_fast_small_frames_match_ffmpegs_scaling(av_media: Any, gray: bool) -> None:
    """The fast path samples the 4:2:0 planes in numpy: colours agree with swscale's RGB."""
    clip = av_media.video(n_frames=3)
    exact = next(iter_frames(clip, width=40, gray=gray)).image.astype(np.float32)
    fast = next(iter_frames(clip, width=40, gray=gray, fast=True)).image.astype(np.float32)
    assert fast.shape[1] >= 40 and fast.shape[0] >= exact.shape[0] - 1
    # compare means per channel: sampling and filtering differ pixel by pixel, not in colour
    axes = (0, 1)
    assert np.allclose(fast.mean(axis=axes), exact.mean(axis=axes), atol=6)
