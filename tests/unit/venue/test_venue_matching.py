"""Simulated venue on hand-made feeds where the expected outcomes are obvious."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pyarrow as pa
import pytest

from shriven.book.orders import CancelReason, EventKind, Liquidity, OrderType, RejectReason, Side
from shriven.schemas import BOOK, TRADES
from shriven.venue import InstrumentRules, SimulatedVenue, VenueConfig, VenueEvent, VenueFeed

SYM = "TEST"


def tables(book_rows, trade_rows):
    """BOOK rows ``(ts, seq, side, price, size, is_snapshot)``, TRADES rows ``(ts, price, size, side)``."""
    book = pa.table(
        {
            "ts": pa.array([r[0] for r in book_rows], pa.int64()).cast(BOOK.field("ts").type),
            "symbol": [SYM] * len(book_rows),
            "seq": pa.array([r[1] for r in book_rows], pa.int64()),
            "side": pa.array([r[2] for r in book_rows], pa.int8()),
            "price": pa.array([r[3] for r in book_rows], pa.float64()),
            "size": pa.array([r[4] for r in book_rows], pa.float64()),
            "is_snapshot": pa.array([r[5] for r in book_rows], pa.bool_()),
        },
        schema=BOOK,
    )
    trades = pa.table(
        {
            "ts": pa.array([r[0] for r in trade_rows], pa.int64()).cast(TRADES.field("ts").type),
            "symbol": [SYM] * len(trade_rows),
            "trade_id": pa.array(range(len(trade_rows)), pa.int64()),
            "price": pa.array([r[1] for r in trade_rows], pa.float64()),
            "size": pa.array([r[2] for r in trade_rows], pa.float64()),
            "side": pa.array([r[3] for r in trade_rows], pa.int8()),
        },
        schema=TRADES,
    )
    return trades, book


def snapshot(ts, seq, bids, asks):
    rows = [(ts, seq, 1, p, s, True) for p, s in bids]
    return rows + [(ts, seq, -1, p, s, True) for p, s in asks]


def make_venue(book_rows, trade_rows, **config):
    trades, book = tables(book_rows, trade_rows)
    cfg = VenueConfig(
        instruments=(InstrumentRules(symbol=SYM, tick_size=0.01, lot_size=1.0),), **config
    )
    feed = VenueFeed.from_tables(trades, book, SYM, 0.01)
    return SimulatedVenue(cfg, feed, start_ns=0)


def drain(venue: SimulatedVenue) -> list[VenueEvent]:
    out = []
    while venue.step():
        out += venue.events()
    return out


def kinds(events):
    return [e.kind for e in events]


BASE_BOOK = snapshot(1, 1, [(100.00, 500), (99.99, 800)], [(100.01, 400), (100.02, 600)])


def test_queue_position_fill_after_second_trade():
    book = BASE_BOOK + [(30, 2, 1, 100.00, 200, False), (40, 3, 1, 100.00, 0, False)]
    trades = [(30, 100.00, 300, -1), (40, 100.00, 250, -1)]
    v = make_venue(book, trades)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.PARTIALLY_FILLED]
    fill = events[1]
    assert fill.ts == 40
    assert fill.quantity == 50
    assert fill.leaves_quantity == 50
    assert fill.price == 100.00
    assert fill.liquidity is Liquidity.MAKER
    assert v.open_orders == 1


def test_latency_ack_and_fill_timing():
    book = BASE_BOOK + [(30, 2, 1, 100.00, 0, False)]
    trades = [(30, 100.00, 600, -1)]
    v = make_venue(book, trades, order_latency_ns=5, feed_latency_ns=3)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.advance_to(19)
    assert v.events() == []  # at the exchange at 15, ack on its way back
    v.advance_to(20)
    (ack,) = v.events()
    assert ack.kind is EventKind.ACCEPTED
    assert ack.ts == 15
    assert ack.ts_local == 20
    v.advance_to(32)
    assert v.best_bid() == (100.00, 500.0)  # the trade at 30 is seen at 33
    v.advance_to(33)
    assert v.best_bid() == (99.99, 800.0)
    assert v.events() == []
    v.advance_to(35)
    (fill,) = v.events()
    assert fill.kind is EventKind.FILLED
    assert fill.ts == 30
    assert fill.ts_local == 35
    assert fill.quantity == 100


def test_separate_response_latency():
    v = make_venue(BASE_BOOK, [], order_latency_ns=5, response_latency_ns=2)
    v.advance_to(10)
    v.submit(1, Side.BUY, 10, 99.00)
    v.advance_to(16)
    assert v.events() == []
    v.advance_to(17)
    assert kinds(v.events()) == [EventKind.ACCEPTED]


def test_order_sees_book_at_arrival_not_at_sending():
    # the ask level 100.01 leaves at 12: an IOC sent at 10 arriving at 15 gets 100.02
    book = BASE_BOOK + [(12, 2, -1, 100.01, 0, False)]
    v = make_venue(book, [], order_latency_ns=5)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.02, OrderType.IOC)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.FILLED]
    assert events[1].price == 100.02


def test_marketable_order_walks_two_levels():
    v = make_venue(BASE_BOOK, [], taker_fee=0.001)
    v.advance_to(10)
    v.submit(7, Side.BUY, 1000, 100.02)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.PARTIALLY_FILLED, EventKind.FILLED]
    fills = events[1:]
    assert [(f.price, f.quantity) for f in fills] == [(100.01, 400), (100.02, 600)]
    assert all(f.liquidity is Liquidity.TAKER for f in fills)
    qty = sum(f.quantity for f in fills)
    avg = sum(f.price * f.quantity for f in fills) / qty
    assert avg == pytest.approx((100.01 * 400 + 100.02 * 600) / 1000)
    assert sum(f.fee for f in fills) == pytest.approx(0.001 * avg * 1000)
    acct = v.account
    assert acct.position == 1000
    assert acct.cash == pytest.approx(-avg * 1000)
    assert acct.taker_fills == 2
    assert v.open_orders == 0


def test_limit_remainder_rests_after_walking():
    v = make_venue(BASE_BOOK, [])
    v.advance_to(10)
    v.submit(7, Side.BUY, 500, 100.01)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.PARTIALLY_FILLED]
    assert events[1].quantity == 400
    assert events[1].leaves_quantity == 100
    assert v.open_orders == 1


def test_market_and_ioc_remainders_are_canceled():
    v = make_venue(BASE_BOOK, [])
    v.advance_to(10)
    v.submit(1, Side.SELL, 2000, order_type=OrderType.MARKET)
    v.submit(2, Side.SELL, 600, 100.00, OrderType.IOC)
    events = drain(v)
    by = {i: [e for e in events if e.order_id == i] for i in (1, 2)}
    assert [(e.price, e.quantity) for e in by[1][1:3]] == [(100.00, 500), (99.99, 800)]
    assert by[1][-1].kind is EventKind.CANCELED
    assert by[1][-1].quantity == 700
    assert by[1][-1].reason is CancelReason.IOC_REMAINDER
    assert by[2][1].quantity == 500  # our orders do not consume the historical book
    assert by[2][-1].kind is EventKind.CANCELED
    assert by[2][-1].quantity == 100


def test_fok_and_post_only():
    v = make_venue(BASE_BOOK, [])
    v.advance_to(10)
    v.submit(1, Side.BUY, 1001, 100.02, OrderType.FOK)
    v.submit(2, Side.BUY, 1000, 100.02, OrderType.FOK)
    v.submit(3, Side.BUY, 10, 100.01, OrderType.POST_ONLY)
    v.submit(4, Side.BUY, 10, 100.00, OrderType.POST_ONLY)
    events = drain(v)
    first = {}
    for e in events:
        first.setdefault(e.order_id, e)
    assert first[1].kind is EventKind.REJECTED
    assert first[1].reason is RejectReason.FOK_NOT_FILLABLE
    assert [e.kind for e in events if e.order_id == 2][-1] is EventKind.FILLED
    assert first[3].reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert first[4].kind is EventKind.ACCEPTED
    assert v.open_orders == 1


def test_cancel_before_fill():
    book = BASE_BOOK + [(50, 2, 1, 100.00, 0, False)]
    trades = [(50, 100.00, 600, -1)]
    v = make_venue(book, trades, order_latency_ns=5)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.advance_to(30)
    v.cancel(1)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.CANCELED]
    assert events[1].reason is CancelReason.REQUESTED
    assert events[1].quantity == 100
    assert events[1].ts == 35
    assert events[1].ts_local == 40
    assert v.account.maker_fills == 0


def test_cancel_unknown_and_after_fill():
    book = BASE_BOOK + [(20, 2, 1, 100.00, 0, False)]
    v = make_venue(book, [(20, 100.00, 600, -1)])
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.cancel(99)
    v.advance_to(25)
    v.cancel(1)  # already filled
    events = drain(v)
    assert kinds(events) == [
        EventKind.ACCEPTED, EventKind.CANCEL_REJECTED, EventKind.FILLED, EventKind.CANCEL_REJECTED,
    ]  # fmt: skip
    assert events[1].reason is RejectReason.UNKNOWN_ORDER


def test_trade_through_fills_whole_order():
    book = BASE_BOOK + [(30, 2, 1, 100.00, 0, False), (30, 3, 1, 99.99, 100, False)]
    trades = [(30, 100.00, 500, -1), (30, 99.99, 700, -1)]
    v = make_venue(book, trades, maker_fee=-0.0002)
    v.advance_to(10)
    v.submit(1, Side.BUY, 300, 100.00)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.FILLED]
    fill = events[1]
    assert fill.price == 100.00
    assert fill.quantity == 300
    assert fill.fee == pytest.approx(-0.0002 * 100.00 * 300)  # a rebate
    assert v.account.fees == pytest.approx(-6.0)


def test_touch_moving_through_resting_order_fills_it():
    # the ask comes down to our bid without a print: we are filled at our price
    book = BASE_BOOK + [(30, 2, -1, 100.00, 50, False)]
    v = make_venue(book, [])
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.FILLED]
    assert events[1].liquidity is Liquidity.MAKER
    assert events[1].price == 100.00


@pytest.mark.parametrize(
    ("level_after_cancels", "trade", "model", "expected_fill"),
    [
        # ahead 500 of 800 (300 joined behind); 200 canceled: proportional 500 - 200*500/800 = 375
        (600, 450, "proportional", 75.0),
        (600, 450, "risk_averse", 0.0),  # cancels behind us: still 500 ahead
        # 500 canceled: proportional 500 - 500*500/800 = 187.5; risk-averse capped at the level, 300
        (300, 350, "proportional", 100.0),
        (300, 350, "risk_averse", 50.0),
    ],
)
def test_cancel_models(level_after_cancels, trade, model, expected_fill):
    book = BASE_BOOK + [
        (20, 2, 1, 100.00, 800, False),
        (30, 3, 1, 100.00, level_after_cancels, False),
        (40, 4, 1, 100.00, max(level_after_cancels - trade, 0), False),
    ]
    v = make_venue(book, [(40, 100.00, trade, -1)], queue_model=model)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    events = drain(v)
    filled = sum(
        e.quantity for e in events if e.kind in (EventKind.FILLED, EventKind.PARTIALLY_FILLED)
    )
    assert filled == pytest.approx(expected_fill)


def test_trades_are_not_counted_again_as_cancels():
    # the book row after a print shows the level minus the print: no cancel, queue moves once
    book = BASE_BOOK + [(30, 2, 1, 100.00, 300, False), (40, 3, 1, 100.00, 0, False)]
    trades = [(30, 100.00, 200, -1), (40, 100.00, 350, -1)]
    v = make_venue(book, trades, queue_model="proportional")
    v.advance_to(10)
    v.submit(1, Side.BUY, 50, 100.00)
    events = drain(v)
    assert [e.quantity for e in events if e.kind is EventKind.FILLED] == [50]


def test_rejects_with_reasons():
    v = make_venue(BASE_BOOK, [], order_latency_ns=2)
    v.advance_to(10)
    v.submit(1, Side.BUY, 10, 100.005)
    v.submit(2, Side.BUY, 10.5, 100.00)
    v.submit(3, Side.BUY, 0, 100.00)
    v.submit(4, Side.BUY, 10, -1.0)
    v.submit(5, Side.BUY, 10, 99.00)
    v.submit(5, Side.SELL, 10, 101.00)
    v.modify(5, 99.005, 10)
    v.modify(6, 99.00, 10)
    events = drain(v)
    rejects = {(e.order_id, e.kind): e.reason for e in events if e.reason is not None}
    assert rejects == {
        (1, EventKind.REJECTED): RejectReason.BAD_PRICE_TICK,
        (2, EventKind.REJECTED): RejectReason.BAD_SIZE_LOT,
        (3, EventKind.REJECTED): RejectReason.NON_POSITIVE_SIZE,
        (4, EventKind.REJECTED): RejectReason.NON_POSITIVE_PRICE,
        (5, EventKind.REJECTED): RejectReason.DUPLICATE_ORDER_ID,
        (5, EventKind.MODIFY_REJECTED): RejectReason.BAD_PRICE_TICK,
        (6, EventKind.MODIFY_REJECTED): RejectReason.UNKNOWN_ORDER,
    }
    assert all(e.ts_local == e.ts + 2 and e.ts == 12 for e in events)


def test_book_full_reject():
    trades, book = tables(BASE_BOOK, [])
    cfg = VenueConfig(instruments=(InstrumentRules(symbol=SYM),))
    v = SimulatedVenue(
        cfg, VenueFeed.from_tables(trades, book, SYM, 0.01), max_orders=1, start_ns=0
    )
    v.advance_to(10)
    v.submit(1, Side.BUY, 10, 99.00)
    v.submit(2, Side.BUY, 10, 99.00)
    events = drain(v)
    assert events[-1].kind is EventKind.REJECTED
    assert events[-1].reason is RejectReason.BOOK_FULL


def test_modify_keeps_or_loses_queue_place():
    book = BASE_BOOK + [(30, 2, 1, 100.00, 0, False)]
    trades = [(30, 100.00, 560, -1)]
    v = make_venue(book, trades)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.submit(2, Side.BUY, 100, 99.99)
    v.advance_to(12)
    v.modify(1, 100.00, 50)  # smaller: keeps its place (500 ahead) -> 50 filled by the 560 print
    v.modify(2, 100.00, 100)  # re-queued behind 500 at 100.00 -> 60 filled
    events = drain(v)
    fills = {
        e.order_id: e.quantity
        for e in events
        if e.kind in (EventKind.FILLED, EventKind.PARTIALLY_FILLED)
    }
    assert fills == {1: 50, 2: 60}
    assert [e.kind for e in events if e.order_id == 1][:2] == [
        EventKind.ACCEPTED,
        EventKind.MODIFIED,
    ]


def test_snapshot_resets_book_and_reconciles_queue():
    book = BASE_BOOK + snapshot(50, 2, [(100.00, 120), (99.99, 800)], [(100.01, 400)])
    trades = [(60, 100.00, 150, -1)]
    v = make_venue(book, trades, queue_model="risk_averse")
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)  # ahead 500; the snapshot shows 120 -> ahead 120
    events = drain(v)
    assert [e.quantity for e in events if e.kind is EventKind.PARTIALLY_FILLED] == [30]
    assert v.best_ask() == (100.01, 400.0)
    assert v.best_bid() == (100.00, 120.0)


def test_config_is_strict():
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"instruments": [{"symbol": "X"}], "latency": 1}, VenueConfig)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"instruments": [{"symbol": "X"}], "order_latency_ns": -1}, VenueConfig)
    cfg = msgspec.convert({"instruments": [{"symbol": "X"}], "order_latency_ns": 7}, VenueConfig)
    assert cfg.effective_response_latency_ns == 7
    with pytest.raises(ValueError, match="duplicate"):
        VenueConfig(instruments=(InstrumentRules(symbol="X"), InstrumentRules(symbol="X")))


def test_feed_rejects_off_grid_prices():
    trades, book = tables(BASE_BOOK, [(5, 100.005, 1, 1)])
    with pytest.raises(ValueError, match="off the tick grid"):
        VenueFeed.from_tables(trades, book, SYM, 0.01)


def test_feed_orders_trades_before_book_rows_at_equal_time():
    trades, book = tables(BASE_BOOK + [(30, 2, 1, 100.00, 200, False)], [(30, 100.00, 300, -1)])
    feed = VenueFeed.from_tables(trades, book, SYM, 0.01)
    assert list(feed.rows["kind"][-2:]) == [4, 1]
    assert feed.rows["kind"][0] == 3
    assert np.all(feed.rows["kind"][1:4] == 2)
    assert math.isclose(feed.rows["tick"][-1] * 0.01, 100.00)


def test_run_calls_the_strategy_until_nothing_is_left():
    book = BASE_BOOK + [(30, 2, 1, 100.00, 0, False), (40, 3, -1, 100.02, 100, False)]
    trades = [(30, 100.00, 600, -1)]
    v = make_venue(book, trades, order_latency_ns=4, feed_latency_ns=1)
    seen = []
    bids = []

    def strategy(venue, events):
        seen.extend(events)
        bids.append((venue.now, venue.best_bid()[0]))
        if any(e.kind is EventKind.FILLED for e in events):
            venue.submit(2, Side.SELL, 100, 100.02)  # sent at the fill's sight, 34

    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.run(strategy)
    assert kinds(seen) == [EventKind.ACCEPTED, EventKind.FILLED, EventKind.ACCEPTED]
    assert [e.ts_local for e in seen] == [18, 34, 42]
    assert (31, 99.99) in bids
    assert v.open_orders == 1
    assert v.next_time() is None


def test_step_without_reading_events_still_advances():
    v = make_venue(BASE_BOOK + [(50, 2, 1, 100.00, 10, False)], [], order_latency_ns=5)
    v.advance_to(10)
    v.submit(1, Side.BUY, 10, 99.00)
    times = []
    while v.step():
        times.append(v.now)
    assert times == [20, 50]
    assert kinds(v.events()) == [EventKind.ACCEPTED]


def test_modify_through_the_touch_trades_at_once():
    v = make_venue(BASE_BOOK, [], taker_fee=0.001)
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    v.advance_to(12)
    v.modify(1, 100.01, 100)
    events = drain(v)
    assert kinds(events) == [EventKind.ACCEPTED, EventKind.MODIFIED, EventKind.FILLED]
    assert events[-1].liquidity is Liquidity.TAKER
    assert events[-1].price == 100.01
    assert v.open_orders == 0


def test_the_compiled_loop_api_reserves_room_and_tracks_delivery():
    v = make_venue(BASE_BOOK, [], order_latency_ns=5)
    assert v.is_idle
    assert v.round_trip_latency_ns >= 5
    v.reserve(events=10_000, requests=1_000)
    feed, ev, st, *_, rq_i, rq_f = v.kernel_arrays()
    assert ev.size >= 10_000
    assert rq_i.shape[0] >= 1_000
    assert rq_f.shape[0] == rq_i.shape[0]
    assert feed is v.feed.rows
    v.advance_to(10)
    v.submit(1, Side.BUY, 100, 100.00)
    assert not v.is_idle  # a request in flight
    v.advance_to(100)
    assert v.delivered == 0
    pending = len(v.events())  # hands them out: delivered moves to the end, then resets
    assert pending >= 1
    with pytest.raises(ValueError, match="delivered"):
        v.delivered = 1
