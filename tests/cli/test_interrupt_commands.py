"""Ctrl-C in every other long-running command, sent as a terminal sends it to the real command in a
subprocess: while the command line loads, once the command has its catalog open, while a server
serves and while the demo ingests. Each time one line, exit code 130, no traceback, and the data
folder left whole (no collection without its table, no object left "processing")."""

from __future__ import annotations

import signal
import sqlite3
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .test_interrupt import omnidex, statuses

pytestmark = pytest.mark.usefixtures("needs_tesseract")


def loaded(library: str) -> Callable[[int], bool]:
    """Whether the process has mapped a shared library (it is that far in loading)."""
    return lambda pid: library in Path(f"/proc/{pid}/maps").read_text()


def holding(name: str) -> Callable[[int], bool]:
    """Whether the process has a file of that name open."""

    def opened(pid: int) -> bool:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if fd.readlink().name == name:
                    return True
            except OSError:  # closed meanwhile
                continue
        return False

    return opened


def interrupt(data: Path, args: list[str], ready: Callable[[int], bool]) -> tuple[int, str, str]:
    """Start ``omnidex --data DATA ARGS``, send SIGINT once ``ready(pid)``; code, stdout, stderr."""
    run = omnidex(data, *args)
    deadline = time.monotonic() + 240
    while True:
        assert run.poll() is None, f"ended before it was interrupted: {run.communicate()}"
        assert time.monotonic() < deadline, "never got ready"
        try:
            if ready(run.pid):
                break
        except OSError:  # /proc not readable yet
            pass
        time.sleep(0.005)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    return run.returncode, out, err


def said_interrupted(code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, err
    assert code == 130, (code, out, err)
    assert err.strip().splitlines()[-1:] == ["interrupted"], err


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one collection holding one note."""
    home = tmp_path_factory.mktemp("interrupts") / "data"
    note = home.parent / "note.txt"
    note.write_text("the harbor ferry leaves at seven")
    for args in (
        ["collection", "create", "C", "-e", "page_text@v1"],
        ["ingest", str(note), "-c", "C"],
    ):
        made = omnidex(home, *args)
        assert made.wait(timeout=300) == 0, made.communicate()
    return home


SEARCH = ["search", "harbor ferry", "-c", "C"]
CREATE = ["collection", "create", "D", "-e", "page_text@v1"]
ASK = ["ask", "doc_missing", "what is shown?", "-c", "C"]
LOADING = [SEARCH, ASK, CREATE]
"""The command line loads the same for every command: a few of them."""
OPEN = [
    SEARCH,
    ["object", "list", "-c", "C"],
    ["collection", "show", "C"],
    ["document", "show", "doc_missing", "-c", "C"],
    ["migrate"],
    CREATE,
]


@pytest.mark.parametrize("args", LOADING, ids=lambda a: " ".join(a[:2]))
def test_ctrl_c_while_the_command_line_loads(data: Path, args: list[str]) -> None:
    said_interrupted(*interrupt(data, args, loaded("pydantic_core")))


@pytest.mark.parametrize("args", OPEN, ids=lambda a: " ".join(a[:2]))
def test_ctrl_c_once_the_catalog_is_open(data: Path, args: list[str]) -> None:
    code, out, err = interrupt(data, args, holding("catalog.sqlite"))
    said_interrupted(code, out, err)
    assert out == ""  # nothing printed halfway
    listed = omnidex(data, "collection", "list")  # the folder is whole: every collection opens
    listed_out, listed_err = listed.communicate(timeout=120)
    assert listed.returncode == 0, listed_err
    for name in ("C", "D"):
        if f" {name} " in listed_out:
            shown = omnidex(data, "search", "ferry", "-c", name)
            assert shown.wait(timeout=120) == 0, shown.communicate()


def test_ctrl_c_stops_a_server(data: Path) -> None:
    def serving(pid: int) -> bool:
        try:
            with urllib.request.urlopen("http://127.0.0.1:8791/v1/health", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    code, _, err = interrupt(data, ["serve", "--dev", "--port", "8791"], serving)
    said_interrupted(code, "", err)


def test_ctrl_c_while_the_demo_ingests(tmp_path: Path) -> None:
    home = tmp_path / "demo"

    def ingesting(pid: int) -> bool:
        try:
            return "processing" in statuses(home).values()
        except sqlite3.Error:  # the catalog is not made yet
            return False

    code, out, err = interrupt(home, ["demo"], ingesting)
    said_interrupted(code, out, err)
    assert "processing" not in statuses(home).values()  # resumable at once
