"""Configuration of the pre-trade risk manager: per-instrument and account-wide limits.

Every limit is inclusive (a value equal to the limit passes) and ``inf`` disables it. Quantities
are base units, notionals and losses quote currency, times nanoseconds.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = ["BreachState", "InstrumentLimits", "RiskConfig", "RiskLimits"]

INF = math.inf

PositiveFloat = Annotated[float, Meta(gt=0.0)]
NonNegativeFloat = Annotated[float, Meta(ge=0.0)]
PositiveInt = Annotated[int, Meta(gt=0)]
#: The rate window is a ring of this many timestamps: bounded so a typo cannot eat the memory.
OrderRate = Annotated[int, Meta(gt=0, le=1_000_000)]
#: A fraction of peak equity.
Fraction = Annotated[float, Meta(gt=0.0, le=1.0)]

#: The trading state a daily-loss or drawdown breach moves to.
BreachState = Literal["halted", "reducing"]


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class InstrumentLimits(_Config):
    """Exchange rules (tick, lot, min/max order size) and risk limits of one instrument.

    ``max_quantity`` is the exchange's per-order maximum (``QUANTITY_ABOVE_MAX``);
    ``max_order_quantity`` and ``max_order_notional`` are our own per-order limits;
    ``max_position`` bounds the absolute position in base units, working orders included.
    """

    symbol: str
    tick_size: PositiveFloat = 0.01
    lot_size: PositiveFloat = 1.0
    min_quantity: NonNegativeFloat = 0.0
    max_quantity: PositiveFloat = INF
    max_order_quantity: PositiveFloat = INF
    max_order_notional: PositiveFloat = INF
    max_position: NonNegativeFloat = INF

    def __post_init__(self) -> None:
        """Reject a minimum above the maximum (no order could pass)."""
        if self.min_quantity > self.max_quantity:
            raise ValueError(
                f"{self.symbol}: min_quantity {self.min_quantity} > max_quantity {self.max_quantity}"
            )


class RiskLimits(_Config):
    """Account-wide limits.

    ``max_gross_exposure``: sum of ``|position| * reference``; ``max_net_exposure``: ``|sum of
    position * reference|``. ``max_orders_per_second``: passing orders whose ``ts`` lies in the
    last second (sliding window). ``price_collar``: the largest ``|limit / reference - 1|``.
    ``daily_loss_limit``: the largest fall of equity from the start-of-day equity;
    ``max_drawdown``: the largest fall from peak equity as a fraction of it; a breach of either
    moves trading to ``breach_state``. ``max_leverage``: gross exposure plus the notional of the
    working orders and of the new order must stay within ``equity * max_leverage``.
    ``restricted``: symbols that may not be traded at all.
    """

    max_gross_exposure: PositiveFloat = INF
    max_net_exposure: PositiveFloat = INF
    max_open_orders: PositiveInt = 1000
    max_orders_per_second: OrderRate = 1000
    price_collar: PositiveFloat = 0.1
    daily_loss_limit: PositiveFloat = INF
    max_drawdown: Fraction = 1.0
    max_leverage: PositiveFloat = INF
    restricted: tuple[str, ...] = ()
    breach_state: BreachState = "halted"


class RiskConfig(_Config):
    """The risk manager: account limits and the instruments it knows (any other is denied)."""

    limits: RiskLimits = RiskLimits()
    instruments: tuple[InstrumentLimits, ...] = ()

    def __post_init__(self) -> None:
        """Reject duplicate symbols."""
        names = [i.symbol for i in self.instruments]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate instruments: {sorted(names)}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> RiskConfig:
        """Build and validate from plain data (a parsed TOML or JSON document)."""
        return msgspec.convert(mapping, cls)

    @classmethod
    def from_toml(cls, path: str | Path) -> RiskConfig:
        """Build from a TOML file (``[limits]`` and ``[[instruments]]`` tables)."""
        return cls.from_toml_text(Path(path).read_text())

    @classmethod
    def from_toml_text(cls, text: str) -> RiskConfig:
        """Build from TOML text, for configs embedded in a larger document or a test."""
        return cls.from_mapping(tomllib.loads(text))

    def instrument(self, symbol: str) -> InstrumentLimits:
        """The limits of ``symbol``; ``KeyError`` when it is not configured."""
        for limits in self.instruments:
            if limits.symbol == symbol:
                return limits
        raise KeyError(f"instrument {symbol!r} not in the risk config")
