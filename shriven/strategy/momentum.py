"""Trend following on bars: a fast/slow EMA cross of closes sets a long, short or flat target.

Each EMA uses ``alpha = 2 / (span + 1)`` and starts at the first close. The first ``slow`` bars
of a symbol only warm the averages up; after that the strategy trades **on a cross only**: when
the sign of ``fast - slow`` differs from the last non-zero sign it targets ``+quantity`` (fast
above slow) or ``-quantity`` (``0`` when shorting is off). It starts flat, so the first trade
is at the first cross after the warm-up (a cross inside the warm-up only sets the regime). State is two floats and two small ints per symbol.
"""

from __future__ import annotations

from shriven.model.records import Bar
from shriven.strategy.base import Strategy, StrategyContext

__all__ = ["Momentum"]


class _EmaState:
    """Per-symbol state, mutated in place (no allocation per bar beyond the floats)."""

    __slots__ = ("bars", "fast", "regime", "slow")

    def __init__(self, close: float) -> None:
        self.fast = close
        self.slow = close
        self.bars = 1
        #: Sign of fast - slow at the last bar where it was non-zero (0: none yet).
        self.regime = 0


class Momentum(Strategy):
    """EMA-cross trend follower trading a fixed target size per symbol."""

    def __init__(
        self,
        strategy_id: str,
        symbols: tuple[str, ...] = (),
        *,
        fast: int,
        slow: int,
        quantity: float,
        allow_short: bool = True,
    ) -> None:
        super().__init__(strategy_id, symbols)
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
        if not quantity > 0:
            raise ValueError(f"quantity must be positive, got {quantity}")
        self.fast = int(fast)
        self.slow = int(slow)
        self.quantity = float(quantity)
        self.allow_short = allow_short
        self._alpha_fast = 2.0 / (fast + 1)
        self._alpha_slow = 2.0 / (slow + 1)
        self._accepts = frozenset(self.symbols)
        self._states: dict[str, _EmaState] = {}

    def emas(self, symbol: str) -> tuple[float, float] | None:
        """(fast, slow) EMAs of ``symbol`` after the last bar, None before its first bar."""
        state = self._states.get(symbol)
        return None if state is None else (state.fast, state.slow)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Update both EMAs; at a cross after the warm-up, move the target."""
        symbol = bar.symbol
        state = self._states.get(symbol)
        if state is None:
            if self._accepts and symbol not in self._accepts:
                return
            self._states[symbol] = _EmaState(bar.close)
            return
        close = bar.close
        fast = state.fast + self._alpha_fast * (close - state.fast)
        slow = state.slow + self._alpha_slow * (close - state.slow)
        state.fast = fast
        state.slow = slow
        state.bars += 1
        sign = 1 if fast > slow else -1 if fast < slow else 0
        if sign == 0 or sign == state.regime:
            return
        warm = state.bars > self.slow
        previous = state.regime
        state.regime = sign
        if not warm or previous == 0:
            return
        if sign > 0:
            ctx.target_position(symbol, self.quantity)
        else:
            ctx.target_position(symbol, -self.quantity if self.allow_short else 0.0)
