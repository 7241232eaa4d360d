"""``omnidex document show``: one document's coordinates and every feature it holds."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import document_view

app = typer.Typer(
    help="Look at one document: its slide text, transcript, caption…", no_args_is_help=True
)


@app.command()
def show(
    ctx: typer.Context,
    doc_id: Annotated[
        str, typer.Argument(metavar="ID", help="A document id, as search --json prints.")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c")],
    as_json: Annotated[bool, typer.Option("--json", help="Every field, vectors included.")] = False,
) -> None:
    """Print a document's source, where it lies in it, and its features in full."""
    document = state(ctx).db().collection(collection).get(doc_id)
    if as_json:
        console.print_json(json.dumps(document.model_dump(mode="json", exclude={"thumbnail"})))
    else:
        console.print(document_view(document))
