"""MarketMaker: prices, rounding, inventory skew, no crossing, position cap, requote threshold, tracking."""

from __future__ import annotations

import math
import random

import pytest

from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import Bar
from shriven.strategy.market_maker import MarketMaker
from shriven.testing.fake_context import FakeContext, FakeOrder


def make(**kwargs: float) -> tuple[MarketMaker, FakeContext]:
    params: dict = {
        "quote_size": 10.0,
        "half_spread_ticks": 2.0,
        "skew_ticks_per_unit": 0.1,
        "max_position": 50.0,
        "requote_ticks": 1,
    }
    params.update(kwargs)
    strategy = MarketMaker("mm", ("ACME",), **params)
    return strategy, FakeContext(strategy, tick_size=0.01, lot_size=1.0)


def prices(ctx: FakeContext) -> tuple[float | None, float | None]:
    """(bid price, ask price) of the working orders, None for a side not quoted."""
    bids = ctx.working("ACME", Side.BUY)
    asks = ctx.working("ACME", Side.SELL)
    assert len(bids) <= 1
    assert len(asks) <= 1
    return (bids[0].price if bids else None, asks[0].price if asks else None)


def only(ctx: FakeContext, side: Side) -> FakeOrder:
    (order,) = ctx.working("ACME", side)
    return order


def test_quotes_both_sides_around_the_microprice() -> None:
    strategy, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01, bid_size=5, ask_size=5)  # microprice 100.00
    bid, ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    assert (bid.price, ask.price) == (99.98, 100.02)
    assert (bid.quantity, ask.quantity) == (10.0, 10.0)
    assert (bid.tag, ask.tag) == ("bid", "ask")
    assert bid.order_type == OrderType.LIMIT
    assert strategy.working_ids("ACME") == (bid.client_order_id, ask.client_order_id)


@pytest.mark.parametrize(
    ("bid_size", "ask_size", "half_spread", "expected"),
    [
        # microprice (99.99 * 2 + 100.01 * 1) / 3 = 99.99667: bid 9998.67 down, ask 10000.67 up
        (1.0, 2.0, 1.0, (99.98, 100.01)),
        # microprice (99.99 * 1 + 100.01 * 2) / 3 = 100.00333: bid 9999.33 down, ask 10001.33 up
        (2.0, 1.0, 1.0, (99.99, 100.02)),
        # on the tick with a half-tick spread: 9998.5 down, 10001.5 up
        (1.0, 1.0, 1.5, (99.98, 100.02)),
        # exactly on the tick (100.00 / 0.01 must not become 9999.999...)
        (1.0, 1.0, 3.0, (99.97, 100.03)),
    ],
)
def test_rounds_bid_down_and_ask_up(
    bid_size: float, ask_size: float, half_spread: float, expected: tuple[float, float]
) -> None:
    _, ctx = make(half_spread_ticks=half_spread, skew_ticks_per_unit=0.0)
    ctx.feed_quote("ACME", 99.99, 100.01, bid_size=bid_size, ask_size=ask_size)
    assert prices(ctx) == expected


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0.0, (99.98, 100.02)),
        (10.0, (99.97, 100.01)),  # long 10 * 0.1 = 1 tick lower on both sides
        (25.0, (99.95, 100.00)),  # 2.5 ticks: 9995.5 down, 9999.5 up
        (-10.0, (99.99, 100.03)),  # short: both higher
    ],
)
def test_inventory_skews_both_quotes_against_the_position(
    position: float, expected: tuple[float, float]
) -> None:
    _, ctx = make()
    ctx.set_position("ACME", position)
    ctx.feed_quote("ACME", 99.90, 100.10)  # wide touch: no clamping
    assert prices(ctx) == expected


def test_a_bid_never_reaches_the_best_ask() -> None:
    _, ctx = make()
    ctx.set_position("ACME", -30.0)  # +3 ticks: bid 100.01 would take the ask
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert prices(ctx) == (100.00, 100.05)


