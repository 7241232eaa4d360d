"""Adding image_embedding@v1 to a collection that already holds documents: it embeds what is
stored (pictures from their files, PDF pages from their stored picture, scenes from their stored
keyframe) without extracting again — OCR text, page text and text vectors stay bit for bit — and
a run killed with SIGKILL (the real CLI in a subprocess) resumes without loss or duplicates."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import omnidex
from omnidex.errors import InvalidSpecError
from omnidex.samples import make_pdf, make_text_image
from omnidex.types import Document, IngestStatus

from .image_checkpoints import PICTURES, shape_image

OMNIDEX = str(Path(sys.executable).with_name("omnidex"))
IMAGE = "image_embedding@v1"
VECTOR = f"{IMAGE}/vector"


def image_spec(model: Path, **params: Any) -> dict[str, Any]:
    return {"name": IMAGE, "params": {"model_id": str(model), **params}}


def snapshot(docs: list[Document]) -> dict[str, tuple[Any, ...]]:
    """Each document's coordinates, thumbnail and features, the image vector left out."""

    def plain(value: Any) -> Any:
        return np.asarray(value).tolist() if isinstance(value, list | np.ndarray) else value

    return {
        d.id: (
            d.kind,
            d.key,
            d.page,
            d.start_s,
            d.thumbnail,
            {a: plain(v) for a, v in d.features.items() if a != VECTOR},
        )
        for d in docs
    }


