"""The ``omnidex`` command line: global options and the command groups.

``--data`` points the commands at a local folder; ``--server URL`` (with ``--api-key`` or
``OMNIDEX_API_KEY``) at an omnidex server instead, through :class:`omnidex.Client`, so every
command but the local-only ones (:data:`LOCAL_ONLY`) works the same on either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnidex.cli import (
    ask,
    collections,
    demo,
    doctor,
    documents,
    ingest,
    keys,
    migrate,
    namespaces,
    objects,
    retrievers,
    search,
    serve,
)
from omnidex.cli.context import state
from omnidex.errors import InvalidSpecError

app = typer.Typer(
    name="omnidex",
    help="Ingest video, images, audio, PDFs and text; search inside them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(collections.app, name="collection")
app.add_typer(objects.app, name="object")
app.add_typer(documents.app, name="document")
app.add_typer(retrievers.app, name="retriever")
app.add_typer(keys.app, name="key")
app.add_typer(namespaces.app, name="namespace")
app.command()(ingest.ingest)
app.command()(search.search)
app.command()(ask.ask)
app.command()(demo.demo)
app.command()(serve.serve)
app.command()(migrate.migrate)
app.command()(doctor.doctor)
app.command("eval")(retrievers.evaluate)

LOCAL_ONLY = {
    "key": "manages API keys",
    "namespace": "manages namespaces",
    "demo": "builds a local demo",
    "serve": "runs a server",
    "migrate": "migrates the catalog the server uses",
    "doctor": "repairs the catalog and documents",
}
"""Commands that work on the local data folder only, and why."""


@app.callback()
def main(
    ctx: typer.Context,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            envvar="OMNIDEX_HOME",
            help="Data folder of the embedded database \\[default: ~/.omnidex].",
            file_okay=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="Work on an omnidex server (e.g. http://127.0.0.1:8000) instead of --data.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="OMNIDEX_API_KEY",
            help="API key for --server (`omnidex key create` makes one where the server runs).",
        ),
    ] = None,
) -> None:
    if server is not None and ctx.invoked_subcommand in LOCAL_ONLY:
        raise InvalidSpecError(
            f"`omnidex {ctx.invoked_subcommand}` {LOCAL_ONLY[ctx.invoked_subcommand]} in a local "
            "data folder: run it without --server, where the data lives",
            field="server",
        )
    current = state(ctx)
    current.data, current.server, current.api_key = data, server, api_key
    ctx.call_on_close(current.close)
