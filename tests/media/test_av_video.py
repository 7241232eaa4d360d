"""Streaming video decoding: sizes, rotation, VFR indices, exact skipping and seeking, memory."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from omnidex.errors import UnsupportedMediaError
from omnidex.media.video import (
    FrameIndex,
    UnorderedTimestamps,
    decode_frames,
    frames_near,
    iter_frames,
    small_yuv,
    to_array,
)


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


def test_the_index_lists_every_frame_in_presentation_order(av_media: Any) -> None:
    clip = av_media.video(n_frames=60, vfr=True, codec_options={"g": "20"})
    index = FrameIndex.build(clip)
    assert index is not None and len(index) == 60
    assert index.times() == pytest.approx([f.pts_s for f in iter_frames(clip)])
    assert index.keyframes[0] == 0 and len(index.keyframes) >= 3
    assert index.key_before(59) == index.keyframes[-1] and index.key_before(0) == 0


@pytest.mark.parametrize("options", [{}, {"bf": "0"}, {"bf": "8", "g": "30"}])
def test_reference_frames_alone_are_exactly_the_full_decodes(
    av_media: Any, options: dict[str, str]
) -> None:
    clip = av_media.video(n_frames=90, codec_options=options)
    index = FrameIndex.build(clip)
    assert index is not None
    full = {f.index: f.image for f in iter_frames(clip)}
    refs = list(decode_frames(clip, index))
    assert refs and refs[0].index == 0
    assert [r.index for r in refs] == sorted({r.index for r in refs})
    if options.get("bf") != "0":
        assert len(refs) < len(full)  # non-reference B-frames were skipped
    for ref in refs:
        assert np.array_equal(to_array(ref.frame), full[ref.index])
        assert ref.pts_s == pytest.approx(index.seconds(ref.index))


@pytest.mark.parametrize(
    ("name", "codec"), [("clip.mp4", "libx264"), ("clip.avi", "mpeg4"), ("clip.mkv", "libx264")]
)
def test_ranges_whole_and_picks_across_key_frames(av_media: Any, name: str, codec: str) -> None:
    clip = av_media.video(name, n_frames=120, codec=codec, codec_options={"g": "25", "bf": "2"})
    index = FrameIndex.build(clip)
    assert index is not None
    full = {f.index: f.image for f in iter_frames(clip)}
    refs = [r.index for r in decode_frames(clip, index)]
    picks = [refs[3], refs[-2]]  # far apart: the decoder seeks between them
    got = list(decode_frames(clip, index, ranges=[(30, 40), (70, 72)], picks=picks))
    expected = sorted({*range(30, 40), *range(70, 72), *picks})
    assert [g.index for g in got] == expected
    assert all(np.array_equal(to_array(g.frame), full[g.index]) for g in got)


def test_timestamps_out_of_order_are_refused_not_misplaced(av_media: Any) -> None:
    clip = av_media.video("clip.avi", n_frames=60)  # H.264 B-frames in AVI: decoding times only
    index = FrameIndex.build(clip)
    assert index is not None
    with pytest.raises(UnorderedTimestamps):
        list(decode_frames(clip, index))


def test_fast_mode_gives_the_same_frames_roughly(av_media: Any) -> None:
    clip = av_media.video(n_frames=20)
    exact = [f.image for f in iter_frames(clip)]
    fast = [f.image for f in iter_frames(clip, fast=True)]
    assert len(exact) == len(fast)
    assert all(np.abs(a.astype(int) - b).mean() < 8 for a, b in zip(exact, fast, strict=True))


def test_frames_near(av_media: Any) -> None:
    clip = av_media.video(n_frames=50)
    at = frames_near(clip, [0.42], width=80)[0.42]
    assert _brightness(at) == pytest.approx(80, abs=4)  # frame 10
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
def test_fast_small_frames_keep_their_colours(av_media: Any, gray: bool) -> None:
    clip = av_media.video(n_frames=3)
    exact = next(iter_frames(clip, width=40, gray=gray)).image.astype(np.float32)
    fast = next(iter_frames(clip, width=40, gray=gray, fast=True)).image.astype(np.float32)
    assert fast.shape == exact.shape
    assert np.allclose(fast.mean(axis=(0, 1)), exact.mean(axis=(0, 1)), atol=6)


def test_frames_are_never_enlarged(av_media: Any) -> None:
    clip = av_media.video(n_frames=2)
    assert next(iter_frames(clip, width=400)).image.shape == (120, 160, 3)
    refs = decode_frames(clip, FrameIndex.build(clip))  # type: ignore[arg-type]
    assert small_yuv(next(refs).frame, 400).shape == (180, 160)  # Y, then U and V below it


def test_a_seek_that_lands_late_falls_back_to_the_start(av_media: Any) -> None:
    # AVI seeks by decoding time and lands after the frame asked for; with no earlier seek point
    # known, decoding must start over from the beginning rather than give up or loop
    clip = av_media.video("clip.avi", n_frames=60, codec="mpeg4", codec_options={"bf": "2"})
    index = FrameIndex.build(clip)
    assert index is not None
    refs = [r.index for r in decode_frames(clip, index)]
    pick = next(r for r in refs if r >= 30)
    only_late_keys = replace(index, keyframes=(pick,))
    got = list(decode_frames(clip, only_late_keys, picks=[pick], ranges=[(pick + 1, pick + 3)]))
    assert [g.index for g in got] == [pick, pick + 1, pick + 2]
    full = {f.index: f.image for f in iter_frames(clip)}
    assert all(np.array_equal(to_array(g.frame), full[g.index]) for g in got)
