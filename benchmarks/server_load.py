"""The server under load: served searches/s and latency against the embedded API in the same run.

A collection of ``--documents`` synthetic sentences (default 10,000; page_text@v1 +
text_embedding@v1, embedded with the default model, cached under .bench/ and written straight into
the document store, as in search_latency.py) is searched for ``--seconds`` (default 60) in two
phases, one after the other, on the same data folder:

- served: ``omnidex --data HOME serve --workers 1`` in its own process (so the clients do not share
  its GIL), rate limit raised; ``--clients`` threads (default 4) each POST
  ``/v1/collections/bench/search {query, k: 10}`` (the default retriever: embed, vector, BM25, RRF,
  snippets) on a keep-alive loopback connection, back to back, while one more client keeps
  ingesting: it uploads a small text file, polls its task until it ends, and uploads the next;
- the baseline, embedded: the server stopped, the same folder opened in this process, the same
  number of threads call ``Collection.search(query, k=10)`` on one shared collection while one
  more thread keeps calling ``Collection.ingest`` on the same kind of small file.

Both phases carry the same kind of ingest load (one small file at a time), so the ratio of their
searches/s is the cost of the HTTP layer (uvicorn, FastAPI, auth, JSON both ways, the server
opening the collection per request) and of the clients' own share of the cores, not of ingest.
The embedded phase runs second, on a collection a few dozen small objects larger, and each phase
warms up first (ten searches and one ingest) so that neither pays for loading the model.
Latency percentiles are over the successful calls; an error is any non-2xx answer, transport error
or exception, and for the ingest client also a task that did not succeed.

Prints one JSON line per phase and a summary line with the ratio. Goals: 0 errors; served p99
under 10× p50; served searches/s ≥ 0.5× embedded calls/s.

    .venv/bin/python benchmarks/server_load.py [--clients 4] [--seconds 60] [--documents 10000]
        [--out server_load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import omnidex
from corpus import queries, sentences
from omnidex.models.embedders import get_embedder
from omnidex.models.hub import DEFAULT_TEXT_MODEL
from omnidex.types import IngestStatus
from search_latency import embedded_corpus, fill

COLLECTION = "bench"
K = 10
ERRORS_GOAL = 0
TAIL_GOAL = 10.0
RATIO_GOAL = 0.5
WARMUP_SEARCHES = 10
TASK_TIMEOUT_S = 120.0


@dataclass
class Tally:
    """What one thread saw: each successful call's latency (s) and its errors by kind."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class IngestTally:
    uploads: int = 0
    succeeded: int = 0
    polls: int = 0
    seconds: list[float] = field(default_factory=list)
    """Upload (or ``ingest`` call) to the task's end, for each ingest that succeeded."""
    errors: Counter[str] = field(default_factory=Counter)


def note_text(number: int) -> str:
    """A small text file's content, different for every ``number`` (so never 'unchanged')."""
    return " ".join(sentences(6, 12, seed=1_000_000 + number)) + f" Note {number}.\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build(home: Path, size: int) -> tuple[str, str]:
    """The collection of ``size`` documents, and a read and a write API key."""
    texts, vectors = embedded_corpus(get_embedder(DEFAULT_TEXT_MODEL), size)
    db = omnidex.connect(home)
    collection = db.create_collection(COLLECTION, extractors=["page_text@v1", "text_embedding@v1"])
    fill(collection, texts, vectors)
    _, read_key = db.create_key("bench-read", "read")
    _, write_key = db.create_key("bench-write", "write")
    db.close()
    return read_key, write_key


def run_threads(
    searcher: Callable[[int, float, Tally], None],
    ingester: Callable[[float, IngestTally], None],
    clients: int,
    seconds: float,
) -> tuple[list[Tally], IngestTally, float]:
    """``clients`` searcher threads and one ingester until ``seconds`` have passed; returns the
    tallies and the searchers' elapsed time (the last one's in-flight call included)."""
    tallies = [Tally() for _ in range(clients)]
    ingest = IngestTally()
    start = time.perf_counter()
    deadline = start + seconds
    threads = [
        threading.Thread(target=searcher, args=(number, deadline, tally))
        for number, tally in enumerate(tallies)
    ]
    ingest_thread = threading.Thread(target=ingester, args=(deadline, ingest))
    for thread in [*threads, ingest_thread]:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ingest_thread.join()
    return tallies, ingest, elapsed


