"""Security on by default, over real HTTP: namespaces are walls, URL ingest cannot reach the
inside network, and every input has a limit."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

import omnidex

from .conftest import Running, start_server

HOSTILE_URLS = [
    "http://127.0.0.1:1/",
    "http://localhost/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
]


@pytest.fixture
def two_tenants(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with namespaces ``a`` and ``b``, a write key each; ``b`` has a collection."""
    home = tmp_path / "home"
    keys = {}
    for namespace in ("a", "b"):
        db = omnidex.connect(home, namespace=namespace)
        _, keys[namespace] = db.create_key(namespace, "write")
        if namespace == "b":
            db.create_collection("secret", extractors=["page_text@v1"])
        db.close()
    server, thread, url = start_server(home, workers=1)
    yield url, keys
    server.should_exit = True
    thread.join(30)


def test_a_key_of_one_namespace_reaches_nothing_of_another(
    two_tenants: tuple[str, dict[str, str]],
) -> None:
    url, keys = two_tenants
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['a']}"}) as a:
        assert a.get("/v1/collections").json() == []
        assert a.get("/v1/collections/secret").status_code == 404
        assert a.get("/v1/collections/secret/documents").status_code == 404
        assert a.post("/v1/collections/secret/search", json={"query": "x"}).status_code == 404
        assert a.delete("/v1/collections/secret").status_code == 404
        asked = a.get("/v1/collections", headers={"X-Namespace": "b"})
        assert asked.status_code == 403 and asked.json()["error"]["code"] == "forbidden"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['b']}"}) as b:
        assert [c["name"] for c in b.get("/v1/collections").json()] == ["secret"]
        task = b.post(
            "/v1/collections/secret/objects", files={"file": ("n.txt", b"hello there")}
        ).json()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['a']}"}) as a:
        assert a.get(f"/v1/tasks/{task['id']}").status_code == 404
        assert a.post(f"/v1/tasks/{task['id']}/cancel").status_code == 404
        assert a.get("/v1/tasks").json() == []


def test_url_ingest_refuses_the_inside_network(running: Running) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "web", "extractors": ["page_text@v1"]})
        for scheme_url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://x/"):
            refused = http.post("/v1/collections/web/objects/url", json={"url": scheme_url})
            assert refused.status_code == 422, scheme_url
        tasks = [
            http.post("/v1/collections/web/objects/url", json={"url": u}).json()["id"]
            for u in HOSTILE_URLS
        ]
    for task_id, url in zip(tasks, HOSTILE_URLS, strict=True):
        done = running.wait_task(running.read_key, task_id)
        assert done["state"] == "failed", (url, done)
        assert done["attempts"] == 1, "a refused URL is not retried"
    with running.client(running.read_key) as http:
        assert http.get("/v1/collections/web/documents").json()["total"] == 0


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_url_ingest_reaches_allowed_hosts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "memo.txt").write_text("The allowed intranet memo about the ferry schedule.")
    handler = lambda *a: _Files(*a, directory=str(site))  # noqa: E731
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.create_collection("web", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=1, url_allow_hosts=["127.0.0.1"])
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http_:
            memo = f"http://127.0.0.1:{files.server_address[1]}/memo.txt"
            task = http_.post("/v1/collections/web/objects/url", json={"url": memo}).json()
            deadline = time.monotonic() + 30
            while (state := http_.get(f"/v1/tasks/{task['id']}").json())["state"] in (
                "queued",
                "running",
            ) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert state["state"] == "succeeded", state
            hits = http_.post("/v1/collections/web/search", json={"query": "ferry"}).json()
            assert hits and "ferry" in hits[0]["snippet"]
    finally:
        server.should_exit = True
        thread.join(30)
        files.shutdown()


