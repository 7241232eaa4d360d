"""Search latency of ``col.search`` at 10,000 and 100,000 documents against NumPy exact search.

Documents are synthetic sentences (benchmarks/corpus.py) embedded for real with the default model
(cached under .bench/ after the first run) and written straight into a collection's document store,
so the run measures search, not ingest. Then, for each size and in the same run:

- ``col.search(q, k=10)``: embed the query, vector search, BM25, reciprocal rank fusion, snippets;
- the baseline: embed the query, exact cosine top-10 with one NumPy matrix product (its matrix
  product alone is reported too);
- recall@10 of the store's vector part (``vector_search``) against the exact top-10.

Prints one JSON line per size with p50/p95 of both, their ratio and the recall. Goal: recall ≥ 0.95.

    .venv/bin/python benchmarks/search_latency.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import omnidex
from corpus import queries, sentences
from omnidex.models.embedders import TextEmbedder, get_embedder
from omnidex.models.hub import DEFAULT_TEXT_MODEL
from omnidex.types import Document

CACHE = Path(__file__).resolve().parent.parent / ".bench"
ADDRESS = "text_embedding@v1/vector"
RECALL_GOAL = 0.95


def embedded_corpus(embedder: TextEmbedder, size: int) -> tuple[list[str], np.ndarray]:
    texts = sentences(size, 12, seed=size)
    key = hashlib.sha256(("\n".join(texts) + DEFAULT_TEXT_MODEL).encode()).hexdigest()[:16]
    cached = CACHE / f"vectors-{size}-{key}.npy"
    if cached.exists():
        return texts, np.load(cached)
    vectors = embedder.encode(texts, batch_size=128)
    CACHE.mkdir(exist_ok=True)
    np.save(cached, vectors)
    return texts, vectors


def fill(collection: omnidex.Collection, texts: list[str], vectors: np.ndarray) -> None:
    """Write documents in objects of 1,000, the way ingest writes them."""
    store, cid = collection.db.documents, collection.info.id
    for start in range(0, len(texts), 1000):
        object_id = f"obj_{start // 1000:06d}"
        docs = [
            Document(
                id=f"doc_{i:08d}",
                object_id=object_id,
                kind="text",
                key=f"chunk={i:06d}",
                source=f"bench/{object_id}.txt",
                features={"page_text@v1/text": texts[i], ADDRESS: vectors[i]},
            )
            for i in range(start, min(start + 1000, len(texts)))
        ]
        store.replace_objects(cid, {object_id: docs})
    store.optimize(cid)


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def exact_top10(embedder: TextEmbedder, matrix: np.ndarray, query: str) -> np.ndarray:
    """The baseline: embed the query, one matrix product, the ten best by cosine."""
    scores = matrix @ embedder.encode([query])[0]
    top = np.argpartition(-scores, 10)[:10]
    return top[np.argsort(-scores[top])]


def percentiles(samples: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.array(samples) * 1000, [50, 95])
    return float(p50), float(p95)


def run_size(
    db: omnidex.Database, embedder: TextEmbedder, size: int, qs: list[str]
) -> dict[str, object]:
    texts, vectors = embedded_corpus(embedder, size)
    collection = db.create_collection(
        f"bench{size}", extractors=["page_text@v1", "text_embedding@v1"]
    )
    start = time.perf_counter()
    fill(collection, texts, vectors)
    load_s = time.perf_counter() - start
    store, cid = db.documents, collection.info.id
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)

    for q in qs[:10]:  # warm caches on both sides
        collection.search(q, k=10)
    # three separate passes, so that neither side runs in the other's wake (2 cores: thread
    # pools of torch and Lance left spinning by one call slow the next one down)
    ours = [timed(lambda q=q: collection.search(q, k=10)) for q in qs]
    exact = [timed(lambda q=q: exact_top10(embedder, matrix, q)) for q in qs]
    vectors_q = embedder.encode(qs)
    matmul = [timed(lambda v=v: np.argpartition(-(matrix @ v), 10)[:10]) for v in vectors_q]
    recalls = []
    for q in qs:
        vector = embedder.encode([q])[0]
        truth = {f"doc_{i:08d}" for i in exact_top10(embedder, matrix, q)}
        found = {d.id for d, _ in store.vector_search(cid, ADDRESS, vector, 10)}
        recalls.append(len(found & truth) / 10)
    ours_p50, ours_p95 = percentiles(ours)
    exact_p50, exact_p95 = percentiles(exact)
    recall = float(np.mean(recalls))
    return {
        "benchmark": "search_latency",
        "documents": collection.count(),
        "queries": len(qs),
        "load_s": round(load_s, 1),
        "search_p50_ms": round(ours_p50, 2),
        "search_p95_ms": round(ours_p95, 2),
        "numpy_exact_p50_ms": round(exact_p50, 2),
        "numpy_exact_p95_ms": round(exact_p95, 2),
        "ratio_p50": round(ours_p50 / exact_p50, 2),
        "numpy_matmul_only_p50_ms": round(percentiles(matmul)[0], 2),
        "vector_recall_at_10": round(recall, 4),
        "recall_goal": RECALL_GOAL,
        "meets_recall_goal": recall >= RECALL_GOAL,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    embedder = get_embedder(DEFAULT_TEXT_MODEL)
    qs = queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        db = omnidex.connect(Path(tmp) / "data")
        for size in args.sizes:
            print(json.dumps(run_size(db, embedder, size, qs)), flush=True)


if __name__ == "__main__":
    main()
