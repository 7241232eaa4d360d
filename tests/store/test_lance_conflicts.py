"""Two processes writing one collection at once: commit conflicts are retried inside the store,
and a write that keeps losing ends in a typed error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omnidex.errors import StoreConflictError
from omnidex.store import lance_conflicts
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import FeatureColumn, FeatureType

COL = "col_shared"
CALLS = 25

WRITER = """
import sys
from pathlib import Path
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import Document, FeatureColumn, FeatureType

root, who, calls = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
features = [
    FeatureColumn(name="text", type=FeatureType.TEXT, address="page_text@v1/text"),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=8, address="emb@v1/vector"),
]
store = LanceDocumentStore(root)
store.create_collection("col_shared", features)
for i in range(calls):  # what one ingest call does: write its objects, then optimize
    o = f"{who}{i}"
    docs = [
        Document(
            id=f"{o}:{j}", object_id=o, kind="text", key=f"k{j}", source=o,
            metadata={"speaker": who},
            features={"page_text@v1/text": f"word{i} {who} {j}", "emb@v1/vector": [0.1 * j] * 8},
        )
        for j in range(3)
    ]
    store.replace_objects("col_shared", {o: docs})
    store.optimize("col_shared")
"""


def test_two_writer_processes_both_succeed(tmp_path: Path) -> None:
    """Before, 14 and 20 of the two writers' 30 calls each raised a raw RuntimeError ("Retryable
    commit conflict") from optimize, after their documents had landed."""
    root = tmp_path / "documents"
    features = [
        FeatureColumn(name="text", type=FeatureType.TEXT, address="page_text@v1/text"),
        FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=8, address="emb@v1/vector"),
    ]
    LanceDocumentStore(root).create_collection(COL, features)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), who, str(CALLS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err[-2000:]
    store = LanceDocumentStore(root)
    assert store.count(COL) == 2 * CALLS * 3
    assert {d.object_id for d in store.list(COL, limit=1000)} == {
        f"{who}{i}" for who in "ab" for i in range(CALLS)
    }


def test_a_write_that_keeps_losing_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lance_conflicts, "FIRST_WAIT_S", 0.0)
    tries = []

    def losing() -> None:
        tries.append(1)
        raise RuntimeError("lance error: Retryable commit conflict for version 7: preempted")

    with pytest.raises(StoreConflictError, match="conflicting with other writers"):
        lance_conflicts.retrying(losing, "writing documents", collection=COL)
    assert len(tries) == lance_conflicts.ATTEMPTS

    def broken() -> None:
        raise RuntimeError("lance error: IO error: disk full")

    with pytest.raises(RuntimeError, match="disk full"):  # not a conflict: not retried
        lance_conflicts.retrying(broken, "writing documents")
