"""Streaming audio decoding: 16 kHz mono float32 chunks, spans, and the on-disk track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnidex.media.audio import SAMPLE_RATE, decode_audio_to_file, iter_audio, read_audio


@pytest.fixture
def wav(av_media: Any) -> Path:
    return av_media.audio("tone.wav", av_media.tone(3.0, 44_100), sample_rate=44_100, channels=2)


def test_chunks_are_16k_mono_float32(wav: Path) -> None:
    chunks = list(iter_audio(wav, chunk_s=1.0))
    assert [c.start_s for c in chunks] == [0.0, 1.0, 2.0]
    assert all(c.samples.dtype == np.float32 and c.samples.ndim == 1 for c in chunks)
    assert [len(c.samples) for c in chunks] == [SAMPLE_RATE] * 3
    # Two identical channels at 0.5 downmix by FFmpeg's default matrix, (L + R) / √2.
    assert float(np.abs(chunks[1].samples).max()) == pytest.approx(0.5 * np.sqrt(2), abs=0.02)


def test_last_chunk_is_shorter(wav: Path) -> None:
    chunks = list(iter_audio(wav, chunk_s=2.0))
    assert [len(c.samples) for c in chunks] == [2 * SAMPLE_RATE, SAMPLE_RATE]


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [("a.mp3", "libmp3lame", 16_000), ("a.ogg", "libopus", 48_000), ("a.flac", "flac", 22_050)],
)
def test_read_audio_matches_the_decoded_track(
    av_media: Any, tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    path = av_media.audio(name, av_media.tone(3.0, rate), sample_rate=rate, codec=codec)
    track = decode_audio_to_file(path, tmp_path / "track.f32")
    assert track.sample_rate == SAMPLE_RATE
    assert track.duration_s == pytest.approx(3.0, abs=0.1)
    assert (tmp_path / "track.f32").stat().st_size == 4 * track.n_samples
    span = read_audio(path, 1.25, 2.0)
    assert len(span) == pytest.approx(0.75 * SAMPLE_RATE, abs=2)
    expected = track.span(1.25, 2.0)
    size = min(len(span), len(expected))
    assert np.abs(span[:size] - expected[:size]).max() < 0.05


def test_track_spans_are_clipped(wav: Path, tmp_path: Path) -> None:
    track = decode_audio_to_file(wav, tmp_path / "t.f32")
    assert len(track.span(-5, 0.5)) == SAMPLE_RATE // 2
    assert len(track.span(2.5, 99)) == SAMPLE_RATE // 2
    assert len(track.span(99, 100)) == 0


def test_video_audio_track(av_media: Any) -> None:
    clip = av_media.video(n_frames=50, audio=av_media.tone(2.0))
    samples = np.concatenate([c.samples for c in iter_audio(clip)])
    assert len(samples) == pytest.approx(2 * SAMPLE_RATE, abs=2048)


def test_a_silent_video_has_an_empty_track(av_media: Any, tmp_path: Path) -> None:
    clip = av_media.video(n_frames=10)
    assert list(iter_audio(clip)) == []
    assert read_audio(clip, 0, 1).shape == (0,)
    track = decode_audio_to_file(clip, tmp_path / "none.f32")
    assert track.n_samples == 0 and track.duration_s == 0
    assert track.span(0, 1).shape == (0,)
