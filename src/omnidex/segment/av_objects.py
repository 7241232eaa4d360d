"""Video and audio segmentation: probe, cut into spans, pick a keyframe per span, keep the sound.

All decoding happens in :func:`plan_av`, which :func:`segment_av` runs in a child process with the
decode time limit (:mod:`omnidex.media.sandbox`): a hostile file can hang or crash that child, not
the caller. Scenes and their keyframes come from :mod:`omnidex.segment.scene_scan`'s two passes
(reference frames, then only around candidate cuts and keyframes); a stream that cannot be indexed
is decoded whole instead. The child writes the audio track once, 16 kHz mono float32, to a file in
``workdir``; each segment's ``audio`` reads its span from that file lazily, so memory stays flat
with length.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from omnidex.config import Limits, Settings
from omnidex.errors import CorruptMediaError
from omnidex.media.audio import AudioTrack, decode_audio_to_file
from omnidex.media.av_probe import MediaInfo, probe
from omnidex.media.sandbox import run_isolated
from omnidex.media.video import FrameIndex, UnorderedTimestamps, frames_near, iter_frames
from omnidex.segment.keyframes import (
    KEYFRAME_WIDTH,
    THUMBNAIL_WIDTH,
    keyframe_candidates,
    pick_keyframe,
    thumbnail,
)
from omnidex.segment.scene_scan import DETECT_WIDTH, scan_scenes
from omnidex.segment.scenes import AdaptiveContentDetector
from omnidex.segment.spans import Span, Timeline, plan_spans, silence_spans
from omnidex.types import Segment, SegmentationSpec, SegmentKind

KEYFRAME_BATCH_SPANS = 8
"""Spans whose keyframe candidates are decoded together: at most 40 frames of 1280 px held."""
ENERGY_HOP_S = 0.01


@dataclass(frozen=True)
class PlannedSpan:
    span: Span
    keyframe: bytes | None
    """JPEG of the sharpest frame near the middle; None for audio."""
    thumbnail: bytes | None


@dataclass(frozen=True)
class AvPlan:
    info: MediaInfo
    spans: list[PlannedSpan]
    track: AudioTrack | None


def segment_av(
    *,
    object_id: str,
    path: Path,
    source: str,
    settings: Settings,
    segmentation: SegmentationSpec,
    workdir: Path,
) -> list[Segment]:
    """Segments of a video (``scene``) or audio-only file (``audio``), decoded in a sandbox."""
    plan = run_isolated(
        plan_av,
        path,
        segmentation,
        settings.limits,
        workdir,
        timeout_s=settings.limits.decode_timeout_s,
        source=source,
    )
    kind: SegmentKind = "scene" if plan.info.has_video else "audio"
    return [
        Segment(
            object_id=object_id,
            kind=kind,
            key=f"{kind}={index:04d}",
            source=source,
            start_s=planned.span.start_s,
            end_s=planned.span.end_s,
            start_frame=planned.span.start_frame if plan.info.has_video else None,
            end_frame=planned.span.end_frame if plan.info.has_video else None,
            fps=frame_rate(plan.info) if plan.info.has_video else None,
            image=partial(decode_jpeg, planned.keyframe) if planned.keyframe else None,
            audio=_audio_of(plan.track, planned.span),
            frames=partial(scene_frames, path, planned.span, limits=settings.limits, source=source)
            if plan.info.has_video
            else None,
            thumbnail=planned.thumbnail,
        )
        for index, planned in enumerate(plan.spans)
    ]


def plan_av(path: Path, spec: SegmentationSpec, limits: Limits, workdir: Path) -> AvPlan:
    """Everything that decodes; runs in the child process. Limits are checked by the probe."""
    info = probe(path, limits)
    track = None
    if info.has_audio:
        track = decode_audio_to_file(path, workdir / "audio.f32")
        # A video's sound may stop before its pictures (those are checked on their own): it is
        # checked against its own declared length; an audio file's against the file's.
        declared = info.audio_duration_s if info.has_video else info.duration_s
        _check_complete(path, declared, track.start_s + track.duration_s, "sound")
        track = track if track.n_samples else None
    if not info.has_video:
        spans = _audio_spans(info, spec, track)
        return AvPlan(info, [PlannedSpan(s, None, None) for s in spans], track)
    if spec.split == "scene" and (scenes := _scanned_scenes(path, info, spec)) is not None:
        return AvPlan(info, scenes, track)
    spans = _video_spans(path, info, spec, track)
    return AvPlan(info, _with_keyframes(path, spans, frame_rate(info)), track)


def _scanned_scenes(
    path: Path, info: MediaInfo, spec: SegmentationSpec
) -> list[PlannedSpan] | None:
    """Scenes by the two-pass scan, keyframes it did not find from a separate decode; None when
    the stream's timestamps cannot index its frames."""
    fps = frame_rate(info)
    index = FrameIndex.build(path)
    if index is None:
        return None
    try:
        scan = scan_scenes(
            path, index, fps, min_segment_s=spec.min_segment_s, max_segment_s=spec.max_segment_s
        )
    except UnorderedTimestamps:
        return None
    _check_complete(path, info.duration_s, scan.decoded_until_s, "pictures")
    spans = plan_spans(scan.timeline, scan.cuts, spec.min_segment_s, spec.max_segment_s)
    found = {span: scan.keyframe_for(span) for span in spans}
    missing = iter(_with_keyframes(path, [s for s, k in found.items() if k is None], fps))
    return [
        PlannedSpan(span, k.image, k.thumbnail) if k is not None else next(missing)
        for span, k in found.items()
    ]


