"""Rich renderings of hits, collections, objects and ingest results, and their JSON forms."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from omnidex.types import (
    CollectionInfo,
    Document,
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


NAME_WIDTH = 48
"""A source's folder is shortened to this many characters; its file name is kept whole."""


def to_json(items: BaseModel | Sequence[BaseModel]) -> str:
    if isinstance(items, BaseModel):
        return items.model_dump_json(indent=2)
    return json.dumps([i.model_dump(mode="json") for i in items], indent=2)


def timecode(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def where_in_source(hit: Hit | Moment | Document) -> str:
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
    names = [Path(hit.source).name for hit in hits]  # the full path is in --json
    table.add_column("source", overflow="fold", min_width=_widest_name(names))
    table.add_column("where", width=19)
    table.add_column("snippet", ratio=5)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(
            str(rank),
            f"{hit.score:.4f}",
            names[rank - 1],
            where_in_source(hit),
            hit.snippet,
        )
    return table


def document_view(document: Document) -> Group:
    """A document's source and place in it, then each feature: text in full, vectors by size."""
    where = where_in_source(document) or document.key
    head = Table.grid(padding=(0, 2))
    for name, value in (
        ("id", document.id),
        ("file", Path(document.source).name or document.source),
        ("source", document.source),
        ("kind", document.kind),
        ("where", where),
        ("extractors", ", ".join(document.extractors)),
    ):
        head.add_row(Text(name, style="bold"), Text(value))
    parts: list[Table | Text] = [head]
    for address, value in document.features.items():
        parts.append(Text(f"\n{address}", style="bold cyan"))
        parts.append(Text(_feature_text(value)))
    if document.metadata:
        parts.append(Text("\nmetadata", style="bold cyan"))
        parts.append(Text(json.dumps(document.metadata, ensure_ascii=False)))
    return Group(*parts)


def _feature_text(value: Any) -> str:
    """Text as is; a vector as its size; words and other lists as JSON lines."""
    if isinstance(value, str):
        return value if value.strip() else "(empty)"
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return f"vector, {len(value)} dimensions"
    if isinstance(value, list):
        return "\n".join(json.dumps(v, ensure_ascii=False) for v in value) or "(none)"
    return json.dumps(value, ensure_ascii=False)


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
    for stage in result.stages or []:
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


def collections_table(infos: Sequence[CollectionInfo], counts: Mapping[str, int | None]) -> Table:
    """One row per collection; ``counts`` holds None for one whose documents table is lost."""
    table = Table(expand=False)
    for name in ("name", "extractors", "spec version", "documents", "created"):
        table.add_column(name)
    for info in infos:
        table.add_row(
            info.name,
            ", ".join(e.name for e in info.spec.extractors),
            str(info.spec_version),
            _count_cell(counts.get(info.id, 0)),
            info.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def _count_cell(count: int | None) -> str:
    return "[red]table lost[/]" if count is None else str(count)


def objects_table(records: Sequence[ObjectRecord]) -> Table:
    table = Table(expand=True)
    for name in ("id", "source", "kind", "status", "documents", "error"):
        width = _widest_name([r.source for r in records]) if name == "source" else None
        table.add_column(name, overflow="fold", min_width=width)
    for record in records:
        table.add_row(
            record.id,
            _source_cell(record.source),
            record.kind,
            _status(record.status.value),
            str(record.document_count),
            record.error or "",
        )
    return table


def ingest_table(results: Sequence[IngestResult]) -> Table:
    table = Table(expand=True)
    for name in ("source", "status", "documents", "reason"):
        width = _widest_name([r.source for r in results]) if name == "source" else None
        table.add_column(name, overflow="fold", min_width=width)
    for result in results:
        table.add_row(
            _source_cell(result.source),
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


REASONS_SHOWN = 8
"""A failure summary names this many reasons, the commonest first; the rest are counted."""


def failure_summary(results: Sequence[IngestResult], list_command: str) -> str:
    """What failed, grouped by reason (``2 × the file is empty``), and the command that lists
    every failed object; empty when nothing failed."""
    reasons = Counter(_reason(r) for r in results if r.status is IngestStatus.FAILED).most_common()
    if not reasons:
        return ""
    failed = sum(count for _, count in reasons)
    lines = [f"[red]{failed} failed[/], {len(reasons)} reason{'s' * (len(reasons) > 1)}:"]
    lines += [f"  {count} × {escape(reason)}" for reason, count in reasons[:REASONS_SHOWN]]
    if len(reasons) > REASONS_SHOWN:
        others = sum(count for _, count in reasons[REASONS_SHOWN:])
        lines.append(f"  … {others} more, for {len(reasons) - REASONS_SHOWN} other reasons")
    lines.append(f"list them: [bold]{escape(list_command)}[/]")
    return "\n".join(lines)


def _reason(result: IngestResult) -> str:
    """A failure's reason without the file it names, so that files failing alike group."""
    reason = result.error or result.error_code or "unknown error"
    if reason.startswith(result.source + ": "):
        reason = reason[len(result.source) + 2 :]
    return reason.replace(result.source, "<file>") if result.source else reason


def _status(value: str) -> str:
    color: dict[str, Any] = {
        "ingested": "green",
        "succeeded": "green",
        "unchanged": "cyan",
        "failed": "red",
    }
    style = color.get(value)
    return f"[{style}]{value}[/]" if style else value


def _widest_name(sources: Sequence[str]) -> int:
    """The source column's least width: the longest file name, so that none is folded."""
    return max((len(Path(s).name) for s in sources), default=6)


def _source_cell(source: str) -> Text:
    """The file name whole on the first line (the column is as wide as the widest name), then its
    folder, shortened to NAME_WIDTH from the left, dimmed."""
    name = Path(source).name or source
    folder = source[: len(source) - len(name)]
    if len(folder) > NAME_WIDTH:
        folder = "…" + folder[-(NAME_WIDTH - 1) :]
    cell = Text(name)
    if folder:
        cell.append("\n" + folder, style="dim")
    return cell
