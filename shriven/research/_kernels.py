"""Numba kernels of the research backtests (private; see ``vectorised.py`` and ``sweep.py``).

Three kernels share one set of semantics, so a sweep row, a vectorised backtest and the
event-driven :class:`~shriven.strategy.momentum.Momentum` agree:

* the EMA cross: ``alpha = 2 / (span + 1)``, both EMAs start at the first close; a cross (the sign
  of ``fast - slow`` differing from the last non-zero sign) moves the target only once more than
  ``slow`` bars were seen and a regime was already set; the target then holds until the next one;
* a bar's trade is ``target - position``, executed at the bar's close, against the trade's
  direction: ``close + dir * (half_spread + close * slippage_rate)`` (or a given fill price); the
  fee is ``|trade| * fill * fee_rate``, and cash pays ``trade * fill + fee``;
* equity is ``cash + position * close`` after the bar's trade (the engine marks at the close too).

No fastmath: sums are never reassociated, so a row depends only on its own inputs and parameter
set, bit for bit, whatever the chunking or thread count (``prange`` splits sets, never bars).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Column of the sweep output matrix: equity after the last bar.
S_FINAL_EQUITY = 0
#: Column of the sweep output matrix: sum of fees paid.
S_FEES = 1
#: Column of the sweep output matrix: number of bars (symbol bars) with a non-zero trade.
S_TRADES = 2
#: Column of the sweep output matrix: deepest fall of equity from its running peak (<= 0).
S_MAX_DRAWDOWN = 3
#: Column of the sweep output matrix: mean of per-period excess returns.
S_MEAN = 4
#: Column of the sweep output matrix: sum of squared deviations of excess returns (Welford's M2).
S_M2 = 5
#: Column of the sweep output matrix: number of returns (equity samples - 1).
S_PERIODS = 6
#: Column of the sweep output matrix: sum of |trade| * fill (traded notional).
S_TURNOVER = 7
#: Number of columns of the sweep output matrix.
N_SWEEP_FIELDS = 8


@njit(cache=True, nogil=True, inline="always")
def _cross_step(fast, slow, close, alpha_fast, alpha_slow):
    fast = fast + alpha_fast * (close - fast)
    slow = slow + alpha_slow * (close - slow)
    return fast, slow


@njit(cache=True, nogil=True)
def ema_cross_targets(
    close, fast_span, slow_span, quantity, allow_short, out_target, out_fast, out_slow
):
    """Momentum's target after every bar (0 before the first trade), with both EMAs."""
    n = close.size
    if n == 0:
        return
    a_fast = 2.0 / (fast_span + 1)
    a_slow = 2.0 / (slow_span + 1)
    fast = close[0]
    slow = close[0]
    regime = 0
    target = 0.0
    out_target[0] = 0.0
    out_fast[0] = fast
    out_slow[0] = slow
    for i in range(1, n):
        fast, slow = _cross_step(fast, slow, close[i], a_fast, a_slow)
        sign = 1 if fast > slow else (-1 if fast < slow else 0)
        if sign != 0 and sign != regime:
            previous = regime
            regime = sign
            if i + 1 > slow_span and previous != 0:
                if sign > 0:
                    target = quantity
                else:
                    target = -quantity if allow_short else 0.0
        out_target[i] = target
        out_fast[i] = fast
        out_slow[i] = slow


@njit(cache=True, nogil=True)
def backtest_kernel(
    close, half_spread, target, fill_override, use_override, fee_rate, slippage_rate, cash0,
    out_position, out_trade, out_fill, out_fee, out_cash, out_equity,
):  # fmt: skip
    """One symbol's positions, trades, fills, fees, cash and equity per bar (NaN fill: no trade)."""
    cash = cash0
    position = 0.0
    for i in range(close.size):
        c = close[i]
        trade = target[i] - position
        fee = 0.0
        fill = math.nan
        if trade != 0.0:
            direction = 1.0 if trade > 0.0 else -1.0
            if use_override:
                fill = fill_override[i]
            else:
                fill = c + direction * (half_spread[i] + c * slippage_rate)
            fee = abs(trade) * fill * fee_rate
            cash -= trade * fill + fee
            position = target[i]
        out_position[i] = position
        out_trade[i] = trade
        out_fill[i] = fill
        out_fee[i] = fee
        out_cash[i] = cash
        out_equity[i] = cash + position * c


