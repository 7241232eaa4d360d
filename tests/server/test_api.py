"""The REST API over real HTTP: collections, uploads through the task queue, documents with
range requests, search, retrievers, tasks, and one error shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import omnidex
from omnidex.samples import make_text_image

from .conftest import Running, free_port, start_server

TEXT_SPEC = {"name": "docs", "extractors": ["page_text@v1"]}


def upload(running: Running, path: Path, collection: str = "docs", **headers: str) -> dict:
    with running.client(running.write_key, **headers) as http, path.open("rb") as file:
        answer = http.post(
            f"/v1/collections/{collection}/objects",
            files={"file": (path.name, file)},
            data={"metadata": json.dumps({"team": "infra"})},
        )
    assert answer.status_code in (200, 202), answer.text
    return dict(answer.json())


def test_health_needs_no_key_but_everything_else_does(running: Running) -> None:
    with running.client() as http:
        assert http.get("/v1/health").json() == {"status": "ok", "auth": True}
        answer = http.get("/v1/collections")
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthenticated"
    with running.client("odx_nothere1_" + "x" * 43) as http:
        assert http.get("/v1/collections").status_code == 401


def test_a_text_file_goes_through_the_queue_and_becomes_searchable(
    running: Running, tmp_path: Path
) -> None:
    with running.client(running.write_key) as http:
        created = http.post("/v1/collections", json=TEXT_SPEC)
        assert created.status_code == 201, created.text
    note = tmp_path / "ferry.txt"
    note.write_text("The harbor ferry leaves at seven every morning.")
    task = upload(running, note)
    assert task["state"] in ("queued", "running") and "payload" not in task
    done = running.wait_task(running.read_key, task["id"])
    assert done["state"] == "succeeded", done
    assert done["object_id"] and done["progress"] == 1.0
    with running.client(running.read_key) as http:
        hits = http.post("/v1/collections/docs/search", json={"query": "ferry"}).json()
        assert hits and "ferry" in hits[0]["snippet"]
        page = http.get("/v1/collections/docs/documents", params={"where": "team = 'infra'"})
        assert page.json()["total"] == 1
        (document,) = page.json()["documents"]
        media = http.get(f"/v1/collections/docs/documents/{document['id']}/media")
        assert media.content == note.read_bytes()
        part = http.get(
            f"/v1/collections/docs/documents/{document['id']}/media",
            headers={"Range": "bytes=4-9"},
        )
        assert part.status_code == 206 and part.content == note.read_bytes()[4:10]
        objects = http.get("/v1/collections/docs/objects").json()
        assert [o["id"] for o in objects] == [done["object_id"]]
        assert http.get("/v1/collections/docs/objects", params={"offset": 1}).json() == []
        # a stored upload has a generated name, not the client's
        assert Path(objects[0]["source"]).name != "ferry.txt"


def test_a_read_key_cannot_write(running: Running) -> None:
    with running.client(running.read_key) as http:
        answer = http.post("/v1/collections", json=TEXT_SPEC)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "forbidden"


def test_idempotent_uploads_return_the_first_task(running: Running, tmp_path: Path) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json=TEXT_SPEC)
    note = tmp_path / "a.txt"
    note.write_text("hello world")
    first = upload(running, note, **{"Idempotency-Key": "abc"})
    again = upload(running, note, **{"Idempotency-Key": "abc"})
    assert again["id"] == first["id"]
    uploads = list((running.home / "uploads").iterdir())
    assert len(uploads) == 1  # the repeat's file is not kept


def test_errors_share_one_shape(running: Running) -> None:
    with running.client(running.write_key) as http:
        missing = http.get("/v1/collections/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad = http.post("/v1/collections", json={"name": "x", "extractors": ["nope@v9"]})
        assert bad.status_code == 422
        assert bad.json()["error"] == {
            "code": "unknown_extractor",
            "message": bad.json()["error"]["message"],
            "extractor": "nope@v9",
            "field": "extractors[0].name",
        }
        invalid = http.post("/v1/collections", json={"name": "x", "colour": "red"})
        assert invalid.status_code == 422
        assert invalid.json()["error"]["field"] == "colour"
        no_file = http.post("/v1/collections/nope/objects", data={"a": "b"})
        assert no_file.status_code == 404


@pytest.mark.usefixtures("needs_tesseract")
def test_missing_tesseract_language_is_refused_naming_the_field(running: Running) -> None:
    ocr = {"name": "ocr@v1", "params": {"languages": "xyz"}}
    with running.client(running.write_key) as http:
        no_pack = http.post("/v1/collections", json={"name": "scans", "extractors": [ocr]})
        assert no_pack.status_code == 422
        error = no_pack.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_spec", "extractors[0].params.languages")
        assert "no language pack for xyz" in error["message"]
        assert http.get("/v1/collections/scans").status_code == 404


def test_retrievers_over_http(running: Running, tmp_path: Path) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json=TEXT_SPEC)
    note = tmp_path / "a.txt"
    note.write_text("The quarterly revenue grew by ten percent.")
    running.wait_task(running.read_key, upload(running, note)["id"])
    spec = {
        "name": "words",
        "collections": ["docs"],
        "inputs": {"query": {"type": "text"}},
        "stages": [
            {
                "type": "feature_search",
                "params": {
                    "searches": [{"feature": "page_text@v1/text", "query": "{{inputs.query}}"}]
                },
            },
            {"type": "limit", "params": {"limit": 5}},
        ],
    }
    with running.client(running.write_key) as http:
        saved = http.post("/v1/retrievers", json=spec)
        assert saved.status_code == 201, saved.text
        hits = http.post("/v1/retrievers/words/execute", json={"inputs": {"query": "revenue"}})
        assert hits.status_code == 200, hits.text
        ran = hits.json()
        assert ran["hits"] and "revenue" in ran["hits"][0]["snippet"] and ran["stages"] is None
        explained = http.post("/v1/retrievers/words/explain", json={"inputs": {"query": "revenue"}})
        assert [s["type"] for s in explained.json()["stages"]] == ["feature_search", "limit"]
        assert [h["id"] for h in explained.json()["hits"]] == [h["id"] for h in ran["hits"]]
        missing_input = http.post("/v1/retrievers/words/execute", json={"inputs": {}})
        assert missing_input.status_code == 422


def test_an_image_thumbnail_is_served(running: Running, tmp_path: Path) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "pics", "extractors": ["page_text@v1"]})
    sign = tmp_path / "sign.png"
    make_text_image("OPEN", (400, 200)).save(sign)
    done = running.wait_task(running.read_key, upload(running, sign, "pics")["id"])
    assert done["state"] == "succeeded", done
    with running.client(running.read_key) as http:
        (document,) = http.get("/v1/collections/pics/documents").json()["documents"]
        thumb = http.get(document["thumbnail_url"])
        assert thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"


def test_a_key_sees_its_own_namespace(running: Running) -> None:
    with running.client(running.read_key) as http:
        assert http.get("/v1/namespaces").json() == [{"name": "default", "current": True}]


def test_ask_answers_with_the_collections_phi4_backend(
    running: Running, tmp_path: Path, tiny_embedder_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ..models.openai_server import openai_server

    with openai_server() as phi4:
        monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", phi4.url)  # the operator's model server
        with running.client(running.write_key) as http:
            created = http.post(
                "/v1/collections",
                json={
                    "name": "talks",
                    "preset": "meeting",
                    "phi4": {"backend": "openai", "base_url": phi4.url},
                    "embedding_model": str(tiny_embedder_path),
                },
            )
            assert created.status_code == 201, created.text
        board = tmp_path / "board.png"
        make_text_image("Q3 ROADMAP", (800, 400)).save(board)
        done = running.wait_task(running.read_key, upload(running, board, "talks")["id"])
        assert done["state"] == "succeeded", done
        with running.client(running.read_key) as http:
            (document,) = http.get("/v1/collections/talks/documents").json()["documents"]
            answer = http.post(
                "/v1/ask",
                json={"collection": "talks", "document_id": document["id"], "question": "What?"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["answer"].startswith("model=vision images=1 sizes=800x400")
            plain = http.post(
                "/v1/ask", json={"collection": "nope", "document_id": "x", "question": "What?"}
            )
            assert plain.status_code == 404


def test_a_signed_media_link_plays_without_a_key(running: Running, tmp_path: Path) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json=TEXT_SPEC)
    note = tmp_path / "clip.txt"
    note.write_text("a short file standing in for a video")
    running.wait_task(running.read_key, upload(running, note)["id"])
    with running.client(running.read_key) as http:
        (document,) = http.get("/v1/collections/docs/documents").json()["documents"]
        link = http.post(f"/v1/collections/docs/documents/{document['id']}/media-link").json()
    assert link["url"].startswith("/v1/media/") and "odx_" not in link["url"]
    with running.client() as anonymous:  # no key: the link is the permission
        part = anonymous.get(link["url"], headers={"Range": "bytes=2-6"})
        assert part.status_code == 206 and part.content == note.read_bytes()[2:7]
        forged = anonymous.get(link["url"][:-3] + "AAA")
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "unauthenticated"


def test_media_links_expire() -> None:
    from omnidex.errors import AuthenticationError
    from omnidex.server.media_links import MediaLinks, MediaTarget

    links = MediaLinks(ttl_s=60)
    token, expires = links.issue(MediaTarget("a", "c", "d"), now=1000)
    assert expires == 1060 and links.verify(token, now=1059) == MediaTarget("a", "c", "d")
    with pytest.raises(AuthenticationError, match="expired"):
        links.verify(token, now=1061)
    with pytest.raises(AuthenticationError):
        MediaLinks().verify(token, now=1000)  # another server's secret


def test_a_model_server_that_is_down_is_retried_then_fails_with_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", down)  # the operator's, so it is tried
    db.create_collection(
        "pics",
        extractors=[
            {"name": "scene_caption@v1", "params": {"backend": "openai", "base_url": down}}
        ],
    )
    db.close()
    server, thread, url = start_server(home, workers=1, max_attempts=2)
    try:
        sign = tmp_path / "sign.png"
        make_text_image("OPEN", (200, 100)).save(sign)
        running = Running(url, home, key, key)
        task = upload(running, sign, "pics")
        done = running.wait_task(key, task["id"])
        assert (done["state"], done["attempts"]) == ("failed", 2)  # tried again once, with backoff
        assert done["error_code"] == "model_server_error"
        with running.client(key) as http:
            again = http.post(f"/v1/tasks/{task['id']}/retry").json()
            assert (again["state"], again["attempts"]) == ("queued", 0)
    finally:
        server.should_exit = True
        thread.join(30)
