"""Streaming video decoding: frames at the size the next step needs, upright, one at a time.

Two ways to walk a stream, both holding only the decoder's few reference frames and the frame they
yield, never the clip:

- :func:`iter_frames` decodes every frame in order; a frame's ``index`` is its position.
- :func:`decode_frames` decodes only what is asked, by frame index from a :class:`FrameIndex`
  (one demux of the stream, no decoding): every frame inside some ranges, and reference frames
  elsewhere. Non-reference frames outside the ranges are skipped by the decoder itself
  (``skip_frame=NONREF``), which is exact: nothing else refers to them, so every frame it does
  decode is the frame a full decode gives, for every codec. With ``picks`` it also seeks over the
  stretches that hold nothing wanted.

FFmpeg scales each frame (``reformat``) to the requested width before it becomes a numpy array, so
a 4K source costs 4K pixels only inside the decoder. Frames are turned upright per the stream's
display matrix (``frame.rotation``) and stretched to their display shape per the stream's sample
aspect ratio (anamorphic video stores 1440 × 1080 pixels for a 1920 × 1080 picture), so keyframes,
thumbnails, OCR and captions see the picture as a player shows it. Limits are not checked here:
probe a file (``av_probe.probe``) before decoding it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
from av.codec.context import ThreadType
from av.container import InputContainer
from av.video.frame import VideoFrame as AvFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from omnidex.errors import CorruptMediaError, UnsupportedMediaError
from omnidex.media.av_probe import normalise_rotation, open_input, video_stream

RESEEK_GAP_S = 5.0
"""``frames_near`` seeks again rather than decoding forward when the next time is this far."""


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``image`` is RGB ``(h, w, 3)`` or gray ``(h, w)`` uint8, upright."""

    index: int
    pts_s: float
    image: np.ndarray


@dataclass(frozen=True)
class DecodedFrame:
    """One frame as the decoder gave it; ``to_array`` turns it into pixels."""

    index: int
    pts_s: float
    frame: AvFrame
    sar: float = 1.0
    """The stream's sample aspect ratio: each stored pixel is this many times wider than tall."""

    def to_array(
        self, *, width: int | None = None, gray: bool = False, fast: bool = False
    ) -> np.ndarray:
        """The frame's pixels as displayed; see ``to_array``."""
        return to_array(self.frame, width=width, gray=gray, fast=fast, sar=self.sar)

    @property
    def is_key(self) -> bool:
        """Whether decoding can start at this frame (the decoder says so, not the container)."""
        return bool(self.frame.key_frame)


@dataclass(frozen=True)
class FrameIndex:
    """Every frame of a video stream, from one demux: presentation times and seek points.

    ``pts`` holds each frame's timestamp in presentation order, so a frame's index is the position
    of its timestamp; ``keyframes`` the indices of frames a decoder can start from, as the container
    flags them (AVI flags some that are not: a decode that sees the frames knows better, see
    ``DecodedFrame.is_key``).
    """

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: float

    @classmethod
    def build(cls, path: Path) -> FrameIndex | None:
        """The index of ``path``'s video stream; None when packets lack distinct timestamps."""
        with open_input(path) as container:
            stream = _video_of(container, path)
            stamps: list[int] = []
            keys: list[int] = []
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    return None
                if packet.is_keyframe:
                    keys.append(packet.pts)
                stamps.append(packet.pts)
            base = float(stream.time_base) if stream.time_base else 0.0
        pts = tuple(sorted(stamps))
        if not pts or not base or len(set(pts)) != len(pts):
            return None
        keyframes = tuple(sorted(bisect.bisect_left(pts, k) for k in keys)) or (0,)
        return cls(pts, keyframes, base)

    def __len__(self) -> int:
        return len(self.pts)

    def index_of(self, pts: int) -> int:
        """The index of the frame with timestamp ``pts`` (of the one after it, if none has it)."""
        return bisect.bisect_left(self.pts, pts)

    def seconds(self, index: int) -> float:
        return self.pts[index] * self.time_base

    def times(self) -> list[float]:
        """Start time of every frame, in seconds."""
        return [p * self.time_base for p in self.pts]

    def key_before(self, index: int) -> int:
        """The last seek point at or before frame ``index``."""
        return self.keyframes[max(0, bisect.bisect_right(self.keyframes, index) - 1)]


def iter_frames(
    path: Path, *, width: int | None = None, gray: bool = False, fast: bool = False
) -> Iterator[VideoFrame]:
    """Every frame in presentation order, at most ``width`` pixels wide (as displayed).

    ``fast`` trades exactness for speed: no loop filter, a cheap scaling filter.
    """
    with open_input(path) as container:
        stream = _video_of(container, path)
        _configure(stream, fast=fast, threads=ThreadType.AUTO)
        sar = sample_aspect(stream)
        position = 0
        for packet in container.demux(stream):
            for frame in _decode(packet, path):
                image = to_array(frame, width=width, gray=gray, fast=fast, sar=sar)
                yield VideoFrame(position, _time(frame), image)
                position += 1


