"""MeanReversion: rolling z-score against statistics.pstdev, entries, exits and flips."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from shriven.model.records import Bar
from shriven.strategy.mean_reversion import MeanReversion
from shriven.testing.fake_context import FakeContext

#: window 3: z at bars 2.. = 0, -1.41, -0.63, 1.41, 1.24, 0.63, -1.41, -0.71, 0
CLOSES = [10.0, 10.0, 10.0, 7.0, 7.2, 10.0, 13.0, 12.8, 10.0, 10.0, 10.0]


def bar(symbol: str, close: float, i: int) -> Bar:
    return Bar(
        ts=i * 60, end_ts=(i + 1) * 60, symbol=symbol, open=close, high=close, low=close,
        close=close, volume=1.0, vwap=close, trades=1,
    )  # fmt: skip


def hand_z(closes: list[float], i: int, window: int) -> float:
    values = closes[i - window + 1 : i + 1]
    std = statistics.pstdev(values)
    return 0.0 if std == 0 else (closes[i] - statistics.fmean(values)) / std


def run(
    strategy: MeanReversion, closes: list[float]
) -> tuple[FakeContext, list[tuple[int, float]]]:
    ctx = FakeContext(strategy)
    trades = []
    for i, close in enumerate(closes):
        before = len(ctx.targets)
        ctx.feed_bar(bar("ACME", close, i))
        trades += [(i, target) for _, target in ctx.targets[before:]]
    return ctx, trades


def test_enters_exits_and_flips_at_the_thresholds() -> None:
    strategy = MeanReversion("mr", ("ACME",), window=3, entry_z=1.2, exit_z=0.3, quantity=10)
    _, trades = run(strategy, CLOSES)
    # 3: z -1.41 long; 5: z 1.41 flip short; 8: z -1.41 flip long; 10: z 0 exit
    assert trades == [(3, 10.0), (5, -10.0), (8, 10.0), (10, 0.0)]


def test_long_only_exits_instead_of_shorting() -> None:
    strategy = MeanReversion(
        "mr", ("ACME",), window=3, entry_z=1.2, exit_z=0.3, quantity=10, allow_short=False
    )
    _, trades = run(strategy, CLOSES)
    assert trades == [(3, 10.0), (5, 0.0), (8, 10.0), (10, 0.0)]


def test_nothing_before_a_full_window() -> None:
    strategy = MeanReversion("mr", ("ACME",), window=5, entry_z=1.0, exit_z=0.1, quantity=1)
    ctx = FakeContext(strategy)
    for i, close in enumerate([10.0, 1.0, 20.0, 2.0]):
        ctx.feed_bar(bar("ACME", close, i))
        assert math.isnan(strategy.zscore("ACME"))
    assert ctx.targets == []


def test_zscore_matches_statistics_over_a_long_random_walk() -> None:
    rng = random.Random(3)
    closes = [100.0]
    for _ in range(2_000):
        closes.append(closes[-1] + rng.gauss(0, 0.5))
    window = 7
    strategy = MeanReversion("mr", ("ACME",), window=window, entry_z=5.0, exit_z=0.1, quantity=1)
    ctx = FakeContext(strategy)
    for i, close in enumerate(closes):
        ctx.feed_bar(bar("ACME", close, i))
        if i >= window - 1:
            assert strategy.zscore("ACME") == pytest.approx(
                hand_z(closes, i, window), rel=1e-7, abs=1e-9
            )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 1, "quantity": 1},
        {"window": 3, "quantity": 0},
        {"window": 3, "quantity": 1, "entry_z": 1.0, "exit_z": 1.0},
        {"window": 3, "quantity": 1, "exit_z": -0.1},
    ],
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="window|quantity|exit_z"):
        MeanReversion("mr", **kwargs)
