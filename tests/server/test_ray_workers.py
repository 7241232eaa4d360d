"""A server that hands its queue to a Ray cluster: queued uploads are ingested by the Ray runner,
several tasks in one run, a bad file failing alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Running, start_server

pytestmark = pytest.mark.usefixtures("ray_cluster")

FILES = {
    "ferry.txt": b"The harbor ferry leaves at seven every morning.",
    "budget.txt": b"The winter budget review moved to Thursday.",
    "lighthouse.txt": b"The lighthouse keeper logs every passing ship.",
    "scan.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
}


def test_queued_uploads_are_ingested_on_ray_in_one_batch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # a server without workers queues the uploads; the next one, on Ray, takes them together
    server, thread, url = start_server(home, workers=0, dev=True)
    tasks = {}
    try:
        with Running(url, home, "", "").client() as http:
            spec = {"name": "docs", "extractors": ["page_text@v1"]}
            assert http.post("/v1/collections", json=spec).status_code == 201
            for name, content in FILES.items():
                answer = http.post("/v1/collections/docs/objects", files={"file": (name, content)})
                assert answer.status_code == 202, answer.text
                tasks[name] = answer.json()["id"]
    finally:
        server.should_exit = True
        thread.join(30)

    server, thread, url = start_server(home, workers=1, dev=True, runner="ray", ray_batch=10)
    running = Running(url, home, "", "")
    try:
        done = {name: running.wait_task("", task_id, 120) for name, task_id in tasks.items()}
        bad = done.pop("scan.png")
        assert bad["state"] == "failed" and bad["error_code"] == "corrupt_media", bad
        assert bad["attempts"] == 1
        for task in done.values():
            assert task["state"] == "succeeded" and task["progress"] == 1.0, task
            assert task["attempts"] == 1
        with running.client() as http:
            hits = http.post("/v1/collections/docs/search", json={"query": "ferry"}).json()
            assert hits[0]["object_id"] == done["ferry.txt"]["object_id"]
            objects = http.get("/v1/collections/docs/objects").json()
            assert len(objects) == len(FILES)
    finally:
        server.should_exit = True
        thread.join(30)