@pytest.mark.usefixtures("needs_tesseract")
def test_adding_image_embedding_keeps_what_was_extracted(
    tmp_path: Path, trained_clip_path: Path, tiny_embedder_path: Path
) -> None:
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e .[video])")
    from .media.conftest import make_video

    files = tmp_path / "files"
    files.mkdir()
    for colour, shape in PICTURES:
        shape_image(colour, shape, random.Random(1)).save(files / f"{colour}-{shape}.png")
    make_text_image("QUARTERLY BUDGET", (640, 240)).save(files / "slide.png")
    make_pdf(files / "manual.pdf", ["Solar panel maintenance."], ["Scanned warranty card"])
    scenes = [shape_image(c, s, random.Random(2), 128) for c, s in (("red", "square"),) * 2]
    scenes[1] = shape_image("green", "circle", random.Random(3), 128)
    frames = [np.asarray(scenes[i // 50].resize((160, 128))) for i in range(100)]
    make_video(files / "shapes.mp4", frames, fps=25)
    db = omnidex.connect(tmp_path / "home")
    text = {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}}
    col = db.create_collection("shapes", ["ocr@v1", "page_text@v1", text])
    assert all(r.error is None for r in col.ingest(files))
    before = snapshot(col.documents(limit=1000))
    ocr = [f for _, (*_, f) in before.items() if f.get("ocr@v1/text")]
    assert any("BUDGET" in f["ocr@v1/text"] for f in ocr), ocr  # OCR ran, and read the slide
    version = col.info.spec_version

    seen: list[tuple[int, int]] = []
    report = col.add_extractor(image_spec(trained_clip_path), lambda d, t, _: seen.append((d, t)))
    assert report.embedded == 6 and report.already_done == 0 and not report.failed
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == list(range(1, 7))
    assert report.spec_version == version + 1 == col.info.spec_version
    after = col.documents(limit=1000)
    assert snapshot(after) == before  # nothing extracted again, nothing lost, nothing added
    embedded = {d.kind for d in after if d.features.get(VECTOR) is not None}
    assert {"image", "scene", "text"} <= embedded  # pictures, scenes, PDF pages (kind text)
    assert all(IMAGE in d.extractors and d.spec_version == version + 1 for d in after)

    hits = col.search("a blue square", where="kind = 'image'")  # fused with the text parts
    by_image = {
        h.provenance[f"search/{VECTOR}"].rank: h for h in hits if f"search/{VECTOR}" in h.provenance
    }
    assert Path(by_image[1].source).name == "blue-square.png"
    shot = shape_image("blue", "square", random.Random(8))
    assert Path(col.search(image=shot, where="kind = 'image'")[0].source).name == "blue-square.png"
    scene = col.search(
        image=shape_image("green", "circle", random.Random(9)), where="kind = 'scene'"
    )
    assert scene[0].start_s is not None and scene[0].start_s >= 1.5  # the green circle's scene

    again = col.ingest(files)  # the objects are current: ingest extracts nothing again
    assert {r.status for r in again} == {IngestStatus.UNCHANGED}
    done = db.collection("shapes").add_extractor(image_spec(trained_clip_path))
    assert done.embedded == 0 and done.already_done == 6 and done.spec_version == version + 1
    with pytest.raises(InvalidSpecError, match="other params"):
        col.add_extractor(image_spec(trained_clip_path, frames=2))
    with pytest.raises(InvalidSpecError, match="needs the media"):
        col.add_extractor("transcription@v1")
    db.close()


def test_kill_9_while_re_embedding_resumes_without_loss_or_duplicates(
    tmp_path: Path, trained_clip_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    rng = random.Random(5)
    for i in range(24):
        colour, shape = PICTURES[i % 3]
        shape_image(colour, shape, rng).save(files / f"{i:02d}-{colour}-{shape}.png")
    home = tmp_path / "home"
    db = omnidex.connect(home)
    col = db.create_collection("shapes", ["page_text@v1"])
    assert all(r.error is None for r in col.ingest(files))
    ids = sorted(d.id for d in col.documents(limit=1000))
    version = col.info.spec_version
    db.close()

    spec = json.dumps(image_spec(trained_clip_path, batch_size=1))
    command = [OMNIDEX, "--data", str(home), "collection", "add-extractor", "shapes", spec]
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("1/24 "), first
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL

    db = omnidex.connect(home)
    col = db.collection("shapes")
    docs = col.documents(limit=1000)
    done = [d for d in docs if d.features.get(VECTOR) is not None]
    assert 1 <= len(done) < 24  # killed in the middle
    assert all(IMAGE in d.extractors for d in done)
    assert col.info.spec_version == version  # the spec switches only once all are done
    assert IMAGE not in [e.name for e in col.info.spec.extractors]  # searches use the old spec
    db.close()

    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.stdout.strip().splitlines()[-1]
    embedded = 24 - len(done)
    assert f"{embedded} objects embedded ({embedded} documents), {len(done)} done before" in summary
    db = omnidex.connect(home)
    col = db.collection("shapes")
    docs = col.documents(limit=1000)
    assert sorted(d.id for d in docs) == ids  # none lost, none twice
    assert all(d.features.get(VECTOR) is not None for d in docs)
    assert col.info.spec_version == version + 1
    hits = col.search("a green triangle", k=8, where="kind = 'image'")
    assert all("green-triangle" in Path(h.source).name for h in hits)
    db.close()


def test_over_rest_and_the_remote_client(tmp_path: Path, trained_clip_path: Path) -> None:
    pytest.importorskip("uvicorn")
    from .server.conftest import start_server

    files = tmp_path / "files"
    files.mkdir()
    for colour, shape in PICTURES:
        shape_image(colour, shape, random.Random(1)).save(files / f"{colour}-{shape}.png")
    home = tmp_path / "home"
    db = omnidex.connect(home)
    assert all(
        r.error is None for r in db.create_collection("shapes", ["page_text@v1"]).ingest(files)
    )
    _, key = db.create_key("writer", "write")
    _, read_key = db.create_key("reader", "read")
    db.close()
    server, thread, url = start_server(home, workers=0, rate_per_minute=100_000, rate_burst=1000)
    try:
        shapes = omnidex.Client(url, key).collection("shapes")
        seen: list[tuple[int, int, str]] = []
        report = shapes.add_extractor(image_spec(trained_clip_path), lambda *a: seen.append(a))
        assert (report.embedded, report.already_done, report.failed) == (3, 0, {})
        assert seen == [(3, 3, "")]
        assert IMAGE in [e.name for e in shapes.info.spec.extractors]
        assert Path(shapes.search("a red circle")[0].source).name == "red-circle.png"
        with omnidex.Client(url, key) as client, pytest.raises(InvalidSpecError, match="media"):
            client.collection("shapes").add_extractor("transcription@v1")
        import httpx

        path = f"{url}/v1/collections/shapes/extractors"
        bad = httpx.post(path, json={"extractor": 3}, headers={"Authorization": f"Bearer {key}"})
        assert bad.status_code == 422 and bad.json()["error"]["message"]
        read = httpx.post(
            path, json={"extractor": IMAGE}, headers={"Authorization": f"Bearer {read_key}"}
        )
        assert read.status_code == 403
    finally:
        server.should_exit = True
        thread.join(30)
