"""Several ``omnidex serve`` processes on one PostgreSQL catalog, one documents folder and one
uploads folder: a stateless server behind a load balancer.

- Uploads go through both replicas while one of them is killed with SIGKILL five times mid-ingest
  and started again: every acknowledged upload ends as exactly one object with its document, no
  task is left queued or running, and the other replica finishes what the dead one held.
- Webhook deliveries queued by both replicas are sent once each, by either.
- PostgreSQL restarted under a running server: requests fail with a clear 503 (Retry-After) and
  work again once it is back, with no restart of omnidex; the workers go on too.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import free_port
from .test_crash_recovery import send, word_of
from .test_webhooks import Receiver

pytest.importorskip("fastapi")
pytest.importorskip("psycopg", reason="a PostgreSQL catalog needs omnidex[postgres]")
pytestmark = pytest.mark.postgres

FILES = 80
CRASHES = 5


@dataclass
class Deployment:
    """What every replica shares: the catalog's URL, the documents and the uploads folders."""

    root: Path
    catalog_url: str
    key: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "OMNIDEX_CATALOG_URL": self.catalog_url,
            "OMNIDEX_CATALOG_TIMEOUT_S": "2",
            "OMNIDEX_DOCUMENTS_URI": str(self.root / "documents"),
            "OMNIDEX_SERVER_UPLOADS_DIR": str(self.root / "uploads"),
            "OMNIDEX_SERVER_LEASE_S": "2",
            "OMNIDEX_SERVER_WORKERS": "2",
            "OMNIDEX_SERVER_RATE_PER_MINUTE": "1000000",
            "OMNIDEX_SERVER_RATE_BURST": "100000",
            "OMNIDEX_SERVER_URL_ALLOW_HOSTS": "127.0.0.1",
        }

    def setup(self) -> None:
        """A collection ``notes`` and a write key, made by the embedded API in a third process
        on the same catalog and documents."""
        script = (
            "import omnidex, sys\n"
            "db = omnidex.connect(sys.argv[1])\n"
            "db.create_collection('notes', extractors=['page_text@v1'])\n"
            "print(db.create_key('replicas', 'write')[1])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(self.root / "setup")],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.key = done.stdout.strip().splitlines()[-1]

    def start(self, name: str, port: int, **env: str) -> subprocess.Popen[bytes]:
        command = [str(Path(sys.executable).parent / "omnidex"), "--data", str(self.root / name)]
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            env={**self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/ready", timeout=1).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"replica {name} exited with {process.returncode}")
            time.sleep(0.1)
        process.kill()
        raise RuntimeError(f"replica {name} did not start")

    def client(self, port: int, timeout: float = 10) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=timeout,
        )


@pytest.fixture
def deployment(postgres_cluster: Any, tmp_path: Path) -> Deployment:
    made = Deployment(tmp_path, postgres_cluster.create_database())
    made.setup()
    return made


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(10)


def note_files(root: Path, count: int) -> list[Path]:
    folder = root / "files"
    folder.mkdir(exist_ok=True)
    files = []
    for index in range(count):
        path = folder / f"note-{index:03d}.txt"
        path.write_text(f"Meeting note {index}: the code word is {word_of(index)}.")
        files.append(path)
    return files


def settled(client: httpx.Client, count: int, timeout_s: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tasks: list[dict[str, Any]] = client.get("/v1/tasks", params={"limit": 1000}).json()
        if len(tasks) >= count and all(t["state"] not in ("queued", "running") for t in tasks):
            return tasks
        time.sleep(0.2)
    raise AssertionError(f"tasks still queued or running after {timeout_s} s")


def test_a_replica_killed_mid_ingest_loses_and_doubles_nothing(deployment: Deployment) -> None:
    files = note_files(deployment.root, FILES)
    rng = random.Random(20261201)
    port_a, port_b = free_port(), free_port()
    steady = deployment.start("b", port_b)
    acknowledged: dict[str, str] = {}
    try:
        with deployment.client(port_b) as via_b:
            for _ in range(CRASHES):
                crashing = deployment.start("a", port_a)
                with deployment.client(port_a) as via_a:
                    kill_at = time.monotonic() + rng.uniform(0.5, 2.0)
                    for index, path in enumerate(files):
                        if path.name in acknowledged:
                            continue
                        if time.monotonic() > kill_at:
                            break
                        through = via_a if index % 2 else via_b
                        if (task := send(through, path)) is not None:
                            acknowledged[path.name] = task
                    time.sleep(rng.uniform(0.0, 0.5))  # let its workers be mid-ingest
                    stop(crashing)
            crashing = deployment.start("a", port_a)
            with deployment.client(port_a, timeout=30) as via_a:
                for index, path in enumerate(files):  # re-send everything, through both
                    task = send(via_a if index % 2 else via_b, path)
                    assert task is not None
                    assert acknowledged.setdefault(path.name, task) == task  # the first task
                tasks = settled(via_b, FILES)
                assert len(tasks) == FILES
                assert {t["state"] for t in tasks} == {"succeeded"}, [
                    t for t in tasks if t["state"] != "succeeded"
                ][:3]
                retried = [t for t in tasks if t["attempts"] > 1]
                assert retried, "no kill caught a task mid-ingest: the test proved nothing"
                page = via_a.get("/v1/collections/notes/documents", params={"limit": 1}).json()
                assert page["total"] == FILES
                objects = via_b.get("/v1/collections/notes/objects").json()
                assert len(objects) == FILES
                assert {o["status"] for o in objects} == {"succeeded"}
                for index in rng.sample(range(FILES), 20):
                    hits = (via_a if index % 2 else via_b).post(
                        "/v1/collections/notes/search", json={"query": word_of(index), "k": 5}
                    )
                    matching = [h for h in hits.json() if word_of(index) in h["snippet"]]
                    assert len(matching) == 1, (index, hits.json())
            stop(crashing)
    finally:
        stop(steady)


def test_webhooks_queued_by_two_replicas_are_delivered_once(deployment: Deployment) -> None:
    receiver = Receiver()
    try:
        port_a, port_b = free_port(), free_port()
        replicas = [deployment.start("a", port_a), deployment.start("b", port_b)]
        try:
            with deployment.client(port_a) as via_a, deployment.client(port_b) as via_b:
                answer = via_a.post(
                    "/v1/webhooks",
                    json={"url": receiver.url(), "events": ["task.succeeded"], "secret": "s" * 32},
                )
                assert answer.status_code == 201, answer.text
                files = note_files(deployment.root, 30)
                for index, path in enumerate(files):
                    assert send(via_a if index % 2 else via_b, path) is not None
                tasks = settled(via_a, len(files))
                assert {t["state"] for t in tasks} == {"succeeded"}
                received = receiver.wait(len(files))
                time.sleep(2)  # a second delivery of any of them would come now
                deliveries = [r.headers["X-Omnidex-Delivery"] for r in receiver.requests]
                assert len(deliveries) == len(set(deliveries)) == len(files)
                assert {r.event["data"]["id"] for r in received} == {t["id"] for t in tasks}
        finally:
            for replica in replicas:
                stop(replica)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_postgres_restarted_under_a_running_server(
    own_postgres_cluster: Any, tmp_path: Path
) -> None:
    own_cluster = own_postgres_cluster
    deployment = Deployment(tmp_path, own_cluster.create_database())
    deployment.setup()
    files = note_files(tmp_path, 3)
    port = free_port()
    server = deployment.start("a", port)
    try:
        with deployment.client(port) as http:
            first = send(http, files[0])
            assert first is not None
            own_cluster.stop()
            for answer in (
                http.get("/v1/collections"),
                http.get("/v1/ready"),
                http.post("/v1/collections/notes/objects", files={"file": ("n.txt", b"text")}),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "catalog_unavailable"
                assert int(answer.headers["Retry-After"]) >= 1
            assert http.get("/v1/health").status_code == 200  # the process itself is up
            time.sleep(3)  # the workers meet the outage too
            own_cluster.start()
            deadline = time.monotonic() + 30
            while http.get("/v1/ready").status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
            assert send(http, files[1]) is not None
            assert send(http, files[2]) is not None
            tasks = settled(http, 3, timeout_s=60)
            assert {t["state"] for t in tasks} == {"succeeded"}
            assert len(http.get("/v1/collections/notes/objects").json()) == 3
    finally:
        stop(server)
