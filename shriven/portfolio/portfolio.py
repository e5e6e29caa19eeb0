"""The account: cash, positions, exposures and PnL, booked from fills and valued by marks.

The engine calls :meth:`Portfolio.apply_fill` and :meth:`Portfolio.mark` on its hot path, and
risk reads ``equity`` and the exposures before every order, so all of them are O(1): the
portfolio keeps running totals and corrects them per symbol as that symbol changes.

Identities that always hold (up to float rounding):
``cash = starting_cash - sum(signed_qty * price + fee)`` and
``equity = starting_cash + realized_pnl + unrealized_pnl - fees``.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

from shriven.model.enums import Side
from shriven.model.records import Fill
from shriven.portfolio.position import Position
from shriven.schemas import PNL, POSITIONS

__all__ = ["Portfolio", "PnlRecorder"]

#: Running totals are recomputed from the positions after this many updates, so the rounding
#: error of millions of add-and-subtract corrections never builds up (amortised O(1)).
_RESYNC_EVERY = 1 << 14


def _finite_positive(x: float) -> bool:
    return 0.0 < x < math.inf


class Portfolio:
    """Cash and positions of one account in one currency, under average-cost accounting."""

    def __init__(self, starting_cash: float, *, currency: str = "USD") -> None:
        if not math.isfinite(starting_cash):
            raise ValueError(f"starting_cash must be finite, got {starting_cash}")
        self.starting_cash = float(starting_cash)
        self.currency = currency
        self._cash = float(starting_cash)
        self._positions: dict[str, Position] = {}
        # Marks of symbols not traded yet: applied when the first fill opens the position.
        self._early_marks: dict[str, tuple[float, int]] = {}
        self._realized = 0.0
        self._fees = 0.0
        self._net = 0.0
        self._gross = 0.0
        self._unrealized = 0.0
        self._open = 0
        self._updates = 0

    # ------------------------------------------------------------------ hot path
    def apply_fill(self, fill: Fill) -> Position:
        """Book a fill: position, average cost, realised PnL, fees and cash; returns the position."""
        quantity, price, fee = fill.quantity, fill.price, fill.fee
        if not _finite_positive(quantity):
            raise ValueError(
                f"fill {fill.trade_id or fill.client_order_id}: bad quantity {quantity}"
            )
        if not _finite_positive(price):
            raise ValueError(f"fill {fill.trade_id or fill.client_order_id}: bad price {price}")
        if not math.isfinite(fee):
            raise ValueError(f"fill {fill.trade_id or fill.client_order_id}: bad fee {fee}")
        if fill.side == Side.BUY:
            signed = quantity
        elif fill.side == Side.SELL:
            signed = -quantity
        else:
            raise ValueError(
                f"fill {fill.trade_id or fill.client_order_id}: bad side {fill.side!r}"
            )
        pos = self._positions.get(fill.symbol)
        if pos is None:
            pos = self._open_position(fill.symbol)
        self._remove(pos)
        realized_before = pos.realized_pnl
        pos.apply(signed, price, fee, fill.ts)
        self._realized += pos.realized_pnl - realized_before
        self._fees += fee
        self._cash -= signed * price + fee
        self._add(pos)
        return pos

    def mark(self, symbol: str, price: float, ts: int) -> None:
        """Value a symbol at a new price; NaN, infinite and non-positive prices are ignored."""
        if not _finite_positive(price):
            return
        pos = self._positions.get(symbol)
        if pos is None:
            self._early_marks[symbol] = (price, ts)
            return
        self._remove(pos)
        pos.mark_price = price
        pos.mark_ts = ts
        self._add(pos)

    # ------------------------------------------------------------------ queries
    def position(self, symbol: str) -> float:
        """Signed quantity held (0 for a symbol never traded)."""
        pos = self._positions.get(symbol)
        return 0.0 if pos is None else pos.quantity

    def get(self, symbol: str) -> Position | None:
        """The symbol's position (the live object: read, do not modify), None if never traded."""
        return self._positions.get(symbol)

    def positions(self) -> dict[str, Position]:
        """Every symbol ever traded, flat ones included (live objects: read, do not modify)."""
        return dict(self._positions)

    @property
    def cash(self) -> float:
        """Cash after fills and fees."""
        return self._cash

    @property
    def equity(self) -> float:
        """Cash plus the market value of all positions."""
        return self._cash + self._net

    @property
    def gross_exposure(self) -> float:
        """Sum of |market value|."""
        return self._gross

    @property
    def net_exposure(self) -> float:
        """Sum of market value (long minus short)."""
        return self._net

    @property
    def realized_pnl(self) -> float:
        """PnL closed by fills over all symbols, before fees."""
        return self._realized

    @property
    def unrealized_pnl(self) -> float:
        """Open PnL at the last marks over all symbols."""
        return self._unrealized

    @property
    def fees(self) -> float:
        """Fees paid so far (negative: net rebates)."""
        return self._fees

    def exposure_by_symbol(self) -> dict[str, float]:
        """Signed market value of each open position."""
        return {s: p.market_value for s, p in self._positions.items() if p.quantity != 0.0}

    # ------------------------------------------------------------------ lake rows
    def positions_table(self, ts: int) -> pa.Table:
        """A POSITIONS snapshot at ``ts``: one row per symbol ever traded, sorted by symbol."""
        rows = [self._positions[s] for s in sorted(self._positions)]
        columns: dict[str, list[Any]] = {
            "ts": [ts] * len(rows),
            "symbol": [p.symbol for p in rows],
            "quantity": [p.quantity for p in rows],
            "avg_cost": [None if p.avg_cost != p.avg_cost else p.avg_cost for p in rows],
            "mark_price": [None if p.mark_price != p.mark_price else p.mark_price for p in rows],
            "market_value": [p.market_value for p in rows],
            "realized_pnl": [p.realized_pnl for p in rows],
            "unrealized_pnl": [p.unrealized_pnl for p in rows],
            "fees": [p.fees for p in rows],
        }
        return _table(columns, POSITIONS)

    def pnl_row(self, ts: int) -> dict[str, float | int]:
        """The account totals at ``ts`` as one PNL row (``ts`` in ns)."""
        return {
            "ts": ts,
            "cash": self._cash,
            "equity": self.equity,
            "gross_exposure": self._gross,
            "net_exposure": self._net,
            "realized_pnl": self._realized,
            "unrealized_pnl": self._unrealized,
            "fees": self._fees,
        }

    # ------------------------------------------------------------------ running totals
    def _open_position(self, symbol: str) -> Position:
        pos = Position(symbol)
        early = self._early_marks.pop(symbol, None)
        if early is not None:
            pos.mark_price, pos.mark_ts = early
        self._positions[symbol] = pos
        return pos

    def _remove(self, pos: Position) -> None:
        """Take a position's contribution out of the totals (before it changes)."""
        if pos.quantity != 0.0:
            value = pos.market_value
            self._net -= value
            self._gross -= abs(value)
            self._unrealized -= pos.unrealized_pnl
            self._open -= 1

    def _add(self, pos: Position) -> None:
        """Put a position's contribution back (after it changed)."""
        if pos.quantity != 0.0:
            value = pos.market_value
            self._net += value
            self._gross += abs(value)
            self._unrealized += pos.unrealized_pnl
            self._open += 1
        self._updates += 1
        if self._open == 0:
            self._net = self._gross = self._unrealized = 0.0
        elif self._updates >= _RESYNC_EVERY:
            self._resync()

    def _resync(self) -> None:
        """Recompute the running totals exactly from the positions."""
        self._updates = 0
        open_ = [p for p in self._positions.values() if p.quantity != 0.0]
        values = [p.market_value for p in open_]
        self._net = math.fsum(values)
        self._gross = math.fsum(abs(v) for v in values)
        self._unrealized = math.fsum(p.unrealized_pnl for p in open_)
        self._realized = math.fsum(p.realized_pnl for p in self._positions.values())
        self._fees = math.fsum(p.fees for p in self._positions.values())
        self._open = len(open_)


