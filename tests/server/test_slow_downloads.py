"""A server that drips its answer cannot hold an ingest worker: over real HTTP, URL ingests of a
loopback server (let through by ``url_allow_hosts``) that sends one byte every 0.2 s fail at the
fetch deadline whatever the answer's shape, and the worker goes on to the next task."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import omnidex

from .conftest import Running, start_server

DRIP_BYTES = 1000
"""What each answer would send at one byte every 0.2 s: 200 s."""


class _Drip(http.server.BaseHTTPRequestHandler):
    """``/close`` (no length, ended by closing), ``/chunked`` and ``/length`` (Content-Length):
    each sends one body byte every 0.2 s and counts in ``sent`` what went out."""

    protocol_version = "HTTP/1.1"
    sent: ClassVar[dict[str, int]] = {}
    stop: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/close":
            self.send_header("Connection", "close")
        elif self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(DRIP_BYTES))
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range(DRIP_BYTES):
                if self.stop.wait(0.2):
                    return
                self.wfile.write(b"1\r\nx\r\n" if self.path == "/chunked" else b"x")
                self.wfile.flush()
                self.sent[self.path] = self.sent.get(self.path, 0) + 1
        except OSError:  # the fetch hung up: what this test wants
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def drip_server() -> Iterator[str]:
    _Drip.sent = {}
    _Drip.stop = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Drip.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def fetching_server(tmp_path: Path) -> Iterator[Running]:
    """One worker, loopback allowed, a one-second fetch deadline."""
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    db.create_collection("web", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(
        home,
        workers=1,
        url_allow_hosts=["127.0.0.1"],
        url_fetch_timeout_s=1,
        rate_per_minute=100_000,
        rate_burst=1000,
    )
    yield Running(url, home, key, key)
    server.should_exit = True
    thread.join(30)


def test_a_dripping_server_is_cut_off_at_the_deadline_in_every_shape(
    fetching_server: Running, drip_server: str
) -> None:
    running = fetching_server
    shapes = ["/close", "/chunked", "/length"]
    with running.client(running.write_key) as http:
        tasks = {
            shape: http.post(
                "/v1/collections/web/objects/url", json={"url": drip_server + shape}
            ).json()["id"]
            for shape in shapes
        }
        after = http.post(
            "/v1/collections/web/objects",
            files={"file": ("memo.txt", b"The worker is free again for the ferry memo.")},
        ).json()["id"]
    for shape, task_id in tasks.items():
        task = running.wait_task(running.write_key, task_id, timeout_s=30)
        assert task["state"] == "failed", (shape, task)
        assert "timeout_s" in task["error"], (shape, task["error"])
        assert _Drip.sent.get(shape, 0) < DRIP_BYTES // 4, (shape, _Drip.sent)
    assert running.wait_task(running.write_key, after, timeout_s=30)["state"] == "succeeded"
    assert not any(running.home.joinpath("uploads").glob("fetched-*"))
