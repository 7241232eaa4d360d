"""Ray runner scaling: documents/s of the local runner and of the Ray runner with 1 and 2 workers
on the same mixed set, in one run, and the Ray runner's overhead per object.

The mixed set (written fresh, every file distinct): text-image PNGs, PDFs with text and scanned
pages, text files and short H.264 videos of slides (three scenes each), through the default
pipeline (page_text, ocr, transcription, text_embedding with the default embedder loaded
offline). Each run ingests into a fresh database.

- **local**: ``col.ingest(files)``, this process.
- **ray, W workers**: ``col.ingest(files, runner="ray")`` on a local Ray cluster of W CPUs, the
  extractors' actor pool up to W actors of 0.5 CPU and segmenting tasks of 0.5 CPU, so that W
  objects are read and W batches extracted at once.
- **overhead**: the same three runs on text files of one short chunk through ``page_text@v1``
  alone, where the work is nil, once with 1 object and once with ``--tiny`` objects: the fixed
  cost of a Ray run is its time for 1 object, and the overhead per object is
  ((Ray N − Ray 1) − (local N − local 1)) / (N − 1).

- **driver ceiling**: the driver's own work per document, alone: unpickling a scene's segment
  (384-d vector, caption-length text, a 20 KB thumbnail), building its document and writing
  objects of ``--scenes`` documents with one ``replace_objects`` each, as a run's driver does.
  A cluster cannot ingest faster than this, whatever its GPUs.

Prints one JSON line: docs/s of each run, ratios to local, the overhead and the driver ceiling.

    .venv/bin/python benchmarks/ray_scaling.py [--images 36] [--pdfs 18] [--texts 72] [--videos 12]
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import omnidex
from omnidex.pipeline.plan import DEFAULT_EXTRACTORS
from omnidex.pipeline.ray_runner import RayOptions
from omnidex.pipeline.steps import documents_of
from omnidex.samples import make_pdf, make_slides_video, make_text_image
from omnidex.types import IngestStatus, ObjectRecord, Segment

WORDS = [
    "harbor",
    "ferry",
    "budget",
    "audit",
    "winter",
    "lighthouse",
    "forecast",
    "rollout",
    "invoice",
    "turbine",
]


def phrase(seed: int, n: int = 6) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n)) + f" {seed}"


def mixed_set(folder: Path, images: int, pdfs: int, texts: int, videos: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for i in range(images):
        path = folder / f"sign{i:03d}.png"
        make_text_image(phrase(i, 3).upper(), (960, 540)).save(path)
        paths.append(path)
    for i in range(pdfs):
        path = folder / f"report{i:03d}.pdf"
        pages = [" ".join(phrase(1000 + i * 10 + p, 40) for _ in range(3)) for p in range(2)]
        paths.append(make_pdf(path, pages, [phrase(2000 + i, 4)]))
    for i in range(texts):
        path = folder / f"note{i:03d}.txt"
        path.write_text(" ".join(phrase(3000 + i * 50 + s, 12) for s in range(40)))
        paths.append(path)
    for i in range(videos):
        slides = [phrase((4000 + i) * 10 + scene, 3).upper() for scene in range(3)]
        paths.append(make_slides_video(folder / f"slides{i:03d}.mp4", slides))
    return paths


def tiny_set(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"tiny{i:04d}.txt"
        path.write_text(phrase(9000 + i))
        paths.append(path)
    return paths


def ingest(
    root: Path, name: str, files: list[Path], extractors: list[Any], runner: Any
) -> dict[str, float]:
    db = omnidex.connect(root / name)
    collection = db.create_collection("bench", extractors=extractors)
    started = time.perf_counter()
    results = collection.ingest(files, runner=runner)
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status is IngestStatus.FAILED]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} failed, e.g. {failed[0].error}")
    documents = sum(r.documents for r in results)
    db.close()
    return {"seconds": round(seconds, 2), "documents": documents, "docs_per_s": documents / seconds}


def on_ray(
    workers: int, root: Path, name: str, files: list[Path], extractors: list[Any]
) -> dict[str, float]:
    """:func:`ingest` with the Ray runner on a fresh local cluster of ``workers`` CPUs."""
    import ray

    ray.init(
        address="local",
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        return ingest(root, name, files, extractors, RayOptions(segment_cpus=0.5))
    finally:
        ray.shutdown()


def driver_ceiling(root: Path, objects: int, scenes: int) -> dict[str, float]:
    """Documents/s of the driver's part of a run: unpickle, build documents, one upsert each."""
    db = omnidex.connect(root / "driver")
    collection = db.create_collection("bench", extractors=["page_text@v1", "text_embedding@v1"])
    rng = np.random.default_rng(7)
    rows = []
    for o in range(objects):
        object_id = f"obj_{o:024d}"
        segments = []
        for n in range(scenes):
            vector = rng.standard_normal(384).astype(np.float32)
            segment = Segment(
                object_id=object_id,
                kind="scene",
                key=f"scene={n:05d}",
                source=f"/shared/video{o}.mp4",
                start_s=n * 4.0,
                end_s=n * 4.0 + 4.0,
                thumbnail=rng.bytes(20_000),
                features={
                    "page_text@v1/text": phrase(o * scenes + n, 30),
                    "text_embedding@v1/vector": vector / np.linalg.norm(vector),
                },
            )
            segments.append(pickle.dumps(segment))
        rows.append((object_id, segments))
    info, refs = collection.info, collection.plan.extractor_refs
    started = time.perf_counter()
    for object_id, segments in rows:
        record = ObjectRecord(
            id=object_id,
            collection_id=info.id,
            sha256=object_id.ljust(64, "0"),
            source=f"/shared/{object_id}.mp4",
            size=1,
            kind="video",
        )
        documents = documents_of(info, refs, record, [pickle.loads(s) for s in segments])
        db.documents.replace_objects(info.id, {object_id: documents})
    seconds = time.perf_counter() - started
    db.close()
    return {"seconds": round(seconds, 2), "docs_per_s": objects * scenes / seconds}


