"""SignalFollower: position clipping, weight -> quantity (price, lot rounding, cap), pending weights."""

from __future__ import annotations

import math

import pytest

from shriven.model.enums import TargetKind
from shriven.model.records import Bar, Signal
from shriven.strategy.signal_follower import SignalFollower
from shriven.testing.fake_context import FakeContext


def position(symbol: str, target: float, ts: int = 1) -> Signal:
    return Signal(ts=ts, symbol=symbol, target=target, kind=TargetKind.POSITION)


def weight(symbol: str, target: float, ts: int = 1) -> Signal:
    return Signal(ts=ts, symbol=symbol, target=target, kind=TargetKind.WEIGHT)


def bar(symbol: str, close: float, end_ts: int = 60) -> Bar:
    return Bar(
        ts=end_ts - 60, end_ts=end_ts, symbol=symbol, open=close, high=close, low=close,
        close=close, volume=1.0, vwap=close, trades=1,
    )  # fmt: skip


def make(
    max_position: float = math.inf, price_source: str = "microprice", **ctx_kwargs
) -> tuple[SignalFollower, FakeContext]:
    strategy = SignalFollower(
        "sf", ("ACME", "BOLT"), max_position=max_position, price_source=price_source
    )  # type: ignore[arg-type]
    ctx_kwargs.setdefault("equity", 1_000_000.0)
    return strategy, FakeContext(strategy, **ctx_kwargs)


@pytest.mark.parametrize(
    ("target", "expected"), [(200.0, 200.0), (800.0, 500.0), (-800.0, -500.0), (0.0, 0.0)]
)
def test_position_target_is_clipped(target: float, expected: float) -> None:
    _, ctx = make(max_position=500)
    ctx.feed_signal(position("ACME", target))
    assert ctx.targets == [("ACME", expected)]


def test_position_target_needs_no_quote() -> None:
    strategy, ctx = make()
    ctx.feed_signal(position("BOLT", -7.0))
    assert ctx.targets == [("BOLT", -7.0)]
    assert strategy.pending == {}


@pytest.mark.parametrize(
    ("weight_value", "lot", "expected"),
    [
        (0.1, 1.0, 1000.0),  # 0.1 * 1e6 / 100
        (0.10005, 1.0, 1000.0),  # 1000.5 rounds towards zero
        (-0.10005, 1.0, -1000.0),  # ... on both sides
        (0.1237, 10.0, 1230.0),
        (-0.1237, 10.0, -1230.0),
        (0.00009, 1.0, 0.0),  # less than a lot: flat
        (0.0, 1.0, 0.0),
    ],
)
def test_weight_becomes_lot_rounded_quantity(
    weight_value: float, lot: float, expected: float
) -> None:
    _, ctx = make(lot_size=lot)
    ctx.set_quote("ACME", 99.0, 101.0)  # equal sizes: microprice = mid = 100
    ctx.feed_signal(weight("ACME", weight_value))
    assert ctx.targets == [("ACME", expected)]


def test_fractional_lots_round_without_float_noise() -> None:
    _, ctx = make(equity=1_000.0, lot_size=0.1)
    ctx.set_quote("ACME", 99.0, 101.0)
    ctx.feed_signal(weight("ACME", 0.03))  # 0.3 units: 0.3 / 0.1 must count as 3 lots
    ctx.feed_signal(weight("ACME", -0.0549))  # -0.549 -> -0.5
    assert ctx.targets == [("ACME", 0.3), ("ACME", -0.5)]


def test_weight_quantity_is_clipped_to_max_position() -> None:
    _, ctx = make(max_position=500)
    ctx.set_quote("ACME", 99.0, 101.0)
    ctx.feed_signal(weight("ACME", 0.1))
    ctx.feed_signal(weight("ACME", -0.2))
    assert ctx.targets == [("ACME", 500.0), ("ACME", -500.0)]


def test_weight_uses_microprice_or_mid() -> None:
    # bid 99 x 3, ask 101 x 1: microprice (99 * 1 + 101 * 3) / 4 = 100.5, mid 100
    _, micro = make()
    micro.set_quote("ACME", 99.0, 101.0, bid_size=3, ask_size=1)
    micro.feed_signal(weight("ACME", 0.1))
    _, mid = make(price_source="mid")
    mid.set_quote("ACME", 99.0, 101.0, bid_size=3, ask_size=1)
    mid.feed_signal(weight("ACME", 0.1))
    assert micro.targets == [("ACME", 995.0)]  # 100_000 / 100.5 = 995.02
    assert mid.targets == [("ACME", 1000.0)]


