"""L3 matching engine: price-time priority over one instrument, numba kernels underneath.

Rules (the pure-Python ``reference_matching.ReferenceMatchingEngine`` implements the same ones,
and the tests hold the two to identical events):

* **Priority**: best price first, then arrival time at that price (FIFO per level). Trades print
  at the resting (maker) order's price.
* **Validation**, in this order, each failure a ``REJECTED`` event with a ``RejectReason`` and
  nothing else: side, order type, size (``NON_POSITIVE_SIZE``, ``BAD_SIZE_LOT``,
  ``SIZE_BELOW_MIN``, ``SIZE_ABOVE_MAX``), price unless MARKET (``NON_POSITIVE_PRICE``,
  ``BAD_PRICE_TICK``, ``PRICE_OUT_OF_BAND``), ``DUPLICATE_ORDER_ID`` (an id of a resting order;
  ids of finished orders may be reused), ``POST_ONLY_WOULD_CROSS``, ``FOK_NOT_FILLABLE``,
  ``BOOK_FULL`` (LIMIT/POST_ONLY with no free order slot).
* **Events of a submit**: ``ACCEPTED``, then per trade a fill of the taker (``TAKER``) followed by
  a fill of the maker (``MAKER``), each ``FILLED`` when it leaves nothing open and
  ``PARTIALLY_FILLED`` otherwise; then the remainder rests (LIMIT, POST_ONLY: no event) or is
  ``CANCELED`` with ``IOC_REMAINDER`` (IOC, MARKET). FOK trades in full or is rejected.
* **Self-trade prevention**, policy *cancel resting*: when an incoming order meets a resting
  order of the same ``owner_id``, the resting order is ``CANCELED`` (``SELF_TRADE_PREVENTION``,
  its whole open quantity) and matching continues behind it. FOK counts only other owners'
  quantity as fillable.
* **Cancel**: ``CANCELED`` (``REQUESTED``), or ``CANCEL_REJECTED`` (``UNKNOWN_ORDER``) for an id
  not resting.
* **Modify** (new price, new open quantity): validated like a new order's size and price,
  else ``MODIFY_REJECTED``. Same price and a quantity not larger: ``MODIFIED`` and the order
  keeps its queue place. Otherwise ``MODIFIED``, the order leaves its queue and re-enters as a
  new limit order at the back: it trades at once if it now crosses (fills follow the
  ``MODIFIED`` event), and a POST_ONLY order that would cross is refused
  (``MODIFY_REJECTED``, ``POST_ONLY_WOULD_CROSS``, order unchanged).

The book is never crossed between operations. Prices and sizes are integers in the
instrument's units (see ``orders.InstrumentSpec``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shriven.book import _matching_kernels as _k
from shriven.book.orders import (
    EVENT_DTYPE,
    OPERATION_DTYPE,
    Action,
    Cancel,
    Event,
    InstrumentSpec,
    Modify,
    Order,
    Side,
    event_from_record,
)

__all__ = ["MatchingEngine", "operations_from_requests"]


class MatchingEngine:
    """Limit order book of one instrument with an L3 (order-by-order) matching engine.

    Parameters
    ----------
    spec
        Tick size, lot size, size limits, price band and order capacity of the instrument.
    """

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        n_levels = (spec.max_price - spec.min_price) // spec.tick_size + 1
        hash_capacity = 1 << max(4, (2 * spec.max_orders - 1).bit_length())
        self._orders = np.zeros((spec.max_orders, _k.N_ORDER_FIELDS), dtype=np.int64)
        self._orders[:, _k.O_NEXT] = np.arange(1, spec.max_orders + 1)
        self._orders[-1, _k.O_NEXT] = -1
        self._levels = np.zeros((n_levels, _k.N_LEVEL_FIELDS), dtype=np.int64)
        self._levels[:, _k.LV_HEAD] = -1
        self._levels[:, _k.LV_TAIL] = -1
        self._table = np.zeros((hash_capacity, 2), dtype=np.int64)
        self._table[:, 1] = -1
        state = np.zeros(_k.N_STATE, dtype=np.int64)
        state[_k.P_TICK] = spec.tick_size
        state[_k.P_LOT] = spec.lot_size
        state[_k.P_MIN_SIZE] = spec.min_size
        state[_k.P_MAX_SIZE] = spec.max_size
        state[_k.P_MIN_PRICE] = spec.min_price
        state[_k.P_MAX_PRICE] = spec.max_price
        state[_k.P_N_LEVELS] = n_levels
        state[_k.P_HASH_MASK] = hash_capacity - 1
        state[_k.P_HASH_SHIFT] = hash_capacity.bit_length() - 1
        state[_k.S_BEST_BID] = -1
        state[_k.S_BEST_ASK] = n_levels
        state[_k.S_FREE] = 0
        self._state = state
        self._one = np.zeros(1, dtype=OPERATION_DTYPE)
        self._small_events = np.zeros(64, dtype=EVENT_DTYPE)

    # --- batch API -----------------------------------------------------------------------------

    def process(self, operations: np.ndarray) -> np.ndarray:
        """Apply an array of ``OPERATION_DTYPE`` rows in order; return their ``EVENT_DTYPE`` events.

        ``operation_index`` of each event is the row of ``operations`` that caused it.
        """
        if operations.dtype != OPERATION_DTYPE:
            raise TypeError(f"operations must have dtype OPERATION_DTYPE, not {operations.dtype}")
        operations = np.ascontiguousarray(operations)
        capacity = 3 * len(operations) + 2 * self.resting_count + 16
        events = np.empty(capacity, dtype=EVENT_DTYPE)
        i, n = 0, 0
        while True:
            i, n = self._run(operations, i, events, n)
            if i >= len(operations):
                return events[:n]
            grown = np.empty(2 * len(events) + 2 * self.resting_count + 16, dtype=EVENT_DTYPE)
            grown[:n] = events[:n]
            events = grown

    def _run(self, operations: np.ndarray, start: int, events: np.ndarray, n: int) -> tuple:
        return _k.process_operations(
            operations, start, self._orders, self._levels, self._table, self._state, events, n
        )

    # --- Python-object API ---------------------------------------------------------------------

    def submit(self, order: Order) -> list[Event]:
        """Submit a new order; return its events (``ACCEPTED`` + fills…, or ``REJECTED``).

        Ids, prices and sizes must fit in int64 (``OverflowError`` otherwise); any other bad
        field is answered with an ``OrderRejected`` event.
        """
        side, order_type = int(order.side), int(order.order_type)
        self._one[0] = (
            order.order_id,
            order.owner_id,
            order.price,
            order.quantity,
            Action.SUBMIT,
            side if -128 <= side < 128 else 0,  # out of the int8 column: an unknown side
            order_type if -128 <= order_type < 128 else 0,
        )
        return self._apply_one()

    def cancel(self, order_id: int) -> list[Event]:
        """Cancel a resting order; return ``[OrderCanceled]`` or ``[CancelRejected]``."""
        self._one[0] = (order_id, 0, 0, 0, Action.CANCEL, 0, 0)
        return self._apply_one()

    def modify(self, order_id: int, price: int, quantity: int) -> list[Event]:
        """Modify a resting order's price and open quantity; return the events."""
        self._one[0] = (order_id, 0, price, quantity, Action.MODIFY, 0, 0)
        return self._apply_one()

    def apply(self, request: Order | Cancel | Modify) -> list[Event]:
        """Apply one request object; return its events."""
        if isinstance(request, Order):
            return self.submit(request)
        if isinstance(request, Cancel):
            return self.cancel(request.order_id)
        if isinstance(request, Modify):
            return self.modify(request.order_id, request.price, request.quantity)
        raise TypeError(f"unknown request {request!r}")

    def _apply_one(self) -> list[Event]:
        i, n = self._run(self._one, 0, self._small_events, 0)
        while i == 0:  # the buffer might not hold this operation's events: grow, run again
            self._small_events = np.zeros(2 * len(self._small_events), dtype=EVENT_DTYPE)
            i, n = self._run(self._one, 0, self._small_events, 0)
        return [event_from_record(r) for r in self._small_events[:n].tolist()]

    # --- queries -------------------------------------------------------------------------------

    @property
    def resting_count(self) -> int:
        """Number of resting orders."""
        return int(self._state[_k.S_N_BID] + self._state[_k.S_N_ASK])

    def best_bid(self) -> int | None:
        """Best bid price, or None when there is no bid."""
        if self._state[_k.S_N_BID] == 0:
            return None
        return int(self.spec.min_price + self._state[_k.S_BEST_BID] * self.spec.tick_size)

    def best_ask(self) -> int | None:
        """Best ask price, or None when there is no ask."""
        if self._state[_k.S_N_ASK] == 0:
            return None
        return int(self.spec.min_price + self._state[_k.S_BEST_ASK] * self.spec.tick_size)

    def resting_orders(self) -> list[tuple[int, int, Side, int, int]]:
        """Resting orders in priority order, bids best-first then asks best-first.

        Each as ``(order_id, owner_id, side, price, leaves_quantity)``.
        """
        rows = _k.snapshot(self._orders, self._levels, self._state)
        return [(o, w, Side(s), p, q) for o, w, s, p, q in rows.tolist()]

    def depth(self, side: Side) -> list[tuple[int, int]]:
        """Aggregated levels of ``side`` best-first as ``(price, quantity)``."""
        levels: dict[int, int] = {}
        for _, _, s, price, qty in self.resting_orders():
            if s == side:
                levels[price] = levels.get(price, 0) + qty
        return list(levels.items())


def operations_from_requests(requests: Iterable[Order | Cancel | Modify]) -> np.ndarray:
    """Build an ``OPERATION_DTYPE`` array from request objects (for the batch API)."""
    rows = []
    for r in requests:
        if isinstance(r, Order):
            rows.append(
                (r.order_id, r.owner_id, r.price, r.quantity, Action.SUBMIT, r.side, r.order_type)
            )
        elif isinstance(r, Cancel):
            rows.append((r.order_id, 0, 0, 0, Action.CANCEL, 0, 0))
        elif isinstance(r, Modify):
            rows.append((r.order_id, 0, r.price, r.quantity, Action.MODIFY, 0, 0))
        else:
            raise TypeError(f"unknown request {r!r}")
    return np.array(rows, dtype=OPERATION_DTYPE)
