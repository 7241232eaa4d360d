"""Media fixtures: tiny video and audio files encoded with PyAV into the test's temp folder.

``make_video`` and ``make_audio`` are plain functions (importable by other test packages through the
``av_media`` fixture) so a test can say exactly what it needs: frames, rate, codec, a sound track,
a display rotation, variable frame timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

FrameSource = list[np.ndarray] | Callable[[int], np.ndarray]
_VFR_TIME_BASE = Fraction(1, 1000)


def gradient_frame(index: int, width: int = 160, height: int = 120) -> np.ndarray:
    """An RGB frame whose brightness encodes ``index`` (8 levels per frame) with a red corner."""
    frame = np.full((height, width, 3), (index * 8) % 256, dtype=np.uint8)
    frame[: height // 4, : width // 4] = (255, 0, 0)
    return frame


def tone(seconds: float, sample_rate: int = 16_000, freq: float = 440.0) -> np.ndarray:
    """A mono float32 sine tone at half scale."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_video(
    path: Path,
    frames: FrameSource = gradient_frame,
    fps: int = 25,
    *,
    n_frames: int = 50,
    codec: str = "libx264",
    codec_options: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int = 16_000,
    audio_codec: str = "aac",
    rotate: int | None = None,
    vfr: bool = False,
    sar: Fraction | None = None,
) -> Path:
    """Encode RGB ``frames`` (a list, or a function of the frame index called ``n_frames`` times).

    ``codec_options`` go to the encoder (libx264's defaults give B-frames, some of them reference
    frames); ``rotate`` sets the display matrix (degrees counter-clockwise, as FFmpeg stores it);
    ``vfr`` makes odd frames last three times as long as even ones (timestamps in milliseconds);
    ``sar`` is the sample aspect ratio written in the stream (anamorphic video).
    """
    import av

    images = frames if isinstance(frames, list) else [frames(i) for i in range(n_frames)]
    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=codec_options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if vfr:
            stream.time_base = _VFR_TIME_BASE
        if rotate is not None:
            stream.set_display_rotation(rotate)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        sound = _add_audio(container, audio_codec, sample_rate) if audio is not None else None
        for pts, image in zip(_video_pts(len(images), fps, vfr), images, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if vfr:
                frame.pts, frame.time_base = pts, _VFR_TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if sound is not None and audio is not None:
            _encode_audio(container, sound, audio, sample_rate)
    return path


def make_audio(
    path: Path,
    samples: np.ndarray,
    sample_rate: int = 16_000,
    *,
    codec: str = "pcm_s16le",
    channels: int = 1,
) -> Path:
    """Encode mono float32 ``samples`` (duplicated to ``channels``) into an audio-only file."""
    import av

    with av.open(str(path), "w") as container:
        stream = _add_audio(container, codec, sample_rate, channels)
        _encode_audio(container, stream, samples, sample_rate, channels)
    return path


@dataclass(frozen=True)
class AvMedia:
    """The fixture's handle: the encoders bound to the test's temp folder."""

    root: Path
    tone = staticmethod(tone)
    frame = staticmethod(gradient_frame)

    def video(self, name: str = "clip.mp4", **kwargs: object) -> Path:
        return make_video(self.root / name, **kwargs)  # type: ignore[arg-type]

    def audio(self, name: str, samples: np.ndarray, **kwargs: object) -> Path:
        return make_audio(self.root / name, samples, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def av_media(tmp_path: Path) -> AvMedia:
    return AvMedia(tmp_path)


def _video_pts(count: int, fps: int, vfr: bool) -> list[int]:
    if not vfr:
        return list(range(count))
    step = 1000 // fps
    durations = [step if i % 2 == 0 else 3 * step for i in range(count)]
    return [sum(durations[:i]) for i in range(count)]


def _add_audio(container: object, codec: str, sample_rate: int, channels: int = 1) -> object:
    stream = container.add_stream(codec, rate=sample_rate)  # type: ignore[attr-defined]
    stream.layout = "mono" if channels == 1 else "stereo"
    return stream


def _encode_audio(
    container: object, stream: object, samples: np.ndarray, sample_rate: int, channels: int = 1
) -> None:
    """Feed the samples in 1024-sample frames, in the encoder's own sample format."""
    import av

    layout = "mono" if channels == 1 else "stereo"
    data = np.tile(samples.astype(np.float32), (channels, 1))
    resampler = av.AudioResampler(
        format=stream.codec_context.format.name,  # type: ignore[attr-defined]
        layout=layout,
        rate=sample_rate,
    )
    frame_size = 1024
    for start in range(0, data.shape[1], frame_size):
        chunk = np.ascontiguousarray(data[:, start : start + frame_size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = sample_rate, start
        for converted in resampler.resample(frame):
            container.mux(stream.encode(converted))  # type: ignore[attr-defined]
    for converted in resampler.resample(None):
        container.mux(stream.encode(converted))  # type: ignore[attr-defined]
    container.mux(stream.encode())  # type: ignore[attr-defined]
