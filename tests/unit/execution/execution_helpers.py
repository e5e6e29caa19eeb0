"""Hand-made feeds and exchanges for the execution tests (outcomes obvious by construction)."""

from __future__ import annotations

import pyarrow as pa

from shriven.execution.simulated import SimulatedExchange
from shriven.schemas import BOOK, TRADES
from shriven.venue import InstrumentRules, VenueConfig, VenueFeed

TICK = 0.01


def snapshot(ts: int, seq: int, bids, asks) -> list[tuple]:
    """BOOK rows of a full snapshot: ``(ts, seq, side, price, size, is_snapshot)``."""
    rows = [(ts, seq, 1, p, s, True) for p, s in bids]
    return rows + [(ts, seq, -1, p, s, True) for p, s in asks]


def make_feed(symbol: str, book_rows, trade_rows=()) -> VenueFeed:
    """A feed from BOOK rows and TRADES rows ``(ts, price, size, aggressor side)``."""
    book = pa.table(
        {
            "ts": pa.array([r[0] for r in book_rows], pa.int64()).cast(BOOK.field("ts").type),
            "symbol": [symbol] * len(book_rows),
            "seq": pa.array([r[1] for r in book_rows], pa.int64()),
            "side": pa.array([r[2] for r in book_rows], pa.int8()),
            "price": pa.array([r[3] for r in book_rows], pa.float64()),
            "size": pa.array([r[4] for r in book_rows], pa.float64()),
            "is_snapshot": pa.array([r[5] for r in book_rows], pa.bool_()),
        },
        schema=BOOK,
    )
    trade_rows = list(trade_rows)
    trades = pa.table(
        {
            "ts": pa.array([r[0] for r in trade_rows], pa.int64()).cast(TRADES.field("ts").type),
            "symbol": [symbol] * len(trade_rows),
            "trade_id": pa.array(range(len(trade_rows)), pa.int64()),
            "price": pa.array([r[1] for r in trade_rows], pa.float64()),
            "size": pa.array([r[2] for r in trade_rows], pa.float64()),
            "side": pa.array([r[3] for r in trade_rows], pa.int8()),
        },
        schema=TRADES,
    )
    return VenueFeed.from_tables(trades, book, symbol, TICK)


def make_exchange(name: str, feeds: dict[str, VenueFeed], **config) -> SimulatedExchange:
    """An exchange over the feeds (tick 0.01, lot 1), clock at 0."""
    cfg = VenueConfig(
        instruments=tuple(InstrumentRules(symbol=s, tick_size=TICK, lot_size=1.0) for s in feeds),
        **config,
    )
    return SimulatedExchange(name, cfg, feeds, start_ns=0)


def drain(venue) -> list:
    """Step a simulated venue to the end, collecting every event."""
    out = []
    while venue.step():
        out += venue.poll()
    return out + venue.poll()


BASE = snapshot(1, 1, [(100.00, 500), (99.99, 800)], [(100.01, 400), (100.02, 600)])


class FlakyVenue:
    """Wraps a venue; its next ``fail_submits`` submits (and polls while ``fail_polls``) raise."""

    def __init__(self, inner, fail_submits: int = 0) -> None:
        self.inner = inner
        self.name = inner.name
        self.fail_submits = fail_submits
        self.fail_polls = False
        self.submitted: list[str] = []
        self.canceled: list[str] = []

    def submit(self, request) -> None:
        if self.fail_submits > 0:
            self.fail_submits -= 1
            raise ConnectionError("venue down")
        self.submitted.append(request.client_order_id)
        self.inner.submit(request)

    def cancel(self, client_order_id: str) -> None:
        self.canceled.append(client_order_id)
        self.inner.cancel(client_order_id)

    def modify(self, client_order_id, price, quantity) -> None:
        self.inner.modify(client_order_id, price, quantity)

    def poll(self):
        if self.fail_polls:
            raise ConnectionError("venue down")
        return self.inner.poll()

    def advance_to(self, ts: int) -> None:
        self.inner.advance_to(ts)

    def next_time(self):
        return self.inner.next_time()

    def quote(self, symbol):
        return self.inner.quote(symbol)

    def open_orders(self):
        return self.inner.open_orders()

    def positions(self):
        return self.inner.positions()


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t
