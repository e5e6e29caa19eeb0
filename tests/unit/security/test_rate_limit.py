"""Token buckets: burst then refusal with the right retry time, refill, isolation, threads, eviction."""

from __future__ import annotations

import threading

import pytest

from shriven.security.rate_limit import RateDecision, RateLimiter


class FakeClock:
    """A settable monotonic clock so refill is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_burst_then_refusal_with_retry_after(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    decisions = [limiter.acquire("alice") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    refused = limiter.acquire("alice")
    assert refused == RateDecision(allowed=False, remaining=0, retry_after_s=0.5, limit=3)
    clock.now += 0.2  # 0.4 tokens: still short by 0.6 -> 0.3 s
    refused = limiter.acquire("alice")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(0.3)


def test_retry_after_is_honest(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=4.0, burst=1, clock=clock)
    assert limiter.acquire("k").allowed
    wait = limiter.acquire("k").retry_after_s
    clock.now += wait * 0.99
    assert not limiter.acquire("k").allowed
    clock.now += wait  # well past the promised time
    assert limiter.acquire("k").allowed


def test_refill_caps_at_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=5, clock=clock)
    for _ in range(5):
        limiter.acquire("k")
    clock.now += 2.0
    assert [limiter.acquire("k").allowed for _ in range(3)] == [True, True, False]
    clock.now += 3600.0
    assert sum(limiter.acquire("k").allowed for _ in range(10)) == 5


def test_cost(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=10, clock=clock)
    assert limiter.acquire("k", cost=7).remaining == 3
    decision = limiter.acquire("k", cost=5)
    assert not decision.allowed
    assert decision.retry_after_s == pytest.approx(2.0)
    for bad in (0, -1, 11):
        with pytest.raises(ValueError, match="cost"):
            limiter.acquire("k", cost=bad)


def test_keys_are_independent(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=clock)
    assert [limiter.acquire("a").allowed for _ in range(3)] == [True, True, False]
    assert [limiter.acquire("b").allowed for _ in range(3)] == [True, True, False]


def test_clock_stepping_back_refills_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock=clock)
    limiter.acquire("k")
    clock.now -= 100
    assert not limiter.acquire("k").allowed


def test_threads_never_exceed_burst_when_clock_frozen(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=50, clock=clock)
    allowed = [0] * 8
    barrier = threading.Barrier(8)

    def hammer(slot: int) -> None:
        barrier.wait()
        for _ in range(200):
            allowed[slot] += limiter.acquire("shared").allowed

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


def test_eviction_drops_idle_full_buckets(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=clock, max_keys=3)
    for key in "abc":
        limiter.acquire(key)
    clock.now += 10  # a, b, c are full again
    limiter.acquire("d")
    assert len(limiter) == 3
    # The evicted key "a" restarts with a full bucket, which is what it had anyway.
    assert limiter.acquire("a").remaining == 1


def test_eviction_keeps_buckets_in_debt_up_to_twice_the_bound(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=0.001, burst=1, clock=clock, max_keys=2)
    for key in "abcd":
        assert limiter.acquire(key).allowed
    assert len(limiter) == 4  # none full: all kept
    assert not limiter.acquire("a").allowed  # "a" is still limited
    limiter.acquire("e")
    assert len(limiter) == 4  # past 2 x max_keys the coldest goes regardless


@pytest.mark.parametrize(
    "kwargs",
    [{"rate_per_s": 0, "burst": 1}, {"rate_per_s": 1, "burst": 0}, {"rate_per_s": float("inf"), "burst": 1},
     {"rate_per_s": 1, "burst": 1, "max_keys": 0}],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        RateLimiter(**kwargs)  # type: ignore[arg-type]
