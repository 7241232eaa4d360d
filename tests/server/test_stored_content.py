"""What the server keeps on disk, against a live server on 127.0.0.1: one copy per content however
often it is uploaded, removed with the last object that needs it, nothing left by a download
whose file cannot be ingested; and a deleted object's task still answers, as a tombstone."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import omnidex

from .conftest import Running, start_server
from .test_api import upload


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    """Two collections, a write key, one worker, downloads from 127.0.0.1 allowed."""
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    for name in ("docs", "more"):
        db.create_collection(name, extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(
        home, workers=1, url_allow_hosts=["127.0.0.1"], rate_per_minute=100_000, rate_burst=1000
    )
    yield Running(url, home, key, key)
    server.should_exit = True
    thread.join(30)


def stored(running: Running) -> list[str]:
    return sorted(p.name for p in (running.home / "uploads").iterdir())


def succeeded(running: Running, task: dict[str, Any]) -> dict[str, Any]:
    done = running.wait_task(running.write_key, task["id"])
    assert done["state"] == "succeeded", done
    return done


def test_the_same_file_uploaded_five_times_is_kept_once(server: Running, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("the harbor ferry leaves at nine")
    tasks = [succeeded(server, upload(server, note)) for _ in range(5)]
    assert len({t["id"] for t in tasks}) == 5 and len({t["object_id"] for t in tasks}) == 1
    assert len(stored(server)) == 1


def test_content_goes_with_the_last_object_that_needs_it_and_tasks_stay(
    server: Running, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("lentil soup with cumin and lemon")
    first = succeeded(server, upload(server, note))
    elsewhere = succeeded(server, upload(server, note, "more"))
    object_id = first["object_id"]
    assert len(stored(server)) == 1
    with server.client(server.write_key) as http_:
        assert http_.delete(f"/v1/collections/docs/objects/{object_id}").status_code == 204
        assert len(stored(server)) == 1  # the other collection's object still needs it
        tombstone = http_.get(f"/v1/tasks/{first['id']}")
        assert tombstone.status_code == 200, tombstone.text
        assert tombstone.json()["state"] == "succeeded"
        assert tombstone.json()["object_deleted"] is True
        listed = http_.get("/v1/tasks", params={"collection": "docs"}).json()
        assert [(t["id"], t["object_deleted"]) for t in listed] == [(first["id"], True)]
        assert http_.get(f"/v1/tasks/{elsewhere['id']}").json()["object_deleted"] is False

        assert http_.delete(f"/v1/collections/more/objects/{object_id}").status_code == 204
        assert stored(server) == []
        assert http_.get(f"/v1/tasks/{elsewhere['id']}").json()["object_deleted"] is True


def test_dropping_a_collection_releases_its_content(server: Running, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("a note that only one collection holds")
    succeeded(server, upload(server, note, "more"))
    assert len(stored(server)) == 1
    with server.client(server.write_key) as http_:
        assert http_.delete("/v1/collections/more").status_code == 204
    assert stored(server) == []


def test_a_download_that_cannot_be_ingested_leaves_no_file(server: Running, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "archive.bin").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)  # a zip: refused
    files = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(site))
    )
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.write_key}"}
        ) as http_:
            link = f"http://127.0.0.1:{files.server_address[1]}/archive.bin"
            task = http_.post("/v1/collections/docs/objects/url", json={"url": link}).json()
            deadline = time.monotonic() + 60
            while (done := http_.get(f"/v1/tasks/{task['id']}").json())["state"] in (
                "queued",
                "running",
            ) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert done["state"] == "failed", done
        assert stored(server) == []
    finally:
        files.shutdown()
