"""Kill -9 the server while it ingests, again and again: nothing acknowledged is lost or doubled.

A real ``omnidex serve`` process (auth on, two workers, 2-second leases) takes 200 text uploads,
each with an ``Idempotency-Key``; it is killed with SIGKILL at a random moment five times and
started again, and the client re-sends whatever was not acknowledged. At the end every file is
searchable exactly once, there is one document and one task per file, and no task is left
running.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import omnidex

from .conftest import free_port

pytest.importorskip("fastapi")

FILES = 200
CRASHES = 5
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
]


def start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OMNIDEX_SERVER_LEASE_S": "2",
        "OMNIDEX_SERVER_WORKERS": "2",
        "OMNIDEX_SERVER_RATE_PER_MINUTE": "1000000",
        "OMNIDEX_SERVER_RATE_BURST": "100000",
    }
    command = [str(Path(sys.executable).parent / "omnidex"), "--data", str(home), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("omnidex serve did not start")


def word_of(index: int) -> str:
    """A made-up word only file ``index`` holds, so a search finds exactly that file."""
    return "zq" + "".join(WORDS[int(d)][0] for d in f"{index:03d}") + "x"


def send(client: httpx.Client, path: Path) -> str | None:
    """The task id once the server acknowledged the upload; None if it died on us."""
    try:
        with path.open("rb") as file:
            answer = client.post(
                "/v1/collections/notes/objects",
                files={"file": (path.name, file)},
                headers={"Idempotency-Key": path.name},
            )
    except httpx.TransportError:
        return None
    assert answer.status_code in (200, 202), answer.text
    return str(answer.json()["id"])


def test_killed_servers_lose_and_double_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    db.create_collection("notes", extractors=["page_text@v1"])
    _, key = db.create_key("chaos", "write")
    db.close()
    files = []
    for index in range(FILES):
        path = tmp_path / "files" / f"note-{index:03d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"Meeting note {index}: the code word is {word_of(index)}.")
        files.append(path)
    acknowledged: dict[str, str] = {}
    interrupted = 0  # tasks found running after a restart: the kill caught them mid-ingest
    rng = random.Random(20261124)
    port = free_port()
    for _ in range(CRASHES):
        server = start(home, port)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        states = [t["state"] for t in client.get("/v1/tasks", params={"limit": 1000}).json()]
        interrupted += states.count("running")
        kill_at = time.monotonic() + rng.uniform(0.3, 1.5)
        for path in files:
            if path.name in acknowledged:
                continue
            if time.monotonic() > kill_at:
                break
            if (task := send(client, path)) is not None:
                acknowledged[path.name] = task
        time.sleep(rng.uniform(0.0, 0.5))  # let workers be mid-ingest
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        client.close()

    server = start(home, port)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as client:
            tasks = client.get("/v1/tasks", params={"limit": 1000}).json()
            interrupted += [t["state"] for t in tasks].count("running")
            assert interrupted > 0, "no kill caught a task mid-ingest: the test proved nothing"
            for path in files:
                task = send(client, path)
                assert task is not None
                assert acknowledged.setdefault(path.name, task) == task  # the first task
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                tasks = client.get("/v1/tasks", params={"limit": 1000}).json()
                if all(t["state"] not in ("queued", "running") for t in tasks):
                    break
                time.sleep(0.2)
            assert len(tasks) == FILES
            assert {t["state"] for t in tasks} == {"succeeded"}, [
                t for t in tasks if t["state"] != "succeeded"
            ][:3]
            page = client.get("/v1/collections/notes/documents", params={"limit": 1}).json()
            assert page["total"] == FILES
            for index in rng.sample(range(FILES), 40):
                hits = client.post(
                    "/v1/collections/notes/search", json={"query": word_of(index), "k": 5}
                ).json()
                matching = [h for h in hits if word_of(index) in h["snippet"]]
                assert len(matching) == 1, (index, hits)
            objects = client.get("/v1/collections/notes/objects").json()
            assert len(objects) == FILES
            assert {o["status"] for o in objects} == {"succeeded"}
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
