"""Probing video and audio: stream facts, limits from the headers, and hostile files refused."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import av
import pytest

from omnidex.config import Limits
from omnidex.errors import (
    CorruptMediaError,
    EmptyFileError,
    LimitExceededError,
    SourceNotFoundError,
    UnsupportedMediaError,
)
from omnidex.media.av_probe import OPEN_OPTIONS, probe

LIMITS = Limits()


def test_h264_mp4_with_audio(av_media: Any) -> None:
    clip = av_media.video(n_frames=50, fps=25, audio=av_media.tone(2.0))
    info = probe(clip, LIMITS)
    assert info.format.startswith("mov,mp4")
    assert info.has_video and info.has_audio
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.fps == 25 and not info.variable_fps and info.frame_count == 50
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.sample_rate, info.channels) == (16_000, 1)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.size_bytes == clip.stat().st_size


def test_video_without_audio(av_media: Any) -> None:
    info = probe(av_media.video("silent.avi", codec="mpeg4"), LIMITS)
    assert info.has_video and not info.has_audio
    assert info.audio_codec is info.sample_rate is info.channels is None
    assert (info.format, info.video_codec) == ("avi", "mpeg4")


def test_variable_frame_rate_is_detected(av_media: Any) -> None:
    assert probe(av_media.video("vfr.mp4", vfr=True), LIMITS).variable_fps
    assert not probe(av_media.video("cfr.mp4"), LIMITS).variable_fps


@pytest.mark.parametrize(("rotate", "expected"), [(90, 90), (-90, 270), (180, 180)])
def test_rotation_is_read_and_size_is_as_displayed(
    av_media: Any, rotate: int, expected: int
) -> None:
    info = probe(av_media.video(rotate=rotate), LIMITS)
    assert info.rotation == expected
    assert (info.width, info.height) == ((120, 160) if expected != 180 else (160, 120))


@pytest.mark.parametrize(
    ("name", "codec", "rate", "fmt", "decoder"),
    [
        ("a.wav", "pcm_s16le", 16_000, "wav", "pcm_s16le"),
        ("a.flac", "flac", 16_000, "flac", "flac"),
        ("a.mp3", "libmp3lame", 16_000, "mp3", "mp3float"),
        ("a.ogg", "libopus", 48_000, "ogg", "opus"),
        ("a.m4a", "aac", 16_000, "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ],
)
def test_audio_only_files(
    av_media: Any, name: str, codec: str, rate: int, fmt: str, decoder: str
) -> None:
    path = av_media.audio(name, av_media.tone(1.5, rate), sample_rate=rate, codec=codec)
    info = probe(path, LIMITS)
    assert not info.has_video and info.has_audio
    assert (info.format, info.audio_codec, info.sample_rate) == (fmt, decoder, rate)
    assert info.duration_s == pytest.approx(1.5, abs=0.1)
    assert info.width is info.fps is None


def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(EmptyFileError):
        probe(path, LIMITS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        probe(tmp_path / "nope.mp4", LIMITS)


def test_truncated_mp4_is_corrupt(av_media: Any) -> None:
    clip = av_media.video()
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError):
        probe(clip, LIMITS)


@pytest.mark.parametrize("content", [b"just some words\n" * 20, bytes(range(256)) * 8])
def test_non_media_is_unsupported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMediaError):
        probe(path, LIMITS)


def _ivf(path: Path, width: int, height: int) -> Path:
    """An IVF header declaring a ``width``×``height`` VP8 stream, then one tiny garbage frame."""
    header = struct.pack("<4sHH4sHHIIII", b"DKIF", 0, 32, b"VP80", width, height, 25, 1, 1, 0)
    path.write_bytes(header + struct.pack("<IQ", 10, 0) + bytes(10))
    return path


def test_huge_declared_frame_is_refused_from_the_header(tmp_path: Path) -> None:
    with pytest.raises(LimitExceededError) as info:
        probe(_ivf(tmp_path / "big.ivf", 8000, 8000), LIMITS)
    assert info.value.context["limit"] == "max_video_pixels"


def test_absurd_declared_frame_is_refused(tmp_path: Path) -> None:
    # FFmpeg itself drops a 65535×65535 size as invalid, leaving a stream without a size.
    with pytest.raises((LimitExceededError, CorruptMediaError)):
        probe(_ivf(tmp_path / "absurd.ivf", 65535, 65535), LIMITS)


def test_pixel_limit(av_media: Any) -> None:
    with pytest.raises(LimitExceededError) as info:
        probe(av_media.video(), Limits(max_video_pixels=100 * 100))
    assert info.value.context["limit"] == "max_video_pixels"


def test_duration_limit(av_media: Any) -> None:
    with pytest.raises(LimitExceededError) as info:
        probe(av_media.video(n_frames=50), Limits(max_duration_s=1.0))
    assert info.value.context["limit"] == "max_duration_s"


def test_file_size_limit(av_media: Any) -> None:
    with pytest.raises(LimitExceededError) as info:
        probe(av_media.video(), Limits(max_file_bytes=100))
    assert info.value.context["limit"] == "max_file_bytes"


PLAYLISTS = {
    "local.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{target}\n#EXT-X-ENDLIST\n",
    "remote.m3u8": "#EXTM3U\n#EXTINF:2,\nhttp://127.0.0.1:9/secret.ts\n#EXT-X-ENDLIST\n",
    "list.ffconcat": "ffconcat version 1.0\nfile '{target}'\n",
    "list.txt": "file '{target}'\n",
}


@pytest.mark.parametrize("name", sorted(PLAYLISTS))
def test_playlists_are_refused(av_media: Any, name: str) -> None:
    target = av_media.video("secret.mp4")
    path = av_media.root / name
    path.write_text(PLAYLISTS[name].format(target=target))
    with pytest.raises(UnsupportedMediaError, match="playlist"):
        probe(path, LIMITS)


@pytest.mark.parametrize("name", sorted(PLAYLISTS))
def test_ffmpeg_itself_refuses_playlists(av_media: Any, name: str) -> None:
    """Defence in depth: the whitelists alone refuse them, whatever the sniffing says."""
    target = av_media.video("secret.mp4")
    path = av_media.root / name
    path.write_text(PLAYLISTS[name].format(target=target))
    with pytest.raises((av.FFmpegError, OSError, ValueError)):
        av.open(str(path), options=OPEN_OPTIONS)
