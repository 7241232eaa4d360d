"""``omnidex object list|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import console, errors, state
from omnidex.cli.render import objects_table, to_json

app = typer.Typer(help="List and delete ingested objects.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    status: Annotated[
        str | None, typer.Option(help="pending, processing, succeeded or failed.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many objects [all of them].")
    ] = None,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a collection's objects with their status and errors, in order of ingest."""
    target = state(ctx).db().collection(collection)
    records = target.objects(status, limit, offset)
    total = target.count_objects(status)
    if as_json:
        console.print_json(to_json(records))
    else:
        console.print(objects_table(records))
    if not as_json or len(records) < total:
        (errors if as_json else console).print(_summary(offset, len(records), total))


@app.command()
def delete(
    ctx: typer.Context,
    object_id: str,
    collection: Annotated[str, typer.Option("--collection", "-c")],
) -> None:
    """Delete an object and all its documents."""
    removed = state(ctx).db().collection(collection).delete_object(object_id)
    console.print(f"deleted {object_id} and its {removed} documents")


def _summary(offset: int, shown: int, total: int) -> str:
    """Which objects were listed, of how many, and how to list the next ones."""
    if shown == total:
        return f"{total:,} objects"
    if not shown:
        return f"no objects from offset {offset:,}; the collection has {total:,}"
    text = f"objects {offset + 1:,}–{offset + shown:,} of {total:,}"
    following = offset + shown
    return f"{text}; the next ones: --offset {following}" if following < total else text