def test_weight_reads_equity_when_it_acts() -> None:
    _, ctx = make()
    ctx.feed_signal(weight("ACME", 0.1))
    ctx.set_equity(2_000_000.0)
    ctx.feed_quote("ACME", 99.0, 101.0)
    assert ctx.targets == [("ACME", 2000.0)]


def test_weight_without_quote_waits_for_the_next_quote_of_its_symbol() -> None:
    strategy, ctx = make()
    ctx.feed_signal(weight("ACME", 0.1))
    ctx.feed_signal(weight("ACME", 0.05))  # replaces the first: only the latest waits
    assert ctx.targets == []
    assert strategy.pending == {"ACME": 0.05}
    ctx.feed_quote("BOLT", 49.0, 51.0)  # another symbol: nothing
    assert ctx.targets == []
    ctx.feed_quote("ACME", 199.0, 201.0)
    assert ctx.targets == [("ACME", 250.0)]  # 0.05 * 1e6 / 200
    ctx.feed_quote("ACME", 99.0, 101.0)  # acted on once
    assert ctx.targets == [("ACME", 250.0)]
    assert strategy.pending == {}


def test_weight_without_quote_is_priced_by_the_next_bar_close() -> None:
    _, ctx = make()
    ctx.feed_signal(weight("BOLT", -0.1))
    ctx.feed_bar(bar("ACME", 10.0))
    assert ctx.targets == []
    ctx.feed_bar(bar("BOLT", 40.0))
    assert ctx.targets == [("BOLT", -2500.0)]


def test_bar_prefers_a_quote_that_arrived_without_callback() -> None:
    _, ctx = make()
    ctx.feed_signal(weight("BOLT", 0.1))
    ctx.set_quote("BOLT", 49.0, 51.0)  # engine updated the book but runs on bars
    ctx.feed_bar(bar("BOLT", 40.0))
    assert ctx.targets == [("BOLT", 2000.0)]


def test_one_sided_quote_is_no_price() -> None:
    strategy, ctx = make()
    ctx.set_quote("ACME", 99.0, math.nan, ask_size=0.0)
    ctx.feed_signal(weight("ACME", 0.1))
    assert ctx.targets == []
    ctx.feed_quote("ACME", 99.0, math.nan, ask_size=0.0)
    assert ctx.targets == []
    assert strategy.pending == {"ACME": 0.1}
    ctx.feed_quote("ACME", 99.0, 101.0)
    assert ctx.targets == [("ACME", 1000.0)]


def test_position_signal_drops_a_pending_weight() -> None:
    strategy, ctx = make()
    ctx.feed_signal(weight("ACME", 0.1))
    ctx.feed_signal(position("ACME", 3.0))
    ctx.feed_quote("ACME", 99.0, 101.0)
    assert ctx.targets == [("ACME", 3.0)]
    assert strategy.pending == {}


def test_signals_of_other_symbols_are_ignored() -> None:
    _, ctx = make()
    ctx.set_quote("CRUX", 99.0, 101.0)
    ctx.feed_signal(position("CRUX", 5.0))
    ctx.feed_signal(weight("CRUX", 0.1))
    assert ctx.targets == []


def test_no_symbols_means_every_symbol() -> None:
    strategy = SignalFollower("sf")
    ctx = FakeContext(strategy)
    ctx.feed_signal(position("ANY", 5.0))
    assert ctx.targets == [("ANY", 5.0)]


@pytest.mark.parametrize(
    "kwargs", [{"max_position": 0.0}, {"max_position": -1.0}, {"price_source": "last"}]
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SignalFollower("sf", **kwargs)


@pytest.mark.parametrize("target", [math.nan, math.inf, -math.inf])
def test_non_finite_targets_are_skipped_and_counted(target: float) -> None:
    strategy, ctx = make()
    ctx.set_quote("ACME", 99.0, 101.0)
    ctx.feed_signal(position("ACME", target))
    ctx.feed_signal(weight("ACME", target))
    assert ctx.targets == []
    assert strategy.invalid_signals == 2
