"""The in-memory vector index beside the Lance tables: it follows every write (of this store or of
another on the same folder), honours filters exactly and finds what exact search finds."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from omnidex.store import lance_vectors
from omnidex.store.filter_match import matches
from omnidex.store.filters import Compare, Field, Filter, In
from omnidex.store.lance_documents import LanceDocumentStore, column_name
from omnidex.types import Document, FeatureColumn, FeatureType

COL = "col_00000000feedbeef"
VECTOR = "text_embedding@v1/vector"
DIM = 16
FEATURES = [
    FeatureColumn(name="text", type=FeatureType.TEXT, address="page_text@v1/text"),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=DIM, address=VECTOR),
]
SPEAKERS = ["ann", "bob", "cid", "dee"]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int, centers: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = unit(rng.normal(0, 1, (centers, DIM)))
    return unit(middle[rng.integers(0, centers, n)] + rng.normal(0, 0.15, (n, DIM)))


def documents(object_id: str, vectors: np.ndarray) -> list[Document]:
    return [
        Document(
            id=f"{object_id}:{i}",
            object_id=object_id,
            kind="text",
            key=f"chunk={i:05d}",
            source=f"/data/{object_id}.txt",
            page=i,
            features={VECTOR: vector.tolist(), "page_text@v1/text": f"chunk {i}"},
            metadata={"speaker": SPEAKERS[i % len(SPEAKERS)]},
        )
        for i, vector in enumerate(vectors)
    ]


def open_store(root: Path) -> LanceDocumentStore:
    store = LanceDocumentStore(root / "documents")
    store.create_collection(COL, FEATURES)
    return store


def exact(
    held: dict[str, Document], query: np.ndarray, k: int, where: Filter | None = None
) -> list[str]:
    """The true top-k by cosine among the documents held (that pass ``where``)."""
    kept = [d for d in held.values() if where is None or matches(where, d)]
    scores = [float(np.dot(unit(np.asarray([d.features[VECTOR]]))[0], query)) for d in kept]
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [kept[i].id for i in order]


def search(
    store: LanceDocumentStore, query: np.ndarray, k: int, where: Filter | None = None
) -> list[str]:
    return [d.id for d, _ in store.vector_search(COL, VECTOR, query.tolist(), k, where)]


def served_version(store: LanceDocumentStore) -> int | None:
    """The table version the store's in-memory index reflects (None: none built)."""
    path = store._layout(COL).path
    assert path is not None
    entry = store._memory._columns.get((path, column_name(VECTOR)))
    return None if entry is None or entry.state is None else int(entry.state.dataset.version)


def latest_version(store: LanceDocumentStore) -> int:
    return int(store._layout(COL).table.to_lance().latest_version)