def decode_frames(
    path: Path,
    index: FrameIndex,
    *,
    ranges: Sequence[tuple[int, int]] = (),
    picks: Collection[int] | None = None,
    fast: bool = False,
) -> Iterator[DecodedFrame]:
    """Frames of ``path`` in order: every one in ``ranges`` (half-open ``[start, end)`` frame
    ranges), and the reference frames among ``picks`` (every reference frame when None).

    A non-reference frame outside the ranges is never decoded, so a pick that is one does not come
    out. With ``picks`` given, the decoder seeks to the key frame before each stretch of wanted
    frames that lies past a key frame. ``fast`` skips the loop filter: faster, and no longer exact.
    Raises ``UnorderedTimestamps`` when the stream's timestamps cannot be trusted to order frames.
    """
    wanted = _Wanted(ranges, picks)
    with open_input(path) as container:
        stream = _video_of(container, path)
        _configure(stream, fast=fast, threads=ThreadType.SLICE)
        for number, stretch in enumerate(wanted.stretches(index)):
            key, retry = stretch.key, False
            while True:
                try:
                    seek = key > 0 or number > 0 or retry
                    yield from _read(container, stream, index, wanted, stretch, key, seek, path)
                    break
                except _Overshot:  # start from the seek point before, at worst the very start
                    earlier = index.key_before(key - 1)
                    key, retry = (earlier if earlier < key else 0), True


@dataclass(frozen=True)
class _Stretch:
    """Wanted frames ``first`` to ``last`` (None: to the end), reached from seek point ``key``."""

    key: int
    first: int
    last: int | None


class UnorderedTimestamps(Exception):
    """Frames come out of the decoder out of timestamp order, so a ``FrameIndex`` cannot place
    them (AVI stores decoding times, and with B-frames those are not presentation times)."""


class _Overshot(Exception):
    """A seek landed past the frame it was meant to reach."""


def _read(
    container: InputContainer,
    stream: VideoStream,
    index: FrameIndex,
    wanted: _Wanted,
    stretch: _Stretch,
    key: int,
    seek: bool,
    path: Path,
) -> Iterator[DecodedFrame]:
    """Decode one stretch from seek point ``key``. Raises ``_Overshot``, having yielded nothing,
    when the first frame out lies past ``stretch.first``: some containers (AVI) seek by decoding
    time, not presentation time, and land a little late; the caller then starts earlier."""
    if seek:
        container.seek(index.pts[key], stream=stream, backward=True)
    context = stream.codec_context
    sar = sample_aspect(stream)
    started, previous = False, -1
    for packet in container.demux(stream):
        inside = packet.pts is not None and wanted.in_range(index.index_of(packet.pts))
        context.skip_frame = "DEFAULT" if inside else "NONREF"
        placed = [
            (min(index.index_of(f.pts), len(index) - 1), f)
            for f in _decode(packet, path)
            if f.pts is not None
        ]
        if placed and not started:
            if placed[0][0] > stretch.first and key > 0:
                raise _Overshot
            started = True
        for at, frame in placed:
            if at <= previous:
                raise UnorderedTimestamps(f"{path}: frame timestamps are out of order")
            previous = at
            if wanted.wants(at):
                yield DecodedFrame(at, index.seconds(at), frame, sar)
        if stretch.last is not None and any(at >= stretch.last for at, _ in placed):
            return


class _Wanted:
    """Which frames ``decode_frames`` yields, and how it reaches them."""

    def __init__(self, ranges: Sequence[tuple[int, int]], picks: Collection[int] | None) -> None:
        self.ranges = sorted((s, e) for s, e in ranges if e > s)
        self._starts = [s for s, _ in self.ranges]
        self.picks = None if picks is None else frozenset(picks)

    def in_range(self, index: int) -> bool:
        at = bisect.bisect_right(self._starts, index) - 1
        return at >= 0 and index < self.ranges[at][1]

    def wants(self, index: int) -> bool:
        return self.picks is None or index in self.picks or self.in_range(index)

    def stretches(self, index: FrameIndex) -> list[_Stretch]:
        """What to decode: all of it at once without picks; else a new stretch wherever a key
        frame lies between one wanted frame and the next."""
        if self.picks is None:
            return [_Stretch(0, 0, None)]
        stretches: list[_Stretch] = []
        for start, end in sorted([*((p, p + 1) for p in self.picks), *self.ranges]):
            key = index.key_before(start)
            last = stretches[-1].last if stretches else None
            if stretches and last is not None and key <= last:
                stretches[-1] = replace(stretches[-1], last=max(last, end - 1))
            else:
                stretches.append(_Stretch(key, start, end - 1))
        return stretches


