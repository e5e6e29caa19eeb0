"""The loop the engine runs: algo -> router -> simulated exchanges -> fills -> algo."""

from __future__ import annotations

from execution_helpers import BASE, make_exchange, make_feed, snapshot

from shriven.execution.algos import TWAP, VWAP
from shriven.execution.router import Router
from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import OrderRequest

SYM = "AAA"


def parent(qty, otype=OrderType.MARKET):
    return OrderRequest(
        client_order_id="P", symbol=SYM, side=Side.BUY, quantity=qty, order_type=otype
    )


def test_twap_through_the_router_fills_the_parent_exactly():
    a = make_exchange("alpha", {SYM: make_feed(SYM, BASE)}, order_latency_ns=3, taker_fee=0.001)
    b = make_exchange("beta", {SYM: make_feed(SYM, BASE)}, order_latency_ns=3, taker_fee=0.0)
    router = Router([a, b], fees={"alpha": (0.0, 0.001), "beta": (0.0, 0.0)})
    algo = TWAP(parent(10), 10, 40, 3)
    filled: dict[str, float] = {}
    for now in range(10, 60, 5):
        router.advance_to(now)
        for event in router.poll():
            if event.kind is OrderEventKind.FILLED:
                algo.on_fill(event.client_order_id, event.quantity)
                filled[event.venue] = filled.get(event.venue, 0.0) + event.quantity
        for child in algo.on_time(now, router.quote(SYM), 0.0):
            router.submit(child)
    assert algo.done
    assert algo.filled_quantity == 10
    assert filled == {"beta": 10}  # same book, beta's taker fee is lower


def test_vwap_reads_market_volume_from_the_exchange_feed():
    book = snapshot(1, 1, [(100.00, 500)], [(100.01, 400)])
    trades = [(20, 100.00, 50, -1), (30, 100.01, 30, 1), (45, 100.00, 20, -1)]
    ex = make_exchange("sim", {SYM: make_feed(SYM, book, trades)})
    router = Router([ex])
    algo = VWAP(parent(20), 0.2, 10, 50)
    sent = []
    last = 0
    for now in range(10, 60, 10):
        router.advance_to(now)
        volume = ex.traded_volume(SYM, last, now)
        last = now
        for child in algo.on_time(now, router.quote(SYM), volume):
            sent.append((now, child.quantity))
            router.submit(child)
    # 20% of 50 at t=20 -> 10; of 30 at t=30 -> 6; of 20 at t=50 -> end: the remaining 4
    assert sent == [(20, 10), (30, 6), (50, 4)]
    assert algo.done
