"""The whisper engine on a tiny random checkpoint: resolution and conversion (a size through the
cache, a folder, a CTranslate2 folder), word times in source seconds, voice-activity detection on
silence and music, the language detected or given, and long audio in bounded windows.

The checkpoint's weights are random, so what it "hears" is noise: these tests check timing,
structure and the paths weights take, never the words (the benchmark measures those)."""

from __future__ import annotations

import shutil
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from omnidex.errors import InvalidSpecError, ModelLoadError
from omnidex.models.speech import SAMPLE_RATE
from omnidex.models.whisper_asr import WhisperEngine, load_whisper
from omnidex.models.whisper_weights import converted_dir, ctranslate2_folder, hub_id

pytest.importorskip("faster_whisper", reason="needs faster-whisper: pip install 'omnidex[whisper]'")
pytestmark = pytest.mark.usefixtures("whisper_cache")

RECORDING = Path(__file__).parent.parent / "data" / "budget_review.wav"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FAST = {"beam_size": 1, "temperature_fallback": False}
"""Greedy decoding, no hotter retries: the random model's noise is decoded once."""


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """ "the quarterly budget review is on thursday", 2.7 s, 16 kHz mono float32."""
    with wave.open(str(RECORDING)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768


def _music(seconds: float) -> np.ndarray:
    """A C major chord, pulsing twice a second: tonal sound with no voice in it."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    return (chord * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def test_sizes_name_the_official_checkpoints() -> None:
    assert hub_id("base") == "openai/whisper-base"
    assert hub_id("small.en") == "openai/whisper-small.en"
    assert hub_id("turbo") == "openai/whisper-large-v3-turbo"
    assert hub_id("acme/whisper-de") == "acme/whisper-de"


def test_a_size_resolves_through_the_cache_and_converts_once(
    tiny_whisper_path: Path, whisper_cache: Path
) -> None:
    repo = whisper_cache / "models--openai--whisper-base"
    shutil.copytree(tiny_whisper_path, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    folder = ctranslate2_folder("base")
    assert folder.parent == converted_dir() == whisper_cache.parent / "omnidex-ctranslate2"
    assert {"model.bin", "tokenizer.json", "preprocessor_config.json"} <= {
        p.name for p in folder.iterdir()
    }
    converted_at = (folder / "model.bin").stat().st_mtime_ns
    assert ctranslate2_folder("base") == folder  # the same checkpoint is not converted again
    assert (folder / "model.bin").stat().st_mtime_ns == converted_at
    assert ctranslate2_folder(str(folder)) == folder  # a CTranslate2 folder is used as it is
    assert load_whisper("base").model.is_multilingual


def test_absent_model_and_foreign_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as info:
        ctranslate2_folder("tiny")
    assert "openai/whisper-tiny" in str(info.value) and "Hugging Face cache" in str(info.value)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="neither a CTranslate2 Whisper model"):
        ctranslate2_folder(str(tmp_path))


def test_words_are_timed_in_source_seconds(tiny_whisper_path: Path, speech: np.ndarray) -> None:
    engine = WhisperEngine(str(tiny_whisper_path), vad=False, **FAST)  # type: ignore[arg-type]
    transcript = engine.transcribe(speech, offset_s=100.0)
    assert transcript.words
    end = 100.0 + speech.size / SAMPLE_RATE
    for word in transcript.words:
        assert 100.0 <= word.start_s <= word.end_s <= end + 1e-3
        assert word.confidence is not None and 0.0 <= word.confidence <= 1.0
    starts = [w.start_s for w in transcript.words]
    assert starts == sorted(starts)
    assert transcript.language in load_whisper(str(tiny_whisper_path)).supported_languages
    assert transcript.confidence is not None


def test_vad_skips_silence_and_music(tiny_whisper_path: Path) -> None:
    silence = np.zeros(5 * SAMPLE_RATE, dtype=np.float32)
    music = _music(6.0)
    listening = WhisperEngine(str(tiny_whisper_path), vad=True, **FAST)  # type: ignore[arg-type]
    assert listening.transcribe(silence).words == []
    assert listening.transcribe(music).words == []
    # without VAD the same model makes words up from the music: the VAD is what skips it
    deaf = WhisperEngine(str(tiny_whisper_path), vad=False, **FAST)  # type: ignore[arg-type]
    assert deaf.transcribe(music).words


def test_given_language_is_kept_and_an_unknown_one_refused(
    tiny_whisper_path: Path, speech: np.ndarray
) -> None:
    french = WhisperEngine(str(tiny_whisper_path), language="fr-FR", vad=False, **FAST)  # type: ignore[arg-type]
    french.check()
    assert french.transcribe(speech).language == "fr"
    with pytest.raises(InvalidSpecError) as info:
        WhisperEngine(str(tiny_whisper_path), language="xx").check()
    assert info.value.context["field"] == "params.language"


def test_long_audio_is_decoded_in_bounded_windows(
    tiny_whisper_path: Path, speech: np.ndarray
) -> None:
    """Four minutes of speech with pauses: words come from every part, timed in the source, and
    the memory Python allocates while transcribing stays near one 30 s window's worth (≈ 30 MiB
    here), far below what decoding the clip whole takes (≈ 235 MiB at 240 s, growing with it)."""
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    unit = np.concatenate([speech, pause])
    clip = np.tile(unit, int(np.ceil(240 * SAMPLE_RATE / unit.size)))[: 240 * SAMPLE_RATE]
    engine = WhisperEngine(str(tiny_whisper_path), vad=False, **FAST)  # type: ignore[arg-type]
    engine.check()
    tracemalloc.start()
    try:
        transcript = engine.transcribe(clip, offset_s=10.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    starts = [w.start_s for w in transcript.words]
    assert starts == sorted(starts) and starts[0] >= 10.0 and starts[-1] <= 250.0
    assert starts[-1] > 10.0 + 200  # the last windows were heard, and timed from the clip's start
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.1f} MiB"
