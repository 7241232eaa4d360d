"""Ctrl-C that cannot be lost.

Python's own SIGINT handler raises ``KeyboardInterrupt`` at whatever line runs when the signal
lands. Where that is a weakref callback or a ``__del__`` (an import lock being released, say),
the interpreter prints "Exception ignored" and carries on as if nothing was pressed. Inside
:func:`guarded`, a SIGINT is also remembered, and :func:`checkpoint` — called by the runner
between steps — raises it again if it was swallowed, so the run stops at the next step at worst.
The command line (:func:`install`) remembers every SIGINT for the whole process, and hides the
"Exception ignored" report of one that was swallowed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()


def _remember_and_raise(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """From now on, remember every SIGINT of this process and report none that is swallowed (the
    command line's entry point; call it on the main thread)."""
    signal.signal(signal.SIGINT, _remember_and_raise)
    report = sys.unraisablehook

    def quiet(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            report(unraisable)

    sys.unraisablehook = quiet


def requested() -> bool:
    """Whether a SIGINT came since :func:`install` (or inside the current :func:`guarded`)."""
    return _requested.is_set()


@contextmanager
def guarded() -> Iterator[None]:
    """Remember every SIGINT while the block runs; a no-op off the main thread, where Python
    cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _remember_and_raise)
    outermost = previous is not _remember_and_raise
    if outermost:
        _requested.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if outermost:
            _requested.clear()


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT came inside :func:`guarded` and was lost; only on
    the main thread, the one Ctrl-C stops (a server's workers carry on until it shuts down)."""
    if _requested.is_set() and threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt
