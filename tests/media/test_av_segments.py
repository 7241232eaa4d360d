"""Video segmentation end to end on clips PyAV encodes here: cuts, fades, long static scenes,
frame timing, rotation, keyframes; with and without B-frames, across several key frames.

Most tests call ``plan_av`` in this process (what the sandbox's child runs); one goes through
``segment_av`` and the sandbox itself.
"""

from __future__ import annotations

import io
import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from omnidex.config import Settings
from omnidex.errors import CorruptMediaError
from omnidex.media.video import FrameIndex, iter_frames
from omnidex.segment.av_objects import AvPlan, plan_av, segment_av
from omnidex.segment.scene_scan import DETECT_WIDTH, scan_scenes
from omnidex.segment.scenes import detect_cuts
from omnidex.types import SegmentationSpec

LIMITS = Settings().limits
SIZE = (320, 180)
FPS = 30
CUTS = [40, 95, 131, 200, 262]
N_FRAMES = 320
TINTS = [
    (200, 60, 60),
    (60, 170, 70),
    (50, 70, 210),
    (220, 200, 60),
    (120, 120, 120),
    (90, 40, 150),
]


def texture(rng: np.random.Generator, tint: tuple[int, int, int]) -> np.ndarray:
    """Blocky noise around ``tint``, wide enough to pan across for a whole shot."""
    width, height = SIZE
    blocks = rng.integers(-40, 41, size=(height // 10, (width + 2 * N_FRAMES) // 10, 3))
    image = np.clip(blocks + np.array(tint), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(image, 10, axis=0), 10, axis=1)


def shots(cuts: list[int] = CUTS, n_frames: int = N_FRAMES) -> list[np.ndarray]:
    """One panning shot per tint, cut hard at ``cuts``."""
    rng = np.random.default_rng(7)
    frames = []
    for shot, (start, end) in enumerate(itertools.pairwise([0, *cuts, n_frames])):
        tex = texture(rng, TINTS[shot])
        frames += [
            np.ascontiguousarray(tex[:, 2 * t : 2 * t + SIZE[0]]) for t in range(end - start)
        ]
    return frames


def plan(path: Path, tmp_path: Path, **spec: Any) -> AvPlan:
    return plan_av(path, SegmentationSpec(**spec), LIMITS, tmp_path)


def starts(result: AvPlan) -> list[int]:
    return [p.span.start_frame for p in result.spans[1:]]


def mean_colour(jpeg: bytes | None) -> np.ndarray:
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))


ENCODINGS = {
    "x264 B-pyramid": {},
    "no B-frames": {"bf": "0"},
    "8 B-frames, short GOPs": {"bf": "8", "g": "30"},
}


@pytest.mark.parametrize("options", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_hard_cuts_within_one_frame_and_a_keyframe_from_each_shot(
    av_media: Any, tmp_path: Path, options: dict[str, str]
) -> None:
    clip = av_media.video(frames=shots(), fps=FPS, codec_options=options)
    result = plan(clip, tmp_path)
    found = starts(result)
    assert len(found) == len(CUTS)
    assert all(abs(f - c) <= 1 for f, c in zip(found, CUTS, strict=True))
    for shot, planned in enumerate(result.spans):
        colour = mean_colour(planned.keyframe)
        nearest = min(range(len(TINTS)), key=lambda t: np.abs(colour - TINTS[t]).sum())
        assert nearest == shot
        with Image.open(io.BytesIO(planned.thumbnail or b"")) as thumb:
            assert thumb.size == SIZE  # never enlarged to 640


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("clip.mkv", "libx264", {}),
        ("clip.avi", "libx264", {}),  # decoding times only: frames cannot be indexed, read whole
        ("clip-mpeg4.avi", "mpeg4", {"bf": "2", "g": "30"}),  # flags P-frames as key frames
        ("clip.webm", "libvpx-vp9", {}),
    ],
)
def test_other_containers_and_codecs(
    av_media: Any, tmp_path: Path, name: str, codec: str, options: dict[str, str]
) -> None:
    clip = av_media.video(name, frames=shots(), fps=FPS, codec=codec, codec_options=options)
    found = starts(plan(clip, tmp_path))
    assert len(found) == len(CUTS)
    assert all(abs(f - c) <= 1 for f, c in zip(found, CUTS, strict=True))


