"""Configuration of the simulated venue: latencies, fees, queue model and instrument rules."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = ["InstrumentRules", "QueueModelName", "VenueConfig"]

NonNegativeInt = Annotated[int, Meta(ge=0)]
PositiveFloat = Annotated[float, Meta(gt=0.0)]
#: A fee as a fraction of notional; negative is a rebate. Bounded to catch percent/bps mix-ups.
FeeRate = Annotated[float, Meta(ge=-0.01, le=0.01)]

#: How cancels at a level move a resting order's queue position (see ``shriven.venue`` docs).
QueueModelName = Literal["risk_averse", "proportional"]


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class InstrumentRules(_Config):
    """Tick and lot size of one instrument (prices and sizes in quote currency / base units)."""

    symbol: str
    tick_size: PositiveFloat = 0.01
    lot_size: PositiveFloat = 1.0


class VenueConfig(_Config):
    """The simulated venue.

    Times are nanoseconds. ``feed_latency_ns``: an exchange event at exchange time ``e`` is seen
    by the strategy at ``e + feed_latency_ns``. ``order_latency_ns``: a request sent at ``t``
    reaches the matching engine at ``t + order_latency_ns``. ``response_latency_ns``: an outcome
    (ack, reject, fill, cancel) produced at exchange time ``x`` is seen at
    ``x + response_latency_ns``; ``None`` means the same as ``order_latency_ns``, so an order sent
    at ``t`` is acknowledged at ``t + 2 * order_latency_ns``.

    Fees are fractions of notional charged per fill (``fee = price * quantity * rate``, positive
    = paid); ``maker_fee`` may be negative (a rebate).
    """

    instruments: tuple[InstrumentRules, ...]
    feed_latency_ns: NonNegativeInt = 0
    order_latency_ns: NonNegativeInt = 0
    response_latency_ns: NonNegativeInt | None = None
    maker_fee: FeeRate = 0.0
    taker_fee: FeeRate = 0.0
    queue_model: QueueModelName = "proportional"

    def __post_init__(self) -> None:
        """Reject duplicate symbols."""
        names = [i.symbol for i in self.instruments]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate instruments: {sorted(names)}")

    @property
    def effective_response_latency_ns(self) -> int:
        """``response_latency_ns``, or ``order_latency_ns`` when it is not set."""
        if self.response_latency_ns is None:
            return self.order_latency_ns
        return self.response_latency_ns

    def instrument(self, symbol: str) -> InstrumentRules:
        """The rules of ``symbol``; ``KeyError`` when it is not configured."""
        for rules in self.instruments:
            if rules.symbol == symbol:
                return rules
        raise KeyError(f"instrument {symbol!r} not in the venue config")
