"""Webhooks over real HTTP: a receiver on 127.0.0.1 (allowed by the server's ``url_allow_hosts``)
records what the server POSTs: task and object events, signed; retries after 500s; the SSRF guard
at registration and at delivery; one namespace never sees or triggers another's webhooks."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import omnidex
from omnidex.server.webhooks import sign, verify_signature
from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.store.sqlite_catalog import SqliteCatalog
from omnidex.types import WebhookEventType

from .conftest import Running, start_server

TEXT_SPEC = {"name": "docs", "extractors": ["page_text@v1"]}
TASK_EVENTS = ["task.succeeded", "task.failed"]
STALL_S = 2.0
FAST_RETRIES: dict[str, Any] = {
    "url_allow_hosts": ["127.0.0.1"],
    "webhook_backoff_s": 0.05,
    "webhook_max_attempts": 3,
    "webhook_timeout_s": 5,
}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST; it answers 500 to the first
    ``fail_first`` of them and 200 to the rest."""

    fail_first: int = 0
    stall_first: int = 0
    """The first ``stall_first`` requests are answered after :data:`STALL_S` only."""
    requests: list[Request] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    receiver.requests.append(Request(self.path, dict(self.headers), body))
                    failing = len(receiver.requests) <= receiver.fail_first
                    stalling = len(receiver.requests) <= receiver.stall_first
                    receiver._changed.notify_all()
                if stalling:
                    time.sleep(STALL_S)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, path: str | None = None, timeout_s: float = 30) -> list[Request]:
        """The first ``count`` requests (to ``path``, when given), once they have come."""

        def seen() -> list[Request]:
            return [r for r in self.requests if path is None or r.path == path]

        with self._changed:
            if not self._changed.wait_for(lambda: len(seen()) >= count, timeout_s):
                raise AssertionError(f"{len(seen())} of {count} requests after {timeout_s} s")
            return seen()[:count]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@dataclass
class Hooked(Running):
    """A running server that may reach 127.0.0.1, with a write key of namespace ``b`` too."""

    b_key: str = ""


@contextmanager
def serving(home: Path, **config: Any) -> Iterator[str]:
    """A server over ``home`` that may reach 127.0.0.1 and retries fast; its URL."""
    server, thread, url = start_server(
        home,
        **{"workers": 1, "rate_per_minute": 100_000, "rate_burst": 1000, **FAST_RETRIES} | config,
    )
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def hooked_server(home: Path, **config: Any) -> Iterator[Hooked]:
    with omnidex.connect(home) as db:
        _, write_key = db.create_key("writer", "write")
        _, read_key = db.create_key("reader", "read")
    with omnidex.connect(home, namespace="b") as db:
        _, b_key = db.create_key("b-writer", "write")
    with serving(home, **config) as url:
        yield Hooked(url, home, write_key, read_key, b_key)


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[Hooked]:
    with hooked_server(tmp_path / "home") as running:
        yield running


def register(http: httpx.Client, url: str, events: list[str], **extra: str) -> dict[str, Any]:
    answer = http.post("/v1/webhooks", json={"url": url, "events": events, **extra})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def ingested(running: Running, key: str, path: Path) -> dict[str, Any]:
    """The finished task of ``path`` uploaded into a new collection ``docs``."""
    with running.client(key) as http, path.open("rb") as file:
        assert http.post("/v1/collections", json=TEXT_SPEC).status_code == 201
        answer = http.post("/v1/collections/docs/objects", files={"file": (path.name, file)})
        assert answer.status_code == 202, answer.text
    return running.wait_task(key, answer.json()["id"])