def _check_complete(path: Path, declared_s: float | None, decoded_s: float, what: str) -> None:
    """A stream that ends well before its header says (``declared_s``; None: unknown) is
    truncated: refuse the file whole rather than index a part of it as if it were all."""
    if declared_s is not None and declared_s > 2 and decoded_s < 0.9 * declared_s - 1:
        raise CorruptMediaError(
            f"{path}: truncated or damaged: its {what} end at {decoded_s:.1f} s of the "
            f"{declared_s:.1f} s its header declares",
            source=str(path),
        )


def frame_rate(info: MediaInfo) -> float:
    """Average frames per second, from the stream, else from the frame count, else 25."""
    if info.fps:
        return info.fps
    if info.frame_count and info.duration_s:
        return info.frame_count / info.duration_s
    return 25.0


def decode_jpeg(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def scene_frames(
    path: Path, span: Span, count: int, *, limits: Limits, source: str
) -> list[Image.Image]:
    """``count`` frames spread evenly over ``span`` (the middle of equal parts), decoded in a
    sandbox, at most KEYFRAME_WIDTH wide."""
    times = [span.start_s + (span.end_s - span.start_s) * (i + 0.5) / count for i in range(count)]
    jpegs = run_isolated(frames_jpeg, path, times, timeout_s=limits.decode_timeout_s, source=source)
    return [decode_jpeg(data) for data in jpegs]


def frames_jpeg(path: Path, times: list[float]) -> list[bytes]:
    """JPEGs of the frames shown at ``times`` (those the file has), in order; runs sandboxed."""
    decoded = frames_near(path, times, width=KEYFRAME_WIDTH)
    return [thumbnail(decoded[t], KEYFRAME_WIDTH) for t in times if t in decoded]


def _audio_of(track: AudioTrack | None, span: Span) -> partial[np.ndarray] | None:
    return partial(track.span, span.start_s, span.end_s) if track is not None else None


# --- spans -----------------------------------------------------------------------------------


def _video_spans(
    path: Path, info: MediaInfo, spec: SegmentationSpec, track: AudioTrack | None
) -> list[Span]:
    if spec.split == "scene":
        return _scene_spans(path, info, spec)
    fps = frame_rate(info)
    timeline = Timeline(max(1, info.frame_count or round(info.duration_s * fps)), fps)
    if spec.split == "silence" and track is not None:
        return _on_timeline(_silence_spans(track, spec), timeline, spec)
    return plan_spans(timeline, [], 0.0, min(spec.window_s, spec.max_segment_s))


def _audio_spans(info: MediaInfo, spec: SegmentationSpec, track: AudioTrack | None) -> list[Span]:
    """Audio-only files cut at pauses (``scene`` means ``silence`` here) or in fixed windows."""
    if track is None:
        return []
    if spec.split in ("scene", "silence"):
        return _silence_spans(track, spec)
    timeline = Timeline(max(1, round(track.duration_s / ENERGY_HOP_S)), 1 / ENERGY_HOP_S)
    return plan_spans(timeline, [], 0.0, min(spec.window_s, spec.max_segment_s))


def _scene_spans(path: Path, info: MediaInfo, spec: SegmentationSpec) -> list[Span]:
    """One fast, small pass over every frame (for streams ``FrameIndex`` cannot index)."""
    detector = AdaptiveContentDetector()
    cuts: list[int] = []
    pts: list[float] = []
    for frame in iter_frames(path, width=DETECT_WIDTH, fast=True):
        cuts.extend(detector.process(frame.index, frame.image))
        pts.append(frame.pts_s)
    cuts.extend(detector.finish())
    _check_complete(
        path, info.duration_s, pts[-1] + 1 / frame_rate(info) if pts else 0.0, "pictures"
    )
    increasing = all(b > a for a, b in itertools.pairwise(pts))
    timeline = Timeline(len(pts), frame_rate(info), pts if increasing else None)
    return plan_spans(timeline, cuts, spec.min_segment_s, spec.max_segment_s)


def _silence_spans(track: AudioTrack, spec: SegmentationSpec) -> list[Span]:
    spans = silence_spans(
        _energy(track),
        hop_s=ENERGY_HOP_S,
        min_segment_s=spec.min_segment_s,
        max_segment_s=spec.max_segment_s,
    )
    offset = track.start_s  # e.g. an MP3's encoder delay: times are file times
    return [replace(s, start_s=s.start_s + offset, end_s=s.end_s + offset) for s in spans]


def _energy(track: AudioTrack, block_s: float = 60.0) -> np.ndarray:
    """Mean square per 10 ms of the whole track, read a minute at a time."""
    hop = round(track.sample_rate * ENERGY_HOP_S)
    parts = []
    start, end = track.start_s, track.start_s + track.duration_s
    while start < end:
        samples = track.span(start, min(start + block_s, end))
        usable = len(samples) // hop * hop
        parts.append((samples[:usable].astype(np.float64).reshape(-1, hop) ** 2).mean(axis=1))
        start += block_s
    return np.concatenate(parts) if parts else np.zeros(0)


def _on_timeline(spans: list[Span], timeline: Timeline, spec: SegmentationSpec) -> list[Span]:
    """Spans found in seconds (from the sound) moved onto the video's frames."""
    cuts = [timeline.frame_at(span.start_s) for span in spans[1:]]
    return plan_spans(timeline, cuts, spec.min_segment_s, spec.max_segment_s)


# --- keyframes -------------------------------------------------------------------------------


def _with_keyframes(path: Path, spans: list[Span], fps: float) -> list[PlannedSpan]:
    """Each span with the sharpest of a few frames around its middle, as a JPEG and a thumbnail.

    Candidates of several spans are decoded in one forward pass (seeking only across long gaps);
    a batch of spans at a time bounds the frames held at once.
    """
    planned: list[PlannedSpan] = []
    for start in range(0, len(spans), KEYFRAME_BATCH_SPANS):
        batch = spans[start : start + KEYFRAME_BATCH_SPANS]
        candidates = {id(span): _candidate_times(span, fps) for span in batch}
        wanted = [seconds for times in candidates.values() for _, seconds in times]
        decoded = frames_near(path, wanted, width=KEYFRAME_WIDTH)
        planned.extend(_keyframe(span, candidates[id(span)], decoded) for span in batch)
    return planned


def _candidate_times(span: Span, fps: float) -> list[tuple[int, float]]:
    """(frame index, time) of the keyframe candidates of a span, times kept inside it."""
    return [
        (index, min(max(span.start_s + (index - span.start_frame) / fps, span.start_s), span.end_s))
        for index in keyframe_candidates(span)
    ]


def _keyframe(
    span: Span, times: list[tuple[int, float]], decoded: dict[float, np.ndarray]
) -> PlannedSpan:
    candidates = [(index, s, decoded[s]) for index, s in times if s in decoded]
    if not candidates:
        return PlannedSpan(span, None, None)
    best = pick_keyframe(candidates)
    image = next(pixels for index, _, pixels in candidates if index == best)
    return PlannedSpan(span, thumbnail(image, KEYFRAME_WIDTH), thumbnail(image, THUMBNAIL_WIDTH))
