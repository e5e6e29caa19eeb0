"""Order, operation and event types of the L3 matching engine (``shriven.book.matching``).

Prices and sizes are integers in the instrument's smallest units (for example a price in 1e-4
of the quote currency and a size in shares or 1e-8 of the base currency): tick- and lot-size
checks are then exact, and the kernels never round. ``InstrumentSpec`` carries the per-instrument
rules.

Two shapes of the same records:

* Python objects for correctness-critical callers: ``Order``, ``Cancel``, ``Modify`` in, frozen
  ``msgspec.Struct`` events (``OrderAccepted``, ``OrderFilled``…) out;
* numpy structured arrays for throughput: ``OPERATION_DTYPE`` rows in, ``EVENT_DTYPE`` rows out.

Every enum value below is the int written in those arrays.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec
import numpy as np
from msgspec import Meta

PositiveInt = Annotated[int, Meta(gt=0)]


class Side(IntEnum):
    """Side of an order."""

    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    """Order type; IOC, FOK and POST_ONLY are limit orders with that time in force / flag."""

    #: Rests in the book for whatever it does not fill on arrival.
    LIMIT = 1
    #: No price; fills what it can against any price, the remainder is canceled.
    MARKET = 2
    #: Limit, immediate-or-cancel: fills what it can up to its price, the remainder is canceled.
    IOC = 3
    #: Limit, fill-or-kill: fills entirely up to its price at once, or is rejected untouched.
    FOK = 4
    #: Limit that may only add liquidity: rejected if it would cross on arrival (or on modify).
    POST_ONLY = 5


class Action(IntEnum):
    """What one row of an operation array asks for."""

    SUBMIT = 1
    CANCEL = 2
    MODIFY = 3


class EventKind(IntEnum):
    """Kind of an engine event (the ``kind`` column of ``EVENT_DTYPE``)."""

    ACCEPTED = 1
    REJECTED = 2
    PARTIALLY_FILLED = 3
    FILLED = 4
    CANCELED = 5
    MODIFIED = 6
    #: A cancel request was refused (the order, if any, is unchanged).
    CANCEL_REJECTED = 7
    #: A modify request was refused (the order, if any, is unchanged).
    MODIFY_REJECTED = 8


class Liquidity(IntEnum):
    """Liquidity flag of a fill."""

    NONE = 0
    MAKER = 1
    TAKER = 2


class RejectReason(IntEnum):
    """Why an order, cancel or modify was refused (the ``reason`` column of rejections)."""

    NONE = 0
    BAD_PRICE_TICK = 1
    BAD_SIZE_LOT = 2
    SIZE_BELOW_MIN = 3
    SIZE_ABOVE_MAX = 4
    NON_POSITIVE_PRICE = 5
    NON_POSITIVE_SIZE = 6
    UNKNOWN_SIDE = 7
    POST_ONLY_WOULD_CROSS = 8
    FOK_NOT_FILLABLE = 9
    UNKNOWN_ORDER = 10
    DUPLICATE_ORDER_ID = 11
    UNKNOWN_ORDER_TYPE = 12
    #: Price outside the instrument's price band ``[min_price, max_price]``.
    PRICE_OUT_OF_BAND = 13
    #: No free order slot left to rest the order (``InstrumentSpec.max_orders``).
    BOOK_FULL = 14
    UNKNOWN_ACTION = 15


class CancelReason(IntEnum):
    """Why an order was canceled (the ``reason`` column of ``CANCELED`` events)."""

    #: Canceled at the owner's request.
    REQUESTED = 1
    #: Unfilled remainder of an IOC or market order.
    IOC_REMAINDER = 2
    #: Resting order canceled by self-trade prevention (an order of the same owner crossed it).
    SELF_TRADE_PREVENTION = 3


class OrderStatus(IntEnum):
    """Status of an order as its events move it along ``ORDER_STATUS_TRANSITIONS``."""

    INITIALIZED = 0
    ACCEPTED = 1
    REJECTED = 2
    PARTIALLY_FILLED = 3
    FILLED = 4
    CANCELED = 5


#: The order state machine: (current status, event kind) -> next status. A pair not in the table
#: never happens; ``next_status`` raises on it. Cancel/modify rejections leave the status as is.
ORDER_STATUS_TRANSITIONS: dict[tuple[OrderStatus, EventKind], OrderStatus] = {
    (OrderStatus.INITIALIZED, EventKind.ACCEPTED): OrderStatus.ACCEPTED,
    (OrderStatus.INITIALIZED, EventKind.REJECTED): OrderStatus.REJECTED,
    (OrderStatus.ACCEPTED, EventKind.PARTIALLY_FILLED): OrderStatus.PARTIALLY_FILLED,
    (OrderStatus.ACCEPTED, EventKind.FILLED): OrderStatus.FILLED,
    (OrderStatus.ACCEPTED, EventKind.CANCELED): OrderStatus.CANCELED,
    (OrderStatus.ACCEPTED, EventKind.MODIFIED): OrderStatus.ACCEPTED,
    (OrderStatus.PARTIALLY_FILLED, EventKind.PARTIALLY_FILLED): OrderStatus.PARTIALLY_FILLED,
    (OrderStatus.PARTIALLY_FILLED, EventKind.FILLED): OrderStatus.FILLED,
    (OrderStatus.PARTIALLY_FILLED, EventKind.CANCELED): OrderStatus.CANCELED,
    (OrderStatus.PARTIALLY_FILLED, EventKind.MODIFIED): OrderStatus.PARTIALLY_FILLED,
}


def next_status(current: OrderStatus, kind: EventKind) -> OrderStatus:
    """Status after an event of ``kind``; raises ``ValueError`` on a transition not in the table."""
    if kind in (EventKind.CANCEL_REJECTED, EventKind.MODIFY_REJECTED):
        return current
    try:
        return ORDER_STATUS_TRANSITIONS[(current, kind)]
    except KeyError:
        raise ValueError(f"invalid order status transition {current.name} + {kind.name}") from None


# --- configuration -----------------------------------------------------------------------------


class InstrumentSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trading rules of one instrument, in integer price and size units.

    ``min_price`` and ``max_price`` bound the price band (multiples of ``tick_size``); the engine
    keeps one array slot per tick of the band, so the band costs about 24 bytes per tick.
    ``max_orders`` is the number of order slots (resting orders at once).
    """

    tick_size: PositiveInt = 1
    lot_size: PositiveInt = 1
    min_size: PositiveInt = 1
    max_size: PositiveInt = 1_000_000_000
    min_price: PositiveInt = 1
    max_price: PositiveInt = 1_000_000
    max_orders: PositiveInt = 1_000_000

    def __post_init__(self) -> None:
        """Reject an inconsistent spec."""
        if self.min_price % self.tick_size or self.max_price % self.tick_size:
            raise ValueError("min_price and max_price must be multiples of tick_size")
        if self.max_price < self.min_price:
            raise ValueError("max_price < min_price")
        if self.max_size < self.min_size:
            raise ValueError("max_size < min_size")


