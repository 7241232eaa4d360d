"""A thread-safe token-bucket rate limiter, one bucket per API key (or any other string).

Each key has a bucket of ``burst`` tokens that refills at ``per_minute / 60`` tokens a second. A
request takes one token; when none is left, :meth:`RateLimiter.check` says how many seconds until
one is, which is what the server answers as ``Retry-After`` (rounded up to whole seconds). A full
bucket is the same as no bucket, so full ones are dropped now and then: memory follows the keys
seen lately, not every key ever seen. The buckets live in one process's memory.

With a PostgreSQL catalog, :class:`SharedRateLimiter` keeps the same buckets in the database
instead (one row per key, updated in one statement on the database's clock), so that replicas
behind one load balancer allow a key ``per_minute`` in all, not ``per_minute`` each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from omnidex.store.catalog import SharedRateLimits

_MIN_PRUNE_AT = 1024


def _check_rate(per_minute: float, burst: int) -> None:
    if per_minute <= 0 or burst < 1:
        raise ValueError(f"need per_minute > 0 and burst >= 1, not {per_minute} and {burst}")


class Limiter(Protocol):
    def check(self, key_id: str) -> float | None:
        """None when the request is allowed, else the seconds to wait."""


class SharedRateLimiter:
    """The buckets of every replica, in the catalog's database."""

    def __init__(self, store: SharedRateLimits, per_minute: float, burst: int) -> None:
        _check_rate(per_minute, burst)
        self.store = store
        self.per_minute = per_minute
        self.burst = burst

    def check(self, key_id: str) -> float | None:
        return self.store.take_rate_token(key_id, self.per_minute, self.burst)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """At most ``burst`` requests at once per key, and ``per_minute`` a minute in the long run.

    ``clock`` gives seconds that never go back (:func:`time.monotonic`; tests pass a fake one).
    """

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _check_rate(per_minute, burst)
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._prune_at = _MIN_PRUNE_AT

    def check(self, key_id: str) -> float | None:
        """Take one request's token from ``key_id``'s bucket: None when allowed, else the
        seconds to wait before the next request can be allowed (nothing is taken then)."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key_id, now)
            allowed = tokens >= 1
            self._buckets[key_id] = _Bucket(tokens - 1 if allowed else tokens, now)
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            return None if allowed else (1 - tokens) / self._rate

    def __len__(self) -> int:
        """How many keys have a bucket in memory."""
        with self._lock:
            return len(self._buckets)

    def _tokens(self, key_id: str, now: float) -> float:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + max(0.0, now - bucket.at) * self._rate)

    def _prune(self, now: float) -> None:
        """Drop full buckets; prune again when twice as many keys are held."""
        full = [key for key in self._buckets if self._tokens(key, now) >= self.burst]
        for key in full:
            del self._buckets[key]
        self._prune_at = max(_MIN_PRUNE_AT, 2 * len(self._buckets))
