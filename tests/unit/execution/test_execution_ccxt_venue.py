"""CcxtVenue against a recorded Binance session (no network): orders, fills, timeouts."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pytest

from shriven.execution.ccxt_venue import CcxtVenue, VenueUnavailable
from shriven.execution.router import Router
from shriven.execution.venue import ExecutionVenue, VenueOrder
from shriven.marketdata.resilience import RetryPolicy
from shriven.model.enums import Liquidity, OrderEventKind, OrderType, Side
from shriven.model.records import OrderRequest
from shriven.testing.recorded_venue import RecordedVenueExchange

K = OrderEventKind
SESSION = Path(__file__).parents[2] / "data" / "execution" / "binance-session.json"
T0_NS = 1732540800000 * 1_000_000


@pytest.fixture
def exchange() -> RecordedVenueExchange:
    return RecordedVenueExchange.from_fixture(SESSION)


@pytest.fixture
def venue(exchange) -> CcxtVenue:
    return make_venue(exchange)


def make_venue(exchange, retries=2) -> CcxtVenue:
    return CcxtVenue(
        "binance", exchange, ["BTCUSDT"], symbol_map={"BTCUSDT": "BTC/USDT"},
        retry=RetryPolicy(max_retries=retries, jitter=False), sleep=lambda s: None,
        clock_ns=lambda: T0_NS + 10_000 * 1_000_000,
    )  # fmt: skip


def req(cid, side, qty, price=None, otype=OrderType.LIMIT):
    return OrderRequest(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=side,
        quantity=qty,
        price=price,
        order_type=otype,
    )


P1 = req("P1-1", Side.BUY, 0.01, 43250.0)
P2 = req("P1-2", Side.SELL, 0.02, 43300.0)
M1 = req("M-1", Side.BUY, 0.005, otype=OrderType.MARKET)


def test_is_an_execution_venue(venue):
    assert isinstance(venue, ExecutionVenue)


def test_submit_sends_the_unified_create_order(venue, exchange):
    venue.submit(P1)
    venue.submit(M1)
    (call1, call2) = exchange.calls_of("create_order")
    assert call1.args == ("BTC/USDT", "limit", "buy", 0.01, 43250.0, {"clientOrderId": "P1-1"})
    assert call2.args == ("BTC/USDT", "market", "buy", 0.005, None, {"clientOrderId": "M-1"})
    events = venue.poll()
    assert [(e.client_order_id, e.kind) for e in events] == [
        ("P1-1", K.ACCEPTED),
        ("M-1", K.ACCEPTED),
    ]
    assert events[0].venue_order_id == "28457120348"
    assert events[0].ts == (1732540800000 + 200) * 1_000_000
    assert events[0].venue == "binance"


def test_fills_partial_then_full_deduplicated_with_fees_in_quote(venue, exchange):
    venue.submit(P1)
    venue.submit(M1)
    venue.poll()
    exchange.step()
    events = venue.poll()
    assert [(e.client_order_id, e.kind, e.quantity) for e in events] == [
        ("M-1", K.FILLED, 0.005), ("P1-1", K.FILLED, 0.004),
    ]  # fmt: skip
    market_fill, maker_fill = events
    assert market_fill.liquidity is Liquidity.TAKER
    assert market_fill.trade_id == "3291836102"
    assert maker_fill.liquidity is Liquidity.MAKER
    assert maker_fill.fee == pytest.approx(0.000004 * 43250.0)  # charged in BTC, booked in USDT
    assert maker_fill.symbol == "BTCUSDT"
    assert venue.poll() == []  # the same trades again are not new
    exchange.step()
    events = venue.poll()
    assert [(e.client_order_id, e.kind, e.quantity) for e in events] == [("P1-1", K.FILLED, 0.006)]


def test_expired_after_partial_fill_comes_after_its_fills(venue, exchange):
    venue.submit(P2)
    venue.poll()
    exchange.step()
    exchange.step()
    exchange.step()  # the partial fill and the expiry are both new to us
    events = venue.poll()
    assert [(e.kind, e.quantity, e.reason) for e in events] == [
        (K.FILLED, 0.005, ""), (K.EXPIRED, 0.015, "EXPIRED"),
    ]  # fmt: skip
    assert events[0].fee == pytest.approx(0.2165)  # charged in USDT
    assert venue.poll() == []


def test_cancel_then_canceled_on_poll(venue, exchange):
    venue.submit(P2)
    venue.poll()
    venue.cancel("P1-2")
    assert exchange.calls_of("cancel_order")[0].args == ("28457120391", "BTC/USDT", {})
    (canceled,) = venue.poll()
    assert (canceled.kind, canceled.reason, canceled.quantity) == (K.CANCELED, "REQUESTED", 0.02)
    venue.cancel("P1-2")
    venue.cancel("nope")
    assert [(e.kind, e.reason) for e in venue.poll()] == [
        (K.CANCEL_REJECTED, "UNKNOWN_ORDER"), (K.CANCEL_REJECTED, "UNKNOWN_ORDER"),
    ]  # fmt: skip


def test_cancel_whose_answer_was_lost_is_not_reported_rejected(venue, exchange):
    venue.submit(P2)
    venue.poll()
    exchange.fail_after("cancel_order", ccxt.RequestTimeout("timed out"))
    venue.cancel("P1-2")  # canceled at the venue; the retry gets OrderNotFound
    assert len(exchange.calls_of("cancel_order")) == 2
    (event,) = venue.poll()
    assert (event.kind, event.reason) == (K.CANCELED, "REQUESTED")


def test_timed_out_create_order_that_reached_the_venue_is_not_placed_twice(venue, exchange):
    exchange.fail_after("create_order", ccxt.RequestTimeout("binance POST /api/v3/order timed out"))
    venue.submit(P1)
    assert len(exchange.calls_of("create_order")) == 1  # looked up instead of re-sent
    assert [o["clientOrderId"] for o in exchange.orders.values()].count("P1-1") == 1
    (ack,) = venue.poll()
    assert (ack.kind, ack.venue_order_id) == (K.ACCEPTED, "28457120348")
    exchange.step()
    (fill,) = venue.poll()
    assert fill.client_order_id == "P1-1"


def test_timed_out_create_order_that_never_arrived_is_sent_again(venue, exchange):
    exchange.fail("create_order", ccxt.RequestTimeout("timed out"))
    venue.submit(P1)
    assert len(exchange.calls_of("create_order")) == 2
    assert exchange.calls_of("fetch_order")[0].args == (None, "BTC/USDT", {"clientOrderId": "P1-1"})
    assert [e.kind for e in venue.poll()] == [K.ACCEPTED]


def test_never_reachable_raises_venue_unavailable_and_router_rejects(exchange):
    venue = make_venue(exchange, retries=1)
    exchange.fail("create_order", ccxt.NetworkError("down"), times=2)
    with pytest.raises(VenueUnavailable):
        venue.submit(P1)
    assert exchange.orders.get("28457120348") is None
    exchange.fail("create_order", ccxt.NetworkError("down"), times=2)
    router = Router([venue], breaker_failures=1, clock_s=lambda: 0.0)
    router.submit(OrderRequest(client_order_id="P1-1", symbol="BTCUSDT", side=Side.BUY,
                               quantity=0.01, price=43250.0, venue="binance"))  # fmt: skip
    (event,) = router.poll()
    assert (event.kind, event.reason) == (K.REJECTED, "VENUE_UNAVAILABLE")


def test_order_in_doubt_is_resolved_on_poll_without_a_second_create(venue, exchange):
    exchange.fail_after("create_order", ccxt.RequestTimeout("timed out"))
    exchange.fail("fetch_open_orders", ccxt.NetworkError("down"), times=3)  # lookup fails too
    venue.submit(P1)
    assert len(exchange.calls_of("create_order")) == 1
    (ack,) = venue.poll()
    assert (ack.kind, ack.client_order_id) == (K.ACCEPTED, "P1-1")
    assert len(exchange.calls_of("create_order")) == 1


def test_refusals_become_rejected_events(venue, exchange):
    exchange.fail(
        "create_order",
        ccxt.InsufficientFunds('binance {"code":-2010,"msg":"insufficient balance"}'),
    )
    venue.submit(P1)
    venue.submit(req("X-1", Side.BUY, 0.01, 43250.0))  # not recorded: the venue refuses it
    venue.submit(P1)  # our own id again
    events = venue.poll()
    assert [(e.client_order_id, e.kind, e.reason) for e in events] == [
        ("P1-1", K.REJECTED, "INSUFFICIENT_FUNDS"), ("X-1", K.REJECTED, "INVALID_ORDER"),
        ("P1-1", K.ACCEPTED, ""),
    ]  # fmt: skip


def test_transient_read_failures_are_retried_and_lose_nothing(venue, exchange):
    venue.submit(P1)
    exchange.step()
    exchange.fail("fetch_my_trades", ccxt.NetworkError("down"), times=3)
    with pytest.raises(ccxt.NetworkError):
        venue.poll()
    events = venue.poll()
    assert [e.kind for e in events] == [K.ACCEPTED, K.FILLED]


def test_quote_open_orders_positions(venue, exchange):
    q = venue.quote("BTCUSDT")
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (43250.1, 1.234, 43250.11, 0.567)
    venue.submit(P2)
    assert venue.open_orders() == [
        VenueOrder(client_order_id="web_8c1f2e6d", symbol="BTCUSDT", side=Side.SELL, price=45000.0,
                   quantity=0.1, venue_order_id="28456990001"),
        VenueOrder(client_order_id="P1-2", symbol="BTCUSDT", side=Side.SELL, price=43300.0,
                   quantity=0.02, venue_order_id="28457120391"),
    ]  # fmt: skip
    assert venue.positions() == {"BTCUSDT": 0.5}
    exchange.step()
    assert venue.positions() == {"BTCUSDT": 0.509}


def test_modify_without_edit_order_is_rejected(venue):
    venue.submit(P2)
    venue.poll()
    venue.modify("P1-2", 43310.0, 0.02)
    (event,) = venue.poll()
    assert (event.kind, event.reason) == (K.MODIFY_REJECTED, "NOT_SUPPORTED")


def test_resend_refused_as_duplicate_adopts_the_order_that_landed():
    # the first create lands but times out; the lookup races it and misses it; the re-send is
    # refused as a duplicate: the order is adopted, not reported rejected
    class LateLookup(RecordedVenueExchange):
        misses = 2  # the lookup's fetch_open_orders and fetch_order do not see it yet

        def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None):
            if self.misses:
                self.misses -= 1
                return []
            return super().fetch_open_orders(symbol, since, limit, params)

        def fetch_order(self, id, symbol=None, params=None):  # noqa: A002
            if self.misses:
                self.misses -= 1
                raise ccxt.OrderNotFound("Order does not exist.")
            return super().fetch_order(id, symbol, params)

    exchange = LateLookup.from_fixture(SESSION)
    venue = make_venue(exchange)
    exchange.fail_after("create_order", ccxt.RequestTimeout("timed out"))
    venue.submit(P1)
    assert len(exchange.calls_of("create_order")) == 2
    assert [o["clientOrderId"] for o in exchange.orders.values()].count("P1-1") == 1
    (ack,) = venue.poll()
    assert (ack.kind, ack.venue_order_id) == (K.ACCEPTED, "28457120348")