def summary(
    phase: str,
    tallies: list[Tally],
    ingest: IngestTally,
    elapsed: float,
    cpu: dict[str, float],
) -> dict[str, Any]:
    latencies = np.array([s for t in tallies for s in t.latencies]) * 1000
    errors: Counter[str] = sum((t.errors for t in tallies), Counter())
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (0, 0, 0)
    return {
        "benchmark": "server_load",
        "phase": phase,
        "clients": len(tallies),
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(float(latencies.max()), 1) if len(latencies) else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "ingest_uploads": ingest.uploads,
        "ingest_succeeded": ingest.succeeded,
        "ingest_errors": sum(ingest.errors.values()),
        "ingest_error_kinds": dict(ingest.errors),
        "ingest_p50_s": round(float(np.median(ingest.seconds)), 3) if ingest.seconds else None,
        "ingest_status_polls": ingest.polls,
        **{f"{name}_cpu_cores": round(value / elapsed, 2) for name, value in cpu.items()},
    }


# --- served ----------------------------------------------------------------------------------


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("omnidex")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from omnidex.cli.main import run; run()"]
    )
    env = {
        **os.environ,
        "OMNIDEX_SERVER_RATE_PER_MINUTE": "100000000",
        "OMNIDEX_SERVER_RATE_BURST": "1000000",
    }
    args = ["--data", str(home), "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, *args], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server did not answer /v1/health in 120 s:\n{log.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: workers stop, stores close
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def upload_and_wait(
    http: httpx.Client, number: int, ingest: IngestTally, counted: bool = True
) -> None:
    """Upload note ``number``, poll its task until it ends, and tally what happened."""
    start = time.perf_counter()
    try:
        response = http.post(
            f"/v1/collections/{COLLECTION}/objects",
            files={"file": (f"note-{number:06d}.txt", note_text(number).encode(), "text/plain")},
        )
        ingest.uploads += counted
        if response.status_code != 202:
            ingest.errors[f"upload HTTP {response.status_code}"] += 1
            return
        task_id = response.json()["id"]
        end = time.monotonic() + TASK_TIMEOUT_S
        while True:
            time.sleep(0.05)
            poll = http.get(f"/v1/tasks/{task_id}")
            ingest.polls += counted
            if poll.status_code != 200:
                ingest.errors[f"task poll HTTP {poll.status_code}"] += 1
                return
            task = poll.json()
            if task["state"] not in ("queued", "running"):
                break
            if time.monotonic() > end:
                ingest.errors["task timeout"] += 1
                return
    except httpx.HTTPError as exc:
        ingest.errors[type(exc).__name__] += 1
        return
    if task["state"] != "succeeded":
        ingest.errors[f"task {task['state']}: {task.get('error')}"] += 1
        return
    if counted:
        ingest.succeeded += 1
        ingest.seconds.append(time.perf_counter() - start)


def served(
    home: Path, keys: tuple[str, str], clients: int, seconds: float, qs: list[str]
) -> dict[str, Any]:
    read_key, write_key = keys
    port = free_port()
    log = home.parent / "server.log"
    process = start_server(home, port, log)
    url = f"http://127.0.0.1:{port}"

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def searcher(number: int, deadline: float, tally: Tally) -> None:
        with client(read_key) as http:
            i = number * 997
            while time.perf_counter() < deadline:
                query = qs[i % len(qs)]
                i += 1
                start = time.perf_counter()
                try:
                    response = http.post(
                        f"/v1/collections/{COLLECTION}/search", json={"query": query, "k": K}
                    )
                except httpx.HTTPError as exc:
                    tally.errors[type(exc).__name__] += 1
                    continue
                if response.is_success and len(response.json()) == K:
                    tally.latencies.append(time.perf_counter() - start)
                else:
                    tally.errors[f"HTTP {response.status_code}"] += 1

    def ingester(deadline: float, ingest: IngestTally) -> None:
        with client(write_key) as http:
            number = 1
            while time.perf_counter() < deadline:
                upload_and_wait(http, number, ingest)
                number += 1

    try:
        with client(read_key) as http:  # warm up: the model loads on the first search
            for query in qs[:WARMUP_SEARCHES]:
                http.post(f"/v1/collections/{COLLECTION}/search", json={"query": query, "k": K})
        with client(write_key) as http:
            warm = IngestTally()
            upload_and_wait(http, 0, warm, counted=False)
            if warm.errors:
                raise RuntimeError(f"the warm-up ingest failed: {dict(warm.errors)}")
        server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
        tallies, ingest, elapsed = run_threads(searcher, ingester, clients, seconds)
        cpu = {
            "server": cpu_seconds(process.pid) - server_cpu,
            "client": time.process_time() - client_cpu,
        }
    finally:
        stop_server(process)
    record = summary("served", tallies, ingest, elapsed, cpu)
    text = log.read_text(errors="replace")
    record["server_log_tracebacks"] = text.count("Traceback")
    record["server_log_5xx"] = len(re.findall(r'HTTP/1\.1" 5\d\d', text))
    with omnidex.connect(home) as db:
        record["documents_after"] = db.collection(COLLECTION).count()
    return record


# --- embedded ----------------------------------------------------------------------------------


def embedded(home: Path, clients: int, seconds: float, qs: list[str]) -> dict[str, Any]:
    db = omnidex.connect(home)
    collection = db.collection(COLLECTION)
    notes = home.parent / "notes"
    notes.mkdir(exist_ok=True)

    def ingest_note(number: int) -> str | None:
        """Ingest note ``number``: None once ingested, else why not."""
        path = notes / f"note-{number:06d}.txt"
        path.write_text(note_text(number))
        try:
            (result,) = collection.ingest(path)
        except Exception as exc:  # every failure is an error to count
            return type(exc).__name__
        if result.status is not IngestStatus.INGESTED:
            return f"ingest {result.status}: {result.error}"
        return None

    def searcher(number: int, deadline: float, tally: Tally) -> None:
        i = number * 997
        while time.perf_counter() < deadline:
            query = qs[i % len(qs)]
            i += 1
            start = time.perf_counter()
            try:
                hits = collection.search(query, k=K)
            except Exception as exc:  # every failure is an error to count
                tally.errors[type(exc).__name__] += 1
                continue
            if len(hits) == K:
                tally.latencies.append(time.perf_counter() - start)
            else:
                tally.errors[f"{len(hits)} hits"] += 1

    def ingester(deadline: float, ingest: IngestTally) -> None:
        number = 500_001  # notes the served phase did not ingest
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            error = ingest_note(number)
            ingest.uploads += 1
            number += 1
            if error is not None:
                ingest.errors[error] += 1
            else:
                ingest.succeeded += 1
                ingest.seconds.append(time.perf_counter() - start)

    for query in qs[:WARMUP_SEARCHES]:
        collection.search(query, k=K)
    if (error := ingest_note(500_000)) is not None:
        raise RuntimeError(f"the warm-up ingest failed: {error}")
    client_cpu = time.process_time()
    tallies, ingest, elapsed = run_threads(searcher, ingester, clients, seconds)
    record = summary(
        "embedded", tallies, ingest, elapsed, {"process": time.process_time() - client_cpu}
    )
    record["documents_after"] = collection.count()
    db.close()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="also write every line to this JSON file")
    args = parser.parse_args()
    qs = queries(2000)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        keys = build(home, args.documents)
        for record in (
            served(home, keys, args.clients, args.seconds, qs),
            embedded(home, args.clients, args.seconds, qs),
        ):
            record["documents"] = args.documents
            print(json.dumps(record), flush=True)
            lines.append(record)
    server, local = lines
    ratio = server["requests_per_s"] / local["requests_per_s"] if local["requests_per_s"] else 0
    tail = server["p99_ms"] / server["p50_ms"] if server["p50_ms"] else float("inf")
    errors = server["errors"] + server["ingest_errors"]
    result = {
        "benchmark": "server_load",
        "phase": "summary",
        "documents": args.documents,
        "clients": args.clients,
        "cpu_cores": os.cpu_count(),
        "served_requests_per_s": server["requests_per_s"],
        "embedded_calls_per_s": local["requests_per_s"],
        "ratio_served_to_embedded": round(ratio, 3),
        "served_p99_over_p50": round(tail, 2),
        "served_errors": errors,
        "meets_errors_goal": errors <= ERRORS_GOAL,
        "meets_tail_goal": tail < TAIL_GOAL,
        "meets_ratio_goal": ratio >= RATIO_GOAL,
        "note": f"server, clients and ingest share this machine's {os.cpu_count()} CPU cores",
    }
    print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"measurements": lines, "summary": result}, indent=1))


if __name__ == "__main__":
    main()
