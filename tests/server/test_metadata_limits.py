"""Metadata cannot blow up a collection's schema: over real HTTP, an upload or URL ingest whose
metadata has thousands of keys (each would become a typed column), a key too long, too much JSON
or too deep a nesting is refused with a 413 before anything is stored or queued; a collection
stops at ``max_metadata_columns`` typed columns; the embedded API and the CLI refuse the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import omnidex
from omnidex.errors import LimitExceededError

from ..cli.test_cli import run_omnidex
from .conftest import Running, start_server

MEMO = b"The ferry leaves at noon from the north pier."


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


HOSTILE = {
    "max_metadata_keys": {f"k{i}": i for i in range(3000)},
    "max_metadata_key_chars": {"k" * 200: 1},
    "max_metadata_bytes": {"blob": "x" * 40_000},
    "max_metadata_depth": {"deep": _nested(20)},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    db.create_collection("notes", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    yield Running(url, home, key, key)
    server.should_exit = True
    thread.join(30)


@pytest.mark.parametrize("limit", sorted(HOSTILE))
def test_hostile_metadata_is_refused_before_anything_is_stored(server: Running, limit: str) -> None:
    metadata = HOSTILE[limit]
    with server.client(server.write_key) as http:
        uploaded = http.post(
            "/v1/collections/notes/objects",
            files={"file": ("memo.txt", MEMO)},
            data={"metadata": json.dumps(metadata)},
        )
        by_url = http.post(
            "/v1/collections/notes/objects/url",
            json={"url": "https://example.com/memo.txt", "metadata": metadata},
        )
        tasks = http.get("/v1/tasks").json()
    for answer in (uploaded, by_url):
        assert answer.status_code == 413, answer.text
        error = answer.json()["error"]
        assert error["code"] == "limit_exceeded" and error["limit"] == limit, error
        assert error["field"] == "metadata"
    assert tasks == []
    assert not any((server.home / "uploads").glob("*"))


def test_a_collection_stops_at_its_typed_column_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIDEX_MAX_METADATA_COLUMNS", "4")
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    db.create_collection("notes", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    running = Running(url, home, key, key)
    try:
        with running.client(key) as http:
            first, second = (
                http.post(
                    "/v1/collections/notes/objects",
                    files={"file": (name, MEMO + name.encode())},
                    data={"metadata": json.dumps(metadata)},
                ).json()["id"]
                for name, metadata in [
                    ("a.txt", {"speaker": "ann", "room": "b2", "year": 2024}),
                    ("b.txt", {"colour": "red", "size": 3}),
                ]
            )
            accepted = running.wait_task(key, first)
            refused = running.wait_task(key, second)
            found = http.get("/v1/collections/notes/documents", params={"where": "room = 'b2'"})
    finally:
        server.should_exit = True
        thread.join(30)
    assert accepted["state"] == "succeeded", accepted
    assert refused["state"] == "failed", refused
    assert refused["error_code"] == "limit_exceeded"
    assert "max_metadata_columns" in refused["error"], refused["error"]
    assert found.status_code == 200 and found.json()["total"] == 1


def test_the_embedded_api_and_the_cli_refuse_too(tmp_path: Path) -> None:
    memo = tmp_path / "memo.txt"
    memo.write_bytes(MEMO)
    home = tmp_path / "home"
    db = omnidex.connect(home)
    notes = db.create_collection("notes", extractors=["page_text@v1"])
    with pytest.raises(LimitExceededError) as caught:
        notes.ingest(memo, metadata=HOSTILE["max_metadata_keys"])
    assert caught.value.context["limit"] == "max_metadata_keys"
    assert notes.objects() == []
    db.close()
    result = run_omnidex("ingest", str(memo), "-c", "notes", "-m", f"{'k' * 200}=1", data=home)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: metadata:"), result.stderr
    assert "max_metadata_key_chars" in " ".join(result.stderr.split())
