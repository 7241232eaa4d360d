"""Run one decoding function in a child process, so that a hostile file cannot hurt the host.

FFmpeg is C: a crafted file may crash it, spin forever or allocate without bound. ``run_isolated``
calls a module-level function in a fresh child process (the ``forkserver`` start method: safe with
threads in the parent, cheaper than ``spawn``) and turns every way the child can fail into a typed
error, while the parent goes on:

- the child runs past ``timeout_s`` → killed, ``LimitExceededError(limit="decode_timeout_s")``;
- the child dies (signal, OOM kill, non-zero exit) → ``CorruptMediaError`` naming the signal;
- an ``OmnidexError`` raised in the child → the same class, message and context in the parent;
- any other exception in the child → ``CorruptMediaError`` with its message.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from omnidex.errors import CorruptMediaError, LimitExceededError, OmnidexError

T = TypeVar("T")

_CONTEXT = multiprocessing.get_context("forkserver")
_OK, _OMNIDEX_ERROR, _OTHER_ERROR = "ok", "omnidex_error", "other_error"


def run_isolated(fn: Callable[..., T], *args: Any, timeout_s: float, source: str) -> T:
    """``fn(*args)`` in a child process; ``fn``, its arguments and its result must be picklable."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child_main, args=(sender, fn, args), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            raise LimitExceededError(
                f"{source}: decoding took longer than {timeout_s:g} s (decode_timeout_s)",
                source=source,
                limit="decode_timeout_s",
            )
        try:
            status, payload = receiver.recv()
        except EOFError:
            child.join()
            raise CorruptMediaError(
                f"{source}: the decoder crashed ({_describe_exit(child.exitcode)})",
                source=source,
                exitcode=child.exitcode,
            ) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    return _unwrap(status, payload, source)


def _child_main(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The child's entry point: run ``fn`` and send back its result or its error, picklably."""
    try:
        message: tuple[str, Any] = (_OK, fn(*args))
    except OmnidexError as exc:
        message = (_OMNIDEX_ERROR, (type(exc), exc.message, exc.context))
    except Exception as exc:
        message = (_OTHER_ERROR, f"{type(exc).__name__}: {exc}")
    sender.send(message)
    sender.close()


def _unwrap(status: str, payload: Any, source: str) -> Any:
    """The child's result, or the error it reported raised again in the parent."""
    if status == _OK:
        return payload
    if status == _OMNIDEX_ERROR:
        cls, message, context = payload
        raise cls(message, **context)
    raise CorruptMediaError(f"{source}: cannot decode: {payload}", source=source)


def _describe_exit(exitcode: int | None) -> str:
    """``"killed by SIGSEGV"`` or ``"exit code 3"``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
