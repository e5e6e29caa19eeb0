"""The OMS's mutable view of one order: its request plus what has happened to it since."""

from __future__ import annotations

import math

from shriven.model.enums import OrderState
from shriven.model.records import OrderRequest
from shriven.oms.records import OrderSnapshot

__all__ = ["Order"]


class Order:
    """One order as the OMS tracks it; mutated only by :class:`shriven.oms.OrderManager`.

    ``price`` and ``quantity`` are the current ones (after modifies); ``previous_state`` is the
    last working state the order left (what a rejected cancel or modify returns it to), None
    before its first transition. ``avg_fill_price`` is NaN before the first fill.
    """

    __slots__ = (
        "_trade_ids",
        "avg_fill_price",
        "created_ts",
        "fees",
        "filled_quantity",
        "previous_state",
        "price",
        "quantity",
        "reason",
        "request",
        "state",
        "updated_ts",
        "venue",
        "venue_order_id",
    )

    def __init__(self, request: OrderRequest) -> None:
        self.request = request
        self.state = OrderState.INITIALIZED
        self.previous_state: OrderState | None = None
        self.filled_quantity = 0.0
        self.avg_fill_price = math.nan
        self.fees = 0.0
        self.venue = ""
        self.venue_order_id = ""
        self.reason = ""
        self.created_ts = request.ts
        self.updated_ts = request.ts
        self.price: float | None = None if request.price is None else float(request.price)
        self.quantity = float(request.quantity)
        self._trade_ids: set[str] = set()

    @property
    def client_order_id(self) -> str:
        """The idempotency key (the request's)."""
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        """Instrument symbol (the request's)."""
        return self.request.symbol

    @property
    def leaves_quantity(self) -> float:
        """Quantity still working at the venue (0 once terminal)."""
        if self.state.is_terminal:
            return 0.0
        return max(self.quantity - self.filled_quantity, 0.0)

    @property
    def is_open(self) -> bool:
        """True while the order may still fill (see ``OrderState.is_open``)."""
        return self.state.is_open

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the order any more."""
        return self.state.is_terminal

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id!r}, {self.symbol}, {self.request.side.name}, "
            f"{self.state.name}, qty={self.quantity}, filled={self.filled_quantity}, "
            f"price={self.price})"
        )

    def to_snapshot(self) -> OrderSnapshot:
        """Everything about the order as an immutable record (compaction, state comparisons)."""
        return OrderSnapshot(
            request=self.request,
            state=self.state,
            previous_state=self.previous_state,
            filled_quantity=self.filled_quantity,
            avg_fill_price=self.avg_fill_price,
            fees=self.fees,
            venue=self.venue,
            venue_order_id=self.venue_order_id,
            reason=self.reason,
            created_ts=self.created_ts,
            updated_ts=self.updated_ts,
            price=self.price,
            quantity=self.quantity,
            trade_ids=sorted(self._trade_ids),
        )

    @classmethod
    def from_snapshot(cls, snapshot: OrderSnapshot) -> Order:
        """Rebuild an order from :meth:`to_snapshot`'s record (a compacted journal)."""
        order = cls(snapshot.request)
        order.state = snapshot.state
        order.previous_state = snapshot.previous_state
        order.filled_quantity = snapshot.filled_quantity
        order.avg_fill_price = snapshot.avg_fill_price
        order.fees = snapshot.fees
        order.venue = snapshot.venue
        order.venue_order_id = snapshot.venue_order_id
        order.reason = snapshot.reason
        order.created_ts = snapshot.created_ts
        order.updated_ts = snapshot.updated_ts
        order.price = snapshot.price
        order.quantity = snapshot.quantity
        order._trade_ids = set(snapshot.trade_ids)
        return order
