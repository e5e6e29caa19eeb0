"""Pure-Python reference of the matching engine: slow, simple, written for reading.

Implements the rules documented in ``shriven.book.matching`` with dicts, sorted price lists and
deques, and emits the same event rows (tuples in ``EVENT_DTYPE`` field order). The tests hold
``MatchingEngine`` to identical events; the benchmark uses it as the pure-Python baseline.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Iterable

from shriven.book.orders import (
    Action,
    CancelReason,
    EventKind,
    InstrumentSpec,
    Liquidity,
    OrderType,
    RejectReason,
    Side,
)

EventRow = tuple[int, int, int, int, int, int, int, int, int, int]


class _Resting:
    __slots__ = ("order_id", "owner_id", "side", "price", "leaves", "post_only")

    def __init__(
        self, order_id: int, owner_id: int, side: int, price: int, leaves: int, post_only: bool
    ) -> None:
        self.order_id = order_id
        self.owner_id = owner_id
        self.side = side
        self.price = price
        self.leaves = leaves
        self.post_only = post_only


class ReferenceMatchingEngine:
    """Price-time-priority book of one instrument in plain Python (the test oracle)."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.levels: dict[int, deque[_Resting]] = {}  # price -> FIFO (one side per price)
        self.bid_prices: list[int] = []  # ascending; best bid is the last
        self.ask_prices: list[int] = []  # ascending; best ask is the first
        self.orders: dict[int, _Resting] = {}
        self.events: list[EventRow] = []
        self._op = 0

    # --- helpers -------------------------------------------------------------------------------

    def _emit(
        self,
        kind: int,
        order_id: int,
        counterparty: int,
        price: int,
        quantity: int,
        leaves: int,
        side: int,
        liquidity: int,
        reason: int,
    ) -> None:
        self.events.append(
            (
                self._op,
                order_id,
                counterparty,
                price,
                quantity,
                leaves,
                int(kind),
                int(side),
                int(liquidity),
                int(reason),
            )
        )

    def _size_reason(self, quantity: int) -> RejectReason:
        s = self.spec
        if quantity <= 0:
            return RejectReason.NON_POSITIVE_SIZE
        if quantity % s.lot_size:
            return RejectReason.BAD_SIZE_LOT
        if quantity < s.min_size:
            return RejectReason.SIZE_BELOW_MIN
        if quantity > s.max_size:
            return RejectReason.SIZE_ABOVE_MAX
        return RejectReason.NONE

    def _price_reason(self, price: int) -> RejectReason:
        s = self.spec
        if price <= 0:
            return RejectReason.NON_POSITIVE_PRICE
        if price % s.tick_size:
            return RejectReason.BAD_PRICE_TICK
        if not s.min_price <= price <= s.max_price:
            return RejectReason.PRICE_OUT_OF_BAND
        return RejectReason.NONE

    def _crosses(self, side: int, price: int | None) -> bool:
        """Whether an order of ``side`` at ``price`` (None = market) meets the opposite best."""
        if side == Side.BUY:
            return bool(self.ask_prices) and (price is None or self.ask_prices[0] <= price)
        return bool(self.bid_prices) and (price is None or self.bid_prices[-1] >= price)

    def _rest(self, order: _Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            insort(self.bid_prices if order.side == Side.BUY else self.ask_prices, order.price)
        level.append(order)
        self.orders[order.order_id] = order

    def _unrest(self, order: _Resting) -> None:
        level = self.levels[order.price]
        level.remove(order)
        if not level:
            del self.levels[order.price]
            (self.bid_prices if order.side == Side.BUY else self.ask_prices).remove(order.price)
        del self.orders[order.order_id]

    def _fillable(self, side: int, owner_id: int, price: int) -> int:
        total = 0
        for p in self.ask_prices if side == Side.BUY else reversed(self.bid_prices):
            if (side == Side.BUY and p > price) or (side == Side.SELL and p < price):
                break
            total += sum(o.leaves for o in self.levels[p] if o.owner_id != owner_id)
        return total

    def _match(self, order_id: int, owner_id: int, side: int, price: int | None, qty: int) -> int:
        maker_side = Side.SELL if side == Side.BUY else Side.BUY
        while qty > 0 and self._crosses(side, price):
            level_price = self.ask_prices[0] if side == Side.BUY else self.bid_prices[-1]
            level = self.levels[level_price]
            while level and qty > 0:
                maker = level[0]
                if maker.owner_id == owner_id:
                    self._emit(
                        EventKind.CANCELED,
                        maker.order_id,
                        0,
                        level_price,
                        maker.leaves,
                        0,
                        maker_side,
                        Liquidity.NONE,
                        CancelReason.SELF_TRADE_PREVENTION,
                    )
                    self._unrest(maker)
                    continue
                fill = min(qty, maker.leaves)
                qty -= fill
                maker.leaves -= fill
                self._emit(
                    EventKind.FILLED if qty == 0 else EventKind.PARTIALLY_FILLED,
                    order_id,
                    maker.order_id,
                    level_price,
                    fill,
                    qty,
                    side,
                    Liquidity.TAKER,
                    0,
                )
                self._emit(
                    EventKind.FILLED if maker.leaves == 0 else EventKind.PARTIALLY_FILLED,
                    maker.order_id,
                    order_id,
                    level_price,
                    fill,
                    maker.leaves,
                    maker_side,
                    Liquidity.MAKER,
                    0,
                )
                if maker.leaves == 0:
                    self._unrest(maker)
        return qty

    # --- operations ----------------------------------------------------------------------------

    def submit(
        self, order_id: int, owner_id: int, side: int, order_type: int, price: int, quantity: int
    ) -> None:
        """New order."""
        reason = RejectReason.NONE
        if side not in (Side.BUY, Side.SELL):
            reason = RejectReason.UNKNOWN_SIDE
        elif order_type not in tuple(OrderType):
            reason = RejectReason.UNKNOWN_ORDER_TYPE
        else:
            reason = self._size_reason(quantity)
            if not reason and order_type != OrderType.MARKET:
                reason = self._price_reason(price)
        if not reason and order_id in self.orders:
            reason = RejectReason.DUPLICATE_ORDER_ID
        if not reason:
            if order_type == OrderType.MARKET:
                price = 0
            limit = None if order_type == OrderType.MARKET else price
            if order_type == OrderType.POST_ONLY and self._crosses(side, price):
                reason = RejectReason.POST_ONLY_WOULD_CROSS
            elif order_type == OrderType.FOK and self._fillable(side, owner_id, price) < quantity:
                reason = RejectReason.FOK_NOT_FILLABLE
            elif (
                order_type in (OrderType.LIMIT, OrderType.POST_ONLY)
                and len(self.orders) >= self.spec.max_orders
            ):
                reason = RejectReason.BOOK_FULL
        if reason:
            self._emit(
                EventKind.REJECTED, order_id, 0, price, quantity, 0, side, Liquidity.NONE, reason
            )
            return
        self._emit(
            EventKind.ACCEPTED, order_id, 0, price, quantity, quantity, side, Liquidity.NONE, 0
        )
        leaves = quantity
        if order_type != OrderType.POST_ONLY:
            leaves = self._match(order_id, owner_id, side, limit, quantity)
        if leaves:
            if order_type in (OrderType.LIMIT, OrderType.POST_ONLY):
                self._rest(
                    _Resting(
                        order_id, owner_id, side, price, leaves, order_type == OrderType.POST_ONLY
                    )
                )
            else:
                self._emit(
                    EventKind.CANCELED,
                    order_id,
                    0,
                    price,
                    leaves,
                    0,
                    side,
                    Liquidity.NONE,
                    CancelReason.IOC_REMAINDER,
                )

    def cancel(self, order_id: int) -> None:
        """Cancel a resting order."""
        order = self.orders.get(order_id)
        if order is None:
            self._emit(
                EventKind.CANCEL_REJECTED,
                order_id,
                0,
                0,
                0,
                0,
                0,
                Liquidity.NONE,
                RejectReason.UNKNOWN_ORDER,
            )
            return
        self._unrest(order)
        self._emit(
            EventKind.CANCELED,
            order_id,
            0,
            order.price,
            order.leaves,
            0,
            order.side,
            Liquidity.NONE,
            CancelReason.REQUESTED,
        )

    def modify(self, order_id: int, price: int, quantity: int) -> None:
        """Change a resting order's price and open quantity."""
        order = self.orders.get(order_id)
        if order is None:
            reason = RejectReason.UNKNOWN_ORDER
        else:
            reason = self._size_reason(quantity) or self._price_reason(price)
        if not reason and price != order.price and order.post_only:
            if self._crosses(order.side, price):
                reason = RejectReason.POST_ONLY_WOULD_CROSS
        if reason:
            self._emit(
                EventKind.MODIFY_REJECTED,
                order_id,
                0,
                price,
                quantity,
                0,
                0,
                Liquidity.NONE,
                reason,
            )
            return
        self._emit(
            EventKind.MODIFIED,
            order_id,
            0,
            price,
            quantity,
            quantity,
            order.side,
            Liquidity.NONE,
            0,
        )
        if price == order.price and quantity <= order.leaves:
            order.leaves = quantity
            return
        self._unrest(order)
        leaves = self._match(order_id, order.owner_id, order.side, price, quantity)
        if leaves:
            self._rest(
                _Resting(order_id, order.owner_id, order.side, price, leaves, order.post_only)
            )

    def process(self, operations: Iterable[tuple]) -> list[EventRow]:
        """Apply ``OPERATION_DTYPE``-shaped tuples in order; return their event rows.

        Each tuple is ``(order_id, owner_id, price, quantity, action, side, order_type)``.
        """
        self.events = []
        for i, (order_id, owner_id, price, quantity, action, side, order_type) in enumerate(
            operations
        ):
            self._op = i
            if action == Action.SUBMIT:
                self.submit(order_id, owner_id, side, order_type, price, quantity)
            elif action == Action.CANCEL:
                self.cancel(order_id)
            elif action == Action.MODIFY:
                self.modify(order_id, price, quantity)
            else:
                self._emit(
                    EventKind.REJECTED,
                    order_id,
                    0,
                    price,
                    quantity,
                    0,
                    side,
                    Liquidity.NONE,
                    RejectReason.UNKNOWN_ACTION,
                )
        return self.events

    def resting_orders(self) -> list[tuple[int, int, int, int, int]]:
        """Resting orders in priority order (bids best-first, then asks best-first)."""
        out = []
        for p in reversed(self.bid_prices):
            out += [(o.order_id, o.owner_id, o.side, o.price, o.leaves) for o in self.levels[p]]
        for p in self.ask_prices:
            out += [(o.order_id, o.owner_id, o.side, o.price, o.leaves) for o in self.levels[p]]
        return out
