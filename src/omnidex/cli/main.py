"""The ``omnidex`` entry point: it runs the command line (:mod:`omnidex.cli.app`), and turns a typed
error into one red line (exit code 1) and Ctrl-C into one yellow line (exit code 130), never a
traceback.

Nothing heavy is imported here, so that a Ctrl-C while the command line itself loads is caught
like any other.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from omnidex.pipeline import interrupts

INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C, as shells give it (128 + SIGINT)."""


def run() -> None:
    """Run the command line on ``sys.argv`` and exit with its code."""
    interrupts.install()
    code: int | str | None = 0
    said: str | None = None
    try:
        from omnidex.cli.app import app

        app(standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception as exc:
        code, said = _failed(exc)
    stopped = code == INTERRUPTED or interrupts.requested()
    # from here on a second Ctrl-C ends the process at once: everything has been put away
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(INTERRUPTED))
    if stopped:
        code = INTERRUPTED
        said = said or "[yellow]interrupted[/]"
    if said is not None:
        from omnidex.cli.context import errors

        errors.print(said, soft_wrap=True)
    sys.exit(code)


def _failed(exc: Exception) -> tuple[int, str]:
    """Exit code and line of an exception that ended a command: typed ones say what was wrong, a
    storage fault (permission denied, disk full) what and where; others are raised again (a
    bug, whose traceback is wanted)."""
    from rich.markup import escape

    from omnidex.cli.context import Interrupted
    from omnidex.errors import OmnidexError

    if isinstance(exc, Interrupted):
        return INTERRUPTED, str(exc)
    if isinstance(exc, OmnidexError):
        field = exc.context.get("field")
        said = escape(exc.message) + (f" [dim](field: {escape(str(field))})[/]" if field else "")
        return 1, f"[red]error:[/] {said}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return 1, f"[red]error:[/] {escape((exc.strerror or str(exc)) + where)}"
    raise exc


def __getattr__(name: str) -> Any:
    """``omnidex.cli.main.app``: the Typer application, loaded when asked for."""
    if name == "app":
        from omnidex.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
