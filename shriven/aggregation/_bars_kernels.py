"""Numba kernels of the trade-to-bar aggregation (private; see ``bars.py`` for the public API).

One pass over time-sorted trades builds bars of several nested intervals at once: trades are
accumulated into the finest interval's current bar (scalar locals, the hot path); when a trade
crosses that bar's right edge the bar is written out and folded into the next coarser interval's
running bar, which is itself written out and folded upwards when the trade crosses its edge. The
realised variance of a coarse bar is the sum of its sub-bars' variances plus the squared log
returns between each sub-bar's close and the next sub-bar's open, so every consecutive pair of
trades inside a bar is counted exactly once, as in a flat computation.

No fastmath: results match a plain computation up to summation order (sums are never
reassociated). ``error_model="numpy"`` only drops Python's division-by-zero checks (a zero volume
gives inf/nan instead of raising), which lets LLVM vectorise the squared-log-return pre-pass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Row of the float output matrix: first trade price.
F_OPEN = 0
#: Row of the float output matrix: highest trade price.
F_HIGH = 1
#: Row of the float output matrix: lowest trade price.
F_LOW = 2
#: Row of the float output matrix: last trade price.
F_CLOSE = 3
#: Row of the float output matrix: sum of sizes.
F_VOLUME = 4
#: Row of the float output matrix: sum of price * size.
F_NOTIONAL = 5
#: Row of the float output matrix: notional / volume.
F_VWAP = 6
#: Row of the float output matrix: volume of buyer-initiated trades.
F_BUY = 7
#: Row of the float output matrix: volume of seller-initiated trades.
F_SELL = 8
#: Row of the float output matrix: sqrt of the sum of squared log returns.
F_RV = 9
#: Row of the float output matrix: (buy - sell) / volume.
F_OFI = 10
#: Number of rows of the float output matrix.
N_FLOAT_FIELDS = 11

#: Kernel status: timestamps strictly increasing; the bars are final.
STATUS_STRICT = 0
#: Kernel status: timestamps non-decreasing with ties; the bars are final only if the ties are
#: already in trade_id order (the caller checks).
STATUS_TIES = 1
#: Kernel status: timestamps decrease somewhere; the kernel stopped early and the bars are invalid.
STATUS_UNSORTED = 2

#: Column of the running-bar matrix ``acc[level, field]`` of the coarser levels: bar open.
_A_OPEN = 0
_A_HIGH = 1
_A_LOW = 2
_A_CLOSE = 3
_A_VOLUME = 4
_A_NOTIONAL = 5
_A_BUY = 6
_A_SELL = 7
_A_RV2 = 8
#: Squared log return from the trade before the bar's first trade to it (joins sub-bars).
_A_OPEN_R2 = 9
_N_ACC = 10

#: Trades per block of the squared-log-return pre-pass (its buffer stays in L1/L2).
_BLOCK = 2048
#: |q - 1| below which log(q) is the series of log1p(q - 1): truncation < 2**-56 relative.
_SERIES_LIMIT = 2.0**-7


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _floor_to(t, interval):
    q = t // interval  # floor division (Python semantics in numba), correct before 1970 too
    return q * interval


@njit(cache=True, nogil=True, error_model="numpy")
def _squared_log_returns(price, lo, hi, out):
    """out[i - lo] = log(price[i] / price[i - 1]) ** 2 for i in [lo, hi), lo >= 1.

    log(q) is the degree-8 series of log1p(q - 1) (q - 1 is exact for q in [0.5, 2]), within
    1 ulp of ``math.log(q)`` for |q - 1| < ``_SERIES_LIMIT``, where ordinary trade-to-trade
    returns lie; this loop vectorises. The rare larger ratios are redone with ``math.log``.
    """
    # 0-based loops over views: no negative-index wraparound checks, so LLVM vectorises
    cur = price[lo:hi]
    prev = price[lo - 1 : hi - 1]
    dst = out[: hi - lo]
    large = np.uint8(0)
    for j in range(hi - lo):
        d = cur[j] / prev[j] - 1.0
        # Horner form of d - d**2/2 + d**3/3 - ... - d**8/8
        h = 1.0 / 7 - d / 8
        h = -1.0 / 6 + d * h
        h = 1.0 / 5 + d * h
        h = -1.0 / 4 + d * h
        h = 1.0 / 3 + d * h
        h = -1.0 / 2 + d * h
        r = d * (1.0 + d * h)
        dst[j] = r * r
        large |= np.uint8(abs(d) >= _SERIES_LIMIT)
    if large:
        for j in range(hi - lo):
            q = cur[j] / prev[j]
            if abs(q - 1.0) >= _SERIES_LIMIT:
                r = math.log(q)
                dst[j] = r * r


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _emit(out_ts, out_trades, out_f, j, start, o, h, lo, c, vol, notional, cnt, buy, sell, rv2):
    out_ts[j] = start
    out_trades[j] = cnt
    out_f[F_OPEN, j] = o
    out_f[F_HIGH, j] = h
    out_f[F_LOW, j] = lo
    out_f[F_CLOSE, j] = c
    out_f[F_VOLUME, j] = vol
    out_f[F_NOTIONAL, j] = notional
    out_f[F_VWAP, j] = notional / vol
    out_f[F_BUY, j] = buy
    out_f[F_SELL, j] = sell
    out_f[F_RV, j] = math.sqrt(rv2)
    out_f[F_OFI, j] = (buy - sell) / vol


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fold(acc, acc_cnt, k, o, h, lo, c, vol, notional, cnt, buy, sell, rv2, open_r2):
    """Merge one finished bar of level k-1 into the running bar of level k."""
    if acc_cnt[k] == 0:
        acc[k, _A_OPEN] = o
        acc[k, _A_HIGH] = h
        acc[k, _A_LOW] = lo
        acc[k, _A_CLOSE] = c
        acc[k, _A_VOLUME] = vol
        acc[k, _A_NOTIONAL] = notional
        acc[k, _A_BUY] = buy
        acc[k, _A_SELL] = sell
        acc[k, _A_RV2] = rv2
        acc[k, _A_OPEN_R2] = open_r2
        acc_cnt[k] = cnt
    else:
        # the sub-bar's first trade follows the running bar's last one: their return joins them
        acc[k, _A_RV2] += rv2 + open_r2
        if h > acc[k, _A_HIGH]:
            acc[k, _A_HIGH] = h
        if lo < acc[k, _A_LOW]:
            acc[k, _A_LOW] = lo
        acc[k, _A_CLOSE] = c
        acc[k, _A_VOLUME] += vol
        acc[k, _A_NOTIONAL] += notional
        acc[k, _A_BUY] += buy
        acc[k, _A_SELL] += sell
        acc_cnt[k] += cnt


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _close_level(acc, acc_cnt, k, nlev, offsets, counts, acc_start, out_ts, out_trades, out_f):
    """Write level k's running bar out and fold it into level k + 1."""
    _emit(
        out_ts, out_trades, out_f, offsets[k] + counts[k], acc_start[k],
        acc[k, _A_OPEN], acc[k, _A_HIGH], acc[k, _A_LOW], acc[k, _A_CLOSE],
        acc[k, _A_VOLUME], acc[k, _A_NOTIONAL], acc_cnt[k],
        acc[k, _A_BUY], acc[k, _A_SELL], acc[k, _A_RV2],
    )  # fmt: skip
    counts[k] += 1
    if k + 1 < nlev:
        _fold(
            acc, acc_cnt, k + 1,
            acc[k, _A_OPEN], acc[k, _A_HIGH], acc[k, _A_LOW], acc[k, _A_CLOSE],
            acc[k, _A_VOLUME], acc[k, _A_NOTIONAL], acc_cnt[k],
            acc[k, _A_BUY], acc[k, _A_SELL], acc[k, _A_RV2], acc[k, _A_OPEN_R2],
        )  # fmt: skip
    acc_cnt[k] = 0


