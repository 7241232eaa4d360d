"""Streaming video decoding: frames at the size the next step needs, upright, one at a time.

:func:`iter_frames` is a generator over one open container: it holds the decoder's few reference
frames and the frame it yields, never the clip. FFmpeg scales each frame (``reformat``) to the
requested width before it becomes a numpy array, so a 4K source costs 4K pixels only inside the
decoder. Frames are turned upright per the stream's display matrix (``frame.rotation``).

**Frame indices.** A frame's ``index`` is its position in presentation order among *all* frames of
the stream from its start, whatever is skipped: it is the number of video packets whose timestamp is
lower than the frame's. Packets are counted as they are demuxed (a small heap holds those not yet
matched by a decoded frame), so the index stays right with variable frame rates, with
``skip_nonkey`` (skipped frames still count) and after a seek (packets before ``start_s`` are
counted by demuxing them without decoding). Callers that only need times use ``pts_s``.

Limits are not checked here: probe a file (``av_probe.probe``) before decoding it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.codec.context import ThreadType
from av.container import InputContainer
from av.video.frame import VideoFrame as AvFrame
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


def iter_frames(
    path: Path,
    *,
    width: int | None = None,
    gray: bool = False,
    start_s: float = 0,
    end_s: float | None = None,
    skip_nonkey: bool = False,
    fast: bool = False,
    threads: int = 0,
) -> Iterator[VideoFrame]:
    """Decode frames in ``[start_s, end_s]`` one at a time, ``width`` pixels wide (as displayed).

    ``skip_nonkey`` decodes key frames only; ``fast`` trades exactness for speed (no loop filter,
    frame threading); ``threads`` is the decoder's thread count (0: FFmpeg picks).
    """
    with open_input(path) as container:
        stream = _video_of(container, path)
        _configure(stream, skip_nonkey=skip_nonkey, fast=fast, threads=threads)
        counter = _PacketCounter()
        if start_s > 0:
            counter.skip_until(container, stream, start_s)
        for packet in container.demux(stream):
            counter.add(packet.pts, stream, start_s)
            for frame in _decode(packet, path):
                time = _time(frame)
                index = counter.index_of(frame.pts)
                if time < start_s:
                    continue
                if end_s is not None and time > end_s:
                    return
                yield VideoFrame(index, time, to_array(frame, width=width, gray=gray, fast=fast))


def frame_at(path: Path, pts_s: float, width: int | None = None) -> np.ndarray:
    """The RGB frame shown at ``pts_s`` seconds (the last one starting at or before it)."""
    return frames_near(path, [pts_s], width)[pts_s]


def frames_near(
    path: Path, pts_s: list[float], width: int | None = None
) -> dict[float, np.ndarray]:
    """The RGB frame shown at each of the times, by time; seeks only across large gaps."""
    result: dict[float, np.ndarray] = {}
    targets = sorted(set(pts_s))
    with open_input(path) as container:
        stream = _video_of(container, path)
        while targets:
            found = _shown_at(container, stream, targets, path)
            result.update({t: to_array(frame, width=width) for t, frame in found.items()})
            targets = [t for t in targets if t not in found]
    return result


def to_array(
    frame: AvFrame, *, width: int | None = None, gray: bool = False, fast: bool = False
) -> np.ndarray:
    """The frame scaled to ``width`` (as displayed; None: as is), upright, as uint8.

    FFmpeg scales, except with ``fast`` on a 4:2:0 frame at least twice ``width``: then the
    planes are sampled every n-th pixel and converted in numpy, several times cheaper than any
    swscale filter, and the width comes out near ``width`` rather than exactly it. Good enough to
    compare frames, not to look at.
    """
    rotation = normalise_rotation(frame.rotation)
    turned = rotation in (90, 270)
    shown_w, shown_h = (frame.height, frame.width) if turned else (frame.width, frame.height)
    out_w = width or shown_w
    out_h = max(1, round(shown_h * out_w / shown_w))
    step = shown_w // out_w
    if fast and step >= 2 and frame.format.name in _SUBSAMPLED_420:
        image = _sampled(frame, step - step % 2, gray)
    else:
        image = frame.reformat(
            width=out_h if turned else out_w,
            height=out_w if turned else out_h,
            format="gray" if gray else "rgb24",
        ).to_ndarray()
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image


_SUBSAMPLED_420 = ("yuv420p", "yuvj420p")


def _sampled(frame: AvFrame, step: int, gray: bool) -> np.ndarray:
    """Every ``step``-th pixel of a 4:2:0 frame (``step`` even), as grey or BT.601 RGB."""
    luma = _plane(frame, 0, frame.height, frame.width)[::step, ::step]
    full = frame.format.name == "yuvj420p"
    y = luma.astype(np.float32) if full else (luma.astype(np.float32) - 16) * (255 / 219)
    if gray:
        return np.clip(y, 0, 255).astype(np.uint8)
    half = step // 2
    rows, cols = luma.shape
    u = _plane(frame, 1, frame.height // 2, frame.width // 2)[::half, ::half][:rows, :cols]
    v = _plane(frame, 2, frame.height // 2, frame.width // 2)[::half, ::half][:rows, :cols]
    scale = 1.0 if full else 255 / 224
    cb, cr = (u.astype(np.float32) - 128) * scale, (v.astype(np.float32) - 128) * scale
    rgb = np.stack((y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb), axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _plane(frame: AvFrame, index: int, height: int, width: int) -> np.ndarray:
    plane = frame.planes[index]
    return np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[:height, :width]


class _PacketCounter:
    """Counts video packets by timestamp, to give each decoded frame its presentation index."""

    def __init__(self) -> None:
        self._pending: list[int] = []
        self._before = 0
        self._floor: int | None = None

    def skip_until(self, container: InputContainer, stream: VideoStream, start_s: float) -> None:
        """Count the packets before ``start_s`` without decoding, then seek back before it."""
        for packet in container.demux(stream):
            if packet.dts is not None and _seconds(packet.dts, stream) >= start_s:
                break  # pts >= dts: no later packet can be earlier than start_s
            if packet.pts is not None and _seconds(packet.pts, stream) < start_s:
                self._before += 1
        self._floor = round(start_s / float(stream.time_base)) if stream.time_base else 0
        container.seek(self._floor, stream=stream, backward=True)

    def add(self, pts: int | None, stream: VideoStream, start_s: float) -> None:
        if pts is None or (self._floor is not None and _seconds(pts, stream) < start_s):
            return
        heapq.heappush(self._pending, pts)

    def index_of(self, pts: int | None) -> int:
        """Packets with a lower timestamp than ``pts``, all counted (the frame's own too)."""
        while self._pending and (pts is None or self._pending[0] < pts):
            heapq.heappop(self._pending)
            self._before += 1
        index = self._before
        if self._pending and self._pending[0] == pts:
            heapq.heappop(self._pending)
            self._before += 1
        return index


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


def _configure(stream: VideoStream, *, skip_nonkey: bool, fast: bool, threads: int) -> None:
    context = stream.codec_context
    if skip_nonkey:
        context.skip_frame = "NONKEY"
    if fast:
        context.options = {**context.options, "skip_loop_filter": "all"}
        context.thread_type = ThreadType.AUTO
    context.thread_count = threads


def _decode(packet: av.Packet, path: Path) -> list[AvFrame]:
    try:
        return packet.decode()
    except av.FFmpegError as exc:
        raise CorruptMediaError(
            f"{path}: cannot decode the video: {exc}", source=str(path)
        ) from exc


def _time(frame: AvFrame) -> float:
    return float(frame.time) if frame.time is not None else 0.0


def _seconds(pts: int, stream: VideoStream) -> float:
    return float(pts * stream.time_base) if stream.time_base else 0.0
