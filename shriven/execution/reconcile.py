"""Reconciliation: compare what the engine believes with what a venue reports, and say what to do.

Run after a restart (state rebuilt from the OMS journal) or after a connection loss. The venue is
the truth for what is open and what traded; the engine applies the report's ``events`` through
its normal event path (so the OMS journal records them) and cancels ``unknown_at_venue``.

* A fill the venue reports (``fills_since``) whose ``trade_id`` the engine has not seen is a
  missed FILLED event.
* An order open locally but not open at the venue is gone: whatever its missed fills do not
  explain is reported CANCELED with reason ``RECONCILED_MISSING``.
* An order open at both whose open quantity differs (after missed fills) is a ``leaves_break``.
* An order open at the venue that the engine does not know is ``unknown_at_venue``.
* With ``local_positions``: positions that differ from the venue's, after the missed fills of
  orders whose side is known locally, are ``position_breaks`` ``{symbol: (local, venue)}``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import msgspec

from shriven.execution.venue import ExecutionVenue, VenueOrder
from shriven.model.enums import OrderEventKind, Side
from shriven.model.records import OrderEvent

__all__ = ["ReconcileReport", "reconcile"]


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    """What reconciliation found; ``events`` are to be applied in order."""

    events: list[OrderEvent]
    unknown_at_venue: list[VenueOrder]
    position_breaks: dict[str, tuple[float, float]]
    leaves_breaks: dict[str, tuple[float, float]]

    @property
    def clean(self) -> bool:
        """True when the engine and the venue agree on everything checked."""
        return not (
            self.events or self.unknown_at_venue or self.position_breaks or self.leaves_breaks
        )


def _leaves(order: Any) -> float:
    """Open quantity of a local order: a number, or an object with ``leaves``/``leaves_quantity``/``quantity``."""
    if isinstance(order, int | float):
        return float(order)
    for attribute in ("leaves", "leaves_quantity", "quantity"):
        value = getattr(order, attribute, None)
        if isinstance(value, int | float):
            return float(value)
    raise TypeError(f"cannot read an open quantity from {type(order).__name__}")


def reconcile(
    local_open: Mapping[str, Any],
    seen_trade_ids: Collection[str],
    venue: ExecutionVenue,
    fills_since: Iterable[OrderEvent] = (),
    *,
    local_positions: Mapping[str, float] | None = None,
    ts: int = 0,
    tolerance: float = 1e-9,
) -> ReconcileReport:
    """Compare local open orders, seen fills and positions with the venue.

    Parameters
    ----------
    local_open
        client_order_id -> the local open order (a ``VenueOrder``, anything with ``leaves`` /
        ``leaves_quantity`` / ``quantity``, or just the open quantity).
    seen_trade_ids
        Trade ids of every fill the engine has applied.
    venue
        Asked for ``open_orders()`` (and ``positions()`` when ``local_positions`` is given).
    fills_since
        The venue's FILLED events over the window to check (e.g. ``venue.fills_since(t)`` of a
        ``SimulatedExchange`` or ``CcxtVenue``, from the last checkpoint).
    local_positions
        The engine's positions, to compare with the venue's.
    ts
        Time stamped on the CANCELED events made here.
    """
    venue_open = venue.open_orders()
    at_venue = {o.client_order_id: o for o in venue_open if o.client_order_id}
    seen = set(seen_trade_ids)
    missed: list[OrderEvent] = []
    for fill in fills_since:
        if fill.kind is OrderEventKind.FILLED and fill.trade_id and fill.trade_id not in seen:
            seen.add(fill.trade_id)
            missed.append(fill)
    missed.sort(key=lambda e: e.ts)
    missed_quantity: dict[str, float] = {}
    for fill in missed:
        missed_quantity[fill.client_order_id] = (
            missed_quantity.get(fill.client_order_id, 0.0) + fill.quantity
        )

    events: list[OrderEvent] = list(missed)
    leaves_breaks: dict[str, tuple[float, float]] = {}
    for client_order_id, local in local_open.items():
        remaining = _leaves(local) - missed_quantity.get(client_order_id, 0.0)
        venue_order = at_venue.get(client_order_id)
        if venue_order is None:
            if remaining > tolerance:
                events.append(
                    OrderEvent(
                        ts=ts, client_order_id=client_order_id, kind=OrderEventKind.CANCELED,
                        symbol=str(getattr(local, "symbol", "") or ""), venue=venue.name,
                        price=float(getattr(local, "price", math.nan)), quantity=remaining,
                        reason="RECONCILED_MISSING",
                    )
                )  # fmt: skip
        elif abs(venue_order.quantity - remaining) > tolerance:
            leaves_breaks[client_order_id] = (remaining, venue_order.quantity)

    unknown = [o for o in venue_open if o.client_order_id not in local_open]

    position_breaks: dict[str, tuple[float, float]] = {}
    if local_positions is not None:
        expected = dict(local_positions)
        for fill in missed:
            side = getattr(local_open.get(fill.client_order_id), "side", None)
            if side is not None and fill.symbol:
                sign = 1.0 if side == Side.BUY else -1.0
                expected[fill.symbol] = expected.get(fill.symbol, 0.0) + sign * fill.quantity
        reported = venue.positions()
        for symbol in sorted(set(expected) | set(reported)):
            local_qty, venue_qty = expected.get(symbol, 0.0), reported.get(symbol, 0.0)
            if abs(local_qty - venue_qty) > tolerance:
                position_breaks[symbol] = (local_qty, venue_qty)

    return ReconcileReport(
        events=events, unknown_at_venue=unknown, position_breaks=position_breaks,
        leaves_breaks=leaves_breaks,
    )  # fmt: skip
