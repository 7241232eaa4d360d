"""``omnidex search "QUERY" -c NAME``: hybrid search, printed as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import hits_table, to_json


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to search.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many hits.")] = 10,
    where: Annotated[
        str | None,
        typer.Option(help="Filter, e.g. \"page >= 2 and kind = 'text'\" or \"team = 'infra'\"."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
) -> None:
    """Search a collection (vector + BM25, fused by reciprocal rank)."""
    hits = state(ctx).db().collection(collection).search(query, k=k, where=where)
    if as_json:
        console.print_json(to_json(hits))
    elif hits:
        console.print(hits_table(hits, title=f"{query!r} in {collection}"))
    else:
        console.print("no hits")