def test_an_ask_never_reaches_the_best_bid() -> None:
    _, ctx = make()
    ctx.set_position("ACME", 30.0)  # -3 ticks: ask 99.99 would take the bid
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert prices(ctx) == (99.95, 100.00)


def test_one_tick_market_is_joined_not_crossed() -> None:
    _, ctx = make(half_spread_ticks=0.2, skew_ticks_per_unit=0.0)
    ctx.feed_quote("ACME", 99.99, 100.00, bid_size=1, ask_size=1)  # microprice 99.995
    assert prices(ctx) == (99.99, 100.00)


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (10.0, (99.98, 100.02)),  # a bid fill reaches 20 exactly: still quoted
        (11.0, (None, 100.02)),  # a bid fill would reach 21
        (-11.0, (99.98, None)),
        (25.0, (None, 100.02)),
    ],
)
def test_stops_quoting_the_side_that_would_pass_max_position(
    position: float, expected: tuple[float | None, float | None]
) -> None:
    _, ctx = make(max_position=20.0, skew_ticks_per_unit=0.0)
    ctx.set_position("ACME", position)
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert prices(ctx) == expected


def test_pulls_a_working_side_when_the_position_reaches_the_cap() -> None:
    _, ctx = make(max_position=20.0, skew_ticks_per_unit=0.0)
    ctx.set_position("ACME", 10.0)
    ctx.feed_quote("ACME", 99.99, 100.01)
    bid = only(ctx, Side.BUY)
    ctx.set_position("ACME", 15.0)  # e.g. a fill of another strategy's order
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert ctx.cancels == [bid.client_order_id]
    assert prices(ctx) == (None, 100.02)


def test_identical_quotes_do_not_churn() -> None:
    _, ctx = make()
    for _ in range(5):
        ctx.feed_quote("ACME", 99.99, 100.01)
    assert len(ctx.submitted) == 2
    assert ctx.cancels == []


def test_requotes_only_when_the_price_moved_by_requote_ticks() -> None:
    _, ctx = make(requote_ticks=3, skew_ticks_per_unit=0.0)
    ctx.feed_quote("ACME", 99.90, 100.10)  # fair 100.00: 99.98 / 100.02
    first_bid, first_ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    ctx.feed_quote("ACME", 99.92, 100.12)  # fair +2 ticks: below the threshold
    assert ctx.cancels == []
    assert prices(ctx) == (99.98, 100.02)
    ctx.feed_quote("ACME", 99.93, 100.13)  # fair +3 ticks
    assert ctx.cancels == [first_bid.client_order_id, first_ask.client_order_id]
    assert prices(ctx) == (100.01, 100.05)
    ctx.feed_quote("ACME", 99.91, 100.11)  # back 2 ticks from the new orders: kept
    assert prices(ctx) == (100.01, 100.05)
    assert len(ctx.submitted) == 4


def test_an_order_the_touch_moved_onto_is_replaced_below_the_threshold() -> None:
    _, ctx = make(requote_ticks=5, skew_ticks_per_unit=0.0)
    ctx.feed_quote("ACME", 99.99, 100.01)  # 99.98 / 100.02
    bid, ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    # fair 100.03: desired 100.01 / 100.05, 3 ticks each (< 5), but the bid is now 100.02 = our ask
    ctx.feed_quote("ACME", 100.02, 100.04)
    assert prices(ctx) == (99.98, 100.05)
    assert only(ctx, Side.BUY) is bid
    assert ctx.cancels == [ask.client_order_id]


def test_requote_threshold_is_per_side() -> None:
    _, ctx = make(requote_ticks=2)
    ctx.set_position("ACME", -30.0)  # +3 ticks
    ctx.feed_quote("ACME", 99.99, 100.01)  # bid 100.01 clamped to 100.00, ask 100.05
    bid, ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    assert (bid.price, ask.price) == (100.00, 100.05)
    # fair 100.01: bid 100.02 (moved 2 ticks: replaced), ask 100.06 (moved 1: kept)
    ctx.feed_quote("ACME", 99.99, 100.03)
    assert prices(ctx) == (100.02, 100.05)
    assert only(ctx, Side.SELL) is ask
    assert ctx.cancels == [bid.client_order_id]