@njit(cache=True, nogil=True)
def bar_capacities(ts, intervals):
    """Upper bound of the number of bars per interval, from the first and last timestamps.

    Exact bound for sorted input: the number of interval slots the trades span, capped by the
    number of trades. The kernel stops (STATUS_UNSORTED) before overflowing it on unsorted input.
    """
    k = intervals.size
    caps = np.zeros(k, np.int64)
    n = ts.size
    if n == 0:
        return caps
    first = ts[0]
    last = ts[n - 1]
    for j in range(k):
        iv = intervals[j]
        span = last // iv - first // iv + 1
        if span < 1:
            span = 1
        caps[j] = min(n, span)
    return caps


@njit(cache=True, nogil=True, error_model="numpy")
def aggregate_sorted(ts, price, size, side, intervals, offsets, caps, out_ts, out_trades, out_f):
    """Aggregate time-sorted trades into bars of several nested intervals in one pass.

    ``intervals`` (int64 ns, ascending) must each divide the next. Level ``k`` writes its bars
    into columns ``offsets[k] .. offsets[k] + counts[k]`` of ``out_ts``, ``out_trades`` (int64)
    and ``out_f`` (float64, ``N_FLOAT_FIELDS`` rows), never past ``offsets[k] + caps[k]``.

    Returns ``(status, counts)``; status is one of the ``STATUS_*`` constants.
    """
    n = ts.size
    nlev = intervals.size
    counts = np.zeros(nlev, np.int64)
    if n == 0:
        return STATUS_STRICT, counts
    status = STATUS_STRICT

    # Running bars of the coarser levels (row 0 unused: the finest level lives in locals).
    acc = np.zeros((nlev, _N_ACC), np.float64)
    acc_cnt = np.zeros(nlev, np.int64)
    acc_start = np.empty(nlev, np.int64)
    acc_edge = np.empty(nlev, np.int64)
    r2 = np.empty(_BLOCK, np.float64)

    iv0 = intervals[0]
    t = ts[0]
    p = price[0]
    s = size[0]
    sd = side[0]
    start0 = _floor_to(t, iv0)
    edge0 = start0 + iv0
    for k in range(1, nlev):
        acc_start[k] = _floor_to(t, intervals[k])
        acc_edge[k] = acc_start[k] + intervals[k]
    o = p
    h = p
    lo = p
    c = p
    vol = s
    notional = p * s
    cnt = 1
    buy = s * (sd == 1)
    sell = s * (sd == -1)
    rv2 = 0.0
    open_r2 = 0.0
    prev_t = t

    for b0 in range(1, n, _BLOCK):
        b1 = min(b0 + _BLOCK, n)
        _squared_log_returns(price, b0, b1, r2)
        ts_b = ts[b0:b1]
        price_b = price[b0:b1]
        size_b = size[b0:b1]
        side_b = side[b0:b1]
        for j in range(b1 - b0):
            t = ts_b[j]
            p = price_b[j]
            s = size_b[j]
            sd = side_b[j]
            if t <= prev_t:
                if t < prev_t:
                    return STATUS_UNSORTED, counts
                status = STATUS_TIES
            prev_t = t
            x = r2[j]
            if t < edge0:
                rv2 += x
                h = p if p > h else h
                lo = p if p < lo else lo
                c = p
                vol += s
                notional += p * s
                cnt += 1
                # branch-free and exact: s * 1.0 or s * 0.0
                buy += s * (sd == 1)
                sell += s * (sd == -1)
                continue

            # The trade opens a new finest bar: write the finished one out and fold it upwards.
            if counts[0] >= caps[0]:
                return STATUS_UNSORTED, counts
            _emit(
                out_ts, out_trades, out_f, offsets[0] + counts[0], start0,
                o, h, lo, c, vol, notional, cnt, buy, sell, rv2,
            )  # fmt: skip
            counts[0] += 1
            if nlev > 1:
                _fold(acc, acc_cnt, 1, o, h, lo, c, vol, notional, cnt, buy, sell, rv2, open_r2)
                k = 1
                while k < nlev and t >= acc_edge[k]:
                    if counts[k] >= caps[k]:
                        return STATUS_UNSORTED, counts
                    _close_level(
                        acc, acc_cnt, k, nlev, offsets, counts, acc_start, out_ts, out_trades, out_f
                    )
                    acc_start[k] = _floor_to(t, intervals[k])
                    acc_edge[k] = acc_start[k] + intervals[k]
                    k += 1
            start0 = _floor_to(t, iv0)
            edge0 = start0 + iv0
            o = p
            h = p
            lo = p
            c = p
            vol = s
            notional = p * s
            cnt = 1
            buy = s * (sd == 1)
            sell = s * (sd == -1)
            rv2 = 0.0
            open_r2 = x

    # Flush: the finest bar, then every coarser running bar (each holds at least one trade now).
    if counts[0] >= caps[0]:
        return STATUS_UNSORTED, counts
    _emit(
        out_ts, out_trades, out_f, offsets[0] + counts[0], start0,
        o, h, lo, c, vol, notional, cnt, buy, sell, rv2,
    )  # fmt: skip
    counts[0] += 1
    if nlev > 1:
        _fold(acc, acc_cnt, 1, o, h, lo, c, vol, notional, cnt, buy, sell, rv2, open_r2)
        for k in range(1, nlev):
            if counts[k] >= caps[k]:
                return STATUS_UNSORTED, counts
            _close_level(
                acc, acc_cnt, k, nlev, offsets, counts, acc_start, out_ts, out_trades, out_f
            )
    return status, counts


@njit(cache=True, nogil=True)
def ties_in_order(ts, trade_id):
    """True if every run of equal timestamps is in non-decreasing trade_id order."""
    for i in range(1, ts.size):
        if ts[i] == ts[i - 1] and trade_id[i] < trade_id[i - 1]:
            return False
    return True
