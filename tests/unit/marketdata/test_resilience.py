"""Retry policy, circuit breaker and call_with_retry, on a fake clock and a recording sleep."""

from __future__ import annotations

import logging
import random

import ccxt
import pytest

from shriven.marketdata.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    RetryPolicy,
    call_with_retry,
    is_transient_exchange_error,
)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A callable that raises the scripted errors first, then returns ``value``."""

    def __init__(self, errors: list[BaseException], value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def no_jitter(max_retries: int = 5, base: float = 0.5, cap: float = 30.0) -> RetryPolicy:
    return RetryPolicy(
        max_retries=max_retries, backoff_base_s=base, backoff_max_s=cap, jitter=False
    )


# --- RetryPolicy --------------------------------------------------------------------------------


def test_backoff_doubles_then_stays_at_the_cap() -> None:
    policy = no_jitter(base=0.5, cap=5.0)
    assert [policy.backoff_cap_s(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_of_a_huge_retry_number_is_the_cap_not_an_overflow() -> None:
    assert no_jitter(cap=7.0).backoff_cap_s(10_000) == 7.0


def test_full_jitter_stays_within_zero_and_the_cap_and_is_reproducible() -> None:
    policy = RetryPolicy(max_retries=8, backoff_base_s=1.0, backoff_max_s=10.0, jitter=True)
    first = [policy.delay_s(n, random.Random(7)) for n in range(8)]
    again = [policy.delay_s(n, random.Random(7)) for n in range(8)]
    assert first == again
    rng = random.Random(1)
    for n in range(8):
        for _ in range(50):
            assert 0.0 <= policy.delay_s(n, rng) <= policy.backoff_cap_s(n)
    # jitter really varies the delay
    assert len({policy.delay_s(3, rng) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"backoff_base_s": -0.1}, {"backoff_max_s": float("inf")}],
)
def test_retry_policy_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)


# --- which errors retry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ccxt.NetworkError,
        ccxt.RequestTimeout,
        ccxt.ExchangeNotAvailable,
        ccxt.OnMaintenance,
        ccxt.DDoSProtection,
        ccxt.RateLimitExceeded,
    ],
)
def test_transient_ccxt_errors_are_retryable(error: type[Exception]) -> None:
    assert is_transient_exchange_error(error("boom"))


@pytest.mark.parametrize(
    "error",
    [
        ccxt.AuthenticationError("bad key"),
        ccxt.BadSymbol("no such market"),
        ccxt.BadRequest("bad"),
        ccxt.InsufficientFunds("poor"),
        ccxt.ExchangeError("generic"),
        ValueError("our bug"),
    ],
)
def test_permanent_errors_are_not_retryable(error: Exception) -> None:
    assert not is_transient_exchange_error(error)


# --- call_with_retry ----------------------------------------------------------------------------


def test_retries_transient_errors_then_returns_with_growing_delays() -> None:
    sleeps: list[float] = []
    fn = Flaky([ccxt.RequestTimeout("t"), ccxt.NetworkError("n"), ccxt.RateLimitExceeded("r")])
    assert call_with_retry(fn, no_jitter(base=0.5), None, sleeps.append) == "ok"
    assert fn.calls == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    sleeps: list[float] = []
    fn = Flaky([ccxt.NetworkError(str(i)) for i in range(10)])
    with pytest.raises(ccxt.NetworkError, match="^3$"):
        call_with_retry(fn, no_jitter(max_retries=3, base=1.0, cap=3.0), None, sleeps.append)
    assert fn.calls == 4
    assert sleeps == [1.0, 2.0, 3.0]


def test_zero_retries_means_one_attempt() -> None:
    sleeps: list[float] = []
    fn = Flaky([ccxt.NetworkError("n")])
    with pytest.raises(ccxt.NetworkError):
        call_with_retry(fn, no_jitter(max_retries=0), None, sleeps.append)
    assert (fn.calls, sleeps) == (1, [])


@pytest.mark.parametrize(
    "error",
    [ccxt.AuthenticationError("k"), ccxt.BadSymbol("s"), ccxt.BadRequest("r"), KeyError("x")],
)
def test_permanent_error_surfaces_at_once_without_sleeping(error: Exception) -> None:
    sleeps: list[float] = []
    breaker = CircuitBreaker(2, 10.0, FakeClock())
    fn = Flaky([error])
    with pytest.raises(type(error)):
        call_with_retry(fn, no_jitter(), breaker, sleeps.append)
    assert (fn.calls, sleeps) == (1, [])
    assert breaker.consecutive_failures == 0
    assert breaker.state is CircuitState.CLOSED


def test_custom_is_retryable_decides() -> None:
    sleeps: list[float] = []
    fn = Flaky([KeyError("x")])
    result = call_with_retry(
        fn, no_jitter(), None, sleeps.append, lambda e: isinstance(e, KeyError)
    )
    assert result == "ok"
    assert sleeps == [0.5]


def test_jittered_sleeps_come_from_the_injected_rng() -> None:
    policy = RetryPolicy(max_retries=3, backoff_base_s=1.0, backoff_max_s=100.0, jitter=True)
    runs = []
    for _ in range(2):
        sleeps: list[float] = []
        fn = Flaky([ccxt.NetworkError("n")] * 3)
        call_with_retry(fn, policy, None, sleeps.append, rng=random.Random(42))
        runs.append(sleeps)
    assert runs[0] == runs[1]
    assert all(0 <= s <= cap for s, cap in zip(runs[0], [1.0, 2.0, 4.0], strict=True))


def test_retry_log_names_the_error_class_and_delay_but_not_the_message(caplog) -> None:
    caplog.set_level(logging.INFO, logger="shriven.marketdata.resilience")
    secret = "https://api.example.com/v3/order?apiKey=SECRET123&signature=abc"
    fn = Flaky([ccxt.NetworkError(f"binance GET {secret}")])
    call_with_retry(
        fn, no_jitter(base=0.25), None, lambda s: None, operation="fetch_trades BTC/USDT"
    )
    assert "NetworkError" in caplog.text
    assert "retry 1/5" in caplog.text
    assert "0.250s" in caplog.text
    assert "SECRET123" not in caplog.text
    assert "api.example.com" not in caplog.text
    assert all(r.name == "shriven.marketdata.resilience" for r in caplog.records)


# --- CircuitBreaker -----------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, 30.0, FakeClock())
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    breaker.allow()
    breaker.record_success()  # a success resets the count
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_open_breaker_rejects_without_calling_until_reset() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 30.0, clock, name="venue")
    fn = Flaky([ccxt.ExchangeNotAvailable("down")])
    with pytest.raises(ccxt.ExchangeNotAvailable):
        call_with_retry(fn, no_jitter(max_retries=0), breaker, lambda s: None)
    assert breaker.state is CircuitState.OPEN
    clock.now += 29.9
    with pytest.raises(CircuitOpenError, match="venue") as info:
        call_with_retry(fn, no_jitter(), breaker, lambda s: None)
    assert info.value.retry_in_s == pytest.approx(0.1)
    assert fn.calls == 1


def test_half_open_lets_one_trial_through_and_its_success_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10.0, clock)
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    clock.now += 10.0
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.allow()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.allow()  # a second call while the trial is in flight
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 0
    breaker.allow()


def test_failed_trial_reopens_for_another_full_reset_period() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.allow()
    breaker.record_failure()
    clock.now += 10.0
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 9.0
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    clock.now += 1.0
    breaker.allow()
    assert breaker.state is CircuitState.HALF_OPEN


def test_neutral_outcome_releases_the_trial_without_closing() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock)
    breaker.allow()
    breaker.record_failure()
    clock.now += 5.0
    with pytest.raises(ccxt.BadSymbol):
        call_with_retry(Flaky([ccxt.BadSymbol("x")]), no_jitter(), breaker, lambda s: None)
    assert breaker.state is CircuitState.HALF_OPEN
    assert call_with_retry(Flaky([]), no_jitter(), breaker, lambda s: None) == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_retries_stop_when_the_breaker_opens_midway() -> None:
    sleeps: list[float] = []
    breaker = CircuitBreaker(3, 60.0, FakeClock())
    fn = Flaky([ccxt.NetworkError("n")] * 10)
    with pytest.raises(CircuitOpenError):
        call_with_retry(fn, no_jitter(max_retries=10), breaker, sleeps.append)
    assert fn.calls == 3
    assert sleeps == [0.5, 1.0]  # no sleep towards a call the open breaker would reject


def test_breaker_transitions_are_logged(caplog) -> None:
    caplog.set_level(logging.INFO, logger="shriven.marketdata.resilience")
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock, name="ccxt:binance")
    breaker.allow()
    breaker.record_failure()
    clock.now += 5.0
    breaker.allow()
    breaker.record_success()
    messages = [r.getMessage() for r in caplog.records]
    assert any("ccxt:binance: closed -> open" in m for m in messages)
    assert any("open -> half_open" in m for m in messages)
    assert any("half_open -> closed" in m for m in messages)


@pytest.mark.parametrize(
    ("threshold", "reset_s", "match"), [(0, 1.0, "failure_threshold"), (1, -1.0, "reset_s")]
)
def test_breaker_rejects_nonsense(threshold: int, reset_s: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CircuitBreaker(threshold, reset_s, FakeClock())
