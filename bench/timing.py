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


def interleaved_best(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best wall time of each contender over ``rounds`` rounds that run them in turn.

    Interleaving gives every contender the same share of a drifting machine load, which a
    contender-after-contender loop does not (measured here: ratios moved 1.7x-2.5x run to run).
    """
    for fn in contenders.values():
        fn()
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
