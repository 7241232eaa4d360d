"""Soak: does the server's memory settle under a long stream of uploads, or does it leak?

``omnidex serve --workers 2`` runs in its own process on loopback over a fresh data folder with one
collection (page_text@v1 + text_embedding@v1, the default text model). For ``--minutes`` (default
30) ``--uploaders`` threads (default 2) each upload a small, always different text file, poll its
task until it ends and upload the next, while one more thread searches once a second. Every
``--sample-s`` seconds (default 30) the server's resident memory (VmRSS, the process and its
children) and the data folder's size on disk are recorded.

The baseline is the server's own memory once it has warmed up (the first sample after
``--warmup-minutes``, default 3: models loaded, caches filled). Prints one JSON line per sample and
a summary line: RSS at warm-up and at the end, their ratio, the slope of a least-squares line
through the second half of the samples (MB per 10 minutes), and ``plateau`` — true when the second
half grew by less than 5 % of the warm RSS. Goal: plateau, 0 errors.

    .venv/bin/python benchmarks/server_soak.py [--minutes 30] [--uploaders 2] [--sample-s 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import omnidex
from server_load import (
    COLLECTION,
    IngestTally,
    free_port,
    start_server,
    stop_server,
    upload_and_wait,
)

PLATEAU_FRACTION = 0.05


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (Linux /proc), in bytes."""
    total = 0
    for process in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def soak(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    db = omnidex.connect(home)
    db.create_collection(COLLECTION, extractors=["page_text@v1", "text_embedding@v1"])
    _, key = db.create_key("soak", "write")
    db.close()
    port = free_port()
    server = start_server(home, port, home / "server.log")
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    tally = IngestTally()
    searches = {"ok": 0, "errors": 0}
    stop = threading.Event()
    numbers = iter(range(10**9))
    lock = threading.Lock()

    def uploader() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while not stop.is_set():
                with lock:
                    number = next(numbers)
                upload_and_wait(http, number, tally)

    def searcher() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while not stop.wait(1.0):
                try:
                    response = http.post(
                        f"/v1/collections/{COLLECTION}/search", json={"query": "note", "k": 10}
                    )
                    searches["ok" if response.status_code == 200 else "errors"] += 1
                except httpx.HTTPError:
                    searches["errors"] += 1

    threads = [threading.Thread(target=uploader) for _ in range(args.uploaders)]
    threads.append(threading.Thread(target=searcher))
    for thread in threads:
        thread.start()
    samples: list[dict[str, Any]] = []
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < args.minutes * 60:
            sample = {
                "benchmark": "server_soak",
                "minute": round(elapsed / 60, 2),
                "rss_mb": round(rss_bytes(server.pid) / 2**20, 1),
                "disk_mb": round(disk_bytes(home) / 2**20, 2),
                "uploads": tally.uploads,
                "searches": searches["ok"],
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            time.sleep(args.sample_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        stop_server(server)
    return summarize(samples, args, tally, searches)


def summarize(
    samples: list[dict[str, Any]],
    args: argparse.Namespace,
    tally: IngestTally,
    searches: dict[str, int],
) -> dict[str, Any]:
    warm = next((s for s in samples if s["minute"] >= args.warmup_minutes), samples[-1])
    second_half = samples[len(samples) // 2 :]
    minutes = np.array([s["minute"] for s in second_half])
    rss = np.array([s["rss_mb"] for s in second_half])
    slope = float(np.polyfit(minutes, rss, 1)[0]) * 10 if len(second_half) > 1 else 0.0
    growth = float(rss[-1] - rss[0])
    last = samples[-1]
    return {
        "benchmark": "server_soak",
        "summary": True,
        "minutes": last["minute"],
        "uploads": tally.uploads,
        "upload_errors": sum(tally.errors.values()),
        "upload_error_kinds": dict(tally.errors),
        "searches": searches["ok"],
        "search_errors": searches["errors"],
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_warm_mb": warm["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "ratio": round(last["rss_mb"] / warm["rss_mb"], 3),
        "second_half_growth_mb": round(growth, 1),
        "second_half_slope_mb_per_10min": round(slope, 1),
        "disk_end_mb": last["disk_mb"],
        "plateau": growth < PLATEAU_FRACTION * warm["rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=3.0)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--sample-s", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnidex-soak-") as folder:
        print(json.dumps(soak(args, Path(folder) / "home")), flush=True)


if __name__ == "__main__":
    main()
