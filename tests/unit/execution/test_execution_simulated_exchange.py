"""SimulatedExchange: several symbols on one clock behind the ExecutionVenue interface."""

from __future__ import annotations

import math

import pytest
from execution_helpers import BASE, drain, make_exchange, make_feed, snapshot

from shriven.execution.simulated import SimulatedExchange
from shriven.execution.venue import ExecutionVenue, VenueOrder
from shriven.model.enums import Liquidity, OrderEventKind, OrderType, Side
from shriven.model.records import OrderRequest

K = OrderEventKind


def req(cid, symbol="AAA", side=Side.BUY, qty=100.0, price=100.00, otype=OrderType.LIMIT):
    return OrderRequest(
        client_order_id=cid, symbol=symbol, side=side, quantity=qty, price=price, order_type=otype
    )


@pytest.fixture
def two_symbols() -> SimulatedExchange:
    a = make_feed("AAA", BASE + [(30, 2, 1, 100.00, 0, False)], [(30, 100.00, 600, -1)])
    b = make_feed("BBB", snapshot(5, 1, [(50.00, 100)], [(50.02, 100)]))
    return make_exchange("sim", {"AAA": a, "BBB": b}, order_latency_ns=2, taker_fee=0.001)


def test_is_an_execution_venue(two_symbols):
    assert isinstance(two_symbols, ExecutionVenue)


def test_symbols_share_one_clock(two_symbols):
    ex = two_symbols
    assert ex.next_time() == 1
    ex.advance_to(10)
    assert ex.now == 10
    assert all(v.now == 10 for v in ex.venues.values())
    with pytest.raises(ValueError, match="back in time"):
        ex.advance_to(9)


def test_fill_events_carry_everything(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 50.02))
    ex.submit(req("o-2", "AAA", Side.BUY, 100, 100.00))
    events = drain(ex)
    assert [(e.client_order_id, e.kind) for e in events] == [
        ("o-1", K.ACCEPTED), ("o-1", K.FILLED), ("o-2", K.ACCEPTED), ("o-2", K.FILLED),
    ]  # fmt: skip
    fill = events[1]
    assert fill.symbol == "BBB"
    assert fill.venue == "sim"
    assert fill.price == 50.02
    assert fill.quantity == 10
    assert fill.fee == pytest.approx(50.02 * 10 * 0.001)
    assert fill.liquidity is Liquidity.TAKER
    assert fill.venue_order_id == "sim-0-1"  # name, start time (hex), number
    assert fill.ts == 12  # exchange time; seen at 14
    maker = events[3]
    assert maker.liquidity is Liquidity.MAKER
    assert maker.ts == 30
    assert len({e.trade_id for e in events if e.kind is K.FILLED}) == 2
    assert all(e.trade_id.startswith("sim-0-t") for e in events if e.kind is K.FILLED)
    assert ex.positions() == {"AAA": 100.0, "BBB": 10.0}
    assert [f.client_order_id for f in ex.fills_since(13)] == ["o-2"]


def test_outcomes_arrive_after_the_round_trip(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 50.00))
    ex.advance_to(13)
    assert ex.poll() == []
    ex.advance_to(14)
    (ack,) = ex.poll()
    assert ack.kind is K.ACCEPTED
    assert ack.ts == 12
    assert ex.open_orders() == [
        VenueOrder(client_order_id="o-1", symbol="BBB", side=Side.BUY, price=50.00,
                   quantity=10, venue_order_id="sim-0-1")
    ]  # fmt: skip


def test_unknown_symbol_is_rejected_on_next_poll_never_raised(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-9", "ZZZ"))
    (event,) = ex.poll()
    assert event.kind is K.REJECTED
    assert event.reason == "UNKNOWN_SYMBOL"
    assert event.ts == 10
    assert event.venue == "sim"


def test_duplicate_client_id_is_rejected(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 50.00))
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 50.00))
    events = drain(ex)
    assert [(e.kind, e.reason) for e in events] == [
        (K.REJECTED, "DUPLICATE_ORDER_ID"), (K.ACCEPTED, ""),
    ]  # fmt: skip


def test_cancel_modify_and_their_rejections(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 49.00))
    ex.advance_to(20)
    ex.modify("o-1", 49.50, 5)
    ex.advance_to(30)
    ex.cancel("o-1")
    ex.advance_to(40)
    ex.cancel("o-1")
    ex.cancel("never")
    ex.modify("never", 1.0, 1.0)
    events = drain(ex)
    assert [(e.kind, e.reason) for e in events] == [
        (K.ACCEPTED, ""), (K.UPDATED, ""), (K.CANCELED, "REQUESTED"),
        (K.CANCEL_REJECTED, "UNKNOWN_ORDER"), (K.MODIFY_REJECTED, "UNKNOWN_ORDER"),
        (K.CANCEL_REJECTED, "UNKNOWN_ORDER"),
    ]  # fmt: skip
    updated = events[1]
    assert (updated.price, updated.quantity) == (49.50, 5)
    assert events[2].quantity == 5
    assert ex.open_orders() == []


def test_venue_rejection_reason_is_the_enum_name(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("o-1", "BBB", Side.BUY, 10, 50.005))
    ex.submit(req("o-2", "BBB", Side.BUY, 10, 50.02, OrderType.POST_ONLY))
    events = drain(ex)
    assert [e.reason for e in events] == ["BAD_PRICE_TICK", "POST_ONLY_WOULD_CROSS"]


def test_market_order_remainder_and_nan_prices(two_symbols):
    ex = two_symbols
    ex.advance_to(10)
    ex.submit(req("m-1", "BBB", Side.SELL, 150, None, OrderType.MARKET))
    events = drain(ex)
    assert [e.kind for e in events] == [K.ACCEPTED, K.FILLED, K.CANCELED]
    assert math.isnan(events[0].price)
    assert events[1].price == 50.00
    assert events[2].reason == "IOC_REMAINDER"
    assert ex.positions()["BBB"] == -100


def test_quote_and_traded_volume(two_symbols):
    ex = two_symbols
    assert ex.quote("AAA") is None  # no book seen yet
    ex.advance_to(10)
    q = ex.quote("AAA")
    assert (q.bid, q.bid_size, q.ask, q.ask_size, q.ts) == (100.00, 500, 100.01, 400, 10)
    assert ex.quote("ZZZ") is None
    assert ex.traded_volume("AAA", 0, 29) == 0
    assert ex.traded_volume("AAA", 29, 30) == 600
