"""Run one decoding function in a child process, so that a hostile file cannot hurt the host.

FFmpeg is C: a crafted file may crash it, spin forever or allocate without bound. ``run_isolated``
calls a module-level function in a fresh interpreter (``python -m omnidex.media.sandbox``, talking
pickles over its stdin and stdout). Unlike ``multiprocessing``, this never re-imports the caller's
``__main__``, so a user's script needs no ``if __name__ == "__main__"`` guard. Every way the child
can fail becomes a typed error, while the parent goes on:

- the child runs past ``timeout_s`` → killed, ``LimitExceededError(limit="decode_timeout_s")``;
- with ``max_memory_bytes``, the child's data memory (heap and private mappings, ``RLIMIT_DATA``)
  is capped: an allocation past it fails in the child, never in the host, and the child's end —
  a ``MemoryError``, or the decoder aborting (PDFium aborts when an allocation fails) — is
  ``LimitExceededError(limit=memory_limit)``;
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


def run_isolated(
    fn: Callable[..., T],
    *args: Any,
    timeout_s: float,
    source: str,
    max_memory_bytes: int | None = None,
    memory_limit: str = "max_memory_bytes",
) -> T:
    """``fn(*args)`` in a child process; ``fn``, its arguments and its result must be picklable.
    ``memory_limit`` names the setting ``max_memory_bytes`` comes from, for the error."""
    cap = [] if max_memory_bytes is None else [str(max_memory_bytes)]
    child = subprocess.Popen(
        [sys.executable, "-m", "omnidex.media.sandbox", *cap],
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
    if max_memory_bytes is not None and _out_of_memory(child.returncode, out, err):
        raise LimitExceededError(
            f"{source}: decoding needed more than {max_memory_bytes} bytes of memory "
            f"({memory_limit})",
            source=source,
            limit=memory_limit,
        )
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


def _out_of_memory(returncode: int, out: bytes, err: bytes) -> bool:
    """Whether a capped child ended for want of memory: a MemoryError it reported, or a C
    library that aborts when an allocation fails (PDFium, FFmpeg)."""
    if returncode == 0 and out:
        status, payload = pickle.loads(out)
        return status == _OTHER_ERROR and str(payload).startswith("MemoryError")
    return returncode in (-signal.SIGABRT, -signal.SIGTRAP) or b"MemoryError" in err


def _cap_memory(max_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))


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
    if len(sys.argv) > 1:
        _cap_memory(int(sys.argv[1]))
    _child_main(sys.stdin.buffer, reply)
