"""Follow the signal log: turn each target (a position or a weight of equity) into a target position.

A POSITION target goes to the engine clipped to ``max_position``. A WEIGHT target needs a price:
``weight * equity / price`` with the microprice (or mid) of the current quote, rounded to the lot
towards zero and clipped. Before the symbol has a quote the weight waits; only the latest one per
symbol is kept, and it is acted on at the next quote or bar of that symbol (a bar without a quote
prices it at the bar's close). A non-finite target is skipped and counted in ``invalid_signals``.
"""

from __future__ import annotations

import math
from typing import Literal

from shriven.model.enums import TargetKind
from shriven.model.records import Bar, Quote, Signal
from shriven.strategy.base import Strategy, StrategyContext

__all__ = ["SignalFollower"]

PriceSource = Literal["microprice", "mid"]

#: Relative slack when rounding to the lot, so 0.3 / 0.1 counts as 3 lots, not 2.
_LOT_SLACK = 1e-9


class SignalFollower(Strategy):
    """Trades towards the targets of the signal log, clipped to ``max_position`` (absolute)."""

    def __init__(
        self,
        strategy_id: str,
        symbols: tuple[str, ...] = (),
        *,
        max_position: float = math.inf,
        price_source: PriceSource = "microprice",
    ) -> None:
        super().__init__(strategy_id, symbols)
        if not max_position > 0:
            raise ValueError(f"max_position must be positive, got {max_position}")
        if price_source not in ("microprice", "mid"):
            raise ValueError(f"price_source must be 'microprice' or 'mid', got {price_source!r}")
        self.max_position = float(max_position)
        self.price_source: PriceSource = price_source
        self._use_microprice = price_source == "microprice"
        self._accepts = frozenset(self.symbols)
        #: symbol -> latest weight waiting for a price.
        self._pending: dict[str, float] = {}
        #: Signals skipped because their target was NaN or infinite.
        self.invalid_signals = 0

    @property
    def pending(self) -> dict[str, float]:
        """Weights waiting for a price, by symbol (a copy)."""
        return dict(self._pending)

    def on_signal(self, ctx: StrategyContext, signal: Signal) -> None:
        """Act on a target now, or park a weight until the symbol has a price."""
        symbol = signal.symbol
        if self._accepts and symbol not in self._accepts:
            return
        if not math.isfinite(signal.target):
            self.invalid_signals += 1
            return
        if signal.kind == TargetKind.POSITION:
            self._pending.pop(symbol, None)
            ctx.target_position(symbol, self._clip(signal.target))
            return
        quote = ctx.quote(symbol)
        price = self._price(quote) if quote is not None else math.nan
        if price > 0:  # NaN (no quote, or an empty side) fails this too
            self._pending.pop(symbol, None)
            self._target_weight(ctx, symbol, signal.target, price)
        else:
            self._pending[symbol] = signal.target

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        """Price a waiting weight with the new quote."""
        if not self._pending or quote.symbol not in self._pending:
            return
        price = self._price(quote)
        if price > 0:
            self._target_weight(ctx, quote.symbol, self._pending.pop(quote.symbol), price)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Price a waiting weight with the quote if there is one, else the bar's close."""
        if not self._pending or bar.symbol not in self._pending:
            return
        quote = ctx.quote(bar.symbol)
        price = self._price(quote) if quote is not None else math.nan
        if not price > 0:
            price = bar.close
        if price > 0:
            self._target_weight(ctx, bar.symbol, self._pending.pop(bar.symbol), price)

    def _price(self, quote: Quote) -> float:
        return quote.microprice if self._use_microprice else quote.mid

    def _clip(self, target: float) -> float:
        cap = self.max_position
        return cap if target > cap else -cap if target < -cap else target

    def _target_weight(
        self, ctx: StrategyContext, symbol: str, weight: float, price: float
    ) -> None:
        lot = ctx.lot_size(symbol)
        quantity = self._clip(weight * ctx.equity() / price)
        lots = math.trunc(quantity / lot * (1.0 + _LOT_SLACK))
        ctx.target_position(symbol, _lots_to_quantity(lots, lot))


def _lots_to_quantity(lots: int, lot: float) -> float:
    """``lots * lot`` without float noise (3 * 0.1 is 0.30000000000000004)."""
    if lot >= 1.0 and lot == int(lot):
        return float(lots * int(lot))
    return round(lots * lot, _decimals(lot))


def _decimals(step: float) -> int:
    text = repr(step)
    if "e-" in text:
        mantissa, exponent = text.split("e-")
        return int(exponent) + (len(mantissa.split(".")[1]) if "." in mantissa else 0)
    return len(text.split(".")[1]) if "." in text else 0
