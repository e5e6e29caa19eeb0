"""Vectorised research backtests: target positions per bar → trades, fills, fees, cash, equity.

One symbol's bars in, one row per bar out (:data:`VECTORISED_BACKTEST`). The bar's trade is the
change of target position; it fills at the bar's close moved against the trade's direction by
the half spread and the slippage, or at the fill prices you pass (e.g. the engine's own fills,
to compare accounting only); the fee is ``fee_bps`` of the fill's notional. Equity is cash plus
the position marked at the close, as the event-driven engine marks it at each bar.
:func:`summarise` reports the equity curve with :mod:`shriven.analytics.performance`, the same
metrics as every other report of the platform.

:func:`ema_cross_targets` is :class:`~shriven.strategy.momentum.Momentum` as an array function:
the same EMAs, warm-up and cross-only trading, so its target after bar ``i`` is the position the
engine's strategy asks for when bar ``i`` closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from shriven.analytics.conventions import EQUITIES, Conventions
from shriven.analytics.performance import PerformanceSummary, summary
from shriven.research import _kernels as k
from shriven.schemas import TIMESTAMP, VECTORISED_BACKTEST

__all__ = [
    "VECTORISED_BACKTEST",
    "EmaCross",
    "backtest",
    "ema_cross",
    "ema_cross_targets",
    "half_spread_from",
    "summarise",
]

FloatArray = NDArray[np.float64]

def _array(values: ArrayLike, name: str, length: int | None = None) -> FloatArray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if length is not None and array.size != length:
        raise ValueError(f"{name} has {array.size} values, close has {length}")
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} has NaN or infinite values (first at index {int(np.flatnonzero(~np.isfinite(array))[0])})"
        )
    return array


def _bps(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of bps >= 0, got {value}")
    return float(value)


def half_spread_from(
    close: FloatArray, spread_bps: float | None, half_spread: ArrayLike | None
) -> FloatArray:
    """The per-bar half spread in price: the given array, or ``close * spread_bps / 2e4``, or zeros."""
    if half_spread is not None and spread_bps is not None:
        raise ValueError("give half_spread or spread_bps, not both")
    if half_spread is not None:
        out = _array(half_spread, "half_spread", close.size)
        if (out < 0).any():
            raise ValueError("half_spread must be >= 0")
        return out
    if spread_bps is not None:
        return close * (_bps(spread_bps, "spread_bps") / 2e4)
    return np.zeros(close.size)


@dataclass(frozen=True, slots=True)
class EmaCross:
    """Targets and EMAs of :func:`ema_cross` (arrays aligned with the closes)."""

    target: FloatArray
    fast_ema: FloatArray
    slow_ema: FloatArray


def _check_momentum(fast: int, slow: int, quantity: float) -> None:
    if int(fast) != fast or int(slow) != slow or not 0 < fast < slow:
        raise ValueError(f"need integers 0 < fast < slow, got fast={fast} slow={slow}")
    if not (math.isfinite(quantity) and quantity > 0):
        raise ValueError(f"quantity must be positive, got {quantity}")


def ema_cross(
    close: ArrayLike, *, fast: int, slow: int, quantity: float, allow_short: bool = True
) -> EmaCross:
    """Momentum's EMA-cross target position after each bar, with the fast and slow EMAs."""
    _check_momentum(fast, slow, quantity)
    closes = _array(close, "close")
    target, fast_ema, slow_ema = (np.empty(closes.size) for _ in range(3))
    k.ema_cross_targets(
        closes, int(fast), int(slow), float(quantity), bool(allow_short), target, fast_ema, slow_ema
    )
    return EmaCross(target, fast_ema, slow_ema)


def ema_cross_targets(
    close: ArrayLike, *, fast: int, slow: int, quantity: float, allow_short: bool = True
) -> FloatArray:
    """Momentum's target position after each bar: ``±quantity`` from the first cross after warm-up, else 0."""
    return ema_cross(close, fast=fast, slow=slow, quantity=quantity, allow_short=allow_short).target


def backtest(
    close: ArrayLike,
    target: ArrayLike,
    *,
    starting_cash: float,
    fee_bps: float = 0.0,
    slippage_bps: float = 0.0,
    spread_bps: float | None = None,
    half_spread: ArrayLike | None = None,
    fill_prices: ArrayLike | None = None,
    ts: ArrayLike | None = None,
) -> pa.Table:
    """Trade one symbol to ``target`` at every bar; one :data:`VECTORISED_BACKTEST` row per bar.

    ``target`` is the position wanted after each bar (signals -1/0/+1 times a size work as is).
    The fill is ``close ± (half_spread + close * slippage_bps / 1e4)`` against the trade's
    direction, the half spread being ``half_spread`` (price, per bar) or ``close * spread_bps /
    2e4`` (neither: 0). ``fill_prices`` replaces that model by the given price at the bars that
    trade (values elsewhere are ignored but must be finite; the spread and slippage are then
    unused). ``ts`` (int ns or datetime64) only labels the rows.
    """
    closes = _array(close, "close")
    if closes.size == 0:
        raise ValueError("close is empty")
    if (closes <= 0).any():
        raise ValueError("close must be > 0")
    targets = _array(target, "target", closes.size)
    if not (math.isfinite(starting_cash) and starting_cash > 0):
        raise ValueError(f"starting_cash must be > 0, got {starting_cash}")
    fee_rate = _bps(fee_bps, "fee_bps") / 1e4
    slippage_rate = _bps(slippage_bps, "slippage_bps") / 1e4
    spread = half_spread_from(closes, spread_bps, half_spread)
    use_override = fill_prices is not None
    override = (
        _array(fill_prices, "fill_prices", closes.size) if use_override else np.zeros(closes.size)
    )
    n = closes.size
    position, trade, fill, fee, cash, equity = (np.empty(n) for _ in range(6))
    k.backtest_kernel(
        closes, spread, targets, override, use_override, fee_rate, slippage_rate, float(starting_cash),
        position, trade, fill, fee, cash, equity,
    )  # fmt: skip
    pnl = np.diff(equity, prepend=float(starting_cash))
    if ts is None:
        ts_array = pa.nulls(n, TIMESTAMP)
    else:
        raw = np.asarray(ts)
        if raw.shape != (n,):
            raise ValueError(f"ts has shape {raw.shape}, close has {n} values")
        ns = (
            raw.astype("datetime64[ns]").astype(np.int64)
            if np.issubdtype(raw.dtype, np.datetime64)
            else raw.astype(np.int64)
        )
        ts_array = pa.array(ns, pa.int64()).cast(TIMESTAMP)
    columns = [ts_array, closes, targets, position, trade]
    columns.append(pa.array(fill, pa.float64(), from_pandas=True))  # NaN -> null: no trade
    columns += [fee, cash, equity, pnl]
    return pa.Table.from_arrays(
        [pa.array(c) if isinstance(c, np.ndarray) else c for c in columns],
        schema=VECTORISED_BACKTEST,
    )


def summarise(
    result: pa.Table, *, starting_cash: float, conventions: Conventions = EQUITIES
) -> PerformanceSummary:
    """The platform's performance summary of a backtest's equity curve (starting cash first)."""
    equity = np.concatenate(([float(starting_cash)], result.column("equity").to_numpy()))
    return summary(equity=equity, conventions=conventions)