# --- Python-object API records -----------------------------------------------------------------


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """A new order. ``price`` is ignored for ``MARKET`` orders; ``owner_id`` drives self-trade
    prevention (two orders of the same owner never trade with each other)."""

    order_id: int
    owner_id: int
    side: Side
    quantity: int
    price: int = 0
    order_type: OrderType = OrderType.LIMIT


class Cancel(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel the resting order ``order_id``."""

    order_id: int


class Modify(msgspec.Struct, frozen=True, kw_only=True):
    """Change a resting order's price and/or open quantity (``quantity`` is the new leaves).

    Same price and a smaller quantity keep the order's queue priority; a price change or a
    larger quantity re-queue it at the back of its (new) level, and a new price that crosses
    the book trades at once like a new limit order.
    """

    order_id: int
    price: int
    quantity: int


class OrderAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The order passed validation (the ack); fills, a cancel or resting follow."""

    order_id: int
    side: Side
    price: int
    quantity: int


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True):
    """The order was refused; nothing happened in the book."""

    order_id: int
    side: int
    price: int
    quantity: int
    reason: RejectReason


class OrderPartiallyFilled(msgspec.Struct, frozen=True, kw_only=True):
    """Part of the order traded; ``leaves_quantity`` stays open."""

    order_id: int
    side: Side
    price: int
    quantity: int
    leaves_quantity: int
    liquidity: Liquidity
    counterparty_order_id: int


class OrderFilled(msgspec.Struct, frozen=True, kw_only=True):
    """The last open quantity of the order traded."""

    order_id: int
    side: Side
    price: int
    quantity: int
    leaves_quantity: int
    liquidity: Liquidity
    counterparty_order_id: int


