"""``omnidex ingest PATH... -c NAME``: ingest files, folders and globs with a progress bar."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnidex.cli.context import Interrupted, State, console, state
from omnidex.cli.progress import IngestBar
from omnidex.cli.render import failure_summary, ingest_summary, ingest_table, to_json
from omnidex.errors import InvalidSpecError
from omnidex.pipeline import interrupts
from omnidex.pipeline.ray_options import RayOptions
from omnidex.sources.local import expand_sources
from omnidex.types import IngestResult, IngestStatus

if TYPE_CHECKING:
    from omnidex.embedded import Runner


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
    runner: Annotated[
        str, typer.Option(help="Where extractors run: 'local' (this process) or 'ray'.")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster: ray://host:10001, host:6379 or auto [RAY_ADDRESS, else local]."
        ),
    ] = None,
    max_failures: Annotated[
        int | None,
        typer.Option(min=0, help="Ray runner: stop once more objects than this have failed."),
    ] = None,
) -> None:
    """Ingest sources into a collection; bad files are reported, the good ones land."""
    chosen = _runner(runner, address, max_failures)
    context = state(ctx)
    if chosen != "local" and context.server is not None:
        raise InvalidSpecError(
            "--runner ray ingests into a local data folder; a server chooses its own runner "
            "(omnidex serve --runner ray)",
            field="runner",
        )
    target = context.db().collection(collection)
    files = expand_sources(paths)
    with IngestBar(len(files), console, disable=as_json) as bar:
        try:
            with interrupts.guarded():
                if chosen == "local":
                    results = target.ingest(
                        files, metadata=parse_metadata(metadata), progress=bar.advance
                    )
                else:
                    local = context.local().collection(collection)
                    results = local.ingest(
                        files, parse_metadata(metadata), bar.advance, runner=chosen
                    )
                interrupts.checkpoint()  # a Ctrl-C swallowed after the last step still counts
        except KeyboardInterrupt:
            bar.stop()
            raise Interrupted(_interrupted(bar.done, len(files))) from None
    if as_json:
        console.print_json(to_json(results))
    else:
        console.print(ingest_table(results))
        console.print(ingest_summary(results))
        failures = failure_summary(results, _list_failed(context, collection))
        if failures:
            console.print(failures, soft_wrap=True)
    if any(r.status is IngestStatus.FAILED for r in results):
        raise typer.Exit(2)


def _interrupted(done: list[IngestResult], total: int) -> str:
    """The one line an interrupted ingest prints: what it did, and how to resume."""
    failed = sum(r.status is IngestStatus.FAILED for r in done)
    return (
        f"[yellow]interrupted:[/] {len(done)} of {total} files done"
        + (f" ({failed} failed)" if failed else "")
        + "; run the same command again to resume (done files are skipped)"
    )


def _list_failed(context: State, collection: str) -> str:
    """The command that lists this ingest's failures, pointed where the ingest went."""
    where = ["--server", context.server] if context.server else []
    if not where and context.data is not None:
        where = ["--data", str(context.data)]
    return shlex.join(["omnidex", *where, "object", "list", "-c", collection, "--status", "failed"])


def _runner(name: str, address: str | None, max_failures: int | None) -> Runner:
    if name == "ray":
        return RayOptions(address=address, max_failures=max_failures)
    if name != "local":
        raise InvalidSpecError(f"unknown runner {name!r}; 'local' or 'ray'", field="runner")
    if address is not None or max_failures is not None:
        raise InvalidSpecError("--address and --max-failures go with --runner ray", field="runner")
    return "local"


def parse_metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    """``["team=ops", "year=2024"]`` → a dict; a value that is JSON is read as JSON."""
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
