"""States and reasons of the trading path, as int enums (they go into journals and the lake)."""

from __future__ import annotations

from enum import IntEnum

from shriven.book.orders import Liquidity, OrderType, Side

__all__ = [
    "Liquidity",
    "OrderEventKind",
    "OrderState",
    "OrderType",
    "RiskReason",
    "Side",
    "TargetKind",
    "TradingMode",
    "TradingState",
]


class OrderState(IntEnum):
    """Where an order is in its life (the OMS moves it along a table of legal transitions)."""

    #: Created by a strategy, not yet risk-checked.
    INITIALIZED = 0
    #: Refused by the risk manager; never left the process.
    DENIED = 1
    #: Journaled and sent to a venue; no answer yet.
    SUBMITTED = 2
    #: Acknowledged by the venue; working.
    ACCEPTED = 3
    #: Refused by the venue.
    REJECTED = 4
    #: A modify was sent; the venue has not answered.
    PENDING_UPDATE = 5
    #: A cancel was sent; the venue has not answered.
    PENDING_CANCEL = 6
    #: Some quantity filled, some still working.
    PARTIALLY_FILLED = 7
    #: Completely filled (terminal).
    FILLED = 8
    #: Canceled by request, IOC remainder or the kill switch (terminal).
    CANCELED = 9
    #: Its time in force ran out (terminal).
    EXPIRED = 10
    #: A stop/conditional order whose trigger fired; now working as its child type.
    TRIGGERED = 11

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the order any more."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order may still fill (it counts against open-order limits)."""
        return self in _OPEN


_TERMINAL = frozenset(
    {OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED}
)
_OPEN = frozenset(
    {
        OrderState.SUBMITTED,
        OrderState.ACCEPTED,
        OrderState.PENDING_UPDATE,
        OrderState.PENDING_CANCEL,
        OrderState.PARTIALLY_FILLED,
        OrderState.TRIGGERED,
    }
)


class OrderEventKind(IntEnum):
    """What happened to an order (each is one journal record and may move its state)."""

    SUBMITTED = 1
    DENIED = 2
    ACCEPTED = 3
    REJECTED = 4
    PENDING_UPDATE = 5
    PENDING_CANCEL = 6
    #: The venue applied a modify (new price and/or quantity).
    UPDATED = 7
    #: A fill; the order becomes PARTIALLY_FILLED or FILLED by its cumulative quantity.
    FILLED = 8
    CANCELED = 9
    EXPIRED = 10
    TRIGGERED = 11
    #: The venue refused a cancel; the order keeps its state before PENDING_CANCEL.
    CANCEL_REJECTED = 12
    #: The venue refused a modify; the order keeps its state before PENDING_UPDATE.
    MODIFY_REJECTED = 13


class TradingState(IntEnum):
    """What the risk manager lets through."""

    #: Every order that passes the checks.
    ACTIVE = 0
    #: Only orders that reduce exposure (a position towards zero, never through it).
    REDUCING = 1
    #: Nothing; working orders are canceled (the kill switch).
    HALTED = 2


class TradingMode(IntEnum):
    """Where the engine's market data and fills come from; the engine code is the same."""

    #: A replay of the lake on a simulated clock against the simulated venue.
    BACKTEST = 0
    #: The live (synthetic or real) feed on the wall clock against the simulated venue.
    PAPER = 1
    #: A real venue.
    LIVE = 2


class TargetKind(IntEnum):
    """What a signal's ``target`` means."""

    #: Target position in base units (signed).
    POSITION = 0
    #: Target weight of equity (signed fraction, e.g. 0.1 = 10% long).
    WEIGHT = 1


class RiskReason(IntEnum):
    """Why the risk manager denied an order (NONE: it passed)."""

    NONE = 0
    #: Trading is HALTED (kill switch, manual or after a breach).
    HALTED = 1
    #: Trading is REDUCING and the order would not reduce exposure.
    REDUCE_ONLY = 2
    RESTRICTED_SYMBOL = 3
    UNKNOWN_SYMBOL = 4
    BAD_SIDE = 5
    #: Quantity is NaN, infinite or not positive.
    BAD_QUANTITY = 6
    #: Limit price missing, NaN, infinite or not positive.
    BAD_PRICE = 7
    PRICE_NOT_ON_TICK = 8
    QUANTITY_NOT_ON_LOT = 9
    QUANTITY_BELOW_MIN = 10
    QUANTITY_ABOVE_MAX = 11
    MAX_ORDER_QUANTITY = 12
    MAX_ORDER_NOTIONAL = 13
    #: Limit price too far from the reference price (fat finger).
    PRICE_COLLAR = 14
    #: No reference price yet to value the order against.
    NO_REFERENCE_PRICE = 15
    POSITION_LIMIT = 16
    GROSS_EXPOSURE = 17
    NET_EXPOSURE = 18
    ORDER_RATE = 19
    MAX_OPEN_ORDERS = 20
    DAILY_LOSS = 21
    DRAWDOWN = 22
    BUYING_POWER = 23
    UNKNOWN_ORDER_TYPE = 24
