"""A server whose disk is full, against a live server on 127.0.0.1: its data folder on a small
tmpfs mounted for the test (root only), filled to the last byte. Reads keep working (each
authenticated request used to fail writing the key's last-used time); writes fail with 507
``storage_full``, and work again once space is freed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import omnidex

from .conftest import Running, start_server
from .test_api import upload


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root, to mount a small tmpfs for the full disk")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with pytest.raises(OSError, match="No space left"), filler.open("wb") as out:
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


@pytest.fixture
def full(small_disk: Path, tmp_path: Path) -> Iterator[tuple[Running, Path]]:
    home = small_disk / "home"
    db = omnidex.connect(home)
    note = tmp_path / "note.txt"
    note.write_text("the harbor ferry leaves at nine")
    db.create_collection("docs", extractors=["page_text@v1"]).ingest(note)
    _, key = db.create_key("w", "write")
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    with sqlite3.connect(home / "catalog.sqlite") as catalog:  # its use is due to be recorded
        catalog.execute("UPDATE api_keys SET last_used_at = '2020-01-01T00:00:00+00:00'")
    filler = fill(small_disk)
    yield Running(url, home, key, key), filler
    server.should_exit = True
    thread.join(30)


def test_reads_work_and_writes_fail_with_507_on_a_full_disk(
    full: tuple[Running, Path], tmp_path: Path
) -> None:
    running, filler = full
    another = tmp_path / "another.txt"
    another.write_text("lentil soup with cumin " * 2000)
    with running.client(running.write_key) as http:
        for _ in range(2):
            found = http.post("/v1/collections/docs/search", json={"query": "ferry"})
            assert found.status_code == 200, found.text
            assert "ferry" in found.json()[0]["snippet"]
        assert http.get("/v1/collections/docs/objects").status_code == 200
        assert http.get("/v1/collections").status_code == 200

        with another.open("rb") as file:
            refused = http.post("/v1/collections/docs/objects", files={"file": ("a.txt", file)})
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"
        created = http.post("/v1/collections", json={"name": "x", "extractors": ["page_text@v1"]})
        assert created.status_code == 507, created.text
        assert created.json()["error"]["code"] == "storage_full"
        assert str(running.home) not in refused.text + created.text

        filler.unlink()  # space again: writes work
        assert http.post("/v1/collections/docs/search", json={"query": "ferry"}).status_code == 200
        task = upload(running, another)
        assert running.wait_task(running.write_key, task["id"])["state"] == "succeeded"
