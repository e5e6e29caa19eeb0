"""Reconciliation against a simulated exchange and against the recorded Binance session."""

from __future__ import annotations

from pathlib import Path

from execution_helpers import BASE, drain, make_exchange, make_feed

from shriven.execution.ccxt_venue import CcxtVenue
from shriven.execution.reconcile import reconcile
from shriven.execution.venue import VenueOrder
from shriven.marketdata.resilience import RetryPolicy
from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import OrderRequest
from shriven.testing.recorded_venue import RecordedVenueExchange

K = OrderEventKind
SESSION = Path(__file__).parents[2] / "data" / "execution" / "binance-session.json"


def req(cid, side, qty, price, otype=OrderType.LIMIT, symbol="AAA"):
    return OrderRequest(
        client_order_id=cid, symbol=symbol, side=side, quantity=qty, price=price, order_type=otype
    )


def local(cid, side, qty, price=100.0, symbol="AAA"):
    return VenueOrder(client_order_id=cid, symbol=symbol, side=side, price=price, quantity=qty)


def test_clean_when_everything_agrees():
    ex = make_exchange("sim", {"AAA": make_feed("AAA", BASE)})
    ex.advance_to(10)
    ex.submit(req("o-1", Side.BUY, 10, 99.00))
    events = drain(ex)
    assert [e.kind for e in events] == [K.ACCEPTED]
    report = reconcile(
        {"o-1": local("o-1", Side.BUY, 10, 99.0)}, set(), ex, ex.fills_since(0),
        local_positions={"AAA": 0.0},
    )  # fmt: skip
    assert report.clean


def test_missed_fills_missing_orders_unknown_orders_and_breaks():
    ex = make_exchange("sim", {"AAA": make_feed("AAA", BASE)})
    ex.advance_to(10)
    ex.submit(req("o-1", Side.BUY, 10, 100.01))  # fills at once
    ex.submit(req("o-2", Side.BUY, 5, 99.00))  # rests; the engine lost track of it
    ex.submit(req("o-3", Side.BUY, 7, 99.50))  # rests; the engine thinks 9 are open
    drain(ex)
    local_open = {
        "o-1": local("o-1", Side.BUY, 10),  # the engine never saw the fill
        "o-4": local("o-4", Side.SELL, 3),  # never reached the venue
        "o-3": local("o-3", Side.BUY, 9),
    }
    report = reconcile(
        local_open, set(), ex, ex.fills_since(0), local_positions={"AAA": 0.0}, ts=99
    )
    assert [(e.client_order_id, e.kind, e.quantity, e.reason) for e in report.events] == [
        ("o-1", K.FILLED, 10, ""), ("o-4", K.CANCELED, 3, "RECONCILED_MISSING"),
    ]  # fmt: skip
    assert report.events[1].ts == 99
    assert report.events[1].venue == "sim"
    assert [o.client_order_id for o in report.unknown_at_venue] == ["o-2"]
    assert report.leaves_breaks == {"o-3": (9, 7)}
    assert report.position_breaks == {}  # the missed buy of 10 explains the venue's +10
    seen = {e.trade_id for e in report.events if e.kind is K.FILLED}
    again = reconcile(
        {"o-3": 7.0, "o-2": 5.0}, seen, ex, ex.fills_since(0), local_positions={"AAA": 4.0}
    )
    assert again.events == []
    assert again.unknown_at_venue == []
    assert again.position_breaks == {"AAA": (4.0, 10.0)}


def test_reconcile_after_restart_against_binance():
    exchange = RecordedVenueExchange.from_fixture(SESSION)
    before = CcxtVenue("binance", exchange, ["BTCUSDT"], symbol_map={"BTCUSDT": "BTC/USDT"},
                       retry=RetryPolicy(max_retries=0), sleep=lambda s: None, clock_ns=lambda: 0)  # fmt: skip
    before.submit(req("P1-1", Side.BUY, 0.01, 43250.0, symbol="BTCUSDT"))
    before.submit(req("P1-2", Side.SELL, 0.02, 43300.0, symbol="BTCUSDT"))
    seen = {e.trade_id for e in before.poll() if e.kind is K.FILLED}
    exchange.step()
    exchange.step()  # fills happen while the engine is down
    after = CcxtVenue("binance", exchange, ["BTCUSDT"], symbol_map={"BTCUSDT": "BTC/USDT"},
                      retry=RetryPolicy(max_retries=0), sleep=lambda s: None, clock_ns=lambda: 0)  # fmt: skip
    local_open = {
        "P1-1": local("P1-1", Side.BUY, 0.01, 43250.0, "BTCUSDT"),
        "P1-2": local("P1-2", Side.SELL, 0.02, 43300.0, "BTCUSDT"),
    }
    report = reconcile(local_open, seen, after, after.fills_since(1732540800000 * 1_000_000))
    assert [(e.client_order_id, e.kind, e.quantity, e.trade_id) for e in report.events] == [
        ("P1-1", K.FILLED, 0.004, "3291836101"), ("P1-1", K.FILLED, 0.006, "3291836155"),
        ("P1-2", K.FILLED, 0.005, "3291836160"),
    ]  # fmt: skip
    assert [o.client_order_id for o in report.unknown_at_venue] == ["web_8c1f2e6d"]
    assert report.leaves_breaks == {}
