"""Momentum: the EMA cross trades at the crossing bar and not before; EMAs match a hand computation."""

from __future__ import annotations

import pytest

from shriven.model.records import Bar
from shriven.strategy.momentum import Momentum
from shriven.testing.fake_context import FakeContext

MINUTE = 60_000_000_000
#: Up for the warm-up, a cross down at bar 6, a cross up at bar 10 (fast=2, slow=4; see below).
CLOSES = [10.0, 11.0, 12.0, 13.0, 14.0, 13.0, 12.0, 11.0, 10.0, 11.0, 12.0, 13.0]


def bar(symbol: str, close: float, i: int) -> Bar:
    return Bar(
        ts=i * MINUTE, end_ts=(i + 1) * MINUTE, symbol=symbol, open=close, high=close, low=close,
        close=close, volume=1.0, vwap=close, trades=1,
    )  # fmt: skip


def hand_emas(closes: list[float], span: int) -> list[float]:
    """EMA with alpha 2 / (span + 1) seeded with the first close, written out."""
    alpha = 2.0 / (span + 1)
    out = [closes[0]]
    for close in closes[1:]:
        out.append(alpha * close + (1 - alpha) * out[-1])
    return out


def run(
    strategy: Momentum, closes: list[float], symbol: str = "ACME"
) -> tuple[FakeContext, list[int]]:
    """Feed the closes; return the context and the bar index of each target."""
    ctx = FakeContext(strategy)
    trade_bars = []
    for i, close in enumerate(closes):
        before = len(ctx.targets)
        ctx.feed_bar(bar(symbol, close, i))
        trade_bars += [i] * (len(ctx.targets) - before)
    return ctx, trade_bars


def test_hand_emas_cross_where_the_test_says() -> None:
    fast, slow = hand_emas(CLOSES, 2), hand_emas(CLOSES, 4)
    signs = [(f > s) - (f < s) for f, s in zip(fast, slow, strict=True)]
    assert signs == [0, 1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1]
    # bar 6: fast 12.3896 < slow 12.4900; bar 10: fast 11.6097 > slow 11.4491
    assert fast[6] == pytest.approx(12.38957, abs=1e-5)
    assert slow[6] == pytest.approx(12.48998, abs=1e-5)


def test_strategy_emas_match_the_hand_computation() -> None:
    strategy = Momentum("mom", ("ACME",), fast=2, slow=4, quantity=100)
    fast, slow = hand_emas(CLOSES, 2), hand_emas(CLOSES, 4)
    ctx = FakeContext(strategy)
    assert strategy.emas("ACME") is None
    for i, close in enumerate(CLOSES):
        ctx.feed_bar(bar("ACME", close, i))
        assert strategy.emas("ACME") == pytest.approx((fast[i], slow[i]), rel=1e-12)


def test_trades_at_each_crossing_bar_and_not_before() -> None:
    strategy = Momentum("mom", ("ACME",), fast=2, slow=4, quantity=100)
    ctx, trade_bars = run(strategy, CLOSES)
    assert trade_bars == [6, 10]
    assert ctx.targets == [("ACME", -100.0), ("ACME", 100.0)]
    assert ctx.orders == {}


def test_long_only_goes_flat_instead_of_short() -> None:
    strategy = Momentum("mom", ("ACME",), fast=2, slow=4, quantity=100, allow_short=False)
    ctx, trade_bars = run(strategy, CLOSES)
    assert trade_bars == [6, 10]
    assert ctx.targets == [("ACME", 0.0), ("ACME", 100.0)]


def test_a_cross_inside_the_warm_up_is_not_traded() -> None:
    # fast=2, slow=4: bar 1 fast 9.333 < slow 9.6; bar 2 fast 10.444 > slow 10.16 (warm-up), then up
    closes = [10.0, 9.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    fast, slow = hand_emas(closes, 2), hand_emas(closes, 4)
    assert fast[1] < slow[1]
    assert fast[2] > slow[2]
    assert all(f > s for f, s in zip(fast[2:], slow[2:], strict=True))
    ctx, trade_bars = run(Momentum("mom", ("ACME",), fast=2, slow=4, quantity=100), closes)
    assert trade_bars == []


def test_the_first_bar_after_the_warm_up_trades_a_cross() -> None:
    # bars 0..3 warm up (slow=4) with fast above slow; bar 4 is the first that may trade
    closes = [10.0, 11.0, 12.0, 13.0, 8.0]
    fast, slow = hand_emas(closes, 2), hand_emas(closes, 4)
    assert fast[3] > slow[3]
    assert fast[4] < slow[4]
    ctx, trade_bars = run(Momentum("mom", ("ACME",), fast=2, slow=4, quantity=5), closes)
    assert trade_bars == [4]
    assert ctx.targets == [("ACME", -5.0)]


def test_equal_emas_keep_the_regime() -> None:
    # flat closes after an up move: fast and slow converge but never cross
    closes = [10.0, 11.0, 12.0, 13.0, 14.0] + [14.0] * 40
    ctx, trade_bars = run(Momentum("mom", ("ACME",), fast=2, slow=4, quantity=5), closes)
    assert trade_bars == []


def test_symbols_are_independent_and_filtered() -> None:
    strategy = Momentum("mom", ("ACME", "BOLT"), fast=2, slow=4, quantity=100)
    ctx = FakeContext(strategy)
    for i, close in enumerate(CLOSES):
        ctx.feed_bar(bar("ACME", close, i))
        ctx.feed_bar(bar("BOLT", 50.0 + i, i))  # steady uptrend: never crosses
        ctx.feed_bar(bar("CRUX", 100.0 - 10 * (i % 2), i))  # not traded
    assert ctx.targets == [("ACME", -100.0), ("ACME", 100.0)]
    assert strategy.emas("CRUX") is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fast": 4, "slow": 4, "quantity": 1},
        {"fast": 5, "slow": 4, "quantity": 1},
        {"fast": 0, "slow": 4, "quantity": 1},
        {"fast": 2, "slow": 4, "quantity": 0},
    ],
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="fast|quantity"):
        Momentum("mom", **kwargs)
