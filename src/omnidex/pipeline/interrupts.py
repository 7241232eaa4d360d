"""Ctrl-C that cannot be lost.

Python's own SIGINT handler raises ``KeyboardInterrupt`` at whatever line runs when the signal
lands. Where that is a weakref callback or a ``__del__`` (an import lock being released, say),
the interpreter prints "Exception ignored" and carries on as if nothing was pressed. Inside
:func:`guarded`, a SIGINT is also remembered, and :func:`checkpoint` — called by the runner
between steps — raises it again if it was swallowed, so the run stops at the next step at worst.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()


def _remember_and_raise(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def guarded() -> Iterator[None]:
    """Remember every SIGINT while the block runs; a no-op off the main thread, where Python
    cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGINT, _remember_and_raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT came inside :func:`guarded` and was lost."""
    if _requested.is_set():
        raise KeyboardInterrupt
