"""Router: smart routing by fee-adjusted touch over two simulated exchanges, and breakers."""

from __future__ import annotations

import pytest
from execution_helpers import BASE, FakeClock, FlakyVenue, drain, make_exchange, make_feed, snapshot

from shriven.execution.router import Router
from shriven.execution.venue import ExecutionVenue, NoVenueAvailable
from shriven.marketdata.resilience import CircuitState
from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import OrderRequest

K = OrderEventKind
SYM = "AAA"


def req(cid, side=Side.BUY, qty=10.0, price=None, otype=OrderType.MARKET, venue=None):
    return OrderRequest(
        client_order_id=cid, symbol=SYM, side=side, quantity=qty, price=price,
        order_type=otype, venue=venue,
    )  # fmt: skip


def pair(book_a=BASE, book_b=BASE, fees_a=(0.0, 0.0), fees_b=(0.0, 0.0)):
    a = make_exchange(
        "alpha", {SYM: make_feed(SYM, book_a)}, maker_fee=fees_a[0], taker_fee=fees_a[1]
    )
    b = make_exchange(
        "beta", {SYM: make_feed(SYM, book_b)}, maker_fee=fees_b[0], taker_fee=fees_b[1]
    )
    return a, b


def test_router_is_an_execution_venue():
    a, b = pair()
    assert isinstance(Router([a, b]), ExecutionVenue)


def test_buy_goes_to_the_lower_taker_fee_on_the_same_book():
    a, b = pair(fees_a=(0.0, 0.002), fees_b=(0.0, 0.0005))
    router = Router([a, b], fees={"alpha": (0.0, 0.002), "beta": (0.0, 0.0005)})
    router.advance_to(10)
    assert router.route(req("o-1")) == "beta"
    router.submit(req("o-1"))
    events = drain(router)
    assert [(e.kind, e.venue) for e in events] == [(K.ACCEPTED, "beta"), (K.FILLED, "beta")]
    assert events[1].fee == pytest.approx(100.01 * 10 * 0.0005)


def test_fee_adjusted_touch_beats_the_raw_touch():
    # alpha's ask is a tick lower, but its taker fee costs more than the tick
    book_b = snapshot(1, 1, [(100.00, 500)], [(100.02, 400)])
    a, b = pair(book_b=book_b)
    router = Router([a, b], fees={"alpha": (0.0, 0.001), "beta": (0.0, 0.0)})
    router.advance_to(10)
    assert router.route(req("o-1", Side.BUY)) == "beta"  # 100.01 * 1.001 > 100.02
    cheap = Router([a, b], fees={"alpha": (0.0, 0.00005), "beta": (0.0, 0.0)})
    assert cheap.route(req("o-2", Side.BUY)) == "alpha"  # 100.01 * 1.00005 < 100.02


def test_sell_goes_to_the_higher_fee_adjusted_bid():
    book_b = snapshot(1, 1, [(100.01, 500)], [(100.03, 400)])
    a, b = pair(book_b=book_b)
    router = Router([a, b])
    router.advance_to(10)
    assert router.route(req("o-1", Side.SELL)) == "beta"
    router = Router([a, b], fees={"beta": (0.0, 0.001)})
    assert router.route(req("o-1", Side.SELL)) == "alpha"


def test_explicit_venue_wins_and_unknown_venue_is_rejected():
    a, b = pair(fees_b=(0.0, 0.0))
    router = Router([a, b], fees={"alpha": (0.0, 0.01)})
    router.advance_to(10)
    assert router.route(req("o-1", venue="alpha")) == "alpha"
    with pytest.raises(NoVenueAvailable):
        router.route(req("o-2", venue="gamma"))
    router.submit(req("o-2", venue="gamma"))
    (event,) = router.poll()
    assert (event.kind, event.reason) == (K.REJECTED, "NO_VENUE_AVAILABLE")


def test_no_quote_anywhere_routes_to_the_first_venue_and_open_breakers_reject():
    a, b = pair()
    clock = FakeClock()
    router = Router([a, b], breaker_failures=1, breaker_reset_s=30.0, clock_s=clock)  # no book yet
    assert router.route(req("o-1")) == "alpha"  # a limit may join an empty book; the venue decides
    for breaker in router.breakers.values():
        breaker.record_failure()
    with pytest.raises(NoVenueAvailable):
        router.route(req("o-2"))
    router.submit(req("o-2"))
    (event,) = router.poll()
    assert event.reason == "NO_VENUE_AVAILABLE"


