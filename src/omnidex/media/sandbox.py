"""Run one decoding function in a child process, so that a hostile file cannot hurt the host.

FFmpeg is C: a crafted file may crash it, spin forever or allocate without bound. ``run_isolated``
calls a module-level function in a fresh interpreter (``python -m omnidex.media.sandbox``, talking
pickles over its stdin and stdout). Unlike ``multiprocessing``, this never re-imports the caller's
``__main__``, so a user's script needs no ``if __name__ == "__main__"`` guard. Every way the child
can fail becomes a typed error, while the parent goes on:

- the child runs past ``timeout_s`` → killed, ``LimitExceededError(limit="decode_timeout_s")``;
- the child dies (signal, OOM kill, non-zero exit) → ``CorruptMediaError`` naming the signal;
- an ``OmnidexError`` raised in the child → the same class, message and context in the parent;
- any other exception in the child → ``CorruptMediaError`` with its message;
- the parent is interrupted (Ctrl-C) → the child is killed with it.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from omnidex.errors import CorruptMediaError, LimitExceededError, OmnidexError

T = TypeVar("T")

_OK, _OMNIDEX_ERROR, _OTHER_ERROR = "ok", "omnidex_error", "other_error"


def run_isolated(fn: Callable[..., T], *args: Any, timeout_s: float, source: str) -> T:
    """``fn(*args)`` in a child process; ``fn``, its arguments and its result must be picklable."""
    child = subprocess.Popen(
        [sys.executable, "-m", "omnidex.media.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = child.communicate(pickle.dumps((fn, args)), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise LimitExceededError(
            f"{source}: decoding took longer than {timeout_s:g} s (decode_timeout_s)",
            source=source,
            limit="decode_timeout_s",
        ) from None
    except BaseException:  # an interrupt (Ctrl-C) leaves no decoder running on its own
        child.kill()
        child.wait()
        raise
    if child.returncode != 0 or not out:
        last_line = (err.decode(errors="replace").strip().splitlines() or [""])[-1]
        why = _describe_exit(child.returncode)
        raise CorruptMediaError(
            f"{source}: the decoder crashed ({why}) {last_line}".strip(),
            source=source,
            exitcode=child.returncode,
        )
    status, payload = pickle.loads(out)
    return _unwrap(status, payload, source)


def _child_main(request: BinaryIO, reply: BinaryIO) -> None:
    """The child's side: read ``(fn, args)``, run it, write back its result or its error."""
    fn, args = pickle.load(request)
    try:
        message: tuple[str, Any] = (_OK, fn(*args))
    except OmnidexError as exc:
        message = (_OMNIDEX_ERROR, (type(exc), exc.message, exc.context))
    except Exception as exc:
        message = (_OTHER_ERROR, f"{type(exc).__name__}: {exc}")
    pickle.dump(message, reply)
    reply.flush()


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


if __name__ == "__main__":
    # stdout carries the reply alone: anything the function or FFmpeg prints goes to stderr
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _child_main(sys.stdin.buffer, reply)
