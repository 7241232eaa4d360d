"""Faults injected into a real server's ingest workers: they never die from a task, and readiness
says when they are gone.

The server is uvicorn on 127.0.0.1 in this process, so that a fault can be timed exactly: the
object is deleted through the real ``DELETE`` route at the moment its ingest has settled, before
the worker ends its task (the window in which a concurrent delete used to kill the worker).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import omnidex
from omnidex.types import ObjectStatus

from .conftest import start_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """A server with one worker and a ``notes`` collection: its app, URL and a write key."""
    home = tmp_path / "home"
    db = omnidex.connect(home)
    db.create_collection("notes", extractors=["page_text@v1"])
    _, key = db.create_key("writer", "write")
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    yield server.config.app, url, key
    server.should_exit = True
    thread.join(30)


def upload(http: httpx.Client, path: Path) -> str:
    with path.open("rb") as file:
        answer = http.post("/v1/collections/notes/objects", files={"file": (path.name, file)})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def wait_done(http: httpx.Client, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if task.get("state") not in ("queued", "running"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still {task.get('state')} after {timeout_s} s")


def test_a_delete_as_a_task_finishes_leaves_the_worker_running(
    served: tuple[Any, str, str], tmp_path: Path
) -> None:
    app, url, key = served
    catalog = app.state.omnidex.catalog
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    real = catalog.set_object_status
    deleted: list[str] = []

    def settle_then_delete(collection_id: str, object_id: str, status: ObjectStatus, **kw: Any):
        real(collection_id, object_id, status, **kw)
        if status is ObjectStatus.SUCCEEDED and not deleted:  # once: the first upload only
            deleted.append(object_id)
            answer = http.delete(f"/v1/collections/notes/objects/{object_id}")
            assert answer.status_code == 204, answer.text

    catalog.set_object_status = settle_then_delete
    for number in range(3):  # one worker: were it killed, every later task would stay queued
        note = tmp_path / f"note-{number}.txt"
        note.write_text(f"note number {number} about the ferry timetable")
        task_id = upload(http, note)
        if number == 0:
            while not deleted:  # its ingest ran and the delete landed
                time.sleep(0.05)
            continue
        assert wait_done(http, task_id)["state"] == "succeeded"
    assert app.state.workers.alive() == 1
    assert http.get("/v1/ready").status_code == 200
    found = http.get("/v1/collections/notes/objects").json()
    assert len(found) == 2 and deleted[0] not in {o["id"] for o in found}


def test_readiness_reports_workers_that_are_gone(served: tuple[Any, str, str]) -> None:
    app, url, _ = served
    assert httpx.get(f"{url}/v1/ready").status_code == 200
    app.state.workers.stop()
    answer = httpx.get(f"{url}/v1/ready")
    assert answer.status_code == 503
    assert answer.json()["error"] == {
        "code": "workers_down",
        "message": "1 of 1 ingest workers are not running",
        "alive": 0,
        "expected": 1,
    }