class _Inside(http.server.BaseHTTPRequestHandler):
    """Another service on loopback, on a port the allow list does not name."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_allowed_host_with_a_port_opens_that_port_alone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "memo.txt").write_text("The allowed intranet memo about the ferry schedule.")
    handler = lambda *a: _Files(*a, directory=str(site))  # noqa: E731
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    inside = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Inside)
    _Inside.hits = []
    for one in (files, inside):
        threading.Thread(target=one.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.create_collection("web", extractors=["page_text@v1"])
    db.close()
    allowed = f"127.0.0.1:{files.server_address[1]}"
    server, thread, url = start_server(home, workers=1, url_allow_hosts=[allowed])
    running = Running(url, home, key, key)
    try:
        with running.client(key) as http_:
            good, bad = (
                http_.post("/v1/collections/web/objects/url", json={"url": target}).json()["id"]
                for target in (
                    f"http://{allowed}/memo.txt",
                    f"http://127.0.0.1:{inside.server_address[1]}/memo.txt",
                )
            )
        reached = running.wait_task(key, good)
        refused = running.wait_task(key, bad)
    finally:
        server.should_exit = True
        thread.join(30)
        files.shutdown()
        inside.shutdown()
    assert reached["state"] == "succeeded", reached
    assert refused["state"] == "failed" and refused["error_code"] == "unsafe_url", refused
    assert _Inside.hits == []


@pytest.mark.parametrize("entry", ["files.test:x", "10.0.0.5:0", "[::1]x", "[::1"])
def test_a_bad_allow_list_entry_stops_the_server_at_start(entry: str) -> None:
    from pydantic import ValidationError

    from omnidex.server.config import ServerConfig

    with pytest.raises(ValidationError, match="allow-list entry"):
        ServerConfig(url_allow_hosts=[entry])


def test_object_storage_is_closed_over_the_server_by_default(running: Running) -> None:
    """No namespace may make the server read a bucket with its own credentials unless the
    operator grants it: refused with a 403 before any task exists or any fetch starts."""
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "web", "extractors": ["page_text@v1"]})
        for target in ("s3://operator-backups/db.dump", "gs://another-tenant/private/a.pdf"):
            answer = http.post("/v1/collections/web/objects/url", json={"url": target})
            assert answer.status_code == 403, answer.text
            error = answer.json()["error"]
            assert error["code"] == "forbidden" and "OBJECT_STORE_ALLOW" in error["message"]
        assert http.get("/v1/tasks").json() == []


@pytest.mark.parametrize("entry", ["s3://media", "=s3://media", "acme=https://x/", "acme=s3://"])
def test_a_bad_object_store_grant_stops_the_server_at_start(entry: str) -> None:
    from pydantic import ValidationError

    from omnidex.server.config import ServerConfig

    with pytest.raises(ValidationError, match="object-store allow-list entry"):
        ServerConfig(object_store_allow=[entry])


def test_uploads_over_the_limit_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.create_collection("docs", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=1, max_upload_bytes=1000)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            big = client.post(
                "/v1/collections/docs/objects", files={"file": ("big.txt", b"x" * 200_000)}
            )
            assert big.status_code == 413
            assert big.json()["error"]["code"] == "payload_too_large"
            assert not list((home / "uploads").glob("*"))
            small = client.post("/v1/collections/docs/objects", files={"file": ("s.txt", b"hi")})
            assert small.status_code == 202
    finally:
        server.should_exit = True
        thread.join(30)


def test_each_key_is_rate_limited_with_retry_after(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "read")
    db.close()
    server, thread, url = start_server(home, workers=0, rate_per_minute=60, rate_burst=5)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            codes = [client.get("/v1/collections").status_code for _ in range(8)]
            assert codes[:5] == [200] * 5 and codes[-1] == 429
            limited = client.get("/v1/collections")
            assert limited.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(limited.headers["Retry-After"]) <= 2
            assert client.get("/v1/health").status_code == 200  # health is never limited
    finally:
        server.should_exit = True
        thread.join(30)


def test_bad_keys_are_rate_limited_per_address_without_locking_out_good_keys(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("r", "read")
    db.close()
    # a token every 15 s: a slow machine cannot refill the bucket between two requests
    server, thread, url = start_server(
        home, workers=0, bad_key_rate_per_minute=4, bad_key_rate_burst=3
    )
    guesses = [{"Authorization": f"Bearer odx_{key[4:12]}_{'x' * 43}"}, {"X-API-Key": "nope"}, {}]
    try:
        with httpx.Client(base_url=url) as client:
            codes = [
                client.get("/v1/collections", headers=guesses[n % 3]).status_code for n in range(6)
            ]
            assert codes[:3] == [401] * 3 and codes[-1] == 429
            limited = client.get("/v1/collections", headers=guesses[0])
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert "without a valid API key from 127.0.0.1" in limited.json()["error"]["message"]
            assert 1 <= int(limited.headers["Retry-After"]) <= 15
            good = {"Authorization": f"Bearer {key}"}
            assert [client.get("/v1/collections", headers=good).status_code for _ in range(5)] == [
                200
            ] * 5  # the same address, still limited for bad keys, but the good key gets in
            assert client.get("/v1/collections", headers=guesses[1]).status_code == 429
            mixpeek = client.get("/mixpeek/v1/collections/c/documents", headers=guesses[1])
            assert mixpeek.status_code == 429  # the Mixpeek API shares the buckets
            assert client.get("/v1/ready").status_code == 200  # the probes take no key
    finally:
        server.should_exit = True
        thread.join(30)


def test_health_and_readiness_need_no_key_and_say_nothing_else(running: Running) -> None:
    """Load balancers probe /v1/health and /v1/ready without a key, so both are open; they
    answer a status and whether auth is on, nothing about namespaces, keys, paths or versions."""
    with running.client() as anonymous, running.client("odx_aaaaaaaa_" + "b" * 43) as bad:
        for http in (anonymous, bad):
            assert http.get("/v1/health").json() == {"status": "ok", "auth": True}
            ready = http.get("/v1/ready")
            assert ready.status_code == 200 and ready.json() == {"status": "ready", "auth": True}
            assert http.get("/v1/namespaces").status_code == 401  # every other route needs one


def test_dev_mode_needs_no_key_and_says_so(tmp_path: Path) -> None:
    server, thread, url = start_server(tmp_path / "home", workers=0, dev=True)
    try:
        assert httpx.get(f"{url}/v1/health").json() == {"status": "ok", "auth": False}
        assert httpx.get(f"{url}/v1/collections").status_code == 200
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.txt", b"", "empty_file"),
        ("photo.png", b"this is not a picture at all", "unsupported_media"),
        ("scan.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported_media"),
        ("../../etc/passwd", b"root:x:0:0", "invalid_spec"),
        ("..\\..\\boot.ini", b"[boot]", "invalid_spec"),
        ("dir/name.txt", b"hello", "invalid_spec"),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_nothing_is_stored(
    running: Running, name: str, content: bytes, code: str
) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "docs", "extractors": ["page_text@v1"]})
        answer = http.post("/v1/collections/docs/objects", files={"file": (name, content)})
        assert 400 <= answer.status_code < 500, answer.text
        error = answer.json()["error"]
        assert error["code"] == code
        assert str(running.home) not in str(error)  # never where the server keeps files
        assert http.get("/v1/tasks").json() == []
    assert not list((running.home / "uploads").glob("*"))


def test_every_route_keeps_namespaces_apart(tmp_path: Path) -> None:
    """With namespace a's key, every operation of the OpenAPI document, aimed at b's collection,
    object, document, retriever and task, is refused or sees only a's (empty) world."""
    home = tmp_path / "home"
    b = omnidex.connect(home, namespace="b")
    _, b_key = b.create_key("b", "write")
    secret = b.create_collection("secret", extractors=["page_text@v1"])
    (tmp_path / "b.txt").write_text("the launch code is banana")
    secret.ingest(tmp_path / "b.txt")
    (document,) = secret.documents()
    b.create_retriever(
        {
            "name": "r",
            "collections": ["secret"],
            "inputs": {"query": {"type": "text"}},
            "stages": [{"type": "feature_search", "params": {"searches": [{"feature": "text"}]}}],
        }
    )
    b.close()
    a = omnidex.connect(home, namespace="a")
    _, a_key = a.create_key("a", "write")
    a.close()
    server, thread, url = start_server(home, workers=1)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {b_key}"}) as as_b:
            task = as_b.post(
                "/v1/collections/secret/objects", files={"file": ("n.txt", b"more secrets")}
            ).json()
        ids = {
            "name": "secret",
            "object_id": document.object_id,
            "doc_id": document.id,
            "task_id": task["id"],
        }
        bodies: dict[str, Any] = {
            "/v1/collections/{name}/search": {"query": "banana"},
            "/v1/collections/{name}/search/explain": {"query": "banana"},
            "/v1/collections/{name}/extractors": {"extractors": ["page_text@v1"]},
            "post /v1/collections/{name}/extractors": {"extractor": "page_text@v1"},
            "/v1/collections/{name}/objects/url": {"url": "http://example.com/x.txt"},
            "/v1/retrievers/{name}/execute": {"inputs": {"query": "banana"}},
            "/v1/retrievers/{name}/explain": {"inputs": {"query": "banana"}},
            "/v1/ask": {"collection": "secret", "document_id": document.id, "question": "what?"},
        }
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a_key}"}) as as_a:
            paths = as_a.get("/openapi.json").json()["paths"]
            checked = 0
            for path, operations in paths.items():
                if ("{" not in path and path != "/v1/ask") or path == "/v1/media/{token}":
                    continue  # a media link is a capability by design: it needs no key
                concrete = path.replace("{name}", "r" if "retrievers" in path else "secret")
                for key, value in ids.items():
                    concrete = concrete.replace("{" + key + "}", value)
                for method in operations:
                    body = bodies.get(f"{method} {path}", bodies.get(path, {}))
                    answer = as_a.request(method, concrete, json=body)
                    assert answer.status_code in (403, 404), (method, path, answer.text)
                    checked += 1
            assert checked >= 20
            for listing in ("/v1/collections", "/v1/retrievers", "/v1/tasks"):
                assert as_a.get(listing).json() == [], listing
            spec = {
                "name": "peek",
                "collections": ["secret"],
                "stages": [{"type": "limit", "params": {"limit": 5}}],
            }
            assert as_a.post("/v1/retrievers", json=spec).status_code == 404
            adhoc = as_a.post("/v1/retrievers/execute", json={"spec": spec, "inputs": {}})
            assert adhoc.status_code == 404
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {b_key}"}) as as_b:
            assert [c["name"] for c in as_b.get("/v1/collections").json()] == ["secret"]
            assert as_b.get(f"/v1/collections/secret/documents/{document.id}").status_code == 200
            assert as_b.get("/v1/retrievers/r").status_code == 200
    finally:
        server.should_exit = True
        thread.join(30)
