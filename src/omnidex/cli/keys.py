"""``omnidex key create|list|revoke``: API keys of a namespace for the REST server.

A key is printed once, when it is created; only its hash is stored, so it cannot be shown again.
``create`` makes a key in ``--namespace`` (``default`` when absent) and says which. A key's id is
unique across namespaces, so ``list`` without ``--namespace`` shows the keys of every namespace
(with a namespace column) and ``revoke ID`` revokes that key wherever it is and says where;
``--namespace`` narrows either to one namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from omnidex.cli.context import console, errors, state
from omnidex.cli.render import to_json
from omnidex.types import ApiKeyInfo, KeyRole

if TYPE_CHECKING:
    from omnidex.embedded import Database

app = typer.Typer(help="API keys for the REST server, one namespace each.", no_args_is_help=True)

CreateNamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", help="The key's namespace (it must exist) [default: default]."
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", "-n", help="Only this namespace's keys [default: every one]."),
]


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A label for the key, e.g. who or what uses it.")],
    role: Annotated[
        KeyRole, typer.Option(help="read: read only; write: read and write.")
    ] = KeyRole.READ,
    namespace: CreateNamespaceOption = None,
) -> None:
    """Create an API key and print it, once: it cannot be shown again."""
    info, key = _db(ctx, namespace).create_key(name, role)
    errors.print(
        f"created {info.role} key [bold]{escape(info.name)}[/] (id {info.id})"
        f" in namespace {info.namespace}"
    )
    console.print(key, markup=False, highlight=False, soft_wrap=True)
    errors.print("[yellow]warning:[/] store this key now; it cannot be shown again.")


@app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The API keys of every namespace (or of one), revoked ones included; never their secrets."""
    infos = state(ctx).local().catalog.list_api_keys(namespace)
    if as_json:
        console.print_json(to_json(infos))
    elif infos:
        console.print(keys_table(infos))
    else:
        console.print("no keys")


@app.command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id, as `omnidex key list` shows it.")],
    namespace: NamespaceOption = None,
) -> None:
    """Revoke an API key for good, in whichever namespace it is (or only in --namespace)."""
    info = state(ctx).local().catalog.revoke_api_key(key_id, namespace)
    console.print(
        f"revoked key {info.id} ({escape(info.name)}) in namespace {escape(info.namespace)}"
    )


def keys_table(infos: Sequence[ApiKeyInfo]) -> Table:
    table = Table(expand=False)
    for column in ("id", "namespace", "name", "role", "created", "last used", "revoked"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.id,
            info.namespace,
            info.name,
            info.role.value,
            _when(info.created_at),
            _when(info.last_used_at),
            _when(info.revoked_at),
        )
    return table


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _db(ctx: typer.Context, namespace: str | None) -> Database:
    """The database, in ``namespace`` when one is given; nothing is created for a namespace."""
    from omnidex.embedded import Database

    db = state(ctx).local()
    if namespace is None:
        return db
    return Database(db.catalog, db.documents, db.settings, namespace)
