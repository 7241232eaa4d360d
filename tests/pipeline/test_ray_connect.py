"""Joining a Ray cluster that is not there fails fast with one line naming what was tried, from
the ``omnidex`` command as a user runs it: an address where nothing listens (GCS and Ray Client
forms), ``auto`` pointing at a cluster that has stopped, and an address that is not one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import omnidex

from ..cli.test_cli import run_omnidex
from ..server.conftest import free_port

pytest.importorskip("ray", reason="the Ray runner needs Ray: pip install 'omnidex[ray]'")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder with a ``page_text@v1`` collection ``docs``, and one file to ingest."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("a few words")
    with omnidex.connect(tmp_path / "data") as db:
        db.create_collection("docs", ["page_text@v1"])
    return tmp_path / "data"


def _ingest(
    data: Path, address: str, env: dict[str, str] | None = None, *, alone: bool = False
) -> str:
    """The one error line of an ingest on the Ray cluster at ``address``; ``alone``, in a PID
    namespace of its own, where no Ray cluster running on this machine can be seen."""
    files = str(data.parent / "files")
    args = ("ingest", files, "-c", "docs", "--runner", "ray", "--address", address)
    if alone:
        script = str(Path(sys.executable).with_name("omnidex"))
        done = subprocess.run(
            ["unshare", "-rpf", "--mount-proc", script, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "OMNIDEX_HOME": str(data), **(env or {})},
            timeout=120,
        )
    else:
        done = run_omnidex(*args, data=data, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    line = " ".join(done.stderr.split())
    assert line.startswith("error: "), line
    return line


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_unreachable_address_is_one_line_saying_what_was_tried(data: Path, scheme: str) -> None:
    port = free_port()
    line = _ingest(data, f"{scheme}127.0.0.1:{port}")
    assert f"cannot reach the Ray cluster at {scheme}127.0.0.1:{port}" in line
    assert f"tried 127.0.0.1:{port} for up to 10 s" in line


def test_auto_with_a_stopped_cluster_does_not_hang(data: Path, tmp_path: Path) -> None:
    """``ray start`` leaves the address of the cluster in its temp folder; once that cluster is
    gone, Ray's own ``auto`` waits on it for minutes. (``auto`` joins any cluster it sees
    running, such as the one other tests started, so the command runs where it sees none.)"""
    probe = subprocess.run(["unshare", "-rpf", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"PID namespaces are not allowed here: {probe.stderr.decode().strip()}")
    port = free_port()
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
    env = {"RAY_TMPDIR": str(tmp_path), "RAY_ADDRESS": ""}
    line = _ingest(data, "auto", env=env, alone=True)
    assert "cannot reach the Ray cluster at auto (the cluster last started here" in line
    assert f":{port}" in line


def test_a_malformed_address_says_which_forms_work(data: Path) -> None:
    line = _ingest(data, "head-node")
    assert "not a Ray address: 'head-node' (host:port, ray://host:port, auto or local)" in line
