"""Ingest throughput of text against the embedder's raw speed on the same chunks.

Writes text files that chunk into ``--chunks`` chunks (default 10,000), then, in one run and with
one loaded model: (a) the baseline, ``TextEmbedder.encode`` on exactly the chunk texts the pipeline
will embed, and (b) ``col.ingest`` of the files into a fresh collection (page_text@v1 +
text_embedding@v1: chunking, embedding, LanceDB writes, full-text index, catalog bookkeeping).
Prints one JSON line with chunks/s of each and the ratio. Goal: ingest ≥ 0.8 × raw.

    .venv/bin/python benchmarks/ingest_text.py [--chunks 10000] [--chunk-tokens 96]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import omnidex
from corpus import sentences
from omnidex.models.embedders import get_embedder
from omnidex.models.hub import DEFAULT_TEXT_MODEL
from omnidex.segment.text_chunks import chunk_text

GOAL = 0.8


def write_corpus(folder: Path, chunks: int, chunk_tokens: int) -> list[str]:
    """Text files whose chunks add up to ``chunks``; returns the chunk texts, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    files, texts, seed = 0, [], 0
    while len(texts) < chunks:
        body = " ".join(sentences(400, 14, seed=seed))
        pieces = chunk_text(body, chunk_tokens, chunk_tokens // 8)
        take = pieces[: chunks - len(texts)]
        text = body[: take[-1].end_char]
        (folder / f"doc-{files:04d}.txt").write_text(text)
        texts.extend(c.text for c in chunk_text(text, chunk_tokens, chunk_tokens // 8))
        files, seed = files + 1, seed + 1
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--chunk-tokens", type=int, default=96)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        texts = write_corpus(root / "corpus", args.chunks, args.chunk_tokens)
        embedder = get_embedder(DEFAULT_TEXT_MODEL)
        embedder.encode(texts[:64])  # warm up

        start = time.perf_counter()
        embedder.encode(texts, batch_size=64)
        raw_s = time.perf_counter() - start

        db = omnidex.connect(root / "data")
        collection = db.create_collection(
            "bench",
            extractors=[
                {
                    "name": "page_text@v1",
                    "params": {
                        "chunk_tokens": args.chunk_tokens,
                        "chunk_overlap": args.chunk_tokens // 8,
                    },
                },
                {"name": "text_embedding@v1", "params": {"batch_size": 64}},
            ],
        )
        start = time.perf_counter()
        results = collection.ingest(root / "corpus")
        ingest_s = time.perf_counter() - start
        documents = collection.count()
        failed = [r for r in results if r.error]

    raw_rate, ingest_rate = len(texts) / raw_s, documents / ingest_s
    print(
        json.dumps(
            {
                "benchmark": "ingest_text",
                "model": DEFAULT_TEXT_MODEL,
                "files": len(results),
                "chunks": len(texts),
                "documents": documents,
                "failed": len(failed),
                "chunk_tokens": args.chunk_tokens,
                "raw_encode_chunks_per_s": round(raw_rate, 1),
                "ingest_chunks_per_s": round(ingest_rate, 1),
                "raw_s": round(raw_s, 2),
                "ingest_s": round(ingest_s, 2),
                "ratio": round(ingest_rate / raw_rate, 3),
                "goal": GOAL,
                "meets_goal": ingest_rate / raw_rate >= GOAL and documents == len(texts),
            }
        )
    )


if __name__ == "__main__":
    main()