def test_the_two_passes_find_what_judging_every_frame_finds(av_media: Any) -> None:
    # panning shots, a slide-like change on a still picture, and a fade: the scan must agree
    # with the detector run over every single frame
    frames = shots()[:200]
    still = frames[-1].copy()
    changed = still.copy()
    changed[60:80, 40:200] = 255
    fade = [(changed * (1 - k / 40)).astype(np.uint8) for k in range(30)]
    frames += [still] * 40 + [changed] * 40 + fade
    clip = av_media.video(frames=frames, fps=FPS)
    index = FrameIndex.build(clip)
    assert index is not None
    scan = scan_scenes(clip, index, FPS, min_segment_s=1.0, max_segment_s=30.0)
    everything = detect_cuts(f.image for f in iter_frames(clip, width=DETECT_WIDTH, fast=True))
    assert scan.cuts == everything
    assert 240 in scan.cuts  # the slide change


def fade(frames: list[np.ndarray], into: bool) -> list[np.ndarray]:
    """``frames`` faded in from black (``into``) or out to black, over their length."""
    n = len(frames)
    gains = [(k + 1) / n if into else 1 - (k + 1) / n for k in range(n)]
    return [(f.astype(np.float32) * g).astype(np.uint8) for f, g in zip(frames, gains, strict=True)]


def dark_and_bright_cases() -> dict[str, list[np.ndarray]]:
    """Clips of 4-5 s built from panning shots around fades, black frames and flashes."""
    frames = shots()
    a, b, c = frames[:40], frames[40:95], frames[95:131]
    black, white = np.zeros_like(a[0]), np.full_like(a[0], 255)
    return {
        "fade in from black": [black] * 20 + fade(a[:30], into=True) + a[30:] + b,
        "cut to black, fade in": a + [black] * 30 + fade(b[:30], into=True) + b[30:],
        "fade out to black, cut in": a + fade(b[:30], into=False) + [black] * 20 + c,
        "cut into a fade in": a + fade(b[:30], into=True) + b[30:],
        "black frames between shots": a + [black] * 8 + b + [black] * 20 + c,
        "one-frame flash": [*a[:25], white, *a[25:], *b],
        "two-frame flash": [*a[:25], white, white, *a[25:], *b],
    }


@pytest.mark.parametrize("case", dark_and_bright_cases().keys())
def test_the_scan_agrees_with_every_frame_on_fades_black_and_flashes(
    av_media: Any, case: str
) -> None:
    # the HSV of near-black pixels swings while the small 4:2:0 picture of pass 1 barely moves
    frames = dark_and_bright_cases()[case]
    for options in ENCODINGS.values():
        clip = av_media.video(frames=frames, fps=FPS, codec_options=options)
        index = FrameIndex.build(clip)
        assert index is not None
        scan = scan_scenes(clip, index, FPS, min_segment_s=1.0, max_segment_s=30.0)
        everything = detect_cuts(f.image for f in iter_frames(clip, width=DETECT_WIDTH, fast=True))
        assert scan.cuts == everything, options
        assert scan.cuts  # each case has at least one shot change


