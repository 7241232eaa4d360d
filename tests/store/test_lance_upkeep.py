"""Upkeep of the Lance store: many small ingests keep the disk a small multiple of the live data,
and old versions go once their retention window has passed, not before."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import lance
import numpy as np

from omnidex.store import lance_upkeep
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import Document, FeatureColumn, FeatureType

COL = "col_upkeep"
TEXT = "page_text@v1/text"
VECTOR = "text_embedding@v1/vector"
FEATURES = [
    FeatureColumn(name="text", type=FeatureType.TEXT, address=TEXT),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=64, address=VECTOR),
]


def upload(i: int, version: int = 0) -> dict[str, list[Document]]:
    """One ingest call's worth: one object of eight documents."""
    rng = np.random.default_rng(i * 1000 + version)
    object_id = f"o{i}"
    docs = [
        Document(
            id=f"{object_id}:{j}",
            object_id=object_id,
            kind="text",
            key=f"chunk={j}",
            source=f"/up/{i}.txt",
            metadata={"speaker": f"s{i % 7}", "n": i},
            features={
                TEXT: " ".join(f"w{x}" for x in rng.integers(0, 5000, 40)) + f" v{version}",
                VECTOR: rng.random(64).tolist(),
            },
        )
        for j in range(8)
    ]
    return {object_id: docs}


def disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def live_size(tmp: Path, uploads: dict[str, list[Document]]) -> int:
    """What the same documents take written at once into a fresh store."""
    fresh = LanceDocumentStore(tmp, keep_versions_for=timedelta(0))
    fresh.create_collection(COL, FEATURES)
    fresh.replace_objects(COL, uploads)
    fresh.optimize(COL)
    return disk(tmp)


def test_disk_stays_a_small_multiple_of_the_live_data(tmp_path: Path) -> None:
    """300 ingest calls, each followed by optimize as an ingest does, every tenth re-ingesting
    an earlier object (its rows are replaced). Before, each optimize rewrote the whole table and
    kept every old version: the disk grew with the square of the calls (47×, 92× and 130× the
    live data after 50, 100 and 150 calls)."""
    store = LanceDocumentStore(tmp_path / "documents", keep_versions_for=timedelta(0))
    store.create_collection(COL, FEATURES)
    current: dict[str, list[Document]] = {}
    ratios = []
    for i in range(300):
        batch = upload(i // 2, version=i) if i % 10 == 9 else upload(i)
        store.replace_objects(COL, batch)
        store.optimize(COL)
        current.update(batch)
        if i % 100 == 99:
            live = live_size(tmp_path / f"fresh{i}", current)
            ratios.append(disk(tmp_path / "documents") / live)
    assert store.count(COL) == 8 * len(current)
    assert max(ratios) < 3, ratios


def test_versions_stay_readable_for_the_retention_window(tmp_path: Path) -> None:
    store = LanceDocumentStore(tmp_path / "documents")
    store.create_collection(COL, FEATURES)
    for i in range(3):
        store.replace_objects(COL, upload(i))
    path = store._layout(COL).path
    assert path is not None
    reader = lance.dataset(path)  # a search that opened this version
    for i in range(3, 3 + 2 * lance_upkeep.FANOUT):
        store.replace_objects(COL, upload(i))
        store.optimize(COL)  # compacts: the reader's fragments are replaced
    assert reader.to_table().num_rows == 24  # its files are still there
    later = LanceDocumentStore(tmp_path / "documents", keep_versions_for=timedelta(0))
    later.optimize(COL)  # past the window: only the latest version is left
    assert [v["version"] for v in lance.dataset(path).versions()] == [lance.dataset(path).version]
    assert later.count(COL) == 8 * (3 + 2 * lance_upkeep.FANOUT)


def test_compaction_merges_fragments_of_one_tier() -> None:
    fanout = lance_upkeep.FANOUT
    assert lance_upkeep.merge_group([3] * (fanout - 1)) == []
    assert lance_upkeep.merge_group([3] * fanout) == list(range(fanout))
    big = fanout**3
    # a big fragment first, then a full tier of small ones: only the small ones are merged
    assert lance_upkeep.merge_group([big, *[3] * fanout]) == list(range(1, fanout + 1))
    # small fragments after medium ones: the medium tier fills up once they count in
    medium = [fanout * 2] * (fanout - 1)
    assert lance_upkeep.merge_group([big, *medium, 3]) == list(range(1, fanout + 1))
