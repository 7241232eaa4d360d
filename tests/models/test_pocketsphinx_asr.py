"""The pocketsphinx engine on real speech: words, times, offsets, windows, silence, missing parts.

The speech is made with festival's ``text2wave`` where it is installed, else read from the small
recording committed in ``tests/data`` (the same sentence, made the same way).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import threading
import wave
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from omnidex.errors import ExtractionError, MissingDependencyError
from omnidex.models.pocketsphinx_asr import PocketsphinxEngine, clean_word, to_pcm16
from omnidex.models.speech import FRAMES_PER_S, SAMPLE_RATE, frame_energy, split_windows

SENTENCE = "the quarterly budget review is on thursday"
KEY_WORDS = {"quarterly", "budget", "review", "thursday"}
RECORDING = Path(__file__).parent.parent / "data" / "budget_review.wav"

needs_pocketsphinx = pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None, reason="pocketsphinx is not installed"
)


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono 16-bit WAV → float32 samples in -1..1."""
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """:data:`SENTENCE` spoken, 16 kHz mono float32: synthesized now if festival is here."""
    if shutil.which("text2wave") is None:
        return read_wav(RECORDING)
    folder = tmp_path_factory.mktemp("speech")
    (folder / "text.txt").write_text(SENTENCE + "\n")
    command = ["text2wave", "text.txt", "-o", "speech.wav", "-F", str(SAMPLE_RATE)]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return read_wav(folder / "speech.wav")


def place(length_s: float, clips: dict[float, np.ndarray]) -> np.ndarray:
    """Silence of ``length_s`` with each clip starting at its time in seconds."""
    out = np.zeros(int(length_s * SAMPLE_RATE), dtype=np.float32)
    for at, clip in clips.items():
        start = int(at * SAMPLE_RATE)
        out[start : start + len(clip)] = clip
    return out


def duration(samples: np.ndarray) -> float:
    return len(samples) / SAMPLE_RATE


def test_recording_is_small_16k_mono() -> None:
    assert RECORDING.stat().st_size < 200_000
    assert 1.0 < duration(read_wav(RECORDING)) < 10.0


def test_clean_word_drops_fillers_and_alternate_pronunciations() -> None:
    assert [clean_word(w) for w in ["<s>", "</s>", "<sil>", "[NOISE]", "++UM++"]] == [None] * 5
    assert clean_word("thursday(2)") == "thursday"
    assert clean_word("o'clock") == "o'clock"


def test_to_pcm16_clips_and_zeroes_nan() -> None:
    pcm = np.frombuffer(to_pcm16(np.array([0.0, 0.5, -2.0, 2.0, np.nan], np.float32)), "<i2")
    assert pcm.tolist() == [0, 16383, -32767, 32767, 0]


def test_split_windows_cover_everything_and_cut_at_pauses() -> None:
    energy = np.ones(1000)
    energy[440:460] = 0.0  # a pause in the second half of the first window
    windows = split_windows(energy, max_frames=600)
    assert windows[0] == (0, 450)
    assert windows[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in pairwise(windows))
    assert all(0 < end - start <= 600 for start, end in windows)
    assert split_windows(np.ones(5), max_frames=600) == [(0, 5)]
    assert len(split_windows(np.ones(7), max_frames=1)) == 7


def test_sound_without_pauses_is_cut_into_full_windows() -> None:
    energy = 1.0 + 0.01 * np.sin(np.arange(1000))  # a tone: no pause, tiny ripples
    assert split_windows(energy, max_frames=300)[:3] == [(0, 300), (300, 600), (600, 900)]