@pytest.mark.parametrize(
    "kind",
    [
        OrderEventKind.CANCELED,
        OrderEventKind.REJECTED,
        OrderEventKind.DENIED,
        OrderEventKind.EXPIRED,
    ],
)
def test_an_order_that_is_gone_is_quoted_again(kind: OrderEventKind) -> None:
    strategy, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01)
    bid, ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    ctx.order_event(bid.client_order_id, kind)
    assert strategy.working_ids("ACME") == (None, ask.client_order_id)
    ctx.feed_quote("ACME", 99.99, 100.01)  # price unchanged, but the bid is gone
    new_bid = only(ctx, Side.BUY)
    assert new_bid.client_order_id != bid.client_order_id
    assert new_bid.price == 99.98
    assert only(ctx, Side.SELL) is ask
    assert ctx.cancels == []


def test_other_events_do_not_forget_the_order() -> None:
    strategy, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01)
    bid = only(ctx, Side.BUY)
    ctx.order_event(bid.client_order_id, OrderEventKind.ACCEPTED)
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert len(ctx.submitted) == 2
    assert strategy.working_ids("ACME")[0] == bid.client_order_id


def test_a_fill_requotes_at_once_with_the_new_skew() -> None:
    strategy, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01)
    bid, ask = only(ctx, Side.BUY), only(ctx, Side.SELL)
    ctx.fill(bid.client_order_id, 99.98)
    assert ctx.position("ACME") == 10.0
    # long 10: 1 tick lower; the filled bid is replaced, the ask moved 1 tick so it is too
    assert prices(ctx) == (99.97, 100.01)
    assert ctx.cancels == [ask.client_order_id]
    assert bid.client_order_id not in strategy.working_ids("ACME")


def test_a_partial_fill_keeps_the_order_until_it_is_done() -> None:
    strategy, ctx = make(skew_ticks_per_unit=0.0)
    ctx.feed_quote("ACME", 99.99, 100.01)
    ask = only(ctx, Side.SELL)
    ctx.fill(ask.client_order_id, 100.02, 4)
    assert only(ctx, Side.SELL) is ask
    assert len(ctx.submitted) == 2
    ctx.fill(ask.client_order_id, 100.02, 6)
    new_ask = only(ctx, Side.SELL)
    assert new_ask.client_order_id != ask.client_order_id
    assert new_ask.price == 100.02
    assert strategy.working_ids("ACME")[1] == new_ask.client_order_id
    assert ctx.position("ACME") == -10.0


def test_fill_without_a_book_only_forgets() -> None:
    strategy, ctx = make()
    ctx.feed_bar(_bar(100.0))  # no quote: quoted around the close
    bid = only(ctx, Side.BUY)
    ctx.fill(bid.client_order_id, bid.price)
    assert strategy.working_ids("ACME")[0] is None
    assert len(ctx.submitted) == 2


def test_one_sided_book_pulls_both_quotes() -> None:
    strategy, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01)
    ids = strategy.working_ids("ACME")
    ctx.feed_quote("ACME", 99.99, math.nan, ask_size=0.0)
    assert ctx.cancels == list(ids)
    assert ctx.working() == []


def _bar(close: float) -> Bar:
    return Bar(
        ts=0, end_ts=60, symbol="ACME", open=close, high=close, low=close, close=close,
        volume=1.0, vwap=close, trades=1,
    )  # fmt: skip


def test_bar_fallback_quotes_around_the_close_without_a_book() -> None:
    _, ctx = make()
    ctx.feed_bar(_bar(50.005))  # 5000.5 ticks: bid 4998.5 down, ask 5002.5 up
    assert prices(ctx) == (49.98, 50.03)


