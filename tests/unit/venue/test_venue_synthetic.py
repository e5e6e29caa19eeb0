"""The simulated venue over a synthetic-exchange day: replay, passive quoting, fast path parity."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from shriven.book.orders import EventKind, Liquidity, Side
from shriven.config import load_settings
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.venue import InstrumentRules, SimulatedVenue, VenueConfig, VenueFeed
from shriven.venue.reference import reference_requote

DAY = 20_000
SYMBOL = "ACME"


@pytest.fixture(scope="module")
def day_feed():
    settings = load_settings(environ={})
    settings = msgspec.structs.replace(
        settings, symbols=tuple(s for s in settings.symbols if s.symbol == SYMBOL)
    )
    rules = settings.symbol(SYMBOL)
    open_ns, close_ns = session_window(settings, DAY)
    batch = SyntheticExchange(settings).fetch(open_ns, close_ns, [SYMBOL])
    instrument = InstrumentRules(symbol=SYMBOL, tick_size=rules.tick_size, lot_size=rules.lot_size)
    return VenueFeed.from_batch(batch, instrument), instrument, open_ns


def config(instrument, **kw):
    return VenueConfig(
        instruments=(instrument,), feed_latency_ns=200_000, order_latency_ns=300_000,
        maker_fee=-0.0001, taker_fee=0.0003, **kw,
    )  # fmt: skip


def test_feed_is_merged_in_time_order(day_feed):
    feed, _, _ = day_feed
    rows = feed.rows
    assert len(feed) > 100_000
    assert np.all(np.diff(rows["ts"]) >= 0)
    assert set(np.unique(rows["kind"]).tolist()) == {1, 2, 3, 4}


def test_passive_quoting_gets_maker_fills_at_its_own_price(day_feed):
    feed, instrument, open_ns = day_feed
    venue = SimulatedVenue(config(instrument), feed)
    limits: dict[int, tuple[Side, float]] = {}
    live = {Side.BUY: None, Side.SELL: None}
    quoted = {Side.BUY: math.nan, Side.SELL: math.nan}
    next_id = iter(range(1, 10**9))
    fills = []
    end = open_ns + 3_600 * 10**9  # the first hour keeps the Python loop short
    while venue.step() and venue.now < end:
        for e in venue.events():
            if e.kind in (EventKind.FILLED, EventKind.PARTIALLY_FILLED):
                fills.append(e)
            if e.kind in (EventKind.FILLED, EventKind.CANCELED, EventKind.REJECTED):
                for side, oid in live.items():
                    if oid == e.order_id:
                        live[side] = None
                        quoted[side] = math.nan
        bid, _ = venue.best_bid()
        ask, _ = venue.best_ask()
        if math.isnan(bid) or math.isnan(ask):
            continue
        for side, price in ((Side.BUY, bid), (Side.SELL, ask)):
            if price != quoted[side]:
                if live[side] is not None:
                    venue.cancel(live[side])
                oid = next(next_id)
                venue.submit(oid, side, 100, price)
                limits[oid] = (side, price)
                live[side] = oid
                quoted[side] = price
                assert bid < ask
    maker = [f for f in fills if f.liquidity is Liquidity.MAKER]
    assert len(maker) > 10
    for f in fills:  # a quote may arrive after the market moved onto it: a taker fill, never worse
        side, limit = limits[f.order_id]
        assert f.price <= limit if side is Side.BUY else f.price >= limit
    for f in maker:
        side, limit = limits[f.order_id]
        assert f.side is side
        assert f.price == limit  # never better than the touch it was sent at
        assert f.fee == pytest.approx(-0.0001 * f.price * f.quantity)
    acct = venue.account
    assert acct.maker_fills == len(maker)
    buys = sum(f.quantity for f in maker if f.side is Side.BUY)
    sells = sum(f.quantity for f in maker if f.side is Side.SELL)
    assert acct.position == pytest.approx(buys - sells)


@pytest.mark.parametrize("queue_model", ["proportional", "risk_averse"])
def test_fast_path_matches_the_python_loop(day_feed, queue_model):
    feed, instrument, open_ns = day_feed
    n = int(np.searchsorted(feed.rows["ts"], open_ns + 1_200 * 10**9))
    part = VenueFeed(feed.rows[:n], feed.symbol, feed.tick_size)
    cfg = config(instrument, queue_model=queue_model)
    end = int(part.rows["ts"][-1]) + 10**9

    fast = SimulatedVenue(cfg, part)
    result = fast.run_requote(100, Side.BUY)
    fast.advance_to(end)
    fast_fills = [
        (int(r["ts"]), int(r["order_id"]), float(r["price"]), float(r["quantity"]))
        for r in result.fills
    ] + [(e.ts, e.order_id, e.price, e.quantity) for e in fast.events() if e.kind in (3, 4)]

    slow = SimulatedVenue(cfg, part)
    last = 0
    events = []
    while slow.advance_to_next_feed():
        events += slow.events()
        bid, _ = slow.best_bid()
        if math.isnan(bid):
            continue
        if last:
            slow.cancel(last)
        last += 1
        slow.submit(last, Side.BUY, 100, bid)
    slow.advance_to(end)
    events += slow.events()
    slow_fills = [(e.ts, e.order_id, e.price, e.quantity) for e in events if e.kind in (3, 4)]
    assert result.quotes == last
    assert len(fast_fills) > 0
    assert fast_fills == slow_fills
    assert fast.account == slow.account


def test_full_day_fast_replay(day_feed):
    feed, instrument, _ = day_feed
    venue = SimulatedVenue(config(instrument), feed)
    result = venue.run_requote(100, Side.SELL)
    assert result.quotes > 10_000
    acct = result.account
    assert acct.maker_fills > 100
    assert acct.taker_fills < acct.maker_fills / 100
    assert int(np.sum(result.fills["liquidity"] == Liquidity.MAKER)) == acct.maker_fills
    assert np.all(result.fills["side"] == Side.SELL)
    assert result.account.position < 0


@pytest.mark.parametrize(
    ("queue_model", "side"),
    [("proportional", Side.BUY), ("risk_averse", Side.SELL), ("proportional", Side.SELL)],
)
def test_fast_path_matches_the_pure_python_reference(day_feed, queue_model, side):
    feed, instrument, open_ns = day_feed
    n = int(np.searchsorted(feed.rows["ts"], open_ns + 1_800 * 10**9))
    part = VenueFeed(feed.rows[:n], feed.symbol, feed.tick_size)
    cfg = config(instrument, queue_model=queue_model)
    result = SimulatedVenue(cfg, part).run_requote(100, side)
    ours = [
        (
            int(r["ts"]),
            int(r["order_id"]),
            float(r["price"]),
            float(r["quantity"]),
            int(r["liquidity"]),
        )
        for r in result.fills
    ]
    expected = reference_requote(
        part.rows,
        feed_latency_ns=cfg.feed_latency_ns,
        order_latency_ns=cfg.order_latency_ns,
        response_latency_ns=cfg.effective_response_latency_ns,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        maker_fee=cfg.maker_fee,
        taker_fee=cfg.taker_fee,
        proportional=queue_model == "proportional",
        buy=side is Side.BUY,
        quantity=100.0,
    )
    assert len(ours) > 50
    assert ours == expected


def test_feed_from_the_lake_equals_the_feed_from_the_source(day_feed, tmp_path):
    from datetime import date

    from shriven.lake.layout import Window
    from shriven.lake.writer import Lake
    from shriven.marketdata.ingest import ingest_window

    feed, instrument, _ = day_feed
    settings = msgspec.structs.replace(
        load_settings(environ={}), symbols=tuple(s for s in load_settings(environ={}).symbols if s.symbol == SYMBOL)
    )
    day = date.fromordinal(date(1970, 1, 1).toordinal() + DAY)
    lake = Lake(str(tmp_path / "lake"))
    ingest_window(SyntheticExchange(settings), lake, Window.days(day), [SYMBOL], settings.universe)
    from_lake = VenueFeed.from_lake(lake, instrument, [day.isoformat()])
    assert np.array_equal(from_lake.rows, feed.rows)
