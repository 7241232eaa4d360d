"""Replicas on one PostgreSQL catalog: ingest and search through 1 vs 2 ``omnidex serve``, what
the catalog costs per task against SQLite, and how fast a claim is with 10,000 tasks queued.

A throwaway PostgreSQL cluster (Debian's ``initdb``/``pg_ctl``, tests/postgres_cluster.py) on a
free port, durable (``fsync`` and ``synchronous_commit`` on, as SQLite's ``synchronous=FULL``),
holds the catalog; documents and uploads are shared folders. Four measurements, each
with its baseline in the same run:

- ingest: ``--files`` small text files (page_text@v1 only, so the catalog, the queue and the
  document writes are most of the work) uploaded round-robin through 1, then 2 replicas (2
  workers each, a fresh database and folders each time); tasks/s from the first upload to the
  last task's end. Ratio: 2 replicas / 1.
- search: ``--clients`` threads POST ``/search`` (BM25 over ``--files`` documents) round-robin
  through 1, then 2 replicas for ``--seconds``; requests/s. Ratio: 2 / 1.
- catalog per task: the catalog calls one ingest task makes (:data:`TASK_CALLS`: queue it, claim
  it, mark its stages, record the object and its end, release it, queue its webhook event)
  repeated ``--tasks`` times on SqliteCatalog (a file in a temp folder) and on PostgresCatalog;
  ms per task of each. Ratio: Postgres / SQLite.
- claim latency: 10,000 tasks queued, then ``--claims`` claims (each released at once), p50 and
  p99 in ms, on both backends. Ratio: Postgres p50 / SQLite p50.

On a machine of 2 cores the replicas, their workers, PostgreSQL and the clients share the cores:
a second replica adds processes, not CPUs, so its ratio says what replicas cost and whether they
contend on the catalog, not how they scale across hosts. Prints one JSON line per measurement.

    .venv/bin/python benchmarks/replicas.py [--files 200] [--clients 4] [--seconds 15]
        [--tasks 300] [--claims 500] [--out replicas.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

from corpus import sentences
from omnidex.store.catalog import DEFAULT_NAMESPACE, Catalog
from omnidex.store.postgres_catalog import PostgresCatalog
from omnidex.store.sqlite_catalog import SqliteCatalog
from omnidex.types import (
    CollectionSpec,
    ExtractorSpec,
    ObjectRecord,
    ObjectStatus,
    TaskState,
    WebhookEvent,
    WebhookEventType,
)
from postgres_cluster import PostgresCluster, free_port, unavailable

QUEUED = 10_000
TASK_CALLS = (
    "enqueue_task claim_task update_task(stage) get_object put_object update_task(object_id) "
    "set_object_status update_task(progress) release_task get_task queue_webhook_event"
)


def note_text(number: int) -> str:
    return " ".join(sentences(6, 12, seed=2_000_000 + number)) + f" Note {number}.\n"


class Replicas:
    """``count`` ``omnidex serve`` processes on one catalog, documents and uploads folder."""

    def __init__(self, root: Path, catalog_url: str, count: int) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "OMNIDEX_CATALOG_URL": catalog_url,
            "OMNIDEX_DOCUMENTS_URI": str(root / "documents"),
            "OMNIDEX_SERVER_UPLOADS_DIR": str(root / "uploads"),
            "OMNIDEX_SERVER_WORKERS": "2",
            "OMNIDEX_SERVER_RATE_PER_MINUTE": "100000000",
            "OMNIDEX_SERVER_RATE_BURST": "10000000",
        }
        script = (
            "import omnidex, sys\n"
            "db = omnidex.connect(sys.argv[1])\n"
            "db.create_collection('bench', extractors=['page_text@v1'])\n"
            "print(db.create_key('bench', 'write')[1])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(root / "setup")],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.key = done.stdout.strip().splitlines()[-1]
        self.ports = [free_port() for _ in range(count)]
        omnidex = str(Path(sys.executable).parent / "omnidex")
        self.processes = [
            subprocess.Popen(
                [omnidex, "--data", str(root / f"home{n}"), "serve", "--port", str(port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n, port in enumerate(self.ports)
        ]
        for port in self.ports:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/ready", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("a replica did not start")
                time.sleep(0.1)

    def clients(self) -> list[httpx.Client]:
        return [
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=60,
            )
            for port in self.ports
        ]

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def replicas(cluster: PostgresCluster, count: int) -> Iterator[Replicas]:
    with tempfile.TemporaryDirectory(prefix="omnidex-replicas-") as folder:
        running = Replicas(Path(folder), cluster.create_database(), count)
        try:
            yield running
        finally:
            running.stop()


def ingest_phase(cluster: PostgresCluster, count: int, files: int) -> dict[str, Any]:
    with replicas(cluster, count) as running:
        folder = running.root / "files"
        folder.mkdir()
        paths = []
        for number in range(files):
            path = folder / f"note-{number:04d}.txt"
            path.write_text(note_text(number))
            paths.append(path)
        clients = running.clients()
        start = time.perf_counter()
        for path, client in zip(paths, itertools.cycle(clients), strict=False):
            with path.open("rb") as file:
                answer = client.post("/v1/collections/bench/objects", files={"file": file})
            answer.raise_for_status()
        while True:
            tasks = clients[0].get("/v1/tasks", params={"limit": 1000}).json()
            if all(t["state"] not in ("queued", "running") for t in tasks):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        failed = sum(t["state"] != "succeeded" for t in tasks)
        searches = search_phase(clients, ARGS.clients, ARGS.seconds)
        for client in clients:
            client.close()
    return {
        "replicas": count,
        "files": files,
        "failed": failed,
        "ingest_tasks_per_s": round(files / elapsed, 2),
        **searches,
    }


def search_phase(clients: list[httpx.Client], threads: int, seconds: float) -> dict[str, Any]:
    for client in clients:  # warm: each replica opens the collection once
        client.post("/v1/collections/bench/search", json={"query": "note", "k": 10})
    done = [0] * threads
    errors = [0] * threads
    deadline = time.perf_counter() + seconds
    words = sentences(threads * 50, 3, seed=7)

    def loop(number: int) -> None:
        client = clients[number % len(clients)]
        for query in itertools.cycle(words[number::threads]):
            if time.perf_counter() > deadline:
                return
            answer = client.post("/v1/collections/bench/search", json={"query": query, "k": 10})
            if answer.is_success:
                done[number] += 1
            else:
                errors[number] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    return {"search_req_per_s": round(sum(done) / elapsed, 1), "search_errors": sum(errors)}


def one_task(catalog: Catalog, collection_id: str, number: int) -> None:
    """The catalog calls of one ingest task, as the server's worker and the ledger make them."""
    catalog.enqueue_task(collection_id, {"path": f"/u/{number}"}, idempotency_key=f"k{number}")
    claimed = catalog.claim_task("bench", 60)
    assert claimed is not None
    catalog.update_task(claimed.id, stage="queued")
    object_id = f"obj{number}"
    catalog.get_object(collection_id, object_id)
    record = ObjectRecord(
        id=object_id,
        collection_id=collection_id,
        sha256="0" * 64,
        source=f"/u/{number}",
        size=100,
        kind="text",
        status=ObjectStatus.PROCESSING,
    )
    catalog.put_object(record)
    catalog.update_task(claimed.id, stage="segment", object_id=object_id)
    catalog.set_object_status(collection_id, object_id, ObjectStatus.SUCCEEDED, document_count=1)
    catalog.update_task(claimed.id, progress=1.0, object_id=object_id)
    assert catalog.release_task(claimed.id, "bench", TaskState.SUCCEEDED)
    done = catalog.get_task(claimed.id)
    catalog.queue_webhook_event(
        WebhookEvent(
            id=f"evt{number}",
            type=WebhookEventType.TASK_SUCCEEDED,
            created_at=done.updated_at or done.created_at,
            namespace=DEFAULT_NAMESPACE,
            data={"id": done.id},
        )
    )