def test_frame_energy_counts_a_partial_frame() -> None:
    energy = frame_energy(np.ones(SAMPLE_RATE // FRAMES_PER_S * 3 + 1, np.float32))
    assert len(energy) == 4
    assert energy[0] == pytest.approx(1.0)


def test_missing_pocketsphinx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(MissingDependencyError) as info:
        PocketsphinxEngine().check()
    assert "pip install 'omnidex[video]'" in str(info.value)
    assert info.value.context["dependency"] == "pocketsphinx"


@needs_pocketsphinx
def test_unknown_language_is_a_missing_model() -> None:
    with pytest.raises(MissingDependencyError) as info:
        PocketsphinxEngine(language="xx-yy").check()
    assert "'xx-yy'" in str(info.value)
    assert "en-us" in str(info.value)


@needs_pocketsphinx
def test_transcribes_the_key_words(speech: np.ndarray) -> None:
    transcript = PocketsphinxEngine().transcribe(speech)
    assert len(KEY_WORDS & set(transcript.text.split())) >= 3
    assert transcript.text == " ".join(w.text for w in transcript.words)
    assert transcript.language == "en-us"
    assert all(0.0 <= (w.confidence or 0.0) <= 1.0 for w in transcript.words)


@needs_pocketsphinx
def test_word_times_are_ordered_inside_the_audio_and_shifted_by_offset(
    speech: np.ndarray,
) -> None:
    engine = PocketsphinxEngine()
    words = engine.transcribe(speech).words
    shifted = engine.transcribe(speech, offset_s=7.5).words
    assert words
    assert all(0.0 <= w.start_s < w.end_s <= duration(speech) for w in words)
    assert all(a.end_s <= b.start_s for a, b in pairwise(words))
    assert [w.text for w in shifted] == [w.text for w in words]
    for word, moved in zip(words, shifted, strict=True):
        assert moved.start_s == pytest.approx(word.start_s + 7.5)
        assert moved.end_s == pytest.approx(word.end_s + 7.5)


@needs_pocketsphinx
@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(0, np.float32),
        np.zeros(100, np.float32),
        np.zeros(3 * SAMPLE_RATE, np.float32),
        np.random.default_rng(0).normal(0, 0.001, 3 * SAMPLE_RATE).astype(np.float32),
    ],
    ids=["empty", "tiny", "silence", "faint-noise"],
)
def test_silence_is_an_empty_transcript(samples: np.ndarray) -> None:
    transcript = PocketsphinxEngine().transcribe(samples, offset_s=3.0)
    assert (transcript.text, transcript.words) == ("", [])


@needs_pocketsphinx
def test_stereo_is_refused() -> None:
    with pytest.raises(ExtractionError):
        PocketsphinxEngine().transcribe(np.zeros((2, SAMPLE_RATE), np.float32))


@needs_pocketsphinx
def test_short_windows_keep_absolute_times(speech: np.ndarray) -> None:
    audio = place(10.0, {1.0: speech, 6.0: speech})
    words = PocketsphinxEngine(max_window_s=4.0).transcribe(audio, offset_s=100.0).words
    first = [w for w in words if w.start_s < 105.0]
    second = [w for w in words if w.start_s >= 105.0]
    for part, at in ((first, 101.0), (second, 106.0)):
        assert len(KEY_WORDS & {w.text for w in part}) >= 3
        assert all(at <= w.start_s < w.end_s <= at + duration(speech) for w in part)


@needs_pocketsphinx
@pytest.mark.slow
def test_long_audio_is_windowed_with_absolute_times(speech: np.ndarray) -> None:
    starts = (2.0, 33.0, 64.0)
    audio = place(70.0, dict.fromkeys(starts, speech))
    max_frames = 30 * FRAMES_PER_S
    assert len(split_windows(frame_energy(audio), max_frames)) >= 3
    words = PocketsphinxEngine().transcribe(audio).words
    for at in starts:
        here = [w for w in words if at <= w.start_s < at + duration(speech)]
        assert len(KEY_WORDS & {w.text for w in here}) >= 3
    assert all(a.end_s <= b.start_s for a, b in pairwise(words))


@needs_pocketsphinx
def test_each_thread_keeps_its_own_decoder() -> None:
    engine = PocketsphinxEngine()
    mine = engine._decoder()
    assert engine._decoder() is mine
    assert PocketsphinxEngine()._decoder() is mine
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(engine._decoder()))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine
