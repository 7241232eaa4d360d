"""The real ``omnidex`` command on a data folder it cannot write: a read-only bind mount, a full
disk (a small tmpfs), a damaged catalog. Root writes past file modes, so the mounts are made in a
user namespace of their own (``unshare -rm``), where even root gets EROFS and ENOSPC. Reading
works; each write, and each fault, is one line, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

OMNIDEX = str(Path(sys.executable).with_name("omnidex"))
ENV = {**os.environ, "COLUMNS": "200"}


def omnidex(*args: str, setup: str = "true") -> subprocess.CompletedProcess[str]:
    """``omnidex ARGS``; with ``setup``, in a mount namespace where the shell lines ran first."""
    command = [OMNIDEX, *args]
    if setup != "true":
        command = ["unshare", "-rm", "sh", "-ec", f'{setup}\nexec "$@"', "sh", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV)


def one_line_error(run: subprocess.CompletedProcess[str], starts: str) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.returncode == 1, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), run.stderr


@pytest.fixture(scope="module")
def namespaces() -> None:
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not allowed here: {probe.stderr.strip()}")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one collection holding one note."""
    root = tmp_path_factory.mktemp("faults")
    home = root / "data"
    note = root / "note.txt"
    note.write_text("the harbor ferry leaves at seven")
    for args in (
        ["collection", "create", "C", "-e", "page_text@v1"],
        ["ingest", str(note), "-c", "C"],
    ):
        made = omnidex("--data", str(home), *args)
        assert made.returncode == 0, made.stderr
    (root / "new.txt").write_text("a note that was never ingested")
    return home


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("namespaces")
def test_a_read_only_data_folder_is_read_and_each_write_is_one_line(data: Path) -> None:
    read_only = f"mount --bind -o ro {data} {data}"
    before = snapshot(data)

    found = omnidex("--data", str(data), "search", "ferry", "-c", "C", "--json", setup=read_only)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [Path(h["source"]).name for h in hits] == ["note.txt"]
    for args in (
        ["object", "list", "-c", "C", "--json"],
        ["collection", "list"],
        ["collection", "show", "C"],
        ["document", "show", hits[0]["id"], "-c", "C"],
    ):
        shown = omnidex("--data", str(data), *args, setup=read_only)
        assert shown.returncode == 0, (args, shown.stderr)
    assert "note.txt" in shown.stdout

    new = str(data.parent / "new.txt")
    for args in (["ingest", new, "-c", "C"], ["collection", "create", "D", "-e", "page_text@v1"]):
        refused = omnidex("--data", str(data), *args, setup=read_only)
        one_line_error(refused, f"error: the catalog {data / 'catalog.sqlite'} cannot be written")
        assert "opened for reading only" in refused.stderr
    assert snapshot(data) == before


@pytest.mark.usefixtures("namespaces")
def test_a_full_disk_still_searches_and_a_write_is_one_line(data: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    full = (
        f"mount -t tmpfs -o size=4m tmpfs {disk}\ncp -r {data} {disk}/data\n"
        f"dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null || true"
    )
    home = str(disk / "data")
    found = omnidex("--data", home, "search", "ferry", "-c", "C", "--json", setup=full)
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == 1

    refused = omnidex("--data", home, "ingest", str(data.parent / "new.txt"), "-c", "C", setup=full)
    one_line_error(refused, f"error: the catalog {home}/catalog.sqlite cannot be written")


@pytest.mark.parametrize("damage", ["garbage", "torn page"])
def test_a_damaged_catalog_is_one_line(data: Path, tmp_path: Path, damage: str) -> None:
    home = tmp_path / "data"
    shutil.copytree(data, home)
    catalog = home / "catalog.sqlite"
    if damage == "garbage":
        catalog.write_bytes(bytes(range(256)) * 20)
    else:
        with catalog.open("r+b") as file:
            file.seek(2 * 4096)
            file.write(b"\xff" * 8192)
    for args in (["collection", "list"], ["search", "ferry", "-c", "C"]):
        one_line_error(
            omnidex("--data", str(home), *args), f"error: cannot use the catalog {catalog}:"
        )