def deliveries_when(
    http: httpx.Client, hook_id: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The webhook's deliveries, once ``done`` says they are as expected."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliveries: list[dict[str, Any]] = http.get(f"/v1/webhooks/{hook_id}/deliveries").json()
        if done(deliveries):
            return deliveries
        time.sleep(0.05)
    raise AssertionError(f"deliveries of {hook_id}: {deliveries}")


def note(tmp_path: Path, text: str = "The harbor ferry leaves at seven.") -> Path:
    path = tmp_path / "ferry.txt"
    path.write_text(text)
    return path


def corrupt_png(tmp_path: Path) -> Path:
    """A PNG cut off after its header: accepted at upload, its ingest fails for good."""
    image = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(image, "PNG")
    path = tmp_path / "broken.png"
    path.write_bytes(image.getvalue()[:40])
    return path


# --- events, signed ------------------------------------------------------------------------------


def test_task_succeeded_is_posted_signed(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url(), TASK_EVENTS)
    assert hook["secret"].startswith("whsec_") and hook["namespace"] == DEFAULT_NAMESPACE
    assert hook["events"] == sorted(TASK_EVENTS)
    task = ingested(hooked, hooked.write_key, note(tmp_path))
    assert task["state"] == "succeeded"
    (request,) = receiver.wait(1)
    headers = request.headers
    assert request.path == "/hook" and headers["Content-Type"] == "application/json"
    assert headers["X-Omnidex-Event"] == "task.succeeded"
    assert headers["X-Omnidex-Delivery"].startswith("dlv_")
    event = request.event
    assert set(event) == {"id", "type", "created_at", "namespace", "data"}
    assert (event["type"], event["namespace"]) == ("task.succeeded", DEFAULT_NAMESPACE)
    assert event["data"]["id"] == task["id"] and event["data"]["state"] == "succeeded"
    assert event["data"]["object_id"] == task["object_id"] and "payload" not in event["data"]
    timestamp, signature = headers["X-Omnidex-Timestamp"], headers["X-Omnidex-Signature"]
    assert signature == sign(hook["secret"], timestamp, request.body)
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(hook["secret"], timestamp, request.body, signature)
    assert not verify_signature("whsec_wrong", timestamp, request.body, signature)
    assert not verify_signature(hook["secret"], timestamp, request.body + b" ", signature)
    assert not verify_signature(hook["secret"], int(timestamp) + 1, request.body, signature)
    # a replay long after is refused, unless the receiver asks for no age limit
    old = int(time.time()) - 3600
    replayed = sign(hook["secret"], old, request.body)
    assert not verify_signature(hook["secret"], old, request.body, replayed)
    assert verify_signature(hook["secret"], old, request.body, replayed, tolerance_s=None)
    with hooked.client(hooked.read_key) as http:
        listed = http.get("/v1/webhooks").json()
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        shown = http.get(f"/v1/webhooks/{hook['id']}").json()
        assert "secret" not in shown and shown["url"] == receiver.url()
        (delivery,) = deliveries_when(http, hook["id"], lambda d: d[0]["state"] == "delivered")
    assert delivery["id"] == headers["X-Omnidex-Delivery"] and delivery["event_id"] == event["id"]
    assert (delivery["attempts"], delivery["last_status"]) == (1, 200)
    assert not {"secret", "body", "url"} & set(delivery)


def test_task_failed_for_a_bad_file_with_the_callers_secret(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    secret = "my-own-secret-of-some-length"
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url(), ["task.failed"], secret=secret)
    assert hook["secret"] == secret
    task = ingested(hooked, hooked.write_key, corrupt_png(tmp_path))
    assert task["state"] == "failed" and task["error"]
    (request,) = receiver.wait(1)
    event = request.event
    assert event["type"] == "task.failed" and event["data"]["id"] == task["id"]
    assert event["data"]["error"] == task["error"]
    headers = request.headers
    assert verify_signature(
        secret, headers["X-Omnidex-Timestamp"], request.body, headers["X-Omnidex-Signature"]
    )


def test_object_deleted_goes_only_where_listened_to(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url("/deleted"), ["object.deleted"])
        gone = register(http, receiver.url("/gone"), ["object.deleted"])
        assert http.delete(f"/v1/webhooks/{gone['id']}").status_code == 204
        assert http.get(f"/v1/webhooks/{gone['id']}").status_code == 404
    task = ingested(hooked, hooked.write_key, note(tmp_path))
    with hooked.client(hooked.write_key) as http:
        record = http.get(f"/v1/collections/docs/objects/{task['object_id']}").json()
        assert http.delete(f"/v1/collections/docs/objects/{record['id']}").status_code == 204
        (request,) = receiver.wait(1)
        assert request.path == "/deleted"
        assert request.headers["X-Omnidex-Event"] == "object.deleted"
        assert request.event["data"] == record
        (delivery,) = deliveries_when(http, hook["id"], lambda d: d[0]["state"] == "delivered")
        assert delivery["event"] == "object.deleted"  # never task.succeeded: not listened to
    assert [r.path for r in receiver.requests] == ["/deleted"]


# --- retries -------------------------------------------------------------------------------------


def test_a_delivery_is_retried_after_500s(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.fail_first = 2
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url(), TASK_EVENTS)
    ingested(hooked, hooked.write_key, note(tmp_path))
    requests = receiver.wait(3)
    assert len({r.headers["X-Omnidex-Delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1  # the same event each time
    for request in requests:
        headers = request.headers
        assert verify_signature(
            hook["secret"],
            headers["X-Omnidex-Timestamp"],
            request.body,
            headers["X-Omnidex-Signature"],
        )
    with hooked.client(hooked.read_key) as http:
        (delivery,) = deliveries_when(http, hook["id"], lambda d: d[0]["state"] == "delivered")
    assert (delivery["attempts"], delivery["last_status"], delivery["last_error"]) == (3, 200, None)


def test_a_delivery_fails_after_its_last_attempt(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.fail_first = 1000
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url(), TASK_EVENTS)
    ingested(hooked, hooked.write_key, note(tmp_path))
    with hooked.client(hooked.read_key) as http:
        (delivery,) = deliveries_when(http, hook["id"], lambda d: d[0]["state"] == "failed")
        failed = http.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"state": "failed"})
        assert [d["id"] for d in failed.json()] == [delivery["id"]]
    assert (delivery["attempts"], delivery["last_status"]) == (3, 500)
    assert "500" in delivery["last_error"]
    assert len(receiver.requests) == 3


def test_a_receiver_that_hangs_is_cut_off_and_tried_again(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.stall_first = 1
    with hooked_server(tmp_path / "home", webhook_timeout_s=0.3) as hooked:
        with hooked.client(hooked.write_key) as http:
            hook = register(http, receiver.url(), TASK_EVENTS)
        ingested(hooked, hooked.write_key, note(tmp_path))
        with hooked.client(hooked.read_key) as http:
            (delivery,) = deliveries_when(http, hook["id"], lambda d: d[0]["state"] == "delivered")
    assert (delivery["attempts"], delivery["last_status"]) == (2, 200)
    assert len(receiver.wait(2)) == 2


def test_queued_deliveries_survive_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    with hooked_server(tmp_path / "home", webhook_senders=0) as hooked:
        with hooked.client(hooked.write_key) as http:
            hook = register(http, receiver.url(), TASK_EVENTS)
        ingested(hooked, hooked.write_key, note(tmp_path))
        with hooked.client(hooked.write_key) as http:
            deliveries_when(http, hook["id"], lambda d: [x["state"] for x in d] == ["pending"])
    assert receiver.requests == []
    with serving(hooked.home, workers=0):
        (request,) = receiver.wait(1)
        assert request.event["type"] == "task.succeeded"


# --- the SSRF guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://2130706433/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
        "http://user:password@example.com/hook",
        "file:///etc/passwd",
    ],
)
def test_an_unsafe_url_is_refused_at_registration(running: Running, url: str) -> None:
    with running.client(running.write_key) as http:
        answer = http.post("/v1/webhooks", json={"url": url, "events": ["task.failed"]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "unsafe_url"
        assert http.get("/v1/webhooks").json() == []


def test_the_allow_list_admits_only_what_it_names(hooked: Hooked) -> None:
    with hooked.client(hooked.write_key) as http:
        register(http, "http://127.0.0.1:9/hook", ["task.failed"])
        answer = http.post(
            "/v1/webhooks", json={"url": "http://10.0.0.1/", "events": ["task.failed"]}
        )
        assert answer.json()["error"]["code"] == "unsafe_url"


def test_the_guard_holds_at_delivery_too(hooked: Hooked, tmp_path: Path) -> None:
    """A URL stored past the registration check (here written to the catalog directly) is
    still refused when a delivery is attempted, and not retried."""
    catalog = SqliteCatalog(hooked.home / "catalog.sqlite")
    try:
        hook = catalog.create_webhook(
            DEFAULT_NAMESPACE, "http://127.0.0.2:9/hook", [WebhookEventType.TASK_SUCCEEDED], "k"
        )
    finally:
        catalog.close()
    ingested(hooked, hooked.write_key, note(tmp_path))
    with hooked.client(hooked.read_key) as http:
        (delivery,) = deliveries_when(http, hook.id, lambda d: d[0]["state"] == "failed")
    assert delivery["attempts"] == 1 and "loopback" in delivery["last_error"]


# --- who may do what -----------------------------------------------------------------------------


def test_namespaces_never_see_or_trigger_each_others_webhooks(
    hooked: Hooked, receiver: Receiver, tmp_path: Path
) -> None:
    with hooked.client(hooked.write_key) as http:
        mine = register(http, receiver.url("/a"), [*TASK_EVENTS, "object.deleted"])
    with hooked.client(hooked.b_key) as http:
        theirs = register(http, receiver.url("/b"), [*TASK_EVENTS, "object.deleted"])
        assert [h["id"] for h in http.get("/v1/webhooks").json()] == [theirs["id"]]
        for path in (f"/v1/webhooks/{mine['id']}", f"/v1/webhooks/{mine['id']}/deliveries"):
            assert http.get(path).status_code == 404
        assert http.delete(f"/v1/webhooks/{mine['id']}").status_code == 404
    task = ingested(hooked, hooked.write_key, note(tmp_path))
    (request,) = receiver.wait(1, "/a")
    assert request.event["data"]["id"] == task["id"]
    b_task = ingested(hooked, hooked.b_key, note(tmp_path, "another note"))
    with hooked.client(hooked.b_key) as http:
        assert http.delete(f"/v1/collections/docs/objects/{b_task['object_id']}").status_code == 204
    b_events = {r.event["type"]: r.event for r in receiver.wait(2, "/b")}
    assert set(b_events) == {"task.succeeded", "object.deleted"}
    assert {event["namespace"] for event in b_events.values()} == {"b"}
    assert b_events["task.succeeded"]["data"]["id"] == b_task["id"]
    assert b_events["object.deleted"]["data"]["id"] == b_task["object_id"]
    with hooked.client(hooked.write_key) as http:
        assert len(http.get(f"/v1/webhooks/{mine['id']}/deliveries").json()) == 1
    assert [r.path for r in receiver.requests].count("/a") == 1


def test_a_read_key_may_list_but_not_register(hooked: Hooked, receiver: Receiver) -> None:
    with hooked.client(hooked.read_key) as http:
        answer = http.post("/v1/webhooks", json={"url": receiver.url(), "events": TASK_EVENTS})
        assert answer.status_code == 403
        assert http.get("/v1/webhooks").json() == []
    with hooked.client(hooked.write_key) as http:
        hook = register(http, receiver.url(), TASK_EVENTS)
    with hooked.client(hooked.read_key) as http:
        assert http.delete(f"/v1/webhooks/{hook['id']}").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/", "events": []},
        {"url": "http://127.0.0.1:9/", "events": ["task.started"]},
        {"url": "http://127.0.0.1:9/", "events": ["task.failed"], "secret": "short"},
        {"url": "http://127.0.0.1:9/", "events": ["task.failed"], "secret": "has spaces in it!!"},
        {"url": "http://127.0.0.1:9/", "events": ["task.failed"], "other": 1},
        {"events": ["task.failed"]},
    ],
)
def test_bad_registrations_are_refused(hooked: Hooked, body: dict[str, Any]) -> None:
    with hooked.client(hooked.write_key) as http:
        answer = http.post("/v1/webhooks", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
