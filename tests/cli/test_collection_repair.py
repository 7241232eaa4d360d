"""A collection whose documents table is missing — a create killed between the catalog's row
and the table, or a table deleted by hand — leaves ``omnidex collection list`` working: the first
is repaired on open, the second shows as lost and can be dropped."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import omnidex

OMNIDEX = str(Path(sys.executable).with_name("omnidex"))
KILLED_CREATE = """
import os, signal, sys
import omnidex
from omnidex.store.lance_documents import LanceDocumentStore

def die(*args, **kwargs):  # SIGKILL after the catalog's row, before the table
    os.kill(os.getpid(), signal.SIGKILL)

LanceDocumentStore.create_collection = die
omnidex.Database.open(sys.argv[1]).create_collection("cut", ["page_text@v1"])
"""


def omnidex_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [OMNIDEX, "--data", str(data), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_create_killed_before_its_table_is_repaired_on_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with omnidex.Database.open(data) as db:
        db.create_collection("good", ["page_text@v1"])
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CREATE, str(data)], capture_output=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL
    listed = omnidex_cli(data, "collection", "list")
    assert listed.returncode == 0, listed.stderr
    assert "cut" in listed.stdout and "good" in listed.stdout
    with omnidex.Database.open(data) as db:
        cut = db.collection("cut")
        assert db.documents.exists(cut.info.id)
        assert cut.count() == 0
        assert cut.search("anything") == []


def test_a_lost_table_shows_as_lost_and_can_be_dropped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    note = tmp_path / "note.txt"
    note.write_text("a small note about the quarterly report")
    with omnidex.Database.open(data) as db:
        db.create_collection("good", ["page_text@v1"])
        lost = db.create_collection("lost", ["page_text@v1"])
        assert lost.ingest([note])[0].documents == 1
    shutil.rmtree(data / "documents" / f"{lost.info.id}.lance")
    listed = omnidex_cli(data, "collection", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if "page_text" in line}
    assert "table lost" in rows["lost"] and "table lost" not in rows["good"]
    shown = omnidex_cli(data, "collection", "show", "lost")
    assert shown.returncode == 1
    assert "lost its documents table" in shown.stderr and "Traceback" not in shown.stderr
    assert omnidex_cli(data, "collection", "drop", "lost", "--yes").returncode == 0
    with omnidex.Database.open(data) as db:
        assert [c.name for c in db.collections()] == ["good"]
