"""A real server for the tests: uvicorn on 127.0.0.1 (a free port) in a thread, real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import uvicorn

import omnidex
from omnidex.config import Settings
from omnidex.server.app import create_app
from omnidex.server.config import ServerConfig


@dataclass
class Running:
    url: str
    home: Path
    write_key: str
    read_key: str

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers={**auth, **headers}, timeout=30)

    def wait_task(self, key: str, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """The task once it is no longer queued or running."""
        deadline = time.monotonic() + timeout_s
        with self.client(key) as http:
            while time.monotonic() < deadline:
                task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
                if task["state"] not in ("queued", "running"):
                    return task
                time.sleep(0.05)
        raise AssertionError(f"task {task_id} still {task['state']} after {timeout_s} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(home: Path, **config: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    settings = Settings.from_env(home=home)
    app = create_app(settings, ServerConfig(port=port, **config))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """A server with auth on, one worker, and a write and a read key of namespace ``default``."""
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, write_key = db.create_key("writer", "write")
    _, read_key = db.create_key("reader", "read")
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    yield Running(url, home, write_key, read_key)
    server.should_exit = True
    thread.join(30)
