"""``omnidex search "QUERY" -c NAME`` (or ``--image shot.png``, or both): hybrid search, printed
as a table or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import hits_table, to_json


def search(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to search.")],
    query: Annotated[str | None, typer.Argument(help="What to look for, in plain words.")] = None,
    image: Annotated[
        Path | None,
        typer.Option(help="An image to search with: finds pictures, pages and scenes like it."),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many hits.")] = 10,
    where: Annotated[
        str | None,
        typer.Option(help="Filter, e.g. \"page >= 2 and kind = 'text'\" or \"team = 'infra'\"."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
) -> None:
    """Search a collection by text, by image, or both (vector + BM25, fused by reciprocal rank)."""
    found = state(ctx).db().collection(collection)
    hits = found.search(query, k=k, where=where, image=image)
    if as_json:
        console.print_json(to_json(hits))
    elif hits:
        asked = " + ".join([repr(query)] * bool(query) + [f"image {image}"] * bool(image))
        console.print(hits_table(hits, title=f"{asked} in {collection}"))
    else:
        console.print("no hits")
