"""Probing video and audio: what a file holds, checked against the limits before any decoding.

Files are opened through :func:`open_input` only, which closes the two ways a media file can make
FFmpeg read something else: ``protocol_whitelist=file`` (no network, no pipes, no ``subfile:``…)
and ``format_whitelist`` (only real containers: no HLS/DASH playlists, no ``concat`` scripts, no
``image2`` patterns). A playlist is refused as UnsupportedMediaError before FFmpeg follows it.

:func:`probe` then enforces ``max_file_bytes``, ``max_video_pixels`` (from the header: a stream
declaring 100000×100000 is refused without allocating a frame) and ``max_duration_s``; decoding one
frame only to read the rotation. The segmenter calls it inside the sandbox
(:mod:`omnidex.media.sandbox`), in the child that then decodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from omnidex.config import Limits
from omnidex.errors import (
    CorruptMediaError,
    LimitExceededError,
    SourceNotFoundError,
    UnsupportedMediaError,
)
from omnidex.media.av_kinds import sniff_av
from omnidex.media.images import check_pixels
from omnidex.media.kinds import check_file

ALLOWED_FORMATS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,flv,asf,ivf,"
    "wav,w64,mp3,flac,ogg,aac,aiff"
)
"""The demuxers FFmpeg may use: containers that cannot reference other files or URLs."""
OPEN_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ALLOWED_FORMATS}
_PLAYLIST_MARKERS = (b"#EXTM3U", b"ffconcat", b"<?xml", b"<MPD", b"[playlist]", b"file ")
_VFR_SAMPLE_PACKETS = 240
_VFR_TOLERANCE = 0.05
_HEAD_BYTES = 64


@dataclass(frozen=True)
class MediaInfo:
    """What a video or audio file holds. ``width``/``height`` are as displayed (after rotation)."""

    format: str
    size_bytes: int
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    """Degrees counter-clockwise a player turns the stored frames to show them upright."""
    fps: float | None = None
    variable_fps: bool = False
    frame_count: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    audio_duration_s: float | None = None
    """The sound track's own declared length, where its header gives one: a video's sound may
    end before its pictures."""


def probe(path: Path, limits: Limits) -> MediaInfo:
    """Open ``path``, check every limit from the headers, and describe its streams."""
    source = str(path)
    size = check_file(path, limits)
    with open_input(path) as container:
        video, audio = video_stream(container), audio_stream(container)
        if video is None and audio is None:
            raise UnsupportedMediaError(f"{path}: no video or audio stream", source=source)
        if video is not None:
            _check_pixels(video, limits, source)
        duration = _duration(container, size, source)
        if duration > limits.max_duration_s:
            raise LimitExceededError(
                f"{path}: {duration:.1f} s is over the limit of {limits.max_duration_s:g} s "
                "(max_duration_s)",
                source=source,
                limit="max_duration_s",
            )
        info = MediaInfo(
            format=container.format.name,
            size_bytes=size,
            duration_s=duration,
            has_video=video is not None,
            has_audio=audio is not None,
        )
        if audio is not None:
            info = _with_audio(info, audio)
        if video is not None:
            info = _with_video(info, container, video, source)
        return info


def open_input(path: Path) -> InputContainer:
    """Open a media file with the protocol and format whitelists; typed errors on failure."""
    source = str(path)
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.lstrip().startswith(_PLAYLIST_MARKERS):
        raise UnsupportedMediaError(
            f"{path}: playlists and concat scripts are not accepted", source=source
        )
    try:
        return av.open(source, options=OPEN_OPTIONS)
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{path}: no such file", source=source) from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        if sniff_av(head, path.suffix) is not None:
            raise CorruptMediaError(f"{path}: cannot read the media: {exc}", source=source) from exc
        raise UnsupportedMediaError(
            f"{path}: not a supported video or audio file", source=source
        ) from exc


def video_stream(container: InputContainer) -> VideoStream | None:
    """The first video stream that is not a cover picture (an MP3's album art is not video)."""
    return next(
        (s for s in container.streams.video if not s.disposition & Disposition.attached_pic),
        None,
    )


def audio_stream(container: InputContainer) -> av.AudioStream | None:
    return container.streams.audio[0] if container.streams.audio else None


def normalise_rotation(degrees: float) -> int:
    """0, 90, 180 or 270: the display-matrix angle rounded to a quarter turn."""
    return int(round(degrees / 90) * 90) % 360


def _check_pixels(video: VideoStream, limits: Limits, source: str) -> None:
    width, height = video.codec_context.width, video.codec_context.height
    if width <= 0 or height <= 0:
        raise CorruptMediaError(f"{source}: the video stream has no frame size", source=source)
    check_pixels((width, height), limits, source, limit="max_video_pixels")


def _duration(container: InputContainer, size: int, source: str) -> float:
    """Seconds from the container, else from the longest stream, else from size and bitrate."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    stream_durations = [
        float(s.duration * s.time_base)
        for s in container.streams
        if s.duration is not None and s.time_base is not None and s.duration > 0
    ]
    if stream_durations:
        return max(stream_durations)
    if container.bit_rate:
        return size * 8 / container.bit_rate
    raise CorruptMediaError(
        f"{source}: the duration cannot be determined from the headers", source=source
    )


def _stream_duration(stream: av.AudioStream) -> float | None:
    if stream.duration is None or stream.time_base is None or stream.duration <= 0:
        return None
    return float(stream.duration * stream.time_base)


def _with_audio(info: MediaInfo, audio: av.AudioStream) -> MediaInfo:
    context = audio.codec_context
    return replace(
        info,
        audio_codec=context.name,
        sample_rate=context.sample_rate or None,
        channels=context.channels or None,
        audio_duration_s=_stream_duration(audio),
    )


def _with_video(
    info: MediaInfo, container: InputContainer, video: VideoStream, source: str
) -> MediaInfo:
    rotation, deltas = _scan_packets(container, video, source)
    width, height = video.codec_context.width, video.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    fps = _as_float(video.average_rate) or _as_float(video.guessed_rate)
    frame_count = video.frames or (round(info.duration_s * fps) if fps else None)
    return replace(
        info,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        variable_fps=_is_variable(video, deltas),
        frame_count=frame_count,
        video_codec=video.codec_context.name,
    )


def _scan_packets(
    container: InputContainer, video: VideoStream, source: str
) -> tuple[int, list[int]]:
    """The rotation (from the first decoded frame) and pts deltas of the first packets."""
    rotation: int | None = None
    timestamps: list[int] = []
    try:
        for packet in container.demux(video):
            if packet.pts is not None:
                timestamps.append(packet.pts)
            if rotation is None:
                frames = packet.decode()
                rotation = normalise_rotation(frames[0].rotation) if frames else None
            if rotation is not None and len(timestamps) >= _VFR_SAMPLE_PACKETS:
                break
    except av.FFmpegError as exc:
        raise CorruptMediaError(f"{source}: cannot decode the video: {exc}", source=source) from exc
    if rotation is None:
        raise CorruptMediaError(f"{source}: no video frame could be decoded", source=source)
    timestamps.sort()
    return rotation, [b - a for a, b in pairwise(timestamps)]


def _is_variable(video: VideoStream, deltas: list[int]) -> bool:
    """True when sampled frame durations differ, or the nominal and average rates disagree."""
    positive = [d for d in deltas if d > 0]
    if positive and max(positive) > min(positive) * (1 + _VFR_TOLERANCE):
        return True
    base, average = _as_float(video.base_rate), _as_float(video.average_rate)
    return bool(base and average and abs(base - average) > average * _VFR_TOLERANCE)


def _as_float(rate: Fraction | None) -> float | None:
    return float(rate) if rate and math.isfinite(float(rate)) else None
