"""Video and audio kinds from magic bytes, checked on real encoded files and on crafted heads."""

from __future__ import annotations

from typing import Any

import pytest

from omnidex.media.av_kinds import sniff_av


@pytest.mark.parametrize(
    ("name", "codec", "kind"),
    [
        ("v.mp4", "libx264", "video"),
        ("v.mkv", "libx264", "video"),
        ("v.webm", "libvpx", "video"),
        ("v.avi", "mpeg4", "video"),
        ("v.ts", "mpeg4", "video"),
    ],
)
def test_video_containers(av_media: Any, name: str, codec: str, kind: str) -> None:
    path = av_media.video(name, codec=codec, n_frames=5)
    assert sniff_av(path.read_bytes()[:1024], path.suffix) == kind


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [
        ("a.wav", "pcm_s16le", 16_000),
        ("a.flac", "flac", 16_000),
        ("a.mp3", "libmp3lame", 16_000),
        ("a.ogg", "libopus", 48_000),
        ("a.m4a", "aac", 16_000),
    ],
)
def test_audio_containers(av_media: Any, name: str, codec: str, rate: int) -> None:
    path = av_media.audio(name, av_media.tone(0.5, rate), sample_rate=rate, codec=codec)
    assert sniff_av(path.read_bytes()[:1024], path.suffix) == "audio"


@pytest.mark.parametrize(
    ("head", "suffix", "kind"),
    [
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", ".bin", "audio"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x00\x00", ".m4a", "audio"),
        (b"\x00\x00\x00\x20ftypqt  \x00\x00\x00\x00", ".mov", "video"),
        (b"\x1a\x45\xdf\xa3\x01\x00", ".mka", "audio"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "", "video"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "", "audio"),
        (b"ID3\x04\x00", ".mp3", "audio"),
        (b"\xff\xfb\x90\x00", "", "audio"),
        (b"OggS\x00\x02", ".ogv", "video"),
        (b"DKIF\x00\x00 \x00VP80", "", "video"),
    ],
)
def test_crafted_heads(head: bytes, suffix: str, kind: str) -> None:
    assert sniff_av(head, suffix) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"%PDF-1.7",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"hello",
    ],
)
def test_other_files_are_not_media(head: bytes) -> None:
    assert sniff_av(head, ".mp4") is None
