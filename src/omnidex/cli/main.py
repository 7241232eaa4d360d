"""The ``omnidex`` command line: global options, the command groups, clean error messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from omnidex.cli import (
    ask,
    collections,
    demo,
    ingest,
    keys,
    objects,
    retrievers,
    search,
    serve,
)
from omnidex.cli.context import errors, state
from omnidex.errors import OmnidexError

app = typer.Typer(
    name="omnidex",
    help="Ingest video, images, audio, PDFs and text; search inside them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(collections.app, name="collection")
app.add_typer(objects.app, name="object")
app.add_typer(retrievers.app, name="retriever")
app.add_typer(keys.app, name="key")
app.command()(ingest.ingest)
app.command()(search.search)
app.command()(ask.ask)
app.command()(demo.demo)
app.command()(serve.serve)
app.command("eval")(retrievers.evaluate)


@app.callback()
def main(
    ctx: typer.Context,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            envvar="OMNIDEX_HOME",
            help="Data folder of the embedded database [default: ~/.omnidex].",
            file_okay=False,
        ),
    ] = None,
) -> None:
    state(ctx).data = data


def run() -> None:
    """Entry point: typed errors become one red line and exit code 1, never a traceback."""
    try:
        app(standalone_mode=True)
    except OmnidexError as exc:
        field = exc.context.get("field")
        errors.print(
            f"[red]error:[/] {exc.message}" + (f" [dim](field: {field})[/]" if field else "")
        )
        sys.exit(1)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        sys.exit(130)