def test_venue_exception_becomes_rejected_and_open_breaker_reroutes():
    a, b = pair(fees_b=(0.0, 0.001))
    flaky = FlakyVenue(a, fail_submits=3)
    clock = FakeClock()
    router = Router(
        [flaky, b], fees={"beta": (0.0, 0.001)}, breaker_failures=3, breaker_reset_s=30.0,
        clock_s=clock,
    )  # fmt: skip
    router.advance_to(10)
    for n in range(3):
        assert router.route(req(f"o-{n}")) == "alpha"
        router.submit(req(f"o-{n}"))  # never raises
    events = router.poll()
    assert [(e.client_order_id, e.kind, e.reason, e.venue) for e in events] == [
        (f"o-{n}", K.REJECTED, "VENUE_UNAVAILABLE", "alpha") for n in range(3)
    ]
    assert router.breakers["alpha"].state is CircuitState.OPEN
    assert router.route(req("o-3")) == "beta"  # alpha is cheaper but its breaker is open
    router.submit(req("o-3"))
    assert router.venue_of("o-3") == "beta"
    clock.t = 30.0  # reset elapsed: alpha gets one trial call, which succeeds
    assert router.breakers["alpha"].state is CircuitState.HALF_OPEN
    router.submit(req("o-4"))
    assert router.venue_of("o-4") == "alpha"
    assert router.breakers["alpha"].state is CircuitState.CLOSED
    events = drain(router)
    assert {(e.client_order_id, e.venue) for e in events if e.kind is K.FILLED} == {
        ("o-3", "beta"), ("o-4", "alpha"),
    }  # fmt: skip


def test_explicit_venue_with_open_breaker_is_rejected_not_sent():
    a, b = pair()
    flaky = FlakyVenue(a, fail_submits=1)
    router = Router([flaky, b], breaker_failures=1, clock_s=FakeClock())
    router.advance_to(10)
    router.submit(req("o-1", venue="alpha"))
    router.submit(req("o-2", venue="alpha"))
    assert [e.reason for e in router.poll()] == ["VENUE_UNAVAILABLE", "VENUE_UNAVAILABLE"]
    assert flaky.submitted == []


def test_cancel_and_modify_go_to_the_venue_holding_the_order():
    a, b = pair()
    fa, fb = FlakyVenue(a), FlakyVenue(b)
    router = Router([fa, fb])
    router.advance_to(10)
    router.submit(req("o-1", qty=10, price=99.00, otype=OrderType.LIMIT, venue="beta"))
    router.advance_to(20)
    router.modify("o-1", 99.50, 5)
    router.advance_to(30)
    router.cancel("o-1")
    router.cancel("nope")
    events = drain(router)
    assert fb.canceled == ["o-1"]
    assert fa.canceled == []
    assert [(e.kind, e.venue, e.reason) for e in events] == [
        (K.ACCEPTED, "beta", ""), (K.UPDATED, "beta", ""), (K.CANCEL_REJECTED, "router", "UNKNOWN_ORDER"),
        (K.CANCELED, "beta", "REQUESTED"),
    ]  # fmt: skip
    assert router.venue_of("o-1") is None  # terminal: forgotten


def test_poll_merges_venues_by_time_and_survives_a_failing_poll():
    a, b = pair()
    fa = FlakyVenue(a)
    router = Router([fa, b])
    router.advance_to(10)
    router.submit(req("o-1", venue="beta"))
    router.advance_to(20)
    router.submit(req("o-2", venue="alpha"))
    router.advance_to(21)
    fa.fail_polls = True
    events = router.poll()
    assert {e.client_order_id for e in events} == {"o-1"}
    fa.fail_polls = False
    events = router.poll()
    assert [e.client_order_id for e in events] == ["o-2", "o-2"]
    assert router.positions() == {SYM: 20.0}


def test_consolidated_quote_and_next_time():
    book_b = snapshot(5, 1, [(100.01, 7)], [(100.03, 9)])
    a, b = pair(book_b=book_b)
    router = Router([a, b])
    assert router.next_time() == 1
    router.advance_to(10)
    q = router.quote(SYM)
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (100.01, 7, 100.01, 400)
    assert router.quote("ZZZ") is None
