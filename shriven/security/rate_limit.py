"""Per-principal token-bucket rate limits for the gateway: O(1) per request, thread-safe.

Each key owns a bucket of ``burst`` tokens refilled at ``rate_per_s``; a request costing ``cost``
passes if the bucket holds that many. Buckets are kept in least-recently-used order so that,
beyond ``max_keys``, idle buckets that have refilled completely (and so carry no state worth
keeping) are dropped from the cold end.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether one request may pass, what is left, and how long to wait before retrying."""

    allowed: bool
    remaining: int
    retry_after_s: float
    limit: int


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    """Token buckets keyed by principal (or client address), sharing one rate and burst."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if not (isinstance(rate_per_s, int | float) and math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError("rate_per_s must be a positive finite number")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError("burst must be a positive integer")
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError("max_keys must be a positive integer")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """Number of buckets held (bounded near ``max_keys``)."""
        return len(self._buckets)

    def acquire(self, key: str, cost: float = 1.0) -> RateDecision:
        """Take ``cost`` tokens from ``key``'s bucket if it holds them; never blocks."""
        if not (isinstance(cost, int | float) and 0 < cost <= self.burst):
            raise ValueError(f"cost must be in (0, burst={self.burst}]")
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._evict(now)
            else:
                self._buckets.move_to_end(key)
                self._refill(bucket, now)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return RateDecision(True, int(bucket.tokens), 0.0, self.burst)
            wait = (cost - bucket.tokens) / self.rate_per_s
            return RateDecision(False, int(bucket.tokens), wait, self.burst)

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = now - bucket.updated
        if elapsed > 0:  # a clock that steps back refills nothing
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated = now

    def _evict(self, now: float) -> None:
        """Drop cold buckets that are full again; past twice the bound, drop the coldest anyway."""
        buckets = self._buckets
        while len(buckets) > self.max_keys:
            key, bucket = next(iter(buckets.items()))
            self._refill(bucket, now)
            if bucket.tokens < self.burst and len(buckets) <= 2 * self.max_keys:
                return  # the coldest still carries debt: keep it (amortised O(1), bounded memory)
            del buckets[key]
