"""transcription@v1 with pocketsphinx on a committed recording: text, absolute word times, order,
segments without sound, bad params and a missing package; the engine choice (whisper when its
model resolves, else pocketsphinx, and which one ran) and whisper through the extractor."""

from __future__ import annotations

import importlib.util
import logging
import sys
import wave
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from omnidex.errors import InvalidSpecError, MissingDependencyError, ModelLoadError
from omnidex.extractors.transcription import ENGINES, Transcription
from omnidex.types import FeatureType, Segment

RECORDING = Path(__file__).parent.parent / "data" / "budget_review.wav"
KEY_WORDS = {"quarterly", "budget", "review", "thursday"}
POCKETSPHINX = {"engine": "pocketsphinx"}

needs_pocketsphinx = pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None, reason="pocketsphinx is not installed"
)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The sentence "the quarterly budget review is on thursday", 16 kHz mono float32."""
    with wave.open(str(RECORDING)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768


def _segment(key: str, samples: np.ndarray | None, start_s: float = 0.0) -> Segment:
    return Segment(
        object_id="o",
        kind="scene",
        key=key,
        source="talk.mp4",
        start_s=start_s,
        end_s=start_s + 5.0,
        audio=(lambda: samples) if samples is not None else None,
    )


def test_features_and_kinds() -> None:
    extractor = Transcription()
    assert extractor.ref == "transcription@v1"
    assert {f.name: f.type for f in extractor.features()} == {
        "text": FeatureType.TEXT,
        "words": FeatureType.JSON,
        "language": FeatureType.LABEL,
        "confidence": FeatureType.NUMBER,
        "engine": FeatureType.LABEL,
    }
    assert extractor.accepts == {"scene", "audio"}
    assert extractor.params.engine == "auto"
    assert set(ENGINES) == {"auto", "whisper", "pocketsphinx", "phi4mm"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"engine": "magic"}, "params.engine"),
        ({"language": ""}, "params.language"),
        ({"language": "../../etc"}, "params.language"),
        ({"engine": "pocketsphinx", "model": "base"}, "params"),
        ({"engine": "pocketsphinx", "vad": False}, "params"),
        ({"engine": "whisper", "max_new_tokens": 9}, "params"),
        ({"beam_size": 0}, "params.beam_size"),
        ({"compute_type": "int8; rm"}, "params.compute_type"),
        ({"model_name": "big"}, "params.model_name"),
    ],
)
def test_bad_params_are_spec_errors(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        Transcription(params)
    assert info.value.context["field"] == field
    assert info.value.context["extractor"] == "transcription@v1"


def test_missing_pocketsphinx_fails_in_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    extractor = Transcription(POCKETSPHINX)  # cheap: nothing is imported or checked yet
    with pytest.raises(MissingDependencyError) as info:
        extractor.load()
    assert "pip install 'omnidex[video]'" in str(info.value)


@needs_pocketsphinx
def test_unknown_language_fails_in_load() -> None:
    with pytest.raises(MissingDependencyError) as info:
        Transcription({**POCKETSPHINX, "language": "xx-yy"}).load()
    assert "'xx-yy'" in str(info.value)


@needs_pocketsphinx
def test_scene_gets_text_and_absolute_word_times(speech: np.ndarray) -> None:
    [result] = Transcription(POCKETSPHINX).extract([_segment("s0", speech, start_s=12.0)])
    assert len(KEY_WORDS & set(result["text"].split())) >= 3
    words = result["words"]
    assert [w["text"] for w in words] == result["text"].split()
    assert set(words[0]) == {"text", "start_s", "end_s", "confidence"}
    assert (result["language"], result["engine"]) == ("en", "pocketsphinx")
    assert 0.0 <= result["confidence"] <= 1.0
    end = 12.0 + len(speech) / 16_000
    assert all(12.0 <= w["start_s"] < w["end_s"] <= end for w in words)
    assert all(a["end_s"] <= b["start_s"] for a, b in pairwise(words))


@needs_pocketsphinx
def test_batch_keeps_order_and_skips_segments_without_speech(speech: np.ndarray) -> None:
    audio_span = Segment(
        object_id="o", kind="audio", key="a", source="talk.wav", audio=lambda: speech
    )
    segments = [
        _segment("0", speech, start_s=0.0),
        _segment("1", None),
        _segment("2", np.zeros(0, np.float32)),
        _segment("3", np.zeros(32_000, np.float32)),
        audio_span,
        _segment("5", speech, start_s=100.0),
    ]
    results = Transcription(POCKETSPHINX).extract(segments)
    assert [bool(r) for r in results] == [True, False, False, False, True, True]
    assert results[0]["text"] == results[4]["text"] == results[5]["text"]
    assert results[4]["words"] == results[0]["words"]
    assert results[5]["words"][0]["start_s"] == pytest.approx(
        results[0]["words"][0]["start_s"] + 100.0
    )


@needs_pocketsphinx
@pytest.mark.usefixtures("whisper_cache")
def test_default_falls_back_to_pocketsphinx_and_says_why(
    speech: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    """No Whisper weights anywhere (an empty cache, no hub): pocketsphinx transcribes, a warning
    says why, and each document records the engine that ran."""
    extractor = Transcription()
    with caplog.at_level(logging.WARNING, logger="omnidex.models.speech_choice"):
        extractor.load()
    [warning] = [r.getMessage() for r in caplog.records]
    assert "whisper cannot run here, pocketsphinx transcribes instead" in warning
    assert "openai/whisper-base" in warning and "Hugging Face cache" in warning
    [result] = extractor.extract([_segment("s0", speech)])
    assert result["engine"] == "pocketsphinx"
    assert len(KEY_WORDS & set(result["text"].split())) >= 3


@needs_pocketsphinx
def test_default_falls_back_when_faster_whisper_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    extractor = Transcription()
    with caplog.at_level(logging.WARNING, logger="omnidex.models.speech_choice"):
        extractor.load()
    assert "pip install 'omnidex[whisper]'" in caplog.text
    assert extractor.engine.name == "pocketsphinx"


@pytest.mark.usefixtures("whisper_cache")
def test_whisper_named_but_absent_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ModelLoadError) as info:
        Transcription({"engine": "whisper", "model": "small"}).load()
    assert "openai/whisper-small" in str(info.value)


@pytest.mark.usefixtures("whisper_cache")
def test_default_is_whisper_when_its_model_resolves(
    tiny_whisper_path: Path, speech: np.ndarray
) -> None:
    extractor = Transcription(
        {
            "model": str(tiny_whisper_path),
            "vad": False,
            "beam_size": 1,
            "temperature_fallback": False,
        }
    )
    results = extractor.extract([_segment("s0", speech, start_s=40.0), _segment("s1", None)])
    assert results[1] == {}
    found = results[0]
    assert found["engine"] == "whisper"
    assert found["text"] == " ".join(w["text"] for w in found["words"])
    assert all(
        40.0 <= w["start_s"] <= w["end_s"] <= 40.0 + len(speech) / 16_000 + 1e-3
        for w in found["words"]
    )
    assert isinstance(found["language"], str) and found["language"].isalpha()
    assert 0.0 <= found["confidence"] <= 1.0
