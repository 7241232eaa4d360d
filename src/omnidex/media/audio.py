"""Streaming audio decoding: any sound track as 16 kHz mono float32, in chunks or on disk.

Everything downstream (speech recognition, audio embedders) takes 16 kHz mono float32, so FFmpeg's
resampler (``av.AudioResampler``) converts each decoded frame as it comes; nothing holds more than
one chunk. :func:`decode_audio_to_file` writes the whole track once as raw little-endian float32,
after which any span is a cheap ``np.memmap`` slice (:meth:`AudioTrack.span`).

**Times.** Sample ``i`` of the output is at ``first_s + i / 16000``, ``first_s`` being the time of
the first decoded frame (usually 0; FFmpeg's start time, e.g. an MP3's encoder delay): gaps in a
track's timestamps are not filled with silence. :func:`read_audio` seeks to ``SEEK_PREROLL_S``
before the span, so that decoders needing history (MP3's bit reservoir, AAC's overlap) have it.

**No audio.** A file without an audio stream (a silent video) is not an error here: ``iter_audio``
yields nothing, ``read_audio`` returns an empty array and ``decode_audio_to_file`` an empty track
(``n_samples == 0``). ``MediaInfo.has_audio`` tells callers beforehand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer

from omnidex.errors import CorruptMediaError
from omnidex.media.av_probe import audio_stream, open_input

SAMPLE_RATE = 16_000
SEEK_PREROLL_S = 1.0
_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class AudioChunk:
    """``samples`` (16 kHz mono float32) starting at ``start_s`` seconds."""

    start_s: float
    samples: np.ndarray


@dataclass(frozen=True)
class AudioTrack:
    """A decoded track on disk: raw little-endian float32 samples, mono, at ``sample_rate``."""

    path: Path
    sample_rate: int
    n_samples: int
    start_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def span(self, start_s: float, end_s: float) -> np.ndarray:
        """The samples between two times (file times, clipped to the track), as a float32 copy."""
        first = min(max(0, round((start_s - self.start_s) * self.sample_rate)), self.n_samples)
        last = min(max(first, round((end_s - self.start_s) * self.sample_rate)), self.n_samples)
        if last == first:
            return np.zeros(0, dtype=np.float32)
        view = np.memmap(self.path, dtype=_DTYPE, mode="r", offset=first * 4, shape=last - first)
        return np.array(view, dtype=np.float32)


def iter_audio(path: Path, chunk_s: float = 10.0) -> Iterator[AudioChunk]:
    """The track in consecutive chunks of ``chunk_s`` seconds (the last one shorter)."""
    chunk_len = max(1, round(chunk_s * SAMPLE_RATE))
    pending: list[np.ndarray] = []
    pending_len = 0
    start_s: float | None = None
    for time, samples in _resampled(path):
        start_s = time if start_s is None else start_s
        pending.append(samples)
        pending_len += len(samples)
        while pending_len >= chunk_len:
            buffer = np.concatenate(pending)
            yield AudioChunk(start_s, buffer[:chunk_len])
            start_s += chunk_len / SAMPLE_RATE
            pending, pending_len = [buffer[chunk_len:]], len(buffer) - chunk_len
    if pending_len and start_s is not None:
        yield AudioChunk(start_s, np.concatenate(pending))


def read_audio(path: Path, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """The samples between two times, seeking to ``start_s`` rather than decoding from the start."""
    parts: list[np.ndarray] = []
    for time, samples in _resampled(path, start_s - SEEK_PREROLL_S):
        end = time + len(samples) / SAMPLE_RATE
        if end <= start_s:
            continue
        if end_s is not None and time >= end_s:
            break
        first = max(0, round((start_s - time) * SAMPLE_RATE))
        last = len(samples) if end_s is None else round((end_s - time) * SAMPLE_RATE)
        parts.append(samples[first:last])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def decode_audio_to_file(path: Path, out: Path) -> AudioTrack:
    """Decode the whole track into ``out`` as raw float32, streaming; see :class:`AudioTrack`."""
    n_samples = 0
    start_s: float | None = None
    with out.open("wb") as handle:
        for time, samples in _resampled(path):
            start_s = time if start_s is None else start_s
            handle.write(samples.astype(_DTYPE, copy=False).tobytes())
            n_samples += len(samples)
    return AudioTrack(out, SAMPLE_RATE, n_samples, start_s or 0.0)


def _resampled(path: Path, seek_s: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
    """``(time, samples)`` for each resampled frame of the first audio track, if there is one."""
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            return
        if seek_s > 0:
            _seek(container, stream, seek_s)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        time: float | None = None
        for frame in _decoded(container, stream, path):
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1)
                if time is None:
                    time = float(out.time) if out.time is not None else 0.0
                yield time, samples
                time += len(samples) / SAMPLE_RATE


def _seek(container: InputContainer, stream: av.AudioStream, seconds: float) -> None:
    base = stream.time_base
    container.seek(round(seconds / float(base)) if base else 0, stream=stream, backward=True)


def _decoded(
    container: InputContainer, stream: av.AudioStream, path: Path
) -> Iterator[av.AudioFrame | None]:
    """The stream's decoded frames, then None (to flush the resampler)."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        message = f"{path}: cannot decode the audio: {exc}"
        raise CorruptMediaError(message, source=str(path)) from exc
    yield None
