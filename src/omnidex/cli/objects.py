"""``omnidex object list|update|delete``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from omnidex.cli.context import console, errors, state
from omnidex.cli.ingest import parse_metadata
from omnidex.cli.render import objects_table, to_json
from omnidex.errors import InvalidSpecError

app = typer.Typer(
    help="List ingested objects, change their metadata, delete them.", no_args_is_help=True
)


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
def update(
    ctx: typer.Context,
    object_id: str,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="key=value to set (repeatable)."),
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", "-r", help="A key to remove (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Change an object's metadata without extracting it again: set keys, remove keys."""
    target = state(ctx).db().collection(collection)
    record = target.update_metadata(object_id, parse_metadata(metadata), remove=remove or [])
    if as_json:
        console.print_json(to_json(record))
    else:
        console.print(f"updated {object_id}: metadata {json.dumps(record.metadata)}", markup=False)


@app.command()
def delete(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    object_id: Annotated[str | None, typer.Argument(help="The object to delete.")] = None,
    where: Annotated[
        str | None,
        typer.Option(help="Delete every object with a document matching this filter instead."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --where: only list what would go.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --where: do not ask.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete an object and all its documents, or with --where every object that has a
    document matching the filter (listed first; asks before deleting unless --yes)."""
    target = state(ctx).db().collection(collection)
    if (object_id is None) == (where is None):
        raise InvalidSpecError("give an object id or --where, not both", field="where")
    if object_id is not None:
        if dry_run:
            raise InvalidSpecError("--dry-run goes with --where", field="dry_run")
        removed = target.delete_object(object_id)
        console.print(f"deleted {object_id} and its {removed} documents")
        return
    found = target.delete_objects(where, dry_run=True)
    if not dry_run and found.objects and not yes:
        if as_json:
            raise InvalidSpecError(
                "--json deletes with --yes only (or shows --dry-run)", field="yes"
            )
        console.print(objects_table(found.objects))
        typer.confirm(
            f"Delete these {len(found.objects)} objects and their {found.documents} documents?",
            abort=True,
        )
    done = found if dry_run or not found.objects else target.delete_objects(where)
    if as_json:
        console.print_json(done.model_dump_json())
        return
    verb = "would delete" if done.dry_run else "deleted"
    if dry_run and done.objects:
        console.print(objects_table(done.objects))
    console.print(f"{verb} {len(done.objects)} objects and their {done.documents} documents")


def _summary(offset: int, shown: int, total: int) -> str:
    """Which objects were listed, of how many, and how to list the next ones."""
    if shown == total:
        return f"{total:,} objects"
    if not shown:
        return f"no objects from offset {offset:,}; the collection has {total:,}"
    text = f"objects {offset + 1:,}–{offset + shown:,} of {total:,}"
    following = offset + shown
    return f"{text}; the next ones: --offset {following}" if following < total else text
