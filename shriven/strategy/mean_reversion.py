"""Mean reversion on bars: trade the z-score of the close against its rolling mean.

``z = (close - mean) / std`` over the last ``window`` closes (the current one included, population
std). Flat, it goes long at ``z <= -entry_z`` and short at ``z >= entry_z`` (flat instead when
shorting is off); long, it exits at ``z >= -exit_z``; short, at ``z <= exit_z`` (and flips when the
opposite entry is met at once). The rolling mean and variance are updated in O(1) per bar
(sliding Welford) and recomputed from the window every ``window`` bars so rounding cannot drift.
"""

from __future__ import annotations

import math

from shriven.model.records import Bar
from shriven.strategy.base import Strategy, StrategyContext

__all__ = ["MeanReversion"]


class _WindowState:
    """Ring buffer of closes with their running mean and sum of squared deviations."""

    __slots__ = ("closes", "count", "index", "m2", "mean", "regime")

    def __init__(self, window: int) -> None:
        self.closes = [0.0] * window
        self.count = 0
        self.index = 0
        self.mean = 0.0
        self.m2 = 0.0
        #: -1 short, 0 flat, +1 long: the last target sent.
        self.regime = 0


class MeanReversion(Strategy):
    """Z-score mean reversion with entry/exit thresholds and a fixed target size per symbol."""

    def __init__(
        self,
        strategy_id: str,
        symbols: tuple[str, ...] = (),
        *,
        window: int,
        entry_z: float = 2.0,
        exit_z: float = 0.5,
        quantity: float,
        allow_short: bool = True,
    ) -> None:
        super().__init__(strategy_id, symbols)
        if window < 2:
            raise ValueError(f"window must be at least 2, got {window}")
        if not 0 <= exit_z < entry_z:
            raise ValueError(f"need 0 <= exit_z < entry_z, got exit_z={exit_z} entry_z={entry_z}")
        if not quantity > 0:
            raise ValueError(f"quantity must be positive, got {quantity}")
        self.window = int(window)
        self.entry_z = float(entry_z)
        self.exit_z = float(exit_z)
        self.quantity = float(quantity)
        self.allow_short = allow_short
        self._accepts = frozenset(self.symbols)
        self._states: dict[str, _WindowState] = {}

    def zscore(self, symbol: str) -> float:
        """Z-score of the last close of ``symbol`` (NaN before a full window)."""
        state = self._states.get(symbol)
        if state is None or state.count < self.window:
            return math.nan
        return self._z(state, state.closes[state.index - 1])

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Roll the window; once full, move the target when a threshold is crossed."""
        symbol = bar.symbol
        state = self._states.get(symbol)
        if state is None:
            if self._accepts and symbol not in self._accepts:
                return
            state = self._states[symbol] = _WindowState(self.window)
        close = bar.close
        window = self.window
        i = state.index
        if state.count < window:
            state.count += 1
            delta = close - state.mean
            state.mean += delta / state.count
            state.m2 += delta * (close - state.mean)
        else:
            old = state.closes[i]
            mean = state.mean
            new_mean = mean + (close - old) / window
            state.m2 += (close - old) * (close - new_mean + old - mean)
            state.mean = new_mean
        state.closes[i] = close
        i += 1
        if i == window:
            i = 0
            if state.count == window:
                _recompute(state, window)
        state.index = i
        if state.count < window:
            return
        z = self._z(state, close)
        regime = state.regime
        target = regime
        if regime > 0 and z >= -self.exit_z or regime < 0 and z <= self.exit_z:
            target = 0
        if z <= -self.entry_z:
            target = 1
        elif z >= self.entry_z:
            target = -1
        if target < 0 and not self.allow_short:
            target = 0
        if target != regime:
            state.regime = target
            ctx.target_position(symbol, target * self.quantity)

    def _z(self, state: _WindowState, close: float) -> float:
        variance = state.m2 / self.window
        if not variance > 0:
            return 0.0
        return (close - state.mean) / math.sqrt(variance)


def _recompute(state: _WindowState, window: int) -> None:
    """Exact mean and squared deviations of the full window (cancels accumulated rounding)."""
    closes = state.closes
    mean = math.fsum(closes) / window
    state.mean = mean
    state.m2 = math.fsum((c - mean) ** 2 for c in closes)
