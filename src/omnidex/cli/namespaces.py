"""``omnidex namespace create|list``: the tenants of a data folder (each with its own collections,
retrievers and API keys)."""

from __future__ import annotations

import typer

from omnidex.cli.context import console, state

app = typer.Typer(
    help="Namespaces: tenants with their own collections and keys.", no_args_is_help=True
)


@app.command()
def create(ctx: typer.Context, name: str) -> None:
    """Create a namespace; then `omnidex key create NAME --namespace NS` gives it keys."""
    state(ctx).local().catalog.create_namespace(name)
    console.print(f"created namespace [bold]{name}[/]")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The namespaces of the data folder."""
    for name in state(ctx).local().catalog.list_namespaces():
        console.print(name, markup=False, highlight=False)