def new_collection(catalog: Catalog) -> str:
    spec = CollectionSpec(extractors=[ExtractorSpec(name="page_text@v1")])
    return catalog.create_collection(DEFAULT_NAMESPACE, "bench", spec, []).id


def per_task_ms(open_catalog: Callable[[], Catalog], tasks: int) -> float:
    catalog = open_catalog()
    try:
        collection_id = new_collection(catalog)
        for number in range(10):  # warm: connections, prepared statements
            one_task(catalog, collection_id, 1_000_000 + number)
        start = time.perf_counter()
        for number in range(tasks):
            one_task(catalog, collection_id, number)
        return (time.perf_counter() - start) / tasks * 1000
    finally:
        catalog.close()


def claim_latency(open_catalog: Callable[[], Catalog], claims: int) -> dict[str, float]:
    catalog = open_catalog()
    try:
        collection_id = new_collection(catalog)
        for number in range(QUEUED):
            catalog.enqueue_task(collection_id, {"path": f"/q/{number}"})
        seconds = []
        for _ in range(claims):
            start = time.perf_counter()
            task = catalog.claim_task("bench", 60)
            seconds.append(time.perf_counter() - start)
            assert task is not None
            catalog.release_task(task.id, "bench", TaskState.SUCCEEDED)
        ms = sorted(s * 1000 for s in seconds)
        return {
            "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 3),
        }
    finally:
        catalog.close()


