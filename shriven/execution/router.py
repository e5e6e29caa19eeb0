"""The order router: several venues behind one ``ExecutionVenue``, with a breaker per venue.

The engine talks to one :class:`Router` (venue name ``"router"``). An order naming a venue
(``OrderRequest.venue``) goes there; otherwise it goes where its side is cheapest after the
taker fee: a buy to the lowest ``ask * (1 + taker)``, a sell to the highest
``bid * (1 - taker)``, over the venues whose breaker is not OPEN and that quote the symbol (ties:
the first venue given). The router never raises to the engine from ``submit``, ``cancel`` or
``modify``: a venue's exception counts on that venue's ``CircuitBreaker`` and comes back as a
REJECTED / CANCEL_REJECTED / MODIFY_REJECTED event with reason ``VENUE_UNAVAILABLE`` on the next
poll (``NO_VENUE_AVAILABLE`` when routing finds nowhere to go). Cancels are sent even while the
breaker is open: they only reduce risk, and a success closes the breaker.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence

import msgspec

from shriven.execution.venue import ExecutionVenue, NoVenueAvailable, VenueOrder
from shriven.marketdata.resilience import CircuitBreaker, CircuitOpenError, CircuitState
from shriven.model.enums import OrderEventKind, Side
from shriven.model.records import OrderEvent, OrderRequest, Quote

__all__ = ["Router"]

logger = logging.getLogger("shriven.execution.router")

_TERMINAL = frozenset({OrderEventKind.REJECTED, OrderEventKind.CANCELED, OrderEventKind.EXPIRED})


class Router:
    """Routes orders to venues by fee-adjusted touch; itself an ``ExecutionVenue``.

    Parameters
    ----------
    venues
        The venues, names unique; their order breaks routing ties.
    fees
        Venue name -> (maker, taker) fee rates; a venue not listed counts as (0, 0).
    breaker_failures, breaker_reset_s
        Consecutive failures that open a venue's breaker, and seconds until a trial call.
    clock_s
        Monotonic seconds for the breakers (the simulated clock in backtests); default
        ``time.monotonic``.
    """

    name = "router"

    def __init__(
        self,
        venues: Sequence[ExecutionVenue],
        *,
        fees: Mapping[str, tuple[float, float]] | None = None,
        breaker_failures: int = 5,
        breaker_reset_s: float = 30.0,
        clock_s: Callable[[], float] | None = None,
    ) -> None:
        names = [v.name for v in venues]
        if not venues or len(set(names)) != len(names):
            raise ValueError(f"venues must be given, with unique names: {names}")
        clock = clock_s if clock_s is not None else time.monotonic
        self.venues: dict[str, ExecutionVenue] = {v.name: v for v in venues}
        self.fees: dict[str, tuple[float, float]] = {n: (0.0, 0.0) for n in names}
        unknown = set(fees or {}) - set(names)
        if unknown:
            raise ValueError(f"fees given for unknown venues: {sorted(unknown)}")
        self.fees.update(fees or {})
        self.breakers: dict[str, CircuitBreaker] = {
            n: CircuitBreaker(breaker_failures, breaker_reset_s, clock, name=f"venue {n}")
            for n in names
        }
        self._order_venue: dict[str, str] = {}
        self._leaves: dict[str, float] = {}
        self._local: list[OrderEvent] = []
        self._now = 0

    # -- routing ----------------------------------------------------------------------------------

    def route(self, request: OrderRequest) -> str:
        """The venue the order goes to; :class:`NoVenueAvailable` when there is none."""
        if request.venue is not None:
            if request.venue not in self.venues:
                raise NoVenueAvailable(f"unknown venue {request.venue!r}")
            return request.venue
        open_venues = [n for n in self.venues if self.breakers[n].state is not CircuitState.OPEN]
        if len(open_venues) == 1:
            return open_venues[0]  # nothing to compare: no quote needed
        best_name, best_cost, fallback = None, math.inf, None
        for name, venue in self.venues.items():
            if self.breakers[name].state is CircuitState.OPEN:
                continue
            try:
                quote = venue.quote(request.symbol)
            except Exception as exc:  # a failing venue is skipped, and counted
                self._failed(name, "quote", exc)
                continue
            fallback = fallback or name
            cost = self._cost(name, request.side, quote)
            if cost < best_cost:
                best_name, best_cost = name, cost
        # no venue shows the side the order would take (a limit joining an empty book): the
        # first reachable venue in configuration order
        best_name = best_name or fallback
        if best_name is None:
            raise NoVenueAvailable(f"no venue quotes {request.symbol!r} with its breaker closed")
        return best_name

    def _cost(self, name: str, side: Side, quote: Quote | None) -> float:
        """Fee-adjusted touch as a cost (lower is better); inf when the side is missing."""
        if quote is None:
            return math.inf
        taker = self.fees[name][1]
        if side == Side.BUY:
            return (
                quote.ask * (1.0 + taker)
                if quote.ask_size > 0 and math.isfinite(quote.ask)
                else math.inf
            )
        if quote.bid_size > 0 and math.isfinite(quote.bid):
            return -quote.bid * (1.0 - taker)
        return math.inf

    # -- requests ---------------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> None:
        """Route and send; every failure becomes a REJECTED event on the next poll."""
        try:
            name = self.route(request)
        except NoVenueAvailable:
            self._reject(request, OrderEventKind.REJECTED, "NO_VENUE_AVAILABLE", "")
            return
        breaker = self.breakers[name]
        try:
            breaker.allow()
        except CircuitOpenError:
            self._reject(request, OrderEventKind.REJECTED, "VENUE_UNAVAILABLE", name)
            return
        try:
            self.venues[name].submit(msgspec.structs.replace(request, venue=name))
        except Exception as exc:
            self._failed(name, "submit", exc, admitted=True)
            self._reject(request, OrderEventKind.REJECTED, "VENUE_UNAVAILABLE", name)
            return
        breaker.record_success()
        self._order_venue[request.client_order_id] = name
        self._leaves[request.client_order_id] = float(request.quantity)

    def cancel(self, client_order_id: str) -> None:
        """Send the cancel to the order's venue (even with its breaker open)."""
        name = self._order_venue.get(client_order_id)
        if name is None:
            self._event(client_order_id, OrderEventKind.CANCEL_REJECTED, "UNKNOWN_ORDER", "")
            return
        try:
            self.venues[name].cancel(client_order_id)
        except Exception as exc:
            self._failed(name, "cancel", exc)
            self._event(client_order_id, OrderEventKind.CANCEL_REJECTED, "VENUE_UNAVAILABLE", name)
            return
        self.breakers[name].record_success()

    def modify(self, client_order_id: str, price: float, quantity: float) -> None:
        """Send the modify to the order's venue, through its breaker."""
        name = self._order_venue.get(client_order_id)
        kind = OrderEventKind.MODIFY_REJECTED
        if name is None:
            self._event(client_order_id, kind, "UNKNOWN_ORDER", "", price, quantity)
            return
        breaker = self.breakers[name]
        try:
            breaker.allow()
        except CircuitOpenError:
            self._event(client_order_id, kind, "VENUE_UNAVAILABLE", name, price, quantity)
            return
        try:
            self.venues[name].modify(client_order_id, price, quantity)
        except Exception as exc:
            self._failed(name, "modify", exc, admitted=True)
            self._event(client_order_id, kind, "VENUE_UNAVAILABLE", name, price, quantity)
            return
        breaker.record_success()

    def _failed(self, name: str, what: str, exc: BaseException, *, admitted: bool = False) -> None:
        """Count a venue failure (the class only is logged: messages may hold signed URLs)."""
        logger.warning("venue %s: %s failed with %s", name, what, type(exc).__name__)
        breaker = self.breakers[name]
        if not admitted and breaker.state is not CircuitState.CLOSED:
            return  # no trial was admitted; do not count a call the breaker did not let through
        breaker.record_failure()

    def _reject(self, request: OrderRequest, kind: OrderEventKind, reason: str, venue: str) -> None:
        price = math.nan if request.price is None else float(request.price)
        self._local.append(
            OrderEvent(
                ts=max(self._now, request.ts), client_order_id=request.client_order_id,
                kind=kind, symbol=request.symbol, venue=venue or self.name, price=price,
                quantity=float(request.quantity), reason=reason,
            )
        )  # fmt: skip

    def _event(
        self,
        client_order_id: str,
        kind: OrderEventKind,
        reason: str,
        venue: str,
        price: float = math.nan,
        quantity: float = 0.0,
    ) -> None:
        self._local.append(
            OrderEvent(
                ts=self._now, client_order_id=client_order_id, kind=kind, venue=venue or self.name,
                price=float(price), quantity=float(quantity), reason=reason,
            )
        )  # fmt: skip

    # -- outcomes and views -----------------------------------------------------------------------

    def poll(self) -> list[OrderEvent]:
        """Every venue's new events and the router's own, merged by ``ts``.

        A k-way merge: each venue's own order (which is causal: an order's fills before its
        CANCELED) is kept even where its timestamps disagree.
        """
        streams = [self._local]
        self._local = []
        for name, venue in self.venues.items():
            try:
                streams.append(venue.poll())
            except Exception as exc:
                self._failed(name, "poll", exc)
        streams = [s for s in streams if s]
        if len(streams) == 1:
            events = streams[0]
        else:
            events = list(heapq.merge(*streams, key=lambda e: e.ts))
        for e in events:
            self._track(e)
        return events

    def _track(self, event: OrderEvent) -> None:
        """Forget orders that can no longer change (keeps the order -> venue map bounded)."""
        cid = event.client_order_id
        if cid not in self._leaves:
            return
        if event.kind in _TERMINAL:
            self._forget(cid)
        elif event.kind is OrderEventKind.UPDATED:
            self._leaves[cid] = event.quantity
        elif event.kind is OrderEventKind.FILLED:
            self._leaves[cid] -= event.quantity
            if self._leaves[cid] <= 1e-12:
                self._forget(cid)

    def _forget(self, client_order_id: str) -> None:
        self._leaves.pop(client_order_id, None)
        self._order_venue.pop(client_order_id, None)

    def venue_of(self, client_order_id: str) -> str | None:
        """The venue holding a live order (None once it can no longer change, or never sent)."""
        return self._order_venue.get(client_order_id)

    def advance_to(self, ts: int) -> None:
        """Move every venue's clock (simulated venues process their feeds up to ``ts``)."""
        for venue in self.venues.values():
            venue.advance_to(ts)
        self._now = max(self._now, int(ts))

    def next_time(self) -> int | None:
        """The earliest ``next_time()`` of the venues that have one (simulated venues)."""
        times = []
        for venue in self.venues.values():
            next_time = getattr(venue, "next_time", None)
            if next_time is not None and (t := next_time()) is not None:
                times.append(t)
        return min(times) if times else None

    def step(self) -> bool:
        """Advance every venue to :meth:`next_time`; False when no venue has anything left."""
        t = self.next_time()
        if t is None:
            return False
        self.advance_to(t)
        return True

    def quote(self, symbol: str) -> Quote | None:
        """The best bid and best ask across venues with a closed breaker (no fees applied)."""
        bid, bid_size, ask, ask_size, ts, seen = math.nan, 0.0, math.nan, 0.0, 0, False
        for name, venue in self.venues.items():
            if self.breakers[name].state is CircuitState.OPEN:
                continue
            try:
                q = venue.quote(symbol)
            except Exception as exc:
                self._failed(name, "quote", exc)
                continue
            if q is None:
                continue
            seen, ts = True, max(ts, q.ts)
            if q.bid_size > 0 and not q.bid <= bid:
                bid, bid_size = q.bid, q.bid_size
            if q.ask_size > 0 and not q.ask >= ask:
                ask, ask_size = q.ask, q.ask_size
        if not seen:
            return None
        return Quote(ts=ts, symbol=symbol, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size)

    def open_orders(self) -> list[VenueOrder]:
        """Every venue's open orders; raises if a venue cannot answer (a partial list would lie)."""
        return [o for venue in self.venues.values() for o in venue.open_orders()]

    def positions(self) -> dict[str, float]:
        """Positions summed over venues; raises if a venue cannot answer."""
        total: dict[str, float] = {}
        for venue in self.venues.values():
            for symbol, qty in venue.positions().items():
                total[symbol] = total.get(symbol, 0.0) + qty
        return total