class OrderCanceled(msgspec.Struct, frozen=True, kw_only=True):
    """The order's open ``quantity`` was canceled, for ``reason``."""

    order_id: int
    side: Side
    price: int
    quantity: int
    reason: CancelReason


class OrderModified(msgspec.Struct, frozen=True, kw_only=True):
    """The order now rests (or trades) at ``price`` with ``quantity`` open."""

    order_id: int
    side: Side
    price: int
    quantity: int


class CancelRejected(msgspec.Struct, frozen=True, kw_only=True):
    """A cancel request was refused."""

    order_id: int
    reason: RejectReason


class ModifyRejected(msgspec.Struct, frozen=True, kw_only=True):
    """A modify request was refused; the order is unchanged."""

    order_id: int
    price: int
    quantity: int
    reason: RejectReason


Event = (
    OrderAccepted
    | OrderRejected
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCanceled
    | OrderModified
    | CancelRejected
    | ModifyRejected
)


# --- array records -----------------------------------------------------------------------------

#: One operation of the batch API. ``action`` is an ``Action``; ``side``/``order_type`` are
#: ``Side``/``OrderType`` for SUBMIT; CANCEL reads only ``order_id``; MODIFY reads ``order_id``,
#: ``price`` and ``quantity``.
OPERATION_DTYPE = np.dtype(
    [
        ("order_id", np.int64),
        ("owner_id", np.int64),
        ("price", np.int64),
        ("quantity", np.int64),
        ("action", np.int8),
        ("side", np.int8),
        ("order_type", np.int8),
    ],
    align=True,
)

#: One event of the batch API. ``operation_index`` is the row of the operation that caused it;
#: ``quantity`` is the fill, accepted, canceled, modified-to or requested quantity by ``kind``;
#: ``leaves_quantity`` is what stays open after the event; ``reason`` is a ``RejectReason`` on
#: rejections and a ``CancelReason`` on ``CANCELED``.
EVENT_DTYPE = np.dtype(
    [
        ("operation_index", np.int64),
        ("order_id", np.int64),
        ("counterparty_order_id", np.int64),
        ("price", np.int64),
        ("quantity", np.int64),
        ("leaves_quantity", np.int64),
        ("kind", np.int8),
        ("side", np.int8),
        ("liquidity", np.int8),
        ("reason", np.int8),
    ],
    align=True,
)


_SIDES = {int(v): v for v in Side}
_LIQUIDITIES = {int(v): v for v in Liquidity}
_REJECT_REASONS = {int(v): v for v in RejectReason}
_CANCEL_REASONS = {int(v): v for v in CancelReason}


def event_from_record(record: tuple) -> Event:
    """Build the Python event object of one ``EVENT_DTYPE`` row (as a tuple, from ``tolist()``)."""
    _, order_id, counterparty, price, quantity, leaves, kind, side, liquidity, reason = record
    if kind == 3 or kind == 4:  # PARTIALLY_FILLED, FILLED
        return (OrderFilled if kind == 4 else OrderPartiallyFilled)(
            order_id=order_id,
            side=_SIDES[side],
            price=price,
            quantity=quantity,
            leaves_quantity=leaves,
            liquidity=_LIQUIDITIES[liquidity],
            counterparty_order_id=counterparty,
        )
    if kind == EventKind.ACCEPTED:
        return OrderAccepted(order_id=order_id, side=_SIDES[side], price=price, quantity=quantity)
    if kind == EventKind.CANCELED:
        return OrderCanceled(
            order_id=order_id,
            side=_SIDES[side],
            price=price,
            quantity=quantity,
            reason=_CANCEL_REASONS[reason],
        )
    if kind == EventKind.MODIFIED:
        return OrderModified(order_id=order_id, side=_SIDES[side], price=price, quantity=quantity)
    if kind == EventKind.REJECTED:
        return OrderRejected(
            order_id=order_id,
            side=side,
            price=price,
            quantity=quantity,
            reason=_REJECT_REASONS[reason],
        )
    if kind == EventKind.CANCEL_REJECTED:
        return CancelRejected(order_id=order_id, reason=_REJECT_REASONS[reason])
    if kind == EventKind.MODIFY_REJECTED:
        return ModifyRejected(
            order_id=order_id, price=price, quantity=quantity, reason=_REJECT_REASONS[reason]
        )
    raise ValueError(f"unknown event kind {kind}")
