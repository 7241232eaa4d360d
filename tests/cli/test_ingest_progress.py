"""``omnidex ingest`` as a user sees it: the real command on a terminal (a pseudo-terminal, so rich
draws its bar), then its closing summary of what failed and how to list it."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

OMNIDEX = str(Path(sys.executable).with_name("omnidex"))
STYLE = re.compile(r"\x1b\[[0-9;?]*m")
CURSOR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FRAME = re.compile(r"ingesting \S+ (\d+)/(\d+) (ETA \S+)\s*(\d+ failed)?")


def omnidex(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OMNIDEX, "--data", str(data), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def on_a_terminal(data: Path, *args: str) -> str:
    """Run the command with a pseudo-terminal for its output; everything it wrote, unstyled."""
    leader, follower = pty.openpty()
    run = subprocess.Popen(
        [OMNIDEX, "--data", str(data), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command ended and closed its side
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    assert run.wait(timeout=60) in (0, 2)
    return CURSOR.sub("\n", STYLE.sub("", written.decode(errors="replace")))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    home = tmp_path / "data"
    made = omnidex(home, "collection", "create", "C", "-e", "page_text@v1")
    assert made.returncode == 0, made.stderr
    return home


def test_the_bar_shows_an_eta_from_the_first_file_on_and_counts_failures(
    data: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for i in range(5):
        (files / f"note{i}.txt").write_text(f"note {i} about the harbor ferry")
    (files / "note2.txt").write_text("")  # the third file fails

    frames = [
        m.groups()
        for line in on_a_terminal(data, "ingest", str(files), "-c", "C").splitlines()
        if (m := FRAME.search(line))
    ]
    by_done = {int(done): (eta, failed) for done, total, eta, failed in frames if total == "5"}
    assert sorted(by_done) == [0, 1, 2, 3, 4, 5], frames  # a frame for every file
    assert by_done[0] == ("ETA -:--:--", None)  # nothing to estimate from yet
    for done in range(1, 5):
        assert re.fullmatch(r"ETA \d+:\d\d:\d\d", by_done[done][0]), frames
    assert [by_done[n][1] for n in range(1, 6)] == [None, None, "1 failed", "1 failed", "1 failed"]


def test_failures_are_summarized_by_reason_with_the_command_that_lists_them(
    data: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "good.txt").write_text("the harbor ferry leaves at seven")
    (files / "empty.txt").write_text("")
    (files / "blob1.bin").write_bytes(bytes(range(256)) * 8)
    (files / "blob2.bin").write_bytes(bytes(range(256)) * 9)

    run = omnidex(data, "ingest", str(files), "-c", "C")
    assert run.returncode == 2, run.stderr
    tail = run.stdout.strip().splitlines()[-4:]
    listing = f"omnidex --data {data} object list -c C --status failed"
    assert tail == [
        "3 failed, 2 reasons:",
        "  2 × unsupported media; it looks like binary data",
        "  1 × the file is empty",
        f"list them: {listing}",
    ], run.stdout

    listed = subprocess.run(
        [OMNIDEX, *shlex.split(listing)[1:], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 3
