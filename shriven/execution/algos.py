"""Execution algorithms: a parent order worked as child orders over time.

An algo is a pure, clock-free state machine: the engine calls :meth:`ExecutionAlgo.on_time` with
its clock, the quote and the market volume traded since the previous call, sends the child
``OrderRequest`` s it returns, and reports child fills with :meth:`ExecutionAlgo.on_fill`.
Child ids are ``f"{parent_id}-{n}"`` with ``n`` fixed by the schedule (TWAP: the slice number;
VWAP, Iceberg: the child's rank), so an algo rebuilt after a restart and fed the same inputs
asks for the same ids, and the OMS (idempotent on ``client_order_id``) sends nothing twice.

Quantities are whole multiples of ``lot_size``, computed in integer lots, so the children sum to
the parent exactly. Children copy the parent's symbol, side, order type, price, strategy, venue
and reduce-only flag (not its ``signal_offset``: the parent owns the signal).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import msgspec

from shriven.model.enums import OrderType
from shriven.model.records import OrderRequest, Quote

__all__ = ["TWAP", "VWAP", "ExecutionAlgo", "Iceberg"]

_LOT_TOLERANCE = 1e-9


@runtime_checkable
class ExecutionAlgo(Protocol):
    """Turns a parent order into child orders as time passes."""

    done: bool

    def on_time(self, now: int, quote: Quote | None, traded_volume: float) -> list[OrderRequest]:
        """Children to send now; ``traded_volume`` is the market volume since the last call."""
        ...

    def on_fill(self, child_id: str, quantity: float) -> None:
        """A child filled ``quantity``."""
        ...


def _lots(quantity: float, lot_size: float, what: str) -> int:
    """``quantity`` in whole lots; ValueError when it is not a positive lot multiple."""
    if not (lot_size > 0 and math.isfinite(lot_size)):
        raise ValueError(f"lot_size must be positive and finite, got {lot_size}")
    exact = quantity / lot_size
    lots = round(exact)
    if (
        not math.isfinite(exact)
        or lots <= 0
        or abs(exact - lots) > _LOT_TOLERANCE * max(1.0, exact)
    ):
        raise ValueError(f"{what} {quantity} is not a positive multiple of the lot size {lot_size}")
    return lots


class _Parent:
    """What every algo keeps: the parent, lot arithmetic, children and fills (shared base)."""

    def __init__(self, parent: OrderRequest, lot_size: float) -> None:
        self.parent = parent
        self.lot_size = float(lot_size)
        self.total_lots = _lots(parent.quantity, self.lot_size, "parent quantity")
        self.sent_lots = 0
        self.filled_quantity = 0.0
        self.children: dict[str, float] = {}
        self.done = False

    @property
    def remaining_lots(self) -> int:
        """Lots not yet sent as children."""
        return self.total_lots - self.sent_lots

    def _child(self, n: int, lots: int, now: int) -> OrderRequest:
        """Child ``n`` of ``lots`` lots (quantity rounded to the lot grid's decimals)."""
        child_id = f"{self.parent.client_order_id}-{n}"
        quantity = _on_grid(lots, self.lot_size)
        self.sent_lots += lots
        self.children[child_id] = quantity
        return msgspec.structs.replace(
            self.parent, client_order_id=child_id, quantity=quantity, ts=now, signal_offset=None
        )

    def on_fill(self, child_id: str, quantity: float) -> None:
        """Count a child's fill (fills of ids that are not our children are ignored)."""
        if child_id in self.children:
            self.filled_quantity += quantity

    def stop(self) -> None:
        """Send no more children (the engine cancels the working ones)."""
        self.done = True


def _on_grid(lots: int, lot_size: float) -> float:
    """``lots * lot_size`` without float noise (0.1 * 3 -> 0.3, not 0.30000000000000004)."""
    decimals = 0
    while decimals < 12 and abs(round(lot_size * 10**decimals) - lot_size * 10**decimals) > 1e-9:
        decimals += 1
    return round(lots * lot_size, decimals)


class TWAP(_Parent):
    """``slices`` equal children at equal times from ``start_ns`` to ``end_ns`` (exclusive).

    Slice ``i`` (0-based, id ``-{i+1}``) is due at ``start_ns + i * (end_ns - start_ns) //
    slices``; each slice is ``total // slices`` lots and the last takes the remainder. A slice of
    zero lots (fewer lots than slices) is skipped. Slices that fell due while the algo was not
    called are sent at once, each as its own child.
    """

    def __init__(
        self,
        parent: OrderRequest,
        start_ns: int,
        end_ns: int,
        slices: int,
        *,
        lot_size: float = 1.0,
    ) -> None:
        super().__init__(parent, lot_size)
        if slices < 1:
            raise ValueError(f"slices must be >= 1, got {slices}")
        if end_ns < start_ns:
            raise ValueError(f"end_ns {end_ns} before start_ns {start_ns}")
        self.start_ns, self.end_ns, self.slices = int(start_ns), int(end_ns), int(slices)
        base = self.total_lots // slices
        self.schedule: list[tuple[int, int]] = [
            (self.start_ns + i * (self.end_ns - self.start_ns) // slices, base)
            for i in range(slices)
        ]
        last_time, _ = self.schedule[-1]
        self.schedule[-1] = (last_time, self.total_lots - base * (slices - 1))
        self._next = 0

    def on_time(self, now: int, quote: Quote | None, traded_volume: float) -> list[OrderRequest]:
        """The slices due by ``now`` and not yet sent."""
        out = []
        while not self.done and self._next < self.slices and self.schedule[self._next][0] <= now:
            _, lots = self.schedule[self._next]
            self._next += 1
            if lots > 0:
                out.append(self._child(self._next, lots, now))
            if self._next == self.slices:
                self.done = True
        return out


class VWAP(_Parent):
    """Participates in the market's volume: children of ``participation`` x the volume traded.

    Between ``start_ns`` and ``end_ns`` each call adds ``participation * traded_volume`` to a
    cumulative target; a child of the whole lots the target exceeds what was sent (capped by
    what remains) goes out, the fraction carries over. With ``complete_at_end`` (default) the
    first call at or after ``end_ns`` sends whatever remains, so the children sum to the parent.
    """

    def __init__(
        self,
        parent: OrderRequest,
        participation: float,
        start_ns: int,
        end_ns: int,
        *,
        lot_size: float = 1.0,
        complete_at_end: bool = True,
    ) -> None:
        super().__init__(parent, lot_size)
        if not 0.0 < participation <= 1.0:
            raise ValueError(f"participation must be in (0, 1], got {participation}")
        if end_ns < start_ns:
            raise ValueError(f"end_ns {end_ns} before start_ns {start_ns}")
        self.participation = float(participation)
        self.start_ns, self.end_ns = int(start_ns), int(end_ns)
        self.complete_at_end = complete_at_end
        self.target_quantity = 0.0
        self._n = 0

    def on_time(self, now: int, quote: Quote | None, traded_volume: float) -> list[OrderRequest]:
        """One child for the volume since the last call (or the remainder at the end)."""
        if self.done or now < self.start_ns:
            return []
        if now >= self.end_ns:
            self.done = True
            if not self.complete_at_end or self.remaining_lots == 0:
                return []
            self._n += 1
            return [self._child(self._n, self.remaining_lots, now)]
        if traded_volume > 0 and math.isfinite(traded_volume):
            self.target_quantity += self.participation * traded_volume
        lots = min(int(self.target_quantity / self.lot_size + _LOT_TOLERANCE) - self.sent_lots,
                   self.remaining_lots)  # fmt: skip
        if lots <= 0:
            return []
        self._n += 1
        child = self._child(self._n, lots, now)
        if self.remaining_lots == 0:
            self.done = True
        return [child]


class Iceberg(_Parent):
    """Shows ``display_quantity`` at a time at the parent's limit; the next after a full fill.

    Children are the parent's order type and price with ``min(display, remaining)``; ``done``
    when the last child has filled completely.
    """

    def __init__(
        self, parent: OrderRequest, display_quantity: float, *, lot_size: float = 1.0
    ) -> None:
        super().__init__(parent, lot_size)
        if parent.order_type == OrderType.MARKET or parent.price is None:
            raise ValueError("an iceberg needs a limit price")
        self.display_lots = _lots(display_quantity, self.lot_size, "display quantity")
        self._n = 0
        self._working: str | None = None
        self._working_filled = 0.0

    @property
    def working_child(self) -> str | None:
        """The id of the visible child, None between children."""
        return self._working

    def on_time(self, now: int, quote: Quote | None, traded_volume: float) -> list[OrderRequest]:
        """The next child when none is working and some quantity is left."""
        if self.done or self._working is not None or self.remaining_lots == 0:
            return []
        self._n += 1
        child = self._child(self._n, min(self.display_lots, self.remaining_lots), now)
        self._working, self._working_filled = child.client_order_id, 0.0
        return [child]

    def on_fill(self, child_id: str, quantity: float) -> None:
        """Count the fill; a completely filled child lets the next one go out."""
        super().on_fill(child_id, quantity)
        if child_id != self._working:
            return
        self._working_filled += quantity
        size = self.children[child_id]
        if self._working_filled >= size - _LOT_TOLERANCE * self.lot_size:
            self._working = None
            if self.remaining_lots == 0:
                self.done = True

    def on_canceled(self, child_id: str, quantity: float) -> None:
        """The working child ended unfilled by ``quantity`` (canceled/rejected): show it again."""
        if child_id != self._working:
            return
        lots = round(quantity / self.lot_size)
        self.sent_lots -= max(0, min(lots, self.sent_lots))
        self._working = None
