"""Whisper through the public API: an audio file ingested with the whisper engine (a tiny random
checkpoint, loaded by path as a hub id is once resolved) gets transcripts whose language, engine
and confidence are stored and filterable, and whose labels stay out of search snippets."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

import omnidex
from omnidex.types import IngestStatus

pytest.importorskip("av", reason="audio needs PyAV: pip install 'omnidex[video]'")
pytest.importorskip("faster_whisper", reason="needs faster-whisper: pip install 'omnidex[whisper]'")
pytestmark = pytest.mark.usefixtures("whisper_cache")

RECORDING = Path(__file__).parent / "data" / "budget_review.wav"


def _talk(path: Path) -> Path:
    """The recording, four seconds of silence, the recording again: an m4a encoded with PyAV."""
    import av

    with wave.open(str(RECORDING)) as wav:
        speech = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    pcm = np.concatenate([speech, np.zeros(4 * 16_000, np.int16), speech])
    with av.open(str(path), "w") as sink:
        stream = sink.add_stream("aac", rate=16_000, layout="mono")
        for start in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + 1024].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = 16_000
            frame.pts = start
            for packet in stream.encode(frame):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return path


def test_language_engine_and_confidence_are_filterable(
    tmp_path: Path, tiny_whisper_path: Path, tiny_embedder_path: Path
) -> None:
    whisper = {
        "engine": "whisper",
        "model": str(tiny_whisper_path),
        "vad": False,
        "beam_size": 1,
        "temperature_fallback": False,
    }
    db = omnidex.connect(tmp_path / "data")
    talks = db.create_collection(
        "talks",
        extractors=[
            {"name": "transcription@v1", "params": whisper},
            {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
        ],
        segmentation={"split": "silence", "min_segment_s": 0.5},
    )
    result = talks.ingest(_talk(tmp_path / "talk.m4a"))[0]
    assert result.status is IngestStatus.INGESTED, result.error
    spoken = talks.documents(where="transcription@v1/text is not null")
    assert spoken
    language = spoken[0].features["transcription@v1/language"]
    for document in spoken:
        assert document.features["transcription@v1/engine"] == "whisper"
        assert 0.0 <= document.features["transcription@v1/confidence"] <= 1.0
        words = document.features["transcription@v1/words"]
        assert all(document.start_s - 1e-3 <= w["start_s"] <= document.end_s + 1e-3 for w in words)
    same = talks.documents(where=f"transcription@v1/language = '{language}'")
    assert {d.id for d in same} == {
        d.id for d in spoken if d.features["transcription@v1/language"] == language
    }
    assert talks.documents(where="transcription@v1/language = 'zz'") == []
    assert len(talks.documents(where="transcription@v1/engine = 'whisper'")) == len(spoken)
    assert talks.documents(where="transcription@v1/confidence > 1") == []
    assert len(talks.documents(where="transcription@v1/confidence >= 0")) == len(spoken)
    word = spoken[0].features["transcription@v1/words"][0]["text"]
    hits = talks.search(word, k=5, where=f"transcription@v1/language = '{language}'")
    assert hits and all(h.id in {d.id for d in same} for h in hits)
    for hit in hits:
        lines = (hit.snippet or "").splitlines()
        assert "whisper" not in lines and language not in lines
