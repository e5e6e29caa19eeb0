"""One instrument's position under average-cost accounting, updated in O(1) per fill and mark.

Average cost: adding to a position moves ``avg_cost`` to the quantity-weighted price; reducing
it realises ``(price - avg_cost) * closed quantity`` and leaves ``avg_cost`` alone; a fill through
zero closes the old position and opens the rest at the fill price. Fees are kept apart from
``realized_pnl`` (it is "before fees"), so gross and net PnL can both be reported.
"""

from __future__ import annotations

import math

__all__ = ["Position"]

#: A position within this fraction of the larger of (old position, fill) is zero: base-unit
#: quantities such as 0.1 + 0.2 - 0.3 leave ~1e-17 residues that would otherwise keep a
#: "flat" position open at a stale average cost.
FLAT_TOLERANCE = 1e-9


class Position:
    """Signed quantity, average cost, realised PnL, fees and last mark of one symbol."""

    __slots__ = (
        "avg_cost",
        "fees",
        "mark_price",
        "mark_ts",
        "quantity",
        "realized_pnl",
        "symbol",
        "ts",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        #: Signed position in base units (+ long, - short).
        self.quantity = 0.0
        #: Average entry price of the open position; NaN when flat.
        self.avg_cost = math.nan
        #: PnL closed by fills, before fees (quote currency).
        self.realized_pnl = 0.0
        #: Fees paid on this symbol (negative: net rebates).
        self.fees = 0.0
        #: Last good mark; NaN before the first.
        self.mark_price = math.nan
        #: Time of the last mark (ns); 0 before the first.
        self.mark_ts = 0
        #: Time of the last fill (ns).
        self.ts = 0

    @property
    def is_flat(self) -> bool:
        """True when nothing is held (avg_cost is NaN then)."""
        return self.quantity == 0.0

    @property
    def unrealized_pnl(self) -> float:
        """(mark - avg_cost) * quantity; 0 when flat or not yet marked."""
        if self.quantity == 0.0 or self.mark_price != self.mark_price:
            return 0.0
        return (self.mark_price - self.avg_cost) * self.quantity

    @property
    def market_value(self) -> float:
        """Quantity * mark; valued at cost until the first mark, so unmarked exposure is never 0."""
        if self.quantity == 0.0:
            return 0.0
        if self.mark_price != self.mark_price:
            return self.quantity * self.avg_cost
        return self.quantity * self.mark_price

    def apply(self, signed_quantity: float, price: float, fee: float, ts: int) -> None:
        """Book one fill (already validated by the portfolio)."""
        old = self.quantity
        new = old + signed_quantity
        if abs(new) <= FLAT_TOLERANCE * max(abs(old), abs(signed_quantity)):
            new = 0.0
        if old == 0.0:
            self.avg_cost = price
        elif (old > 0.0) == (signed_quantity > 0.0):
            self.avg_cost = (old * self.avg_cost + signed_quantity * price) / new
        else:
            through = new == 0.0 or (new > 0.0) != (old > 0.0)
            closed = abs(old) if through else abs(signed_quantity)
            self.realized_pnl += (price - self.avg_cost) * (closed if old > 0.0 else -closed)
            if new == 0.0:
                self.avg_cost = math.nan
            elif through:
                self.avg_cost = price
        self.quantity = new
        self.fees += fee
        self.ts = ts

    def __repr__(self) -> str:
        return (
            f"Position({self.symbol!r}, quantity={self.quantity}, avg_cost={self.avg_cost}, "
            f"realized_pnl={self.realized_pnl}, fees={self.fees}, mark_price={self.mark_price})"
        )
