"""A server that hands its queue to a Ray cluster: queued uploads are ingested by the Ray runner,
several tasks in one run, a bad file failing alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Running, start_server

pytestmark = pytest.mark.usefixtures("ray_cluster")

FILES = {
    "ferry.txt": b"The harbor ferry leaves at seven every morning.",
    "budget.txt": b"The winter budget review moved to Thursday.",
    "lighthouse.txt": b"The lighthouse keeper logs every passing ship.",
    "scan.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
}


def _queue(
    home: Path, spec: dict[str, Any], files: dict[str, bytes], **config: Any
) -> dict[str, str]:
    """Task ids by file name: the files uploaded to a server without workers, which queues them
    for the next server to take."""
    server, thread, url = start_server(home, workers=0, dev=True, **config)
    tasks = {}
    try:
        with Running(url, home, "", "").client() as http:
            assert http.post("/v1/collections", json=spec).status_code == 201
            for name, content in files.items():
                path = f"/v1/collections/{spec['name']}/objects"
                answer = http.post(path, files={"file": (name, content)})
                assert answer.status_code == 202, answer.text
                tasks[name] = answer.json()["id"]
    finally:
        server.should_exit = True
        thread.join(30)
    return tasks


def test_queued_uploads_are_ingested_on_ray_in_one_batch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tasks = _queue(home, {"name": "docs", "extractors": ["page_text@v1"]}, FILES)

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


def test_after_the_cluster_failed_each_task_is_retried_alone(
    tmp_path: Path, crashing_extractor: str
) -> None:
    """A file that kills its worker every time ends its batch's run with ``cluster_error``; the
    retries then run one task each, so the good files succeed and only that one fails."""
    home = tmp_path / "home"
    files = {
        "ferry.txt": FILES["ferry.txt"],
        "bad.txt": b"crash",
        "budget.txt": FILES["budget.txt"],
    }
    spec = {"name": "notes", "extractors": [crashing_extractor]}
    tasks = _queue(home, spec, files, max_attempts=2)

    server, thread, url = start_server(home, workers=1, dev=True, runner="ray", ray_batch=10)
    running = Running(url, home, "", "")
    try:
        done = {name: running.wait_task("", task_id, 240) for name, task_id in tasks.items()}
        bad = done.pop("bad.txt")
        assert bad["state"] == "failed" and bad["error_code"] == "cluster_error", bad
        assert bad["attempts"] == 2
        for task in done.values():
            assert task["state"] == "succeeded" and task["attempts"] == 2, task
    finally:
        server.should_exit = True
        thread.join(30)