def test_follows_upserts_and_deletes(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    held: dict[str, Document] = {}
    for object_id, seed in (("a", 1), ("b", 2)):
        docs = documents(object_id, clustered(60, seed))
        store.replace_objects(COL, {object_id: docs})
        held.update({d.id: d for d in docs})
    query = np.asarray(held["a:3"].features[VECTOR], dtype=np.float32)
    assert search(store, query, 10) == exact(held, query, 10)
    assert served_version(store) == latest_version(store)

    moved = documents("a", clustered(20, 7))  # a keeps 20 documents, each with a new vector
    store.replace_objects(COL, {"a": moved})
    held = {k: v for k, v in held.items() if not k.startswith("a:")} | {d.id: d for d in moved}
    found = store.vector_search(COL, VECTOR, query.tolist(), 10)
    assert [d.id for d, _ in found] == exact(held, query, 10)
    assert all(int(d.id.split(":")[1]) < 20 for d, _ in found if d.object_id == "a")
    assert all(score < 0.9999 for d, score in found if d.id == "a:3")  # its old vector is gone
    assert served_version(store) == latest_version(store)

    assert store.delete_object(COL, "b") == 60
    held = {k: v for k, v in held.items() if not k.startswith("b:")}
    for probe in clustered(10, 9):
        assert search(store, probe, 5) == exact(held, probe, 5)
    assert not any(i.startswith("b:") for i in search(store, query, 50))


def test_sees_writes_of_another_store_on_the_same_folder(tmp_path: Path) -> None:
    mine, other = open_store(tmp_path), LanceDocumentStore(tmp_path / "documents")
    first = documents("a", clustered(50, 1))
    mine.replace_objects(COL, {"a": first})
    query = np.asarray(first[0].features[VECTOR], dtype=np.float32)
    assert search(mine, query, 1) == ["a:0"]

    later = documents("c", np.vstack([query, clustered(9, 3)]))
    other.replace_objects(COL, {"c": later})
    other.delete_object(COL, "a")
    held = {d.id: d for d in later}
    assert search(mine, query, 5) == exact(held, query, 5)
    assert served_version(mine) == latest_version(mine)

    other.drop_collection(COL)
    other.create_collection(COL, FEATURES)
    again = documents("d", clustered(30, 5))
    other.replace_objects(COL, {"d": again})
    assert search(mine, query, 5) == exact({d.id: d for d in again}, query, 5)


def test_drop_collection_forgets_the_index(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.replace_objects(COL, {"a": documents("a", clustered(30, 1))})
    query = clustered(1, 2)[0]
    assert len(search(store, query, 5)) == 5
    store.drop_collection(COL)
    store.create_collection(COL, FEATURES)
    assert search(store, query, 5) == []
    fresh = documents("b", clustered(8, 4))
    store.replace_objects(COL, {"b": fresh})
    assert search(store, query, 5) == exact({d.id: d for d in fresh}, query, 5)


@pytest.fixture
def ivf(monkeypatch: pytest.MonkeyPatch) -> None:
    """IVF from 1,000 vectors on, probing about a fifth of the lists (the library's thresholds
    scaled down to a collection a test can write quickly)."""
    monkeypatch.setattr(lance_vectors, "IVF_MIN_VECTORS", 1000)
    monkeypatch.setattr(lance_vectors, "MIN_PROBES", 4)
    monkeypatch.setattr(lance_vectors, "MIN_SCANNED", 800)


def filled(
    tmp_path: Path, objects: int = 8, per_object: int = 500
) -> tuple[LanceDocumentStore, dict[str, Document]]:
    store = open_store(tmp_path)
    held: dict[str, Document] = {}
    for o in range(objects):
        docs = documents(f"o{o}", clustered(per_object, 100 + o))
        store.replace_objects(COL, {f"o{o}": docs})
        held.update({d.id: d for d in docs})
    return store, held


@pytest.mark.usefixtures("ivf")
def test_ivf_recall_against_exact_search(tmp_path: Path) -> None:
    store, held = filled(tmp_path)
    queries = clustered(40, 999)
    found = [search(store, q, 10) for q in queries]
    entry = store._memory._columns[(str(store._layout(COL).path), column_name(VECTOR))]
    assert entry.state is not None and entry.state.lists > 0  # an IVF index answered
    assert entry.state.probes() < entry.state.lists  # probing only some of the lists
    hits = [len(set(f) & set(exact(held, q, 10))) / 10 for f, q in zip(found, queries, strict=True)]
    assert float(np.mean(hits)) >= 0.95


@pytest.mark.usefixtures("ivf")
def test_filters_are_honoured_exactly(tmp_path: Path) -> None:
    store, held = filled(tmp_path)
    queries = clustered(5, 50)
    ann = Compare(Field("speaker", metadata=True), "=", "ann")  # a quarter of the rows
    overlap = []
    for query in queries:
        found = search(store, query, 10, ann)
        assert len(found) == 10 and all(matches(ann, held[i]) for i in found)
        overlap.append(len(set(found) & set(exact(held, query, 10, ann))) / 10)
    assert float(np.mean(overlap)) >= 0.8
    selective: list[Filter] = [  # few matches: every list is scanned, so the answer is exact
        Compare(Field("page"), "<", 3),
        In(Field("id"), ("o1:5", "o2:7", "o3:9", "o7:499")),
        Compare(Field("speaker", metadata=True), "=", "nobody"),
    ]
    for where in selective:
        for query in queries:
            assert search(store, query, 10, where) == exact(held, query, 10, where)


@pytest.mark.usefixtures("ivf")
def test_builds_on_a_thread_and_after_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance_vectors, "INLINE_BUILD_VECTORS", 100)
    monkeypatch.setattr(lance_vectors, "INLINE_CATCH_UP_VECTORS", 100)
    store, held = filled(tmp_path, objects=3)
    query = clustered(1, 7)[0]
    assert search(store, query, 10) == exact(held, query, 10)  # LanceDB answers while it builds
    for thread in threading.enumerate():
        if thread.name == "omnidex-vectors":
            thread.join()
    store.optimize(COL)  # compaction rewrites the fragments: everything is read again
    assert search(store, query, 10) == exact(held, query, 10)
    store.prepare_search(COL)
    assert served_version(store) == latest_version(store)
    assert search(store, query, 10) == exact(held, query, 10)


def test_a_new_store_builds_its_own_index(tmp_path: Path) -> None:
    first = open_store(tmp_path)
    docs = documents("a", clustered(40, 1))
    first.replace_objects(COL, {"a": docs})
    query = clustered(1, 3)[0]
    before = first.vector_search(COL, VECTOR, query.tolist(), 5)
    second = LanceDocumentStore(tmp_path / "documents")  # a restarted process: nothing on disk
    assert served_version(second) is None
    after = second.vector_search(COL, VECTOR, query.tolist(), 5)
    assert [(d.id, round(s, 5)) for d, s in after] == [(d.id, round(s, 5)) for d, s in before]
    assert served_version(second) == latest_version(second)


@pytest.mark.usefixtures("ivf")
def test_an_exact_index_that_grows_becomes_ivf(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    held = {d.id: d for d in documents("a", clustered(600, 1))}
    store.replace_objects(COL, {"a": list(held.values())})
    query = clustered(1, 2)[0]
    assert search(store, query, 10) == exact(held, query, 10)
    entry = store._memory._columns[(str(store._layout(COL).path), column_name(VECTOR))]
    assert entry.state is not None and entry.state.lists == 0
    more = documents("b", clustered(600, 3))
    store.replace_objects(COL, {"b": more})
    held.update({d.id: d for d in more})
    found = search(store, query, 10)
    assert entry.state is not None and entry.state.lists > 0
    assert len(set(found) & set(exact(held, query, 10))) >= 8


def test_searches_while_another_thread_writes(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.replace_objects(COL, {"keep": documents("keep", clustered(40, 1))})
    queries = clustered(20, 2)
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def searching() -> None:
        try:
            while not done.is_set():
                for query in queries:
                    seen.append({i.split(":")[0] for i in search(store, query, 30)})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=searching) for _ in range(3)]
    for thread in threads:
        thread.start()
    for round_ in range(8):
        store.replace_objects(
            COL, {f"tmp{round_}": documents(f"tmp{round_}", clustered(30, 10 + round_))}
        )
        store.delete_object(COL, f"tmp{round_}")
    done.set()
    for thread in threads:
        thread.join()
    assert not errors
    final = {i.split(":")[0] for q in queries for i in search(store, q, 30)}
    assert final == {"keep"}
    assert all(objects <= {"keep", *(f"tmp{r}" for r in range(8))} for objects in seen)


def test_deleting_part_of_a_fragment(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    a, b = documents("a", clustered(30, 1)), documents("b", clustered(30, 2))
    store.replace_objects(COL, {"a": a, "b": b})  # one write: both objects in one fragment
    query = np.asarray(a[4].features[VECTOR], dtype=np.float32)
    assert search(store, query, 1) == ["a:4"]
    store.delete_object(COL, "a")  # the fragment stays, with a deletion file
    held = {d.id: d for d in b}
    assert search(store, query, 10) == exact(held, query, 10)
    store.replace_objects(COL, {"b": b[:10]})
    assert search(store, query, 30) == exact({d.id: d for d in b[:10]}, query, 30)
