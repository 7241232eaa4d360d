"""The worker side of the Ray runner: what runs in Ray tasks and actors, and the rows between them.

A row is one segment of one object (or one row for an object with none: unchanged, failed or
empty). Segments and errors travel pickled, so that their lazy pixel and sound readers and typed
errors cross processes whole. Workers never touch the catalog or the document store; they report
where each object is to a :class:`ProgressBoard` actor, which the driver reads.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from omnidex.config import Settings
from omnidex.errors import OmnidexError
from omnidex.extractors.base import Extractor
from omnidex.pipeline.plan import build_plan
from omnidex.pipeline.steps import extract, identify, object_id_for
from omnidex.segment.objects import segment_object
from omnidex.types import CollectionSpec, FeatureColumn, Segment

UNCHANGED = "unchanged"


@dataclass(frozen=True)
class StageContext:
    """What the stages need, sent to every worker."""

    spec: CollectionSpec
    features: list[FeatureColumn]
    settings: Settings
    chunking: tuple[int, int]
    current: frozenset[str]
    """Object ids ingested already with this spec and metadata: hashed, then skipped."""
    scratch: str
    """Where video and audio are decoded to (shared by all nodes of a multi-node cluster)."""
    board: Any
    """The run's :class:`ProgressBoard` actor handle."""


class ProgressBoard:
    """A Ray actor: workers post where objects are, the driver takes what was posted since."""

    def __init__(self) -> None:
        self._posts: list[dict[str, Any]] = []

    def post(self, posts: list[dict[str, Any]]) -> None:
        self._posts.extend(posts)

    def take(self) -> list[dict[str, Any]]:
        posts, self._posts = self._posts, []
        return posts


def _row(index: int, path: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "source": path,
        "object_id": "",
        "sha256": "",
        "kind": "",
        "size": 0,
        "workdir": "",
        "status": "",
        "count": 0,
        "seq": 0,
        "segment": b"",
        "error": b"",
    }
    row.update(fields)
    return row


def segment_rows(item: dict[str, Any], ctx: StageContext) -> list[dict[str, Any]]:
    """A CPU task: read, hash and segment one source into rows, one per segment."""
    index, path = int(item["index"]), str(item["path"])
    try:
        sha256, kind = identify(Path(path), ctx.settings.limits)
    except OmnidexError as exc:
        return [_row(index, path, error=pickle.dumps(exc))]
    object_id = object_id_for(sha256)
    if object_id in ctx.current:
        return [_row(index, path, object_id=object_id, status=UNCHANGED)]
    identity = {
        "object_id": object_id,
        "sha256": sha256,
        "kind": "unknown" if isinstance(kind, OmnidexError) else kind,
        "size": Path(path).stat().st_size,
    }
    if isinstance(kind, OmnidexError):  # refused: settled as failed, with its reason
        return [_row(index, path, **identity, error=pickle.dumps(kind))]
    ctx.board.post.remote([{"index": index, "stage": "segment", **identity}])
    workdir = None
    if kind in ("video", "audio"):
        Path(ctx.scratch).mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="omnidex-ray-", dir=ctx.scratch))
    identity["workdir"] = str(workdir or "")
    try:
        segments = segment_object(
            object_id=object_id,
            path=Path(path),
            kind=kind,
            source=path,
            settings=ctx.settings,
            chunk_tokens=ctx.chunking[0],
            overlap_tokens=ctx.chunking[1],
            segmentation=ctx.spec.segmentation,
            workdir=workdir,
        )
    except OmnidexError as exc:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        return [_row(index, path, **{**identity, "workdir": ""}, error=pickle.dumps(exc))]
    if not segments:
        return [_row(index, path, **identity)]
    return [
        _row(index, path, **identity, count=len(segments), seq=seq, segment=pickle.dumps(s))
        for seq, s in enumerate(segments)
    ]


class ExtractorStage:
    """A Ray actor over batches of segment rows: extractors ``first`` to ``last - 1`` of the
    plan, built from the spec here and each loaded once, on the first segment it accepts."""

    def __init__(self, ctx: StageContext, first: int, last: int) -> None:
        plan = build_plan(ctx.spec, ctx.features)
        self.board = ctx.board
        self.extractors = [(plan.extractors[i], plan.batch_size(i)) for i in range(first, last)]
        self.load_errors: dict[str, OmnidexError | None] = {}

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        live = [r for r in rows if r["segment"] and not r["error"]]
        segments = [pickle.loads(r["segment"]) for r in live]
        failed: dict[str, OmnidexError] = {}
        for extractor, batch_size in self.extractors:
            work = [
                (r["object_id"], s)
                for r, s in zip(live, segments, strict=True)
                if r["object_id"] not in failed and extractor.accepts_segment(s)
            ]
            if not work:
                continue
            self._post(work, f"extract:{extractor.ref}")
            if (load_error := self._load(extractor)) is not None:
                failed.update(dict.fromkeys((key for key, _ in work), load_error))
                continue
            sources = {r["object_id"]: r["source"] for r in live}
            failed.update(extract(extractor, work, batch_size, sources.__getitem__))
        for row, segment in zip(live, segments, strict=True):
            if (error := failed.get(row["object_id"])) is not None:
                row["segment"], row["error"] = b"", pickle.dumps(error)
            else:
                row["segment"] = pickle.dumps(segment)
        return pa.Table.from_pylist(rows, schema=batch.schema)

    def _load(self, extractor: Extractor) -> OmnidexError | None:
        if extractor.ref not in self.load_errors:
            try:
                extractor.load()
                self.load_errors[extractor.ref] = None
            except OmnidexError as exc:
                self.load_errors[extractor.ref] = exc
        return self.load_errors[extractor.ref]

    def _post(self, work: list[tuple[str, Segment]], stage: str) -> None:
        objects = dict.fromkeys(object_id for object_id, _ in work)
        self.board.post.remote([{"object_id": oid, "stage": stage} for oid in objects])
