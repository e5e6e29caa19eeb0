"""Retry with exponential backoff and a circuit breaker, for any call to a remote venue.

Generic on purpose: the ccxt market-data connector uses it, and the execution router reuses it
for venues. Time is injected (a monotonic ``clock`` in seconds and a ``sleep`` function), so
tests run instantly and backtests run on simulated time; randomness (the jitter) comes from an
injected :class:`random.Random`.

Only transient errors are retried (:func:`is_transient_exchange_error`: ccxt's network errors,
timeouts, exchange-not-available and rate limits). Everything else (authentication, bad symbol,
bad request, a bug in our code) is raised at once. Note for order placement: a timed-out
``create_order`` may have reached the venue, so the router must pass its own ``is_retryable``
(or reconcile) rather than blindly retry it.

Every retry and every breaker transition is logged on the ``shriven.marketdata.resilience``
logger with counts, delays and the error *class* only: exception messages are never logged,
because ccxt puts request URLs (and, for signed calls, their query strings) into them.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger("shriven.marketdata.resilience")

T = TypeVar("T")

#: Largest exponent used for the backoff (2**60 s is far beyond any cap; avoids float overflow).
_MAX_EXPONENT = 60


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a failed call is retried.

    ``max_retries`` retries follow the first attempt (so at most ``max_retries + 1`` calls).
    Before retry ``n`` (0-based) the caller sleeps ``min(backoff_max_s, backoff_base_s * 2**n)``,
    or with ``jitter`` ("full jitter") a uniform random delay in ``[0, that]``.
    """

    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if not (self.backoff_base_s >= 0 and math.isfinite(self.backoff_base_s)):
            raise ValueError(f"backoff_base_s must be finite and >= 0, got {self.backoff_base_s}")
        if not (self.backoff_max_s >= 0 and math.isfinite(self.backoff_max_s)):
            raise ValueError(f"backoff_max_s must be finite and >= 0, got {self.backoff_max_s}")

    def backoff_cap_s(self, retry: int) -> float:
        """Upper bound of the delay before retry number ``retry`` (0-based), without jitter."""
        if retry < 0:
            raise ValueError(f"retry must be >= 0, got {retry}")
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(retry, _MAX_EXPONENT))

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """The delay before retry number ``retry`` (0-based): the cap, or full jitter below it."""
        cap = self.backoff_cap_s(retry)
        if not self.jitter:
            return cap
        return min(cap, max(0.0, rng.uniform(0.0, cap)))


