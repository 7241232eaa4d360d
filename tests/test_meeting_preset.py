"""The headline use case through the public API: the meeting preset and questions at query time.

The sample meeting goes through the ``meeting`` preset with the tiny random Phi-4-multimodal in
process (real ingest, sandboxed decoding, LanceDB, the tiny embedder); questions go to it and to a
local server that speaks the OpenAI protocol, which describes what each request held.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.errors import InvalidSpecError
from omnidex.samples import MEETING
from omnidex.types import IngestStatus

from .models.openai_server import OpenAIServer, openai_server

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("av", reason="video needs PyAV: pip install 'omnidex[video]'")

SLIDES = json.loads(MEETING.with_suffix(".json").read_text())["slides"]


@pytest.fixture(scope="module")
def meetings(
    tmp_path_factory: pytest.TempPathFactory, tiny_phi4mm_path: Path, tiny_embedder_path: Path
) -> omnidex.Collection:
    db = omnidex.connect(tmp_path_factory.mktemp("meetings"))
    collection = db.create_collection(
        "meetings",
        preset="meeting",
        phi4={"model_id": str(tiny_phi4mm_path), "device": "cpu", "max_new_tokens": 8},
        embedding_model=str(tiny_embedder_path),
    )
    (result,) = collection.ingest(MEETING)
    assert result.status is IngestStatus.INGESTED, result.error
    return collection


def test_every_scene_has_caption_slide_text_transcript_and_a_vector(
    meetings: omnidex.Collection,
) -> None:
    scenes = meetings.documents(where="kind = 'scene'")
    assert len(scenes) == len(SLIDES)
    for scene in scenes:
        for address in (
            "scene_caption@v1/caption",
            "ocr@v1/text",
            "transcription@v1/text",
            "text_embedding@v1/vector",
        ):
            assert scene.features.get(address) is not None, address


def test_asking_about_a_scene_answers(meetings: omnidex.Collection) -> None:
    scene = meetings.documents(where="kind = 'scene'")[0]
    assert isinstance(meetings.ask(scene.id, "What does the slide say?", max_new_tokens=4), str)


def test_questions_must_be_sensible(meetings: omnidex.Collection) -> None:
    scene = meetings.documents(where="kind = 'scene'")[0]
    with pytest.raises(InvalidSpecError, match="question"):
        meetings.ask(scene.id, "   ")
    with pytest.raises(InvalidSpecError, match="max_new_tokens"):
        meetings.ask(scene.id, "What?", max_new_tokens=0)


# --- a served model -------------------------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with openai_server() as running:
        monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", running.url)  # the operator's model server
        yield running


@pytest.fixture
def served(tmp_path: Path, server: OpenAIServer, tiny_embedder_path: Path) -> omnidex.Collection:
    db = omnidex.connect(tmp_path / "data")
    return db.create_collection(
        "served",
        preset="meeting",
        phi4={"backend": "openai", "base_url": server.url},
        embedding_model=str(tiny_embedder_path),
    )


def test_questions_go_to_the_collections_backend_with_the_full_picture(
    served: omnidex.Collection, tmp_path: Path
) -> None:
    photo = tmp_path / "board.png"
    Image.new("RGB", (2000, 1000), "white").save(photo)
    (result,) = served.ingest(photo)
    assert result.status is IngestStatus.INGESTED, result.error
    (image,) = served.documents()
    answer = served.ask(image.id, "What is written on the board?")
    assert answer == "model=vision images=1 sizes=1344x672 format=JPEG " + (
        "text=What is written on the board?"
    )
    photo.unlink()  # the source is gone: the stored thumbnail stands in
    assert served.ask(image.id, "And now?").startswith("model=vision images=1 sizes=320x160")


def test_what_was_said_is_searchable_and_scenes_answer_questions(
    served: omnidex.Collection, server: OpenAIServer
) -> None:
    topics = itertools.count()
    server.reply = lambda said: (
        f"we talked about topic{next(topics)}" if "model=speech" in said else said
    )
    (result,) = served.ingest(MEETING)
    assert result.status is IngestStatus.INGESTED, result.error
    scenes = served.documents(where="kind = 'scene'")
    spoken = {s.features["transcription@v1/text"].split()[-1]: s.id for s in scenes}
    assert len(spoken) == len(scenes) == len(SLIDES)
    for topic, scene_id in spoken.items():
        assert served.search(topic, k=1)[0].id == scene_id
    caption = scenes[0].features["scene_caption@v1/caption"]
    assert caption.startswith("model=vision images=1 ") and "moment of a meeting" in caption
    assert served.ask(scenes[0].id, "Who speaks?").startswith("model=vision images=1 ")


def test_a_collection_without_phi4_cannot_answer(tmp_path: Path, tiny_embedder_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    plain = db.create_collection("plain", extractors=["page_text@v1"])
    (tmp_path / "a.txt").write_text("hello world")
    plain.ingest(tmp_path / "a.txt")
    (doc,) = plain.documents()
    with pytest.raises(InvalidSpecError, match="no Phi-4-multimodal extractor"):
        plain.ask(doc.id, "What?")


def test_presets_are_checked(tmp_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    with pytest.raises(InvalidSpecError, match="unknown preset 'party'; presets: meeting"):
        db.create_collection("x", preset="party")
    with pytest.raises(InvalidSpecError, match="not both"):
        db.create_collection("x", ["page_text@v1"], preset="meeting")
    with pytest.raises(InvalidSpecError, match="needs base_url"):
        db.create_collection("x", preset="meeting", phi4={"backend": "openai"})
    assert db.collections() == []


def test_the_cli_creates_from_a_preset_and_asks(
    tmp_path: Path, server: OpenAIServer, tiny_embedder_path: Path
) -> None:
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["--data", str(tmp_path / "data"), *args])
        assert result.exit_code == 0, result.output
        return result.output

    phi4 = json.dumps({"backend": "openai", "base_url": server.url})
    out = cli("collection", "create", "m", "--preset", "meeting", "--phi4", phi4,
              "--embedding-model", str(tiny_embedder_path))  # fmt: skip
    assert "from preset meeting" in out
    photo = tmp_path / "p.png"
    Image.new("RGB", (100, 50), "white").save(photo)
    cli("ingest", str(photo), "-c", "m")
    (doc,) = omnidex.connect(tmp_path / "data").collection("m").documents()
    assert "text=What is it?" in cli("ask", doc.id, "What is it?", "-c", "m")
