"""What every command shares: where the data is (a local folder, or a server) and opening it once.

Commands work on :meth:`State.db`: the embedded database of ``--data``, or with ``--server`` an
:class:`omnidex.Client` with the same methods. Commands that only make sense on the machine that
holds the data (API keys, the demo, serving) use :meth:`State.local`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from omnidex.embedded import Database
    from omnidex.remote import Client

console = Console()
errors = Console(stderr=True)


class Interrupted(Exception):
    """A command stopped by Ctrl-C that says how far it got: the entry point prints the message
    instead of its plain "interrupted", and exits 130."""


@dataclass
class State:
    data: Path | None = None
    server: str | None = None
    """The URL of an omnidex server to work on instead of ``data``."""
    api_key: str | None = None
    _db: Database | None = None
    _client: Client | None = None

    def db(self) -> Database | Client:
        """The server's API with ``--server``, else the local database."""
        if self.server is None:
            return self.local()
        if self._client is None:
            import omnidex

            self._client = omnidex.Client(self.server, self.api_key)
        return self._client

    def local(self) -> Database:
        """The embedded database in the data folder."""
        if self._db is None:
            import omnidex

            self._db = omnidex.connect(self.data)
        return self._db

    def close(self) -> None:
        for opened in (self._db, self._client):
            if opened is not None:
                opened.close()
        self._db = self._client = None


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
