"""``omnidex doctor``: find and repair drift between the catalog and the documents of a local
data folder, and tasks left running by runs that were killed (:meth:`Database.doctor`)."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import to_json
from omnidex.types import DriftReport


def doctor(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what is wrong; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Find objects whose documents were lost (set to pending: ingest again to restore them),
    documents of deleted objects (removed) and tasks of killed runs (failed)."""
    reports = state(ctx).local().doctor(dry_run=dry_run)
    if as_json:
        console.print_json(to_json(reports))
        return
    for report in reports:
        console.print(describe(report), soft_wrap=True, markup=False, highlight=False)
    if not reports:
        console.print("no collections", markup=False)


def describe(report: DriftReport) -> str:
    """One line per collection: what was found, and what was (or would be) done about it."""
    if report.clean:
        return f"{report.collection}: ok"
    done = report.repaired
    parts = []
    if n := len(report.objects_without_documents):
        action = "set to pending, ingest again to restore" if done else "would be set to pending"
        parts.append(f"{_count(n, 'object')} missing documents ({action})")
    if n := report.documents_without_object:
        action = "removed" if done else "would be removed"
        gone = _count(len(report.objects_gone), "deleted object")
        parts.append(f"{_count(n, 'document')} of {gone} ({action})")
    if n := report.abandoned_tasks:
        action = "failed" if done else "would be failed"
        parts.append(f"{_count(n, 'task')} of killed runs ({action})")
    return f"{report.collection}: " + "; ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