def with_workers(extractors: list[Any], workers: int) -> list[Any]:
    resources = {"num_cpus": 0.5, "concurrency": workers}
    return [{"name": e, "resources": resources} if isinstance(e, str) else e for e in extractors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=36)
    parser.add_argument("--pdfs", type=int, default=18)
    parser.add_argument("--texts", type=int, default=72)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--tiny", type=int, default=200, help="objects of the overhead runs")
    parser.add_argument("--scenes", type=int, default=200, help="documents per driver object")
    parser.add_argument("--driver-objects", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("ray").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = mixed_set(root / "mixed", args.images, args.pdfs, args.texts, args.videos)
        tiny = tiny_set(root / "tiny", args.tiny)
        pipeline = list(DEFAULT_EXTRACTORS)
        ingest(root, "warm", files[:2], pipeline, "local")  # models loaded, caches warm
        ceiling = driver_ceiling(root, args.driver_objects, args.scenes)

        mixed = {"local": ingest(root, "local", files, pipeline, "local")}
        bare = {"local": ingest(root, "tiny-local", tiny, ["page_text@v1"], "local")}
        single = {"local": ingest(root, "one-local", tiny[:1], ["page_text@v1"], "local")}
        for workers in (1, 2):
            key = f"ray_{workers}"
            mixed[key] = on_ray(workers, root, key, files, with_workers(pipeline, workers))
            bare_pipeline = with_workers(["page_text@v1"], workers)
            bare[key] = on_ray(workers, root, "tiny-" + key, tiny, bare_pipeline)
            single[key] = on_ray(workers, root, "one-" + key, tiny[:1], bare_pipeline)

    local = mixed["local"]["docs_per_s"]
    report = {
        "benchmark": "ray_scaling",
        "objects": len(files),
        "documents": mixed["local"]["documents"],
        "mixed": mixed,
        "ratio_ray_1_to_local": round(mixed["ray_1"]["docs_per_s"] / local, 3),
        "ratio_ray_2_to_local": round(mixed["ray_2"]["docs_per_s"] / local, 3),
        "ratio_ray_2_to_ray_1": round(
            mixed["ray_2"]["docs_per_s"] / mixed["ray_1"]["docs_per_s"], 3
        ),
        "overhead_runs": {"one_object": single, f"{args.tiny}_objects": bare},
        "ray_fixed_cost_s": {key: single[key]["seconds"] for key in ("ray_1", "ray_2")},
        "overhead_per_object_s": {
            key: round(
                (
                    (bare[key]["seconds"] - single[key]["seconds"])
                    - (bare["local"]["seconds"] - single["local"]["seconds"])
                )
                / (args.tiny - 1),
                4,
            )
            for key in ("ray_1", "ray_2")
        },
        "driver_ceiling": ceiling,
        "mixed_overhead_per_object_s": round(
            (mixed["ray_1"]["seconds"] - mixed["local"]["seconds"]) / len(files), 4
        ),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