def test_bar_fallback_prefers_the_last_quote() -> None:
    _, ctx = make()
    ctx.set_quote("ACME", 99.99, 100.01)
    ctx.feed_bar(_bar(50.0))
    assert prices(ctx) == (99.98, 100.02)


def test_stop_cancels_everything_it_quotes() -> None:
    _, ctx = make()
    ctx.feed_quote("ACME", 99.99, 100.01)
    ctx.stop()
    assert ctx.working() == []
    assert len(ctx.cancels) == 2


def test_post_only_orders() -> None:
    _, ctx = make(post_only=True)
    ctx.feed_quote("ACME", 99.99, 100.01)
    assert {o.order_type for o in ctx.working()} == {OrderType.POST_ONLY}


def test_other_symbols_are_ignored() -> None:
    _, ctx = make()
    ctx.feed_quote("BOLT", 9.99, 10.01)
    assert ctx.submitted == []


def test_symbols_are_quoted_independently_with_their_own_tick() -> None:
    strategy = MarketMaker(
        "mm",
        ("ACME", "BOLT"),
        quote_size=1,
        half_spread_ticks=1,
        max_position=5,
        skew_ticks_per_unit=1,
    )
    ctx = FakeContext(strategy, tick_sizes={"BOLT": 0.05})
    ctx.set_position("BOLT", 1.0)
    ctx.feed_quote("ACME", 99.99, 100.01)
    ctx.feed_quote("BOLT", 9.95, 10.05)  # fair 10.00 = 200 ticks, skew 1 tick lower
    acme = sorted(o.price for o in ctx.working("ACME"))
    bolt = sorted(o.price for o in ctx.working("BOLT"))
    assert acme == [99.99, 100.01]
    assert bolt == [9.9, 10.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quote_size": 0.0}, "quote_size"),
        ({"half_spread_ticks": 0.0}, "half_spread_ticks"),
        ({"skew_ticks_per_unit": -1.0}, "skew_ticks_per_unit"),
        ({"max_position": 5.0}, "max_position"),
        ({"requote_ticks": 0}, "requote_ticks"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make(**kwargs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_hold_over_a_random_session(seed: int) -> None:
    """Seeded walk of quotes, fills and venue cancels: no cross, cap kept, ids tracked exactly."""
    rng = random.Random(seed)
    strategy, ctx = make(max_position=30.0, skew_ticks_per_unit=0.2, requote_ticks=2)
    mid_ticks = 10_000
    for step in range(2_000):
        mid_ticks += rng.choice((-2, -1, 0, 0, 1, 2))
        half = rng.choice((1, 1, 2, 3))
        bid, ask = (mid_ticks - half) / 100, (mid_ticks + half) / 100
        ctx.set_now(step)
        ctx.feed_quote("ACME", bid, ask, bid_size=rng.randint(1, 9), ask_size=rng.randint(1, 9))
        working = ctx.working("ACME")
        bid_id, ask_id = strategy.working_ids("ACME")
        assert {o.client_order_id for o in working} == {i for i in (bid_id, ask_id) if i}
        for order in working:
            assert order.price is not None
            if order.side == Side.BUY:
                assert order.price < ask
                assert ctx.position("ACME") + order.quantity <= 30.0
            else:
                assert order.price > bid
                assert ctx.position("ACME") - order.quantity >= -30.0
        event = rng.random()
        if working and event < 0.3:
            order = rng.choice(working)
            quantity = (
                rng.choice((order.remaining, 5.0)) if order.remaining > 5 else order.remaining
            )
            ctx.fill(order.client_order_id, order.price or 0.0, quantity)
        elif working and event < 0.35:
            ctx.order_event(rng.choice(working).client_order_id, OrderEventKind.CANCELED)
        assert abs(ctx.position("ACME")) <= 30.0