def frames_near(
    path: Path, pts_s: list[float], width: int | None = None
) -> dict[float, np.ndarray]:
    """The RGB frame shown at each of the times, by time; seeks only across large gaps."""
    result: dict[float, np.ndarray] = {}
    targets = sorted(set(pts_s))
    with open_input(path) as container:
        stream = _video_of(container, path)
        sar = sample_aspect(stream)
        while targets:
            found = _shown_at(container, stream, targets, path)
            result.update({t: to_array(frame, width=width, sar=sar) for t, frame in found.items()})
            targets = [t for t in targets if t not in found]
    return result


def sample_aspect(stream: VideoStream) -> float:
    """The stream's sample aspect ratio (1.0 when unset or nonsense)."""
    ratio = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    value = float(ratio) if ratio else 1.0
    return value if 0.1 <= value <= 10 else 1.0


def to_array(
    frame: AvFrame,
    *,
    width: int | None = None,
    gray: bool = False,
    fast: bool = False,
    sar: float = 1.0,
) -> np.ndarray:
    """The frame at most ``width`` pixels wide (as displayed; None: as is), upright, as uint8:
    frames narrower than ``width`` keep their size. ``sar`` (the stream's sample aspect ratio)
    stretches stored pixels to their displayed shape.

    ``fast`` scales with swscale's fast bilinear filter: good enough to compare frames, not to
    look at.
    """
    rotation = normalise_rotation(frame.rotation)
    turned = rotation in (90, 270)
    wide = max(1, round(frame.width * sar)) if sar >= 1 else frame.width
    tall = frame.height if sar >= 1 else max(1, round(frame.height / sar))
    shown_w, shown_h = (tall, wide) if turned else (wide, tall)
    out_w = min(width, shown_w) if width else shown_w
    out_h = max(1, round(shown_h * out_w / shown_w))
    image = _reformat(
        frame,
        out_h if turned else out_w,
        out_w if turned else out_h,
        "gray" if gray else "rgb24",
        "FAST_BILINEAR" if fast else "BILINEAR",
    )
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image


def _shown_at(
    container: InputContainer, stream: VideoStream, targets: list[float], path: Path
) -> dict[float, AvFrame]:
    """Seek before ``targets[0]`` and decode forward, matching targets until a large gap."""
    base = stream.time_base
    container.seek(round(targets[0] / float(base)) if base else 0, stream=stream, backward=True)
    found: dict[float, AvFrame] = {}
    previous: AvFrame | None = None
    pending = list(targets)
    for packet in container.demux(stream):
        for frame in _decode(packet, path):
            while pending and previous is not None and _time(frame) > pending[0]:
                found[pending.pop(0)] = previous
            if not pending or (found and pending[0] - _time(frame) > RESEEK_GAP_S):
                return found
            previous = frame
    if previous is not None:  # times past the last frame get the last frame
        found.update(dict.fromkeys(pending, previous))
    if not found:
        raise CorruptMediaError(f"{path}: no video frame could be decoded", source=str(path))
    return found


def _video_of(container: InputContainer, path: Path) -> VideoStream:
    stream = video_stream(container)
    if stream is None:
        raise UnsupportedMediaError(f"{path}: the file has no video stream", source=str(path))
    return stream


def _configure(stream: VideoStream, *, fast: bool, threads: ThreadType) -> None:
    """Frame threads suit decoding every frame; slice threads suit skipping, where a chain of
    reference frames leaves frame threads little to share and slices still split each frame."""
    context = stream.codec_context
    if fast:
        context.options = {**context.options, "skip_loop_filter": "all"}
    context.thread_type = threads
    context.thread_count = 0


def _decode(packet: av.Packet, path: Path) -> list[AvFrame]:
    try:
        return packet.decode()
    except av.FFmpegError as exc:
        raise CorruptMediaError(
            f"{path}: cannot decode the video: {exc}", source=str(path)
        ) from exc


def _time(frame: AvFrame) -> float:
    return float(frame.time) if frame.time is not None else 0.0


def small_yuv(frame: AvFrame, width: int) -> np.ndarray:
    """The frame as a small 4:2:0 picture at most ``width`` wide, its Y plane then U and V
    stacked (as stored, not turned upright): the cheapest picture that still sees colour."""
    out_w = max(2, min(width, frame.width) // 2 * 2)
    out_h = max(2, round(frame.height * out_w / frame.width / 2) * 2)
    return _reformat(frame, out_w, out_h, "yuv420p", "FAST_BILINEAR")


_local = threading.local()


def _reformat(
    frame: AvFrame, width: int, height: int, format: str, interpolation: str
) -> np.ndarray:
    """``frame.reformat(...)`` with a scaler kept per output shape (and thread): building
    FFmpeg's scaler anew for every frame, as ``frame.reformat`` does, costs more than scaling."""
    scalers: dict[tuple[object, ...], VideoReformatter] = _local.__dict__.setdefault("scalers", {})
    key = (frame.width, frame.height, frame.format.name, width, height, format, interpolation)
    scaler = scalers.get(key)
    if scaler is None:
        scaler = scalers[key] = VideoReformatter()
    out = scaler.reformat(
        frame, width=width, height=height, format=format, interpolation=interpolation
    )
    return out.to_ndarray()