class CircuitState(enum.Enum):
    """State of a :class:`CircuitBreaker`."""

    #: Calls pass; consecutive failures are counted.
    CLOSED = "closed"
    #: Calls are rejected with :class:`CircuitOpenError` until ``reset_s`` has passed.
    OPEN = "open"
    #: One trial call is let through; its success closes the breaker, its failure re-opens it.
    HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """A call was rejected without being made, because the circuit breaker is open."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"circuit {name!r} is open; next trial call in {retry_in_s:.3f}s")
        self.name = name
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """Stops calling a failing remote after ``failure_threshold`` consecutive failures.

    CLOSED -> OPEN after ``failure_threshold`` consecutive failures; OPEN rejects every call
    (:meth:`allow` raises :class:`CircuitOpenError`) until ``reset_s`` seconds of ``clock`` have
    passed; then the next call is let through alone as a trial (HALF_OPEN; concurrent calls are
    still rejected). The trial's success closes the breaker, its failure opens it again for
    another ``reset_s``. An outcome recorded with :meth:`record_neutral` (the remote answered, but
    with an error that says nothing about its health) releases a trial without a transition.

    State lives in the instance (one breaker per venue connection); nothing is global.
    """

    def __init__(
        self,
        failure_threshold: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
        name: str = "breaker",
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if not (reset_s >= 0 and math.isfinite(reset_s)):
            raise ValueError(f"reset_s must be finite and >= 0, got {reset_s}")
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self.name = name
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        """The current state (an OPEN breaker whose reset time has passed reports HALF_OPEN)."""
        if self._state is CircuitState.OPEN and self._reset_elapsed():
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded since the last success."""
        return self._consecutive_failures

    def allow(self) -> None:
        """Admit one call, or raise :class:`CircuitOpenError` without making it."""
        if self._state is CircuitState.CLOSED:
            return
        if self._state is CircuitState.OPEN:
            if not self._reset_elapsed():
                raise CircuitOpenError(self.name, self._opened_at + self.reset_s - self._clock())
            self._transition(CircuitState.HALF_OPEN)
        if self._trial_in_flight:
            raise CircuitOpenError(self.name, 0.0)
        self._trial_in_flight = True

    def record_success(self) -> None:
        """The admitted call succeeded: reset the failure count and close the breaker."""
        self._consecutive_failures = 0
        self._trial_in_flight = False
        if self._state is not CircuitState.CLOSED:
            self._transition(CircuitState.CLOSED)

    def record_failure(self) -> None:
        """The admitted call failed in a way that counts against the remote's health."""
        self._consecutive_failures += 1
        self._trial_in_flight = False
        if self._state is CircuitState.HALF_OPEN or (
            self._state is CircuitState.CLOSED
            and self._consecutive_failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._transition(CircuitState.OPEN)

    def record_neutral(self) -> None:
        """The admitted call ended with an error that is not the remote's fault: no transition."""
        self._trial_in_flight = False

    def _reset_elapsed(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_s

    def _transition(self, new: CircuitState) -> None:
        old = self._state
        self._state = new
        log = logger.warning if new is CircuitState.OPEN else logger.info
        log(
            "circuit %s: %s -> %s (consecutive failures %d/%d, reset after %.3fs)",
            self.name,
            old.value,
            new.value,
            self._consecutive_failures,
            self.failure_threshold,
            self.reset_s,
        )


@functools.cache
def _transient_ccxt_errors() -> tuple[type[BaseException], ...]:
    # imported lazily: users of this module that never talk to ccxt do not pay for its import
    import ccxt

    return (
        ccxt.NetworkError,
        ccxt.RequestTimeout,
        ccxt.ExchangeNotAvailable,
        ccxt.DDoSProtection,
        ccxt.RateLimitExceeded,
    )


def is_transient_exchange_error(exc: BaseException) -> bool:
    """True for errors a retry may cure: ccxt network errors, timeouts, unavailability, rate limits.

    ccxt's ``AuthenticationError``, ``BadSymbol``, ``BadRequest`` (any ``ExchangeError``) and
    every non-ccxt exception are permanent: retrying would fail the same way.
    """
    return isinstance(exc, _transient_ccxt_errors())


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    breaker: CircuitBreaker | None = None,
    sleep: Callable[[float], None] = time.sleep,
    is_retryable: Callable[[BaseException], bool] = is_transient_exchange_error,
    *,
    rng: random.Random | None = None,
    operation: str = "call",
) -> T:
    """Call ``fn`` through the breaker, retrying retryable errors with the policy's backoff.

    A retryable error counts as a breaker failure and, while retries remain, is followed by a
    sleep of ``policy.delay_s(n, rng)``; the last one is re-raised. If a failure with retries
    left opened the breaker, :class:`CircuitOpenError` (chained to the error) is raised at once,
    without sleeping. A non-retryable error is
    raised at once and does not count against the breaker. :class:`CircuitOpenError` (the breaker
    rejected the call without making it) is raised at once: an open breaker is not retried through.
    ``operation`` names the call in log lines; pass something without secrets (e.g.
    ``"fetch_trades BTC/USDT"``).
    """
    rng = rng if rng is not None else random.Random()
    retry = 0
    while True:
        if breaker is not None:
            breaker.allow()
        try:
            result = fn()
        except Exception as exc:
            if not is_retryable(exc):
                if breaker is not None:
                    breaker.record_neutral()
                raise
            if breaker is not None:
                breaker.record_failure()
            if retry >= policy.max_retries:
                logger.warning(
                    "%s failed after %d attempts with %s; giving up",
                    operation,
                    retry + 1,
                    type(exc).__name__,
                )
                raise
            if breaker is not None and breaker.state is CircuitState.OPEN:
                # no point sleeping towards a call the breaker would reject
                raise CircuitOpenError(breaker.name, breaker.reset_s) from exc
            delay = policy.delay_s(retry, rng)
            logger.warning(
                "%s failed with %s; retry %d/%d in %.3fs",
                operation,
                type(exc).__name__,
                retry + 1,
                policy.max_retries,
                delay,
            )
            sleep(delay)
            retry += 1
            continue
        except BaseException:
            # KeyboardInterrupt and the like: release a half-open trial, judge nothing
            if breaker is not None:
                breaker.record_neutral()
            raise
        if breaker is not None:
            breaker.record_success()
        return result
