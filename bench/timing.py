"""The one timing rule of the benchmarks: the best wall time of a few calls."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int, warmup: bool = True) -> float:
    """Best wall time of ``repeat`` calls, after one untimed warm-up call unless ``warmup`` is off."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
