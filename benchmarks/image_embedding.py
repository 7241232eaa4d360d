"""image_embedding@v1: ingest throughput against the raw model, query latency at 100k vectors, and
retrieval quality on a generated labelled set.

In one run and with one loaded model:

1. **Throughput.** ``--images`` PNGs of coloured shapes at 224 px; the baseline is a raw batched
   loop of the model's processor + ``get_image_features`` over the same decoded images (batch 32);
   then ``col.ingest`` of the files into a collection whose only extractor is image_embedding@v1
   (probe, decode, thumbnail, embed, LanceDB write, catalog). Goal: ingest ≥ 0.8 × raw.
2. **Query latency** at ``--vectors`` image vectors (default 100,000, written straight into the
   store): ``col.explain`` by text (text tower) and by image (image tower), p50/p95 of the search
   without the query's own encoding (reported separately). Goal: p50 ≤ 30 ms.
3. **Quality.** Recall@1 of text→image (each caption finds a picture of its class) and
   image→image on a fresh labelled set of the 9 colour×shape classes.

``--model`` names a SigLIP/CLIP id or folder; without it the default model is used where it can be
found, else a tiny CLIP trained here for seconds on the same kind of shapes (the script says which:
the tiny model's quality figures are not those of real weights).

    .venv/bin/python benchmarks/image_embedding.py [--model ID] [--images 400] [--vectors 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.image_checkpoints import COLOURS, SHAPES, build_dual_encoder, caption, shape_image, train

import omnidex
from omnidex.config import Limits
from omnidex.extractors.image_embedding import DEFAULT_IMAGE_MODEL, default_model_missing
from omnidex.media.images import open_image
from omnidex.models.image_text import get_dual_encoder
from omnidex.types import Document

ADDRESS = "image_embedding@v1/vector"
GOAL_RATIO, GOAL_P50_MS = 0.8, 30.0
CLASSES = [(c, s) for c in COLOURS for s in SHAPES]


def model_for(given: str | None, work: Path) -> tuple[str, str]:
    if given:
        return given, "given"
    if default_model_missing() is None:
        return DEFAULT_IMAGE_MODEL, "default"
    folder = build_dual_encoder(work / "tiny", "clip")
    train(folder, steps=800)
    return str(folder), "tiny CLIP trained here (not real weights)"


def throughput(db: omnidex.Database, model: str, n: int, work: Path) -> dict[str, float]:
    folder = work / "images"
    folder.mkdir()
    rng = random.Random(0)
    for i in range(n):
        shape_image(*CLASSES[i % len(CLASSES)], rng, size=224).save(folder / f"{i:05d}.png")
    encoder = get_dual_encoder(model)
    images = [open_image(p, Limits()) for p in sorted(folder.iterdir())]
    encoder.encode_images(images[:32])  # warm
    start = time.perf_counter()
    for at in range(0, n, 32):
        encoder.encode_images(images[at : at + 32], 32)
    raw = n / (time.perf_counter() - start)
    col = db.create_collection(
        "bench", extractors=[{"name": "image_embedding@v1", "params": {"model_id": model}}]
    )
    start = time.perf_counter()
    results = col.ingest(folder)
    ingest = n / (time.perf_counter() - start)
    assert all(r.error is None for r in results)
    return {"raw_images_per_s": raw, "ingest_images_per_s": ingest, "ratio": ingest / raw}


def latency(db: omnidex.Database, model: str, size: int, queries: int) -> dict[str, float]:
    col = db.create_collection(
        "big", extractors=[{"name": "image_embedding@v1", "params": {"model_id": model}}]
    )
    dim = col.info.feature(ADDRESS).dim  # type: ignore[union-attr]
    vectors = np.random.default_rng(0).standard_normal((size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store, cid = db.documents, col.info.id
    for start in range(0, size, 1000):
        oid = f"obj_{start // 1000:06d}"
        docs = [
            Document(
                id=f"doc_{i:08d}",
                object_id=oid,
                kind="image",
                key=f"i={i}",
                source=f"{oid}.png",
                features={ADDRESS: vectors[i]},
            )
            for i in range(start, min(start + 1000, size))
        ]
        store.replace_objects(cid, {oid: docs})
    store.optimize(cid)
    rng = random.Random(1)
    encoder = col.plan.query_encoders()[ADDRESS]
    out: dict[str, float] = {}
    for kind in ("text", "image"):
        search_ms, encode_ms = [], []
        for i in range(queries + 3):
            c, s = CLASSES[i % len(CLASSES)]
            query = caption(c, s) if kind == "text" else shape_image(c, s, rng, 224)
            begin = time.perf_counter()
            encoder.embed_queries([query])
            encoded = (time.perf_counter() - begin) * 1000
            begin = time.perf_counter()
            col.explain(
                query if kind == "text" else None, k=10, image=query if kind == "image" else None
            )
            total = (time.perf_counter() - begin) * 1000
            if i >= 3:  # the first searches build the index
                encode_ms.append(encoded)
                search_ms.append(max(0.0, total - encoded))
        out[f"{kind}_search_p50_ms"] = float(np.percentile(search_ms, 50))
        out[f"{kind}_search_p95_ms"] = float(np.percentile(search_ms, 95))
        out[f"{kind}_encode_p50_ms"] = float(np.percentile(encode_ms, 50))
    return out


def quality(model: str, per_class: int) -> dict[str, float]:
    encoder = get_dual_encoder(model)
    rng = random.Random(2)
    labels = [i for i in range(len(CLASSES)) for _ in range(per_class)]
    indexed = encoder.encode_images([shape_image(*CLASSES[i], rng, 224) for i in labels])
    texts = encoder.encode_texts([caption(*c) for c in CLASSES])
    examples = encoder.encode_images([shape_image(*c, rng, 224) for c in CLASSES])
    label = np.array(labels)
    t2i = float(np.mean(label[(texts @ indexed.T).argmax(1)] == np.arange(len(CLASSES))))
    i2i = float(np.mean(label[(examples @ indexed.T).argmax(1)] == np.arange(len(CLASSES))))
    return {"text_to_image_recall_at_1": t2i, "image_to_image_recall_at_1": i2i}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-bench-") as tmp:
        work = Path(tmp)
        model, which = model_for(args.model, work)
        db = omnidex.connect(work / "data")
        result: dict[str, object] = {
            "benchmark": "image_embedding",
            "model": model,
            "weights": which,
        }
        result |= throughput(db, model, args.images, work)
        result |= {"vectors": args.vectors} | latency(db, model, args.vectors, args.queries)
        result |= quality(model, per_class=10)
        result |= {"goal_ratio": GOAL_RATIO, "goal_p50_ms": GOAL_P50_MS}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