def held_shot(n_frames: int, seed: int = 5) -> list[np.ndarray]:
    """A still camera picture (smooth shapes, fine detail) with faint sensor noise per frame."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    coarse = rng.integers(0, 256, (height // 30 + 2, width // 30 + 2, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    picture = smooth.astype(np.float32) + rng.normal(0, 6, smooth.shape)
    return [
        np.clip(picture + rng.normal(0, 2, picture.shape), 0, 255).astype(np.uint8)
        for _ in range(n_frames)
    ]


KEY_FRAME_ENCODINGS = {
    "key frame every 30": {"g": "30"},
    "no B-frames, key frame every 30": {"g": "30", "bf": "0"},
    "key frame every 25, crf 30": {"g": "25", "crf": "30"},
}


@pytest.mark.parametrize("options", KEY_FRAME_ENCODINGS.values(), ids=KEY_FRAME_ENCODINGS.keys())
def test_a_held_shot_is_not_cut_at_the_encoders_key_frames(
    av_media: Any, tmp_path: Path, options: dict[str, str]
) -> None:
    # each key frame re-draws the compression noise over the whole picture: a score of 2-3,
    # as much as a slide change, but no pixel moves far
    clip = av_media.video(frames=held_shot(150), fps=FPS, codec_options=options)
    everything = detect_cuts(f.image for f in iter_frames(clip, width=DETECT_WIDTH, fast=True))
    assert everything == []
    assert starts(plan(clip, tmp_path, min_segment_s=0.0)) == []


@pytest.mark.parametrize("options", KEY_FRAME_ENCODINGS.values(), ids=KEY_FRAME_ENCODINGS.keys())
def test_slide_changes_still_cut_between_periodic_key_frames(
    av_media: Any, tmp_path: Path, options: dict[str, str]
) -> None:
    width, height = SIZE
    changes = [50, 110, 170]
    slides = []
    for slide in range(len(changes) + 1):
        page = np.full((height, width, 3), 240, np.uint8)
        page[20:34, 20:200] = 30  # the title
        page[50 + 30 * slide : 64 + 30 * slide, 30 : 150 + 30 * slide] = 60  # a new bullet
        slides.append(page)
    frames = [slides[sum(i >= c for c in changes)] for i in range(230)]
    clip = av_media.video(frames=frames, fps=FPS, codec_options=options)
    assert starts(plan(clip, tmp_path, min_segment_s=0.0)) == changes


def test_a_real_short_shot_keeps_its_own_document(av_media: Any, tmp_path: Path) -> None:
    cuts = [40, 58, 120]  # the second shot lasts 0.6 s
    clip = av_media.video(frames=shots(cuts, 180), fps=FPS)
    found = starts(plan(clip, tmp_path))
    assert len(found) == len(cuts)
    assert all(abs(f - c) <= 1 for f, c in zip(found, cuts, strict=True))


def test_a_fade_is_not_a_flurry_of_cuts(av_media: Any, tmp_path: Path) -> None:
    first, second = shots([60], 120)[30], shots([60], 120)[90]
    out = [(first * (1 - k / 30)).astype(np.uint8) for k in range(30)]
    into = [(second * (k / 30)).astype(np.uint8) for k in range(30)]
    frames = [first] * 40 + out + [np.zeros_like(first)] * 10 + into + [second] * 40
    result = plan(av_media.video(frames=frames, fps=FPS), tmp_path)
    assert len(result.spans) <= 3


def test_a_three_minute_static_scene_is_split_by_max_segment_s(
    av_media: Any, tmp_path: Path
) -> None:
    slide = np.full((64, 96, 3), 235, np.uint8)
    slide[20:30, 10:80] = 20
    clip = av_media.video(frames=[slide] * (180 * 5), fps=5)
    result = plan(clip, tmp_path, max_segment_s=30)
    spans = [p.span for p in result.spans]
    assert len(spans) == 6
    assert all(s.duration_s == pytest.approx(30, abs=0.3) for s in spans)
    assert spans[0].start_s == 0 and spans[-1].end_s == pytest.approx(180, abs=0.3)
    assert all(p.keyframe and p.thumbnail for p in result.spans)


def test_variable_frame_rate_cuts_carry_their_frames_times(av_media: Any, tmp_path: Path) -> None:
    clip = av_media.video(frames=shots(), fps=FPS, vfr=True)
    result = plan(clip, tmp_path)
    times = {f.index: f.pts_s for f in iter_frames(clip)}
    assert all(abs(f - c) <= 1 for f, c in zip(starts(result), CUTS, strict=True))
    assert len(result.spans) == len(CUTS) + 1
    for planned in result.spans:
        assert planned.span.start_s == pytest.approx(times[planned.span.start_frame])


def test_rotated_video_gives_upright_keyframes(av_media: Any, tmp_path: Path) -> None:
    clip = av_media.video(frames=shots(), fps=FPS, rotate=90)
    result = plan(clip, tmp_path)
    assert len(starts(result)) == len(CUTS)
    with Image.open(io.BytesIO(result.spans[0].keyframe or b"")) as keyframe:
        assert keyframe.size == (SIZE[1], SIZE[0])  # portrait, as displayed


def test_anamorphic_video_gives_keyframes_as_displayed(av_media: Any, tmp_path: Path) -> None:
    # 240 x 180 stored, each pixel 4/3 wide: a 320 x 180 picture, whose circle must stay round
    stored = np.full((180, 240, 3), 30, np.uint8)
    y, x = np.mgrid[:180, :240]
    stored[((x - 120) * 4 / 3) ** 2 + (y - 90) ** 2 < 60**2] = 230
    clip = av_media.video(frames=[stored] * 30, fps=FPS, sar=Fraction(4, 3))
    result = plan(clip, tmp_path)
    for jpeg in (result.spans[0].keyframe, result.spans[0].thumbnail):
        with Image.open(io.BytesIO(jpeg or b"")) as image:
            assert image.size == (320, 180)
            bright = np.asarray(image.convert("L")) > 128
    rows, cols = np.flatnonzero(bright.any(axis=1)), np.flatnonzero(bright.any(axis=0))
    assert abs((cols[-1] - cols[0]) - (rows[-1] - rows[0])) <= 4  # round, not squeezed
    frame = next(iter_frames(clip))
    assert frame.image.shape == (180, 320, 3)


def test_portrait_thumbnails_are_bounded_on_both_sides(av_media: Any, tmp_path: Path) -> None:
    portrait = np.full((720, 360, 3), 120, np.uint8)
    clip = av_media.video(frames=[portrait] * 20, fps=FPS)
    result = plan(clip, tmp_path)
    with Image.open(io.BytesIO(result.spans[0].thumbnail or b"")) as thumb:
        assert thumb.size == (320, 640)  # 640 px tall at most, not 640 wide and 1280 tall
    with Image.open(io.BytesIO(result.spans[0].keyframe or b"")) as keyframe:
        assert keyframe.size == (360, 720)  # within 1280 either way, never enlarged


def test_through_the_sandbox(av_media: Any, tmp_path: Path) -> None:
    clip = av_media.video(frames=shots(), fps=FPS)
    segments = segment_av(
        object_id="clip",
        path=clip,
        source=str(clip),
        settings=Settings(),
        segmentation=SegmentationSpec(),
        workdir=tmp_path,
    )
    assert [s.start_frame for s in segments[1:]] == starts(plan(clip, tmp_path))
    assert all(s.kind == "scene" and s.fps == pytest.approx(FPS) for s in segments)
    assert segments[-1].end_s == pytest.approx(N_FRAMES / FPS)


@pytest.mark.parametrize("split", ["scene", "time"])
def test_a_video_whose_sound_ends_early_is_indexed_whole(
    av_media: Any, tmp_path: Path, split: str
) -> None:
    # 320 frames at 30 fps (10.7 s) with 2 s of sound: a valid file (a clip whose music stops),
    # not a truncated one; its pictures run to the end.
    clip = av_media.video(frames=shots(), fps=FPS, audio=av_media.tone(2.0))
    result = plan(clip, tmp_path, split=split)
    assert result.spans[-1].span.end_s == pytest.approx(N_FRAMES / FPS)
    assert result.track is not None and result.track.duration_s == pytest.approx(2.0, abs=0.1)


def test_a_cut_off_video_with_sound_is_still_refused(av_media: Any, tmp_path: Path) -> None:
    # Matroska keeps its declared length at the front, so the cut-off file still opens.
    clip = av_media.video("clip.mkv", frames=shots(), fps=FPS, audio=av_media.tone(N_FRAMES / FPS))
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="truncated"):
        plan(clip, tmp_path)
