"""``omnidex ingest`` stopped mid-run, as a user stops it: the real command in a subprocess, sent
SIGINT (Ctrl-C) or SIGKILL while a video is being ingested. Either way the next run of the same
command takes the unfinished objects at once; Ctrl-C also says so in one line and exits 130."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..media.conftest import make_video, tone

pytestmark = pytest.mark.usefixtures("needs_tesseract")
OMNIDEX = str(Path(sys.executable).with_name("omnidex"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two notes and a 30-second video (long enough to be caught while it is ingested)."""
    files = tmp_path / "files"
    files.mkdir()
    for i in range(2):
        (files / f"note{i}.txt").write_text(f"note {i} about the harbor ferry")
    make_video(files / "clip.mp4", fps=10, n_frames=300, audio=tone(30.0))
    return files


def omnidex(data: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [OMNIDEX, "--data", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        # a shell starts background jobs with SIGINT ignored; a terminal's Ctrl-C is not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def statuses(data: Path) -> dict[str, str]:
    with sqlite3.connect(data / "catalog.sqlite") as db:
        rows = db.execute("SELECT source, status FROM objects").fetchall()
    return {Path(source).name: status for source, status in rows}


def segmenting(data: Path) -> bool:
    """Whether the video's task is running its segmentation (its start fully recorded)."""
    with sqlite3.connect(data / "catalog.sqlite") as db:
        rows = db.execute("SELECT 1 FROM tasks WHERE state = 'running' AND stage = 'segment'")
        return rows.fetchone() is not None


def interrupt_mid_video(data: Path, folder: Path, sig: signal.Signals) -> tuple[int, str, str]:
    """Start the ingest, send ``sig`` once the video is under way; its code, stdout, stderr."""
    run = omnidex(data, "ingest", str(folder), "-c", "C")
    deadline = time.monotonic() + 120
    while statuses(data).get("clip.mp4") != "processing" or not segmenting(data):
        assert run.poll() is None and time.monotonic() < deadline, "the video was never under way"
        time.sleep(0.02)
    run.send_signal(sig)
    out, err = run.communicate(timeout=60)
    return run.returncode, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    home = tmp_path / "data"
    create = omnidex(home, "collection", "create", "C", "-e", "page_text@v1", "-e", "ocr@v1")
    assert create.wait(timeout=120) == 0, create.communicate()
    return home


def rerun(data: Path, folder: Path) -> dict[str, str]:
    run = omnidex(data, "ingest", str(folder), "-c", "C", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    return {Path(r["source"]).name: r["status"] for r in json.loads(out)}


def test_ctrl_c_says_how_to_resume_and_leaves_nothing_processing(data: Path, folder: Path) -> None:
    code, out, err = interrupt_mid_video(data, folder, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: 0 of 3 files done"), err
    assert "run the same command again to resume" in lines[0]
    assert statuses(data) == {"clip.mp4": "pending"}
    with sqlite3.connect(data / "catalog.sqlite") as db:
        assert db.execute("SELECT state FROM tasks").fetchall() == [("canceled",)]

    assert rerun(data, folder) == dict.fromkeys(["clip.mp4", "note0.txt", "note1.txt"], "ingested")
    assert set(statuses(data).values()) == {"succeeded"}


def test_a_killed_run_is_taken_up_by_the_next(data: Path, folder: Path) -> None:
    code, _, _ = interrupt_mid_video(data, folder, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert statuses(data) == {"clip.mp4": "processing"}  # nothing could settle it

    assert rerun(data, folder) == dict.fromkeys(["clip.mp4", "note0.txt", "note1.txt"], "ingested")
    assert set(statuses(data).values()) == {"succeeded"}


def tasks(data: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(data / "catalog.sqlite") as db:
        return db.execute("SELECT state, error_code FROM tasks ORDER BY seq").fetchall()


def test_a_killed_runs_task_is_found_abandoned_not_left_running(data: Path, folder: Path) -> None:
    code, _, _ = interrupt_mid_video(data, folder, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert tasks(data) == [("running", None)]  # as the killed run left it

    doctor = omnidex(data, "doctor", "--dry-run")
    out, err = doctor.communicate(timeout=120)
    assert doctor.returncode == 0, err
    assert out.strip() == "C: 1 task of killed runs (would be failed)"
    assert tasks(data) == [("running", None)]

    assert rerun(data, folder) == dict.fromkeys(["clip.mp4", "note0.txt", "note1.txt"], "ingested")
    killed, *after = tasks(data)
    assert killed == ("failed", "abandoned")
    assert after == [("succeeded", None)] * 3
