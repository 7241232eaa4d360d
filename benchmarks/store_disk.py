"""Disk taken by many small ingests into one collection, against LanceDB's own ``optimize``.

Each call writes one object of eight documents (40 words of text and a 64-d vector each) through
the document store, then optimizes, as one ingest call does (the server makes one per upload);
every tenth call re-ingests an earlier object. Three ways, in the same run:

- ``baseline``: LanceDB's ``table.optimize()`` after each call (what the store did before issue
  24): it compacts the whole table and keeps old versions for a week;
- ``store``: the store's ``optimize`` with its default retention window (5 minutes, so a run
  this short keeps every version it wrote: the disk is what the calls wrote in all);
- ``store_past_window``: the same with a window of 0, the steady state once the window passed.

"live" is what the same documents take written at once into a fresh store. Prints one JSON line
per way with its disk, the disk over live, seconds per call, and both as ratios to the baseline.

    .venv/bin/python benchmarks/store_disk.py [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "store"))

from test_lance_upkeep import COL, FEATURES, disk, live_size, upload

from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import Document


def run(root: Path, calls: int, way: str) -> dict[str, float]:
    keep = timedelta(0) if way == "store_past_window" else None
    store = (
        LanceDocumentStore(root / "documents")
        if keep is None
        else LanceDocumentStore(root / "documents", keep_versions_for=keep)
    )
    store.create_collection(COL, FEATURES)
    current: dict[str, list[Document]] = {}
    start = time.perf_counter()
    for i in range(calls):
        batch = upload(i // 2, version=i) if i % 10 == 9 else upload(i)
        store.replace_objects(COL, batch)
        if way == "baseline":
            store._layout(COL).table.optimize()
        else:
            store.optimize(COL)
        current.update(batch)
    seconds = (time.perf_counter() - start) / calls
    live = live_size(root / "fresh", current)
    used = disk(root / "documents")
    return {
        "disk_bytes": used,
        "live_bytes": live,
        "disk_over_live": used / live,
        "s_per_call": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    results = {}
    for way in ("baseline", "store", "store_past_window"):
        with tempfile.TemporaryDirectory() as tmp:
            results[way] = run(Path(tmp), args.calls, way)
    base = results["baseline"]
    for way, figures in results.items():
        line = {
            "benchmark": "store_disk",
            "way": way,
            "calls": args.calls,
            **{k: round(v, 4) for k, v in figures.items()},
            "disk_ratio_to_baseline": round(figures["disk_bytes"] / base["disk_bytes"], 4),
            "time_ratio_to_baseline": round(figures["s_per_call"] / base["s_per_call"], 4),
        }
        print(json.dumps(line))


if __name__ == "__main__":
    main()
