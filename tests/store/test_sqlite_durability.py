"""An acknowledged catalog write survives a kill -9 of the process that made it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.store.sqlite_catalog import SqliteCatalog

WRITER = """
import sys
from pathlib import Path
from omnidex.store.sqlite_catalog import SqliteCatalog
from omnidex.types import CollectionSpec, ExtractorSpec, ObjectRecord

catalog = SqliteCatalog(Path(sys.argv[1]))
spec = CollectionSpec(extractors=[ExtractorSpec(name="ocr@v1")])
info = catalog.create_collection("default", "docs", spec, [])
print("ack collection", flush=True)
for i in range(100_000):
    catalog.put_object(ObjectRecord(
        id=f"o{i}", collection_id=info.id, sha256="0" * 64, source="s", size=1, kind="text"
    ))
    task = catalog.create_task(info.id, f"o{i}")
    print(f"ack {i} {task.id}", flush=True)
"""


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acked: list[tuple[int, str]] = []
    for line in child.stdout:
        if line.startswith("ack ") and line.split()[1].isdigit():
            _, index, task_id = line.split()
            acked.append((int(index), task_id))
            if len(acked) == 60:
                break
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(acked) == 60

    catalog = SqliteCatalog(path)
    try:
        info = catalog.get_collection(DEFAULT_NAMESPACE, "docs")
        for index, task_id in acked:
            assert catalog.get_object(info.id, f"o{index}") is not None
            assert catalog.get_task(task_id).object_id == f"o{index}"
    finally:
        catalog.close()
