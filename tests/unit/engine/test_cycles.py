"""The cycle counter advances and converts to ns against the wall clock."""

from __future__ import annotations

import time

from numba import njit

from shriven.engine.cycles import cycles, ns_per_cycle


@njit
def _spin(n: int) -> tuple[int, float]:
    a = cycles()
    total = 0.0
    for i in range(n):
        total += i * 0.5
    return cycles() - a, total


def test_the_counter_advances_with_work() -> None:
    short, _ = _spin(10)
    long, _ = _spin(1_000_000)
    assert 0 <= short < long


def test_ns_per_cycle_matches_the_wall_clock() -> None:
    rate = ns_per_cycle(0.02)
    assert 0.01 < rate < 100.0  # 10 GHz .. 10 MHz: a counter, not noise
    t0 = time.perf_counter_ns()
    ticks, _ = _spin(3_000_000)
    wall = time.perf_counter_ns() - t0
    assert ticks * rate <= wall * 1.05 + 1_000  # within the call's wall time
