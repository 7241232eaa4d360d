"""Rich renderings of hits, collections, objects and ingest results, and their JSON forms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.table import Table

from omnidex.types import (
    CollectionInfo,
    Hit,
    IngestResult,
    IngestStatus,
    Moment,
    ObjectRecord,
    RetrievalResult,
    RetrieverInfo,
)

if TYPE_CHECKING:
    from omnidex.retrieval.evaluation import EvalReport


def to_json(items: BaseModel | Sequence[BaseModel]) -> str:
    if isinstance(items, BaseModel):
        return items.model_dump_json(indent=2)
    return json.dumps([i.model_dump(mode="json") for i in items], indent=2)


def timecode(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def where_in_source(hit: Hit | Moment) -> str:
    """``p. 3`` for a page, ``00:01:12–00:01:24`` for a time range, else the segment key; a
    grouped hit lists its moments, one per line."""
    if isinstance(hit, Hit) and hit.moments:
        return "\n".join(where_in_source(m) for m in hit.moments)
    if hit.start_s is not None and hit.end_s is not None:
        return f"{timecode(hit.start_s)}–{timecode(hit.end_s)}"
    if isinstance(hit, Moment):
        if hit.page is None:
            return ""
        last = hit.end_page if hit.end_page is not None else hit.page
        return f"p. {hit.page}" + (f"–{last}" if last != hit.page else "")
    if hit.page is not None:
        return f"p. {hit.page}"
    return "" if hit.key in ("image", "chunk=0000") else hit.key


def hits_table(hits: Sequence[Hit], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", expand=True, show_lines=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("score", justify="right", width=7)
    table.add_column("source", overflow="fold", ratio=2)  # the full path is in --json
    table.add_column("where", width=19)
    table.add_column("snippet", ratio=5)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(
            str(rank),
            f"{hit.score:.4f}",
            Path(hit.source).name,
            where_in_source(hit),
            hit.snippet,
        )
    return table


def retrievers_table(infos: Sequence[RetrieverInfo]) -> Table:
    table = Table(expand=False)
    for name in ("name", "version", "collections", "inputs", "stages", "updated"):
        table.add_column(name)
    for info in infos:
        table.add_row(
            info.name,
            str(info.version),
            ", ".join(info.spec.collections),
            ", ".join(f"{n}: {i.type}" for n, i in info.spec.inputs.items()),
            " → ".join(s.id or s.type for s in info.spec.stages),
            info.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def stages_table(result: RetrievalResult) -> Table:
    table = Table(title=f"{result.total_ms:.1f} ms in all", title_justify="left")
    for name in ("stage", "type", "ms", "in", "out", "notes"):
        table.add_column(name, justify="right" if name in ("ms", "in", "out") else "left")
    for stage in result.stages:
        table.add_row(
            stage.id,
            stage.type,
            f"{stage.ms:.1f}",
            str(stage.candidates_in),
            str(stage.candidates_out),
            "; ".join(stage.notes),
        )
    return table


def eval_table(report: EvalReport, retriever: str) -> Table:
    title = (
        f"{retriever}: recall@{report.k} {report.recall_at_k:.3f}, MRR {report.mrr:.3f}, "
        f"nDCG@{report.k} {report.ndcg_at_k:.3f} over {report.queries} queries"
    )
    table = Table(title=title, title_justify="left", expand=True)
    for name in ("query", f"recall@{report.k}", "RR", f"nDCG@{report.k}"):
        table.add_column(name, justify="left" if name == "query" else "right")
    for row in report.per_query:
        table.add_row(
            row.query, f"{row.recall:.2f}", f"{row.reciprocal_rank:.2f}", f"{row.ndcg:.2f}"
        )
    return table


def collections_table(infos: Sequence[CollectionInfo], counts: dict[str, int]) -> Table:
    table = Table(expand=False)
    for name in ("name", "extractors", "spec version", "documents", "created"):
        table.add_column(name)
    for info in infos:
        table.add_row(
            info.name,
            ", ".join(e.name for e in info.spec.extractors),
            str(info.spec_version),
            str(counts.get(info.id, 0)),
            info.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def objects_table(records: Sequence[ObjectRecord]) -> Table:
    table = Table(expand=True)
    for name in ("id", "source", "kind", "status", "documents", "error"):
        table.add_column(name, overflow="fold")
    for record in records:
        table.add_row(
            record.id,
            _short(record.source),
            record.kind,
            _status(record.status.value),
            str(record.document_count),
            record.error or "",
        )
    return table


def ingest_table(results: Sequence[IngestResult]) -> Table:
    table = Table(expand=True)
    for name in ("source", "status", "documents", "reason"):
        table.add_column(name, overflow="fold")
    for result in results:
        table.add_row(
            _short(result.source),
            _status(result.status.value),
            str(result.documents),
            result.error or "",
        )
    return table


def ingest_summary(results: Sequence[IngestResult]) -> str:
    counts = {status: 0 for status in IngestStatus}
    for result in results:
        counts[result.status] += 1
    documents = sum(r.documents for r in results if r.status is IngestStatus.INGESTED)
    return (
        f"{counts[IngestStatus.INGESTED]} ingested ({documents} documents), "
        f"{counts[IngestStatus.UNCHANGED]} unchanged, {counts[IngestStatus.FAILED]} failed"
    )


def _status(value: str) -> str:
    color: dict[str, Any] = {
        "ingested": "green",
        "succeeded": "green",
        "unchanged": "cyan",
        "failed": "red",
    }
    style = color.get(value)
    return f"[{style}]{value}[/]" if style else value


def _short(source: str, width: int = 48) -> str:
    return source if len(source) <= width else "…" + source[-(width - 1) :]
