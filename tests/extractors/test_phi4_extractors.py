"""The Phi-4-multimodal extractors on both backends: a tiny random checkpoint in process, and a
local server that speaks the OpenAI protocol as vLLM serves the model.

Ingest runs for real (PyAV in the sandbox, LanceDB, the tiny embedder); the answers of a random
model are noise, so tests check that features exist and where they came from, while the served
backend, whose test server describes what it received, shows what each request held.
"""

from __future__ import annotations

import itertools
import json
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

import omnidex
from omnidex.errors import InvalidSpecError
from omnidex.extractors.ocr import Ocr
from omnidex.extractors.scene_caption import SceneCaption, parse_fields
from omnidex.extractors.speech_summary import SpeechSummary
from omnidex.extractors.transcription import Transcription
from omnidex.models.openai_compat import OpenAICompatGenerator
from omnidex.models.phi4mm_tasks import Phi4SpeechEngine, summarize_speech
from omnidex.samples import MEETING
from omnidex.types import IngestStatus

from ..models.openai_server import OpenAIServer, openai_server

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("av", reason="video needs PyAV: pip install 'omnidex[video]'")

SR = 16_000


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SR)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_slide(path: Path, text: str) -> Path:
    image = Image.new("RGB", (640, 360), "white")
    ImageDraw.Draw(image).text((40, 150), text, fill="black")
    image.save(path)
    return path


def phi4(tiny_phi4mm_path: Path, **params: Any) -> dict[str, Any]:
    return {"model_id": str(tiny_phi4mm_path), "device": "cpu", "max_new_tokens": 6, **params}


# --- in process, through a collection -----------------------------------------------------


