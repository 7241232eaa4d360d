"""Model endpoints are operator configuration, over real HTTP: a tenant cannot aim a served-model
extractor at the inside network, cannot name the environment variable whose value is sent as a
bearer token, and never reads a model server's reply body back through a task's error."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from .conftest import Running

SECRET = "s3cr3t-cloud-credential"
LEAK = "INTERNAL-REPLY-BODY-7f3a"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A server on loopback standing for an internal service: it records every request's
    Authorization header and answers each with a body that must not travel back."""

    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = f'{{"error": {{"message": "{LEAK}"}}}}'.encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def inside_service() -> Iterator[tuple[str, list[str]]]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", _Recorder.seen
    server.shutdown()
    server.server_close()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _caption_spec(base_url: str, **extra: str) -> dict[str, object]:
    params = {"backend": "openai", "base_url": base_url, **extra}
    return {"name": "pics", "extractors": [{"name": "scene_caption@v1", "params": params}]}


def test_a_tenant_cannot_name_the_secret_sent_as_bearer_token(
    running: Running, inside_service: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    url, seen = inside_service
    with running.client(running.write_key) as http:
        answer = http.post(
            "/v1/collections", json=_caption_spec(url, api_key_env="AWS_SECRET_ACCESS_KEY")
        )
    assert answer.status_code == 422, answer.text
    assert "api_key_env" in answer.text
    assert seen == []


def test_a_tenant_url_to_the_inside_network_is_refused_and_nothing_is_sent(
    running: Running,
    inside_service: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNIDEX_OPENAI_API_KEY", SECRET)
    url, seen = inside_service
    with running.client(running.write_key) as http:
        created = http.post("/v1/collections", json=_caption_spec(url))
        assert created.status_code == 201, created.text
        answer = http.post("/v1/collections/pics/objects", files={"file": ("a.png", _png())})
        assert answer.status_code == 202, answer.text
    task = running.wait_task(running.write_key, answer.json()["id"])
    assert task["state"] == "failed"
    assert "not public" in task["error"] or "loopback" in task["error"], task["error"]
    assert LEAK not in task["error"]
    assert seen == []


def test_an_operator_endpoint_gets_the_key_and_its_reply_body_stays_in_the_server(
    tmp_path: Path, inside_service: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import omnidex

    from .conftest import start_server

    url, seen = inside_service
    monkeypatch.setenv("OMNIDEX_OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", url)
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    db.close()
    server, thread, base = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    running = Running(base, home, key, key)
    try:
        with running.client(key) as http:
            assert http.post("/v1/collections", json=_caption_spec(url)).status_code == 201
            answer = http.post("/v1/collections/pics/objects", files={"file": ("a.png", _png())})
        task = running.wait_task(key, answer.json()["id"])
    finally:
        server.should_exit = True
        thread.join(30)
    assert task["state"] == "failed"
    assert "HTTP 400" in task["error"], task["error"]
    assert LEAK not in task["error"]
    assert seen and all(header == f"Bearer {SECRET}" for header in seen)


def test_specs_that_spelled_out_the_old_default_key_variable_still_load() -> None:
    from omnidex.extractors.phi4_backend import Phi4Options

    options = Phi4Options(
        backend="openai", base_url="http://gpu:8000/v1", api_key_env="OMNIDEX_OPENAI_API_KEY"
    )
    assert "api_key_env" not in options.model_dump()
