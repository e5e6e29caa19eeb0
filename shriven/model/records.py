"""Immutable records that cross the trading path: requests, order events, fills, signals, bars.

msgspec Structs (frozen): cheap to build on the hot path and to encode into the OMS journal.
Times are nanoseconds since the epoch (UTC); prices in quote currency; quantities in base units.
"""

from __future__ import annotations

import math

import msgspec

from shriven.model.enums import Liquidity, OrderEventKind, OrderType, Side, TargetKind

__all__ = ["Bar", "Fill", "OrderEvent", "OrderRequest", "Quote", "Signal"]


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy (or an algo) asks for; the OMS turns it into an order.

    ``client_order_id`` is the idempotency key: the OMS creates an order once per id, a repeat
    returns the existing order. ``venue`` None lets the router choose. ``signal_offset`` ties the
    order to the signal that caused it (exactly-once processing of the signal log).
    """

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType = OrderType.LIMIT
    price: float | None = None
    strategy_id: str = ""
    venue: str | None = None
    reduce_only: bool = False
    ts: int = 0
    signal_offset: int | None = None


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened to an order: the unit of the OMS journal and of venue reports.

    For FILLED: ``price``/``quantity`` are the fill's, ``fee`` paid (negative = rebate),
    ``liquidity`` maker/taker, ``trade_id`` unique per venue. For UPDATED and PENDING_UPDATE:
    the new price and quantity (open quantity). ``reason`` says why for DENIED, REJECTED,
    CANCELED, EXPIRED and the *_REJECTED kinds (an enum name, readable in the journal).
    """

    ts: int
    client_order_id: str
    kind: OrderEventKind
    symbol: str = ""
    venue: str = ""
    venue_order_id: str = ""
    price: float = math.nan
    quantity: float = 0.0
    fee: float = 0.0
    liquidity: Liquidity = Liquidity.NONE
    trade_id: str = ""
    reason: str = ""


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """An execution of one of our orders: what the portfolio books."""

    ts: int
    client_order_id: str
    symbol: str
    side: Side
    price: float
    quantity: float
    fee: float = 0.0
    liquidity: Liquidity = Liquidity.NONE
    venue: str = ""
    trade_id: str = ""
    strategy_id: str = ""

    @property
    def signed_quantity(self) -> float:
        """Quantity with the sign of the position change (+ buy, - sell)."""
        return self.quantity if self.side == Side.BUY else -self.quantity


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """A target from a model or an optimiser, read from the signal log.

    ``offset`` is its position in the log (assigned on append, -1 before): consumers commit the
    offsets they have acted on, so each signal is acted on once across restarts.
    """

    ts: int
    symbol: str
    target: float
    kind: TargetKind = TargetKind.POSITION
    source: str = ""
    model_version: str = ""
    offset: int = -1


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """A closed bar of one symbol: ``ts`` is the open time, ``end_ts`` the close (exclusive)."""

    ts: int
    end_ts: int
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    trades: int


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """Top of book of one symbol as the strategy sees it (NaN price / 0 size: side empty)."""

    ts: int
    symbol: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float

    @property
    def mid(self) -> float:
        """Midpoint of the touch (NaN when a side is empty)."""
        return 0.5 * (self.bid + self.ask)

    @property
    def microprice(self) -> float:
        """Size-weighted mid: leans towards the side with less size (where the price goes next)."""
        total = self.bid_size + self.ask_size
        if not total > 0:
            return self.mid
        return (self.bid * self.ask_size + self.ask * self.bid_size) / total

    @property
    def spread(self) -> float:
        """Ask minus bid."""
        return self.ask - self.bid