@pytest.fixture(scope="module")
def analysed(
    tmp_path_factory: pytest.TempPathFactory, tiny_phi4mm_path: Path, tiny_embedder_path: Path
) -> omnidex.Collection:
    """Images, the sample meeting video and an audio file through every Phi-4 extractor."""
    root = tmp_path_factory.mktemp("phi4_media")
    db = omnidex.connect(root / "data")
    collection = db.create_collection(
        "analysed",
        extractors=[
            {"name": "scene_caption@v1", "params": phi4(tiny_phi4mm_path)},
            {"name": "ocr@v1", "params": phi4(tiny_phi4mm_path, engine="phi4mm")},
            {"name": "transcription@v1", "params": phi4(tiny_phi4mm_path, engine="phi4mm")},
            {"name": "speech_summary@v1", "params": phi4(tiny_phi4mm_path)},
            {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
        ],
    )
    sources = [
        write_slide(root / "slide.png", "Quarterly revenue grew"),
        MEETING,
        write_wav(root / "talk.wav", tone(3.0)),
    ]
    for result in collection.ingest(sources):
        assert result.status is IngestStatus.INGESTED, result.error
    return collection


def test_images_get_a_caption_and_their_text(analysed: omnidex.Collection) -> None:
    (image,) = analysed.documents(where="kind = 'image'")
    assert image.features["scene_caption@v1/caption"]
    assert image.features["ocr@v1/text"]
    assert "ocr@v1/words" not in image.features  # Phi-4 reads text, it has no word boxes
    assert image.features["text_embedding@v1/vector"] is not None


def test_video_scenes_get_caption_slide_text_and_transcript(analysed: omnidex.Collection) -> None:
    scenes = analysed.documents(where="kind = 'scene'")
    assert len(scenes) >= 2
    for scene in scenes:
        assert scene.features["scene_caption@v1/caption"]
        assert scene.features["ocr@v1/text"]
        words = scene.features["transcription@v1/words"]
        assert scene.start_s is not None and scene.end_s is not None
        assert words and all(
            scene.start_s - 1e-3 <= w["start_s"] < w["end_s"] <= scene.end_s + 1e-3 for w in words
        )
        assert scene.features["speech_summary@v1/summary"]


def test_audio_gets_transcript_and_summary(analysed: omnidex.Collection) -> None:
    (audio,) = analysed.documents(where="kind = 'audio'")
    assert audio.features["transcription@v1/text"]
    assert audio.features["speech_summary@v1/summary"]
    assert "scene_caption@v1/caption" not in audio.features


def test_a_missing_adapter_fails_the_ingest_clearly(tiny_phi4mm_path: Path, tmp_path: Path) -> None:
    partial = tmp_path / "no-vision"
    shutil.copytree(tiny_phi4mm_path, partial, ignore=shutil.ignore_patterns("vision-lora"))
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection(
        "c", extractors=[{"name": "scene_caption@v1", "params": phi4(partial)}]
    )
    (result,) = collection.ingest(write_slide(tmp_path / "s.png", "hello"))
    assert result.status is IngestStatus.FAILED
    assert "vision LoRA adapter is missing" in (result.error or "")


# --- served, through the OpenAI protocol ---------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A model server on loopback, which only the operator's endpoint list lets extractors reach."""
    with openai_server() as running:
        monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", running.url)
        yield running


def served(server: OpenAIServer, **params: Any) -> dict[str, Any]:
    return {"backend": "openai", "base_url": server.url, **params}


def test_a_scene_can_be_shown_as_several_frames(server: OpenAIServer, tmp_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection(
        "c", extractors=[{"name": "scene_caption@v1", "params": served(server, frames=3)}]
    )
    (result,) = collection.ingest(MEETING)
    assert result.status is IngestStatus.INGESTED, result.error
    captions = [d.features["scene_caption@v1/caption"] for d in collection.documents()]
    assert captions and all("model=vision images=3 " in c for c in captions)
    assert all("frames from one scene" in c for c in captions)


def test_structured_captions_are_validated_and_retried_once(server: OpenAIServer) -> None:
    schema = {
        "type": "object",
        "properties": {"people": {"type": "integer"}, "setting": {"type": "string"}},
        "required": ["people", "setting"],
    }
    answers = iter(['{"people": "two"}', '```json\n{"people": 2, "setting": "office"}\n```'])
    server.reply = lambda _: next(answers)
    extractor = SceneCaption(served(server, response_schema=schema))
    assert [f.name for f in extractor.features()] == ["caption", "fields"]
    (features,) = extractor.extract([image_segment()])
    assert features["fields"] == {"people": 2, "setting": "office"}
    assert len(server.requests) == 2
    retry = server.requests[1].body["messages"][0]["content"][-1]["text"]
    assert "previous answer was not valid" in retry and "people" in retry


def test_answers_that_fail_twice_keep_the_caption_without_fields(server: OpenAIServer) -> None:
    server.reply = lambda _: "a room with two people"
    extractor = SceneCaption(served(server, response_schema={"type": "object"}))
    (features,) = extractor.extract([image_segment()])
    assert features == {"caption": "a room with two people"}
    assert len(server.requests) == 2


def test_parse_fields() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    assert parse_fields('{"n": 3}', schema) == ({"n": 3}, None)
    assert parse_fields('```\n{"n": 3}\n```', schema) == ({"n": 3}, None)
    assert parse_fields('{"m": 3}', schema)[1] == "at the top level: 'n' is a required property"
    assert parse_fields("{n: 3}", schema)[1].startswith("not JSON")


def test_long_speech_is_transcribed_in_windows_timed_in_the_source(server: OpenAIServer) -> None:
    generator = OpenAICompatGenerator(server.url)
    engine = Phi4SpeechEngine(lambda: generator)
    speech = np.concatenate([tone(25), np.zeros(SR, np.float32), tone(25), tone(20)])
    quiet = np.zeros(5 * SR, np.float32)
    loud, silent = engine.transcribe_many([(speech, 100.0), (quiet, 0.0)])
    assert silent.words == [] and silent.text == ""
    assert len(loud.words) >= 3 and all("model=speech" in w.text for w in loud.words)
    bounds = [(w.start_s, w.end_s) for w in loud.words]
    assert bounds[0][0] == 100.0 and bounds[-1][1] == pytest.approx(171.0)
    assert all(end - start <= 30.0 for start, end in bounds)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert bounds[0][1] == pytest.approx(125.5, abs=0.6)  # cut in the pause, not mid-word


def test_summaries_of_long_audio_are_merged(server: OpenAIServer) -> None:
    generator = OpenAICompatGenerator(server.url)
    (summary, nothing) = summarize_speech(
        generator, [tone(50), np.zeros(SR, np.float32)], max_window_s=20
    )
    assert nothing == ""
    to_speech = [r for r in server.requests if r.body["model"] == "speech"]
    (merge,) = [r for r in server.requests if r.body["model"] != "speech"]
    assert len(to_speech) == 3
    merge_text = merge.body["messages"][0]["content"][-1]["text"]
    assert merge_text.count("model=speech") == 3
    assert summary.startswith(f"model={server.base_model} text=These are summaries")


def test_ocr_and_transcription_run_on_the_served_model(server: OpenAIServer) -> None:
    ocr = Ocr(served(server, engine="phi4mm", max_side=320))
    (read,) = ocr.extract([image_segment()])
    assert read["text"].startswith("model=vision images=1 sizes=320x180")
    transcription = Transcription(served(server, engine="phi4mm"))
    (heard,) = transcription.extract([audio_segment(tone(2.0), start_s=10.0)])
    assert heard["words"] == [
        {"text": heard["text"], "start_s": 10.0, "end_s": pytest.approx(12.0)}
    ]
    summary = SpeechSummary(served(server))
    (said,) = summary.extract([audio_segment(tone(2.0))])
    assert said["summary"].startswith("model=speech audio=1")


# --- params --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "field", "message"),
    [
        (SceneCaption, {"backend": "openai"}, "params", "needs base_url"),
        (SceneCaption, {"base_url": "http://x:8000/v1"}, "params", "for backend 'openai'"),
        (SceneCaption, {"response_schema": {"type": "shape"}}, "response_schema", "JSON schema"),
        (SceneCaption, {"frames": 0}, "frames", "greater than or equal to 1"),
        (SceneCaption, {"max_crops": 100}, "max_crops", "less than or equal to 36"),
        (SceneCaption, {"temperature": 1}, "temperature", "Extra inputs"),
        (SceneCaption, {"backend": "openai", "base_url": "file:///etc"}, "base_url", "match"),
        (Ocr, {"engine": "phi4mm", "psm": 3}, "params", "psm: not a param of engine 'phi4mm'"),
        (Ocr, {"max_crops": 2}, "params", "max_crops: not a param of engine 'tesseract'"),
        (
            Transcription,
            {"engine": "pocketsphinx", "model_id": "x"},
            "params",
            "not a param of engine 'pocketsphinx'",
        ),
        (SpeechSummary, {"max_window_s": 3600}, "max_window_s", "less than or equal to 1800"),
    ],
)
def test_bad_params_are_clear_errors(
    cls: type, params: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidSpecError, match=message) as caught:
        cls(params)
    assert caught.value.context["field"] == f"params.{field}".removesuffix(".params")


# --- helpers -------------------------------------------------------------------------------


def image_segment() -> Any:
    from omnidex.types import Segment

    image = Image.new("RGB", (640, 360), "white")
    return Segment(object_id="o", kind="image", key="image", source="s.png", image=lambda: image)


def audio_segment(samples: np.ndarray, start_s: float = 0.0) -> Any:
    from omnidex.types import Segment

    return Segment(
        object_id="o",
        kind="audio",
        key="audio=0000",
        source="a.wav",
        start_s=start_s,
        end_s=start_s + len(samples) / SR,
        audio=lambda: samples,
    )


def test_the_sample_meeting_has_speech_for_the_tests() -> None:
    assert json.loads(MEETING.with_suffix(".json").read_text())["slides"]
