"""The token-bucket rate limiter, driven by a fake clock."""

from __future__ import annotations

import threading

import pytest

from omnidex.server.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_burst_then_the_wait_for_the_next_token(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.check("k") for _ in range(3)] == [None, None, None]
    assert limiter.check("k") == pytest.approx(1.0)
    clock.advance(0.25)
    assert limiter.check("k") == pytest.approx(0.75)
    clock.advance(0.75)
    assert limiter.check("k") is None
    assert limiter.check("k") == pytest.approx(1.0)


def test_a_refused_request_takes_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=30, burst=1, clock=clock)
    assert limiter.check("k") is None
    assert [limiter.check("k") for _ in range(5)] == [pytest.approx(2.0)] * 5
    clock.advance(2.0)
    assert limiter.check("k") is None


def test_the_bucket_refills_only_up_to_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    limiter.check("k")
    clock.advance(3600)
    assert [limiter.check("k") is None for _ in range(4)] == [True, True, True, False]


def test_keys_have_their_own_buckets(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    assert limiter.check("a") is None
    assert limiter.check("a") is not None
    assert limiter.check("b") is None


def test_the_long_run_rate_is_per_minute(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=120, burst=10, clock=clock)
    allowed = 0
    for _ in range(6000):  # ten minutes, a request every 0.1 s
        allowed += limiter.check("k") is None
        clock.advance(0.1)
    assert allowed == pytest.approx(10 + 10 * 120, abs=1)


def test_threads_share_a_bucket_safely(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=1, burst=50, clock=clock)
    allowed: list[bool] = []

    def work() -> None:
        results = [limiter.check("k") is None for _ in range(100)]
        allowed.extend(results)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 800 and sum(allowed) == 50


def test_full_buckets_are_forgotten(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    for i in range(3000):
        limiter.check(f"old{i}")
    clock.advance(10)
    for i in range(3000):
        limiter.check(f"new{i}")
    assert len(limiter) == 3000
    assert [limiter.check("old0") is None for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-5, 1), (60, 0)])
def test_bad_limits_are_refused(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute, burst)