def main() -> None:
    if (reason := unavailable()) is not None:
        raise SystemExit(f"cannot run: {reason}")
    lines: list[dict[str, Any]] = []

    def report(line: dict[str, Any]) -> None:
        print(json.dumps(line), flush=True)
        lines.append(line)

    cluster = PostgresCluster(durable=True)  # commits flushed to disk, as SQLite's are
    cluster.start()
    try:
        one, two = (ingest_phase(cluster, count, ARGS.files) for count in (1, 2))
        report({"benchmark": "replicas_ingest_search", "phase": "1 replica", **one})
        report({"benchmark": "replicas_ingest_search", "phase": "2 replicas", **two})
        with tempfile.TemporaryDirectory() as folder:
            sqlite = per_task_ms(lambda: SqliteCatalog(Path(folder) / "a.sqlite"), ARGS.tasks)
            url = cluster.create_database()
            postgres = per_task_ms(lambda: PostgresCatalog(url), ARGS.tasks)
            report(
                {
                    "benchmark": "catalog_per_task",
                    "calls": TASK_CALLS,
                    "sqlite_ms": round(sqlite, 3),
                    "postgres_ms": round(postgres, 3),
                    "ratio_postgres_to_sqlite": round(postgres / sqlite, 2),
                }
            )
            sqlite_claims = claim_latency(
                lambda: SqliteCatalog(Path(folder) / "b.sqlite"), ARGS.claims
            )
            url = cluster.create_database()
            postgres_claims = claim_latency(lambda: PostgresCatalog(url), ARGS.claims)
            report(
                {
                    "benchmark": "claim_latency",
                    "queued": QUEUED,
                    "claims": ARGS.claims,
                    "sqlite": sqlite_claims,
                    "postgres": postgres_claims,
                    "ratio_postgres_to_sqlite_p50": round(
                        postgres_claims["p50_ms"] / sqlite_claims["p50_ms"], 2
                    ),
                }
            )
    finally:
        cluster.close()
    summary = {
        "benchmark": "replicas",
        "ratio_ingest_2_to_1": round(two["ingest_tasks_per_s"] / one["ingest_tasks_per_s"], 2),
        "ratio_search_2_to_1": round(two["search_req_per_s"] / one["search_req_per_s"], 2),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    report(summary)
    if ARGS.out:
        Path(ARGS.out).write_text("\n".join(json.dumps(line) for line in lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--claims", type=int, default=500)
    parser.add_argument("--out")
    ARGS = parser.parse_args()
    main()