@njit(cache=True, nogil=True)
def _sweep_one(
    close, half_spread, symbol_index, sample, n_symbols, fast_span, slow_span, quantity, allow_short,
    fee_rate, slippage_rate, cash0, rf_per_period, out,
):  # fmt: skip
    """One parameter set over the (ts, symbol)-sorted bars of every symbol; fills ``out``."""
    a_fast = 2.0 / (fast_span + 1)
    a_slow = 2.0 / (slow_span + 1)
    fast = np.empty(n_symbols)
    slow = np.empty(n_symbols)
    seen = np.zeros(n_symbols, np.int64)
    regime = np.zeros(n_symbols, np.int64)
    position = np.zeros(n_symbols)
    last = np.zeros(n_symbols)
    cash = cash0
    fees = 0.0
    turnover = 0.0
    trades = 0
    previous_equity = cash0
    peak = cash0
    max_dd = 0.0
    mean = 0.0
    m2 = 0.0
    periods = 0
    for i in range(close.size):
        s = symbol_index[i]
        c = close[i]
        last[s] = c
        if seen[s] == 0:
            fast[s] = c
            slow[s] = c
            seen[s] = 1
        else:
            f, w = _cross_step(fast[s], slow[s], c, a_fast, a_slow)
            fast[s] = f
            slow[s] = w
            seen[s] += 1
            sign = 1 if f > w else (-1 if f < w else 0)
            if sign != 0 and sign != regime[s]:
                prior = regime[s]
                regime[s] = sign
                if seen[s] > slow_span and prior != 0:
                    if sign > 0:
                        goal = quantity
                    else:
                        goal = -quantity if allow_short else 0.0
                    trade = goal - position[s]
                    if trade != 0.0:
                        direction = 1.0 if trade > 0.0 else -1.0
                        fill = c + direction * (half_spread[i] + c * slippage_rate)
                        fee = abs(trade) * fill * fee_rate
                        cash -= trade * fill + fee
                        fees += fee
                        turnover += abs(trade) * fill
                        trades += 1
                        position[s] = goal
        if sample[i]:
            equity = cash
            for k in range(n_symbols):
                equity += position[k] * last[k]
            r = equity / previous_equity - 1.0 - rf_per_period
            previous_equity = equity
            periods += 1
            delta = r - mean
            mean += delta / periods
            m2 += delta * (r - mean)
            if equity > peak:
                peak = equity
            dd = equity / peak - 1.0
            if dd < max_dd:
                max_dd = dd
    out[S_FINAL_EQUITY] = previous_equity
    out[S_FEES] = fees
    out[S_TRADES] = trades
    out[S_MAX_DRAWDOWN] = max_dd
    out[S_MEAN] = mean
    out[S_M2] = m2
    out[S_PERIODS] = periods
    out[S_TURNOVER] = turnover


@njit(cache=True, parallel=True)
def sweep_kernel(
    close, half_spread, symbol_index, sample, n_symbols, fasts, slows, quantities, allow_shorts,
    fee_rate, slippage_rate, cash0, rf_per_period, out,
):  # fmt: skip
    """Every parameter set (row of ``out``) over the same bars; sets are independent."""
    for j in prange(fasts.size):
        _sweep_one(
            close, half_spread, symbol_index, sample, n_symbols, fasts[j], slows[j], quantities[j],
            allow_shorts[j], fee_rate, slippage_rate, cash0, rf_per_period, out[j],
        )  # fmt: skip
