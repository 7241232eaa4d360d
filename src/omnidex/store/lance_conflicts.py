"""Retrying Lance commits that lost a race to another writer of the same table.

Lance commits optimistically: a write whose commit finds that another one (of this process or
any other) committed first, and touched what it touched, fails with a "commit conflict". The
write committed nothing, so :func:`retrying` runs it again from the table's latest version,
:data:`ATTEMPTS` times in all with jittered exponential backoff, and then raises a
:class:`~omnidex.errors.StoreConflictError`. Other errors pass through unchanged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from omnidex.errors import StoreConflictError

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 8
FIRST_WAIT_S = 0.02
"""The wait before the first retry; each next one waits about twice as long (2.5 s in all)."""


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is Lance saying another commit won the race."""
    return isinstance(exc, RuntimeError | OSError | ValueError) and (
        "commit conflict" in str(exc).lower()
    )


def retrying(
    action: Callable[[], T],
    what: str,
    on_retry: Callable[[], Any] | None = None,
    **context: Any,
) -> T:
    """``action()``, run again while it fails with a commit conflict (``on_retry()`` first, to
    drop what it read from the version it lost on)."""
    attempt = 0
    while True:
        try:
            return action()
        except (RuntimeError, OSError, ValueError) as exc:
            if not is_conflict(exc):
                raise
            attempt += 1
            if attempt == ATTEMPTS:
                raise StoreConflictError(
                    f"{what} kept conflicting with other writers ({ATTEMPTS} tries); "
                    "nothing of it was written, try again",
                    **context,
                ) from None
            log.debug("%s: commit conflict, retrying: %s", what, exc)
        time.sleep(FIRST_WAIT_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        if on_retry is not None:
            on_retry()
