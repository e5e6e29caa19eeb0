"""The one interface every execution venue implements (simulated, ccxt, the router itself).

The engine talks to an :class:`ExecutionVenue` and never to a venue's own API, so backtest,
paper and live trading run the same engine code. Requests are fire-and-forget: ``submit``,
``cancel`` and ``modify`` return nothing, and every outcome (ACCEPTED, REJECTED, FILLED,
CANCELED, UPDATED, CANCEL_REJECTED, MODIFY_REJECTED) arrives later as an ``OrderEvent`` from
``poll``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from shriven.model.enums import Side
from shriven.model.records import OrderEvent, OrderRequest, Quote

__all__ = ["ExecutionVenue", "NoVenueAvailable", "VenueOrder"]


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order open at a venue, as the venue reports it (what reconciliation compares).

    ``quantity`` is the open (leaves) quantity; ``price`` is NaN for orders without a limit.
    """

    client_order_id: str
    symbol: str
    side: Side
    price: float
    quantity: float
    venue_order_id: str = ""


class NoVenueAvailable(LookupError):
    """No venue can take the order (unknown venue, no quote, or every breaker open)."""


@runtime_checkable
class ExecutionVenue(Protocol):
    """A place orders go to; outcomes come back through :meth:`poll`."""

    name: str

    def submit(self, request: OrderRequest) -> None:
        """Send a new order; ACCEPTED / REJECTED / FILLED... arrive through :meth:`poll`."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel an order; CANCELED or CANCEL_REJECTED arrives through :meth:`poll`."""
        ...

    def modify(self, client_order_id: str, price: float, quantity: float) -> None:
        """Ask for a new price and open quantity; UPDATED or MODIFY_REJECTED follows."""
        ...

    def poll(self) -> list[OrderEvent]:
        """Outcomes that became visible since the last call, in order."""
        ...

    def advance_to(self, ts: int) -> None:
        """Move a simulated venue's clock to ``ts`` (ns); a no-op for real venues."""
        ...

    def quote(self, symbol: str) -> Quote | None:
        """Top of book as seen now; None when the symbol is unknown or its book is empty."""
        ...

    def open_orders(self) -> list[VenueOrder]:
        """Orders open at the venue now (for reconciliation)."""
        ...

    def positions(self) -> dict[str, float]:
        """Signed position per symbol as the venue reports it (for reconciliation)."""
        ...
