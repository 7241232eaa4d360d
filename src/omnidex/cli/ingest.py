"""``omnidex ingest PATH... -c NAME``: ingest files, folders and globs with a progress bar."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from omnidex.cli.context import console, state
from omnidex.cli.render import ingest_summary, ingest_table, to_json
from omnidex.errors import InvalidSpecError
from omnidex.sources.local import expand_sources
from omnidex.types import IngestResult, IngestStatus


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(help="Files, folders (recursive) or glob patterns.")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection.")],
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="key=value attached to every object (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Ingest sources into a collection; bad files are reported, the good ones land."""
    target = state(ctx).db().collection(collection)
    files = expand_sources(paths)
    with Progress(
        TextColumn("[bold]ingesting[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("", total=len(files))

        def advance(result: IngestResult) -> None:
            bar.update(task, advance=1, description=result.source[-40:])

        results = target.ingest(files, metadata=_metadata(metadata), progress=advance)
    if as_json:
        console.print_json(to_json(results))
    else:
        console.print(ingest_table(results))
        console.print(ingest_summary(results))
    if any(r.status is IngestStatus.FAILED for r in results):
        raise typer.Exit(2)


def _metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidSpecError(f"--metadata {pair!r} is not key=value", field="metadata")
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values