class PnlRecorder:
    """Samples a portfolio's totals into PNL rows: every ``interval_ns`` of event time or on demand.

    The engine calls :meth:`on_time` with each event's time (cheap when no sample is due) and
    :meth:`record` at checkpoints; a flow :meth:`drain`-s the rows into the lake per batch.
    """

    def __init__(self, portfolio: Portfolio, *, interval_ns: int | None = None) -> None:
        if interval_ns is not None and interval_ns <= 0:
            raise ValueError(f"interval_ns must be positive, got {interval_ns}")
        self.portfolio = portfolio
        self.interval_ns = interval_ns
        self._next_due: int | None = None
        self._rows: dict[str, list[float | int]] = {name: [] for name in PNL.names}

    def on_time(self, ts: int) -> bool:
        """Record a sample when ``ts`` reached the next multiple of the interval; True if it did."""
        if self.interval_ns is None:
            return False
        if self._next_due is not None and ts < self._next_due:
            return False
        self.record(ts)
        self._next_due = (ts // self.interval_ns + 1) * self.interval_ns
        return True

    def record(self, ts: int) -> None:
        """Record a sample now (ts in ns)."""
        for name, value in self.portfolio.pnl_row(ts).items():
            self._rows[name].append(value)

    def __len__(self) -> int:
        return len(self._rows["ts"])

    def table(self) -> pa.Table:
        """The samples so far as a PNL table, in recording order."""
        return _table(self._rows, PNL)

    def drain(self) -> pa.Table:
        """The samples so far as a PNL table; the recorder starts empty again."""
        out = self.table()
        self._rows = {name: [] for name in PNL.names}
        return out


def _table(columns: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    """Columns of Python values (ts as int ns) as a table in the schema."""
    arrays = []
    for f in schema:
        values = columns[f.name]
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(values, pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
