"""``omnidex object list|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import objects_table, to_json

app = typer.Typer(help="List and delete ingested objects.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    status: Annotated[
        str | None, typer.Option(help="pending, processing, succeeded or failed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a collection's objects with their status and errors."""
    records = state(ctx).db().collection(collection).objects(status)
    console.print_json(to_json(records)) if as_json else console.print(objects_table(records))


@app.command()
def delete(
    ctx: typer.Context,
    object_id: str,
    collection: Annotated[str, typer.Option("--collection", "-c")],
) -> None:
    """Delete an object and all its documents."""
    removed = state(ctx).db().collection(collection).delete_object(object_id)
    console.print(f"deleted {object_id} and its {removed} documents")
