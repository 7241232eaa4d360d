"""What every command shares: the data folder option and opening the database once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from omnidex.embedded import Database

console = Console()
errors = Console(stderr=True)


@dataclass
class State:
    data: Path | None = None
    _db: Database | None = None

    def db(self) -> Database:
        if self._db is None:
            import omnidex

            self._db = omnidex.connect(self.data)
        return self._db


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
