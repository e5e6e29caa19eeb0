"""Several simulated instruments behind the ``ExecutionVenue`` interface, on one clock.

:class:`SimulatedExchange` holds one ``shriven.venue.SimulatedVenue`` per symbol (each with its
own feed, all sharing the exchange's latencies, fees and queue model) and moves them together.
It maps the engine's string ``client_order_id`` to the int ids the numba venue uses
(``venue_order_id = f"{name}-{int}"``) and turns ``VenueEvent`` rows into ``OrderEvent``:

* ACCEPTED, REJECTED, CANCELED, CANCEL_REJECTED, MODIFY_REJECTED map by name, MODIFIED to
  UPDATED, PARTIALLY_FILLED and FILLED both to FILLED (the fill's price, quantity, fee,
  liquidity and a ``trade_id`` ``f"{name}-{start:x}-t{n}"``, unique across exchange instances
  that start at different times, so a restarted paper venue never reuses an id);
* ``reason`` is the ``RejectReason`` / ``CancelReason`` name; requests refused here, before any
  venue sees them (unknown symbol, a reused client id, cancel of an id never sent), become events
  at the current time with reasons ``UNKNOWN_SYMBOL``, ``DUPLICATE_ORDER_ID``, ``UNKNOWN_ORDER``;
* ``OrderEvent.ts`` is the exchange time of the outcome; :meth:`SimulatedExchange.poll` returns
  events in the order they became visible (exchange time plus response latency).

``open_orders`` and ``positions`` are what the exchange has *reported* so far (the delivered
events), the same view a real venue's REST endpoints give; nothing here reads the wall clock.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from operator import itemgetter

import numpy as np

from shriven.book.orders import EventKind, OrderType, Side
from shriven.execution.venue import VenueOrder
from shriven.model.enums import OrderEventKind
from shriven.model.records import OrderEvent, OrderRequest, Quote
from shriven.venue import _kernels as vk
from shriven.venue.config import VenueConfig
from shriven.venue.simulated import SimulatedVenue, VenueEvent, VenueFeed

__all__ = ["SimulatedExchange"]

_KIND_MAP = {
    EventKind.ACCEPTED: OrderEventKind.ACCEPTED,
    EventKind.REJECTED: OrderEventKind.REJECTED,
    EventKind.PARTIALLY_FILLED: OrderEventKind.FILLED,
    EventKind.FILLED: OrderEventKind.FILLED,
    EventKind.CANCELED: OrderEventKind.CANCELED,
    EventKind.MODIFIED: OrderEventKind.UPDATED,
    EventKind.CANCEL_REJECTED: OrderEventKind.CANCEL_REJECTED,
    EventKind.MODIFY_REJECTED: OrderEventKind.MODIFY_REJECTED,
}
_SIGN = {Side.BUY: 1.0, Side.SELL: -1.0}


class _Order:
    """What the exchange has reported about one of our orders (mutable, private)."""

    __slots__ = (
        "client_order_id",
        "int_id",
        "is_open",
        "leaves",
        "order_type",
        "price",
        "side",
        "symbol",
    )

    def __init__(self, client_order_id: str, int_id: int, request: OrderRequest) -> None:
        self.client_order_id = client_order_id
        self.int_id = int_id
        self.symbol = request.symbol
        self.side = Side(request.side)
        self.order_type = OrderType(request.order_type)
        self.price = math.nan if request.price is None else float(request.price)
        self.leaves = 0.0
        self.is_open = False


_first = itemgetter(0)


class SimulatedExchange:
    """An ``ExecutionVenue`` over one ``SimulatedVenue`` per symbol, all on one clock.

    Parameters
    ----------
    name
        The venue name (``OrderEvent.venue``, prefix of venue order ids and trade ids).
    config
        Latencies, fees, queue model; must list every symbol of ``feeds``.
    feeds
        Symbol -> its merged feed.
    start_ns
        Initial clock; default just before the earliest feed row.
    max_orders
        Resting orders at once per symbol.
    """

    def __init__(
        self,
        name: str,
        config: VenueConfig,
        feeds: Mapping[str, VenueFeed],
        *,
        start_ns: int | None = None,
        max_orders: int = 1024,
    ) -> None:
        if not feeds:
            raise ValueError("a simulated exchange needs at least one feed")
        for symbol, feed in feeds.items():
            if feed.symbol != symbol:
                raise ValueError(f"feed of {feed.symbol!r} given under the symbol {symbol!r}")
        if start_ns is None:
            firsts = [int(f.rows["ts"][0]) for f in feeds.values() if len(f)]
            start_ns = min(firsts) - 1 if firsts else 0
        self.name = name
        self.config = config
        self.feeds: dict[str, VenueFeed] = dict(feeds)
        self.venues: dict[str, SimulatedVenue] = {
            symbol: SimulatedVenue(config, feed, max_orders=max_orders, start_ns=start_ns)
            for symbol, feed in self.feeds.items()
        }
        self._now = int(start_ns)
        self._next_int_id = 1
        self._next_trade = 1
        #: Ids of this instance: a restarted venue (paper trading) must not reuse the last one's.
        self._id_prefix = f"{name}-{int(start_ns):x}"
        self._by_client: dict[str, _Order] = {}
        self._by_int: dict[int, _Order] = {}
        self._local: list[OrderEvent] = []
        self._positions: dict[str, float] = dict.fromkeys(self.feeds, 0.0)
        self._fills: list[OrderEvent] = []

    # -- clock ------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The clock (ns) every symbol's venue is at."""
        return self._now

    def advance_to(self, ts: int) -> None:
        """Move every symbol to ``ts`` (never backwards): feed rows, requests and fills up to it."""
        if ts < self._now:
            raise ValueError(f"cannot go back in time: {ts} < now {self._now}")
        for venue in self.venues.values():
            venue.advance_to(ts)
        self._now = int(ts)

    def next_time(self) -> int | None:
        """The earliest time something may become visible on any symbol (None: nothing left)."""
        times = [t for t in (v.next_time() for v in self.venues.values()) if t is not None]
        return min(times) if times else None

    def step(self) -> bool:
        """Advance to :meth:`next_time`; False when nothing is left to happen."""
        t = self.next_time()
        if t is None:
            return False
        self.advance_to(t)
        return True

    # -- requests ---------------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> None:
        """Send a new order to its symbol's venue; refusals come back as REJECTED events."""
        cid = request.client_order_id
        venue = self.venues.get(request.symbol)
        if venue is None:
            self._refuse(request, "UNKNOWN_SYMBOL")
            return
        if cid in self._by_client:
            self._refuse(request, "DUPLICATE_ORDER_ID")
            return
        order = _Order(cid, self._next_int_id, request)
        self._next_int_id += 1
        self._by_client[cid] = order
        self._by_int[order.int_id] = order
        venue.submit(order.int_id, order.side, request.quantity, request.price, order.order_type)

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel; CANCELED or CANCEL_REJECTED comes back."""
        order = self._by_client.get(client_order_id)
        if order is None:
            self._local_event(client_order_id, OrderEventKind.CANCEL_REJECTED, "UNKNOWN_ORDER")
            return
        self.venues[order.symbol].cancel(order.int_id)

    def modify(self, client_order_id: str, price: float, quantity: float) -> None:
        """Ask for a new price and open quantity; UPDATED or MODIFY_REJECTED comes back."""
        order = self._by_client.get(client_order_id)
        if order is None:
            self._local_event(
                client_order_id, OrderEventKind.MODIFY_REJECTED, "UNKNOWN_ORDER", price, quantity
            )
            return
        self.venues[order.symbol].modify(order.int_id, price, quantity)

    def _refuse(self, request: OrderRequest, reason: str) -> None:
        self._local.append(
            OrderEvent(
                ts=self._now, client_order_id=request.client_order_id,
                kind=OrderEventKind.REJECTED, symbol=request.symbol, venue=self.name,
                price=math.nan if request.price is None else float(request.price),
                quantity=float(request.quantity), reason=reason,
            )
        )  # fmt: skip

    def _local_event(
        self,
        client_order_id: str,
        kind: OrderEventKind,
        reason: str,
        price: float = math.nan,
        quantity: float = 0.0,
    ) -> None:
        self._local.append(
            OrderEvent(
                ts=self._now, client_order_id=client_order_id, kind=kind, venue=self.name,
                price=float(price), quantity=float(quantity), reason=reason,
            )
        )  # fmt: skip

    # -- outcomes ---------------------------------------------------------------------------------

    def poll(self) -> list[OrderEvent]:
        """Outcomes visible now, in the order they became visible (ties: the earlier order id).

        Each symbol's events keep their own order; across symbols they merge by (visible time,
        exchange time, order id), so orders sent together come back in sending order.
        """
        local = [((e.ts, e.ts, -1), e) for e in self._local]
        self._local = []
        streams: list[list[tuple[tuple[int, int, int], VenueEvent | OrderEvent]]] = [local]
        for venue in self.venues.values():
            events = venue.events()
            if events:
                streams.append([((e.ts_local, e.ts, e.order_id), e) for e in events])
        streams = [s for s in streams if s]
        # a stable sort of the concatenation equals the k-way merge (each stream is sorted and
        # keys never tie across symbols) and runs in C
        merged = streams[0] if len(streams) == 1 else sorted(itertools.chain.from_iterable(streams), key=_first)
        out = []
        for _, ev in merged:
            converted = ev if isinstance(ev, OrderEvent) else self._convert(ev)
            if converted is not None:
                out.append(converted)
        return out

    def _convert(self, ev: VenueEvent) -> OrderEvent | None:
        """One ``VenueEvent`` as an ``OrderEvent``, updating the reported order state."""
        order = self._by_int.get(ev.order_id)
        if order is None:  # not one of ours: cannot happen, the venue only reports our ids
            return None
        kind = _KIND_MAP[ev.kind]
        price = ev.price
        if order.order_type is OrderType.MARKET and kind is not OrderEventKind.FILLED:
            price = math.nan
        trade_id = ""
        fee = 0.0
        if ev.kind is EventKind.ACCEPTED:
            order.is_open, order.leaves = True, ev.leaves_quantity
        elif kind is OrderEventKind.FILLED:
            order.leaves = ev.leaves_quantity
            order.is_open = ev.leaves_quantity > 0.0
            trade_id = f"{self._id_prefix}-t{self._next_trade}"
            self._next_trade += 1
            fee = ev.fee
            self._positions[order.symbol] += _SIGN[order.side] * ev.quantity
        elif ev.kind is EventKind.CANCELED or ev.kind is EventKind.REJECTED:
            order.is_open, order.leaves = False, 0.0
        elif ev.kind is EventKind.MODIFIED:
            order.price, order.leaves = ev.price, ev.quantity
        elif ev.kind is EventKind.CANCEL_REJECTED:
            price = math.nan
        event = OrderEvent(
            ts=ev.ts, client_order_id=order.client_order_id, kind=kind, symbol=order.symbol,
            venue=self.name, venue_order_id=f"{self._id_prefix}-{order.int_id}", price=price,
            quantity=ev.quantity, fee=fee, liquidity=ev.liquidity, trade_id=trade_id,
            reason=ev.reason.name if ev.reason is not None else "",
        )  # fmt: skip
        if kind is OrderEventKind.FILLED:
            self._fills.append(event)
        return event

    # -- views ------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote | None:
        """Top of book as the strategy sees it now (feed latency behind); None if unknown/empty."""
        venue = self.venues.get(symbol)
        if venue is None:
            return None
        bid, bid_size = venue.best_bid()
        ask, ask_size = venue.best_ask()
        if bid_size == 0.0 and ask_size == 0.0:
            return None
        return Quote(
            ts=self._now, symbol=symbol, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size
        )

    def open_orders(self) -> list[VenueOrder]:
        """Orders open as reported so far (acknowledged, not yet filled or canceled)."""
        return [
            VenueOrder(
                client_order_id=o.client_order_id,
                symbol=o.symbol,
                side=o.side,
                price=o.price,
                quantity=o.leaves,
                venue_order_id=f"{self._id_prefix}-{o.int_id}",
            )  # fmt: skip
            for o in self._by_client.values()
            if o.is_open
        ]

    def positions(self) -> dict[str, float]:
        """Signed position per symbol from the fills reported so far."""
        return dict(self._positions)

    def fills_since(self, ts: int) -> list[OrderEvent]:
        """FILLED events reported so far whose exchange time is at or after ``ts`` (reconciliation)."""
        return [f for f in self._fills if f.ts >= ts]

    def traded_volume(self, symbol: str, start_ns: int, end_ns: int) -> float:
        """Market volume traded on ``symbol`` that became visible in ``(start_ns, end_ns]``.

        What a VWAP algo's ``traded_volume`` wants: call with (previous call's now, now]. The
        feed's trade prints count (our own fills do not change the historical feed).
        """
        feed = self.feeds[symbol]
        rows = feed.rows
        seen = rows["ts"] + self.config.feed_latency_ns
        mask = (rows["kind"] == vk.FEED_TRADE) & (seen > start_ns) & (seen <= end_ns)
        return float(np.sum(rows["qty"][mask]))
