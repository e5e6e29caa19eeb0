"""Bars the engine hands to strategies, cut from the venue feed it replays.

The engine knows the whole feed of a backtest (and of a paper session on the synthetic live
feed, revealed as the clock passes), so bars are computed once, vectorised, and released when
their window closes: a bar ``[ts, ts + interval)`` is delivered at ``ts + interval``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from shriven.model.records import Bar
from shriven.venue._kernels import FEED_TRADE
from shriven.venue.simulated import VenueFeed

__all__ = ["BarSeries", "bars_from_feed", "bar_schedule"]


class BarSeries:
    """One symbol's bars as columns (only windows with trades have a bar)."""

    __slots__ = ("symbol", "interval_ns", "ts", "open", "high", "low", "close", "volume", "vwap", "trades")

    def __init__(self, symbol: str, interval_ns: int, columns: Mapping[str, np.ndarray]) -> None:
        self.symbol = symbol
        self.interval_ns = interval_ns
        self.ts = columns["ts"]
        self.open = columns["open"]
        self.high = columns["high"]
        self.low = columns["low"]
        self.close = columns["close"]
        self.volume = columns["volume"]
        self.vwap = columns["vwap"]
        self.trades = columns["trades"]

    def __len__(self) -> int:
        return int(self.ts.size)

    def bar(self, i: int) -> Bar:
        """Bar number ``i`` as a record."""
        start = int(self.ts[i])
        return Bar(
            ts=start, end_ts=start + self.interval_ns, symbol=self.symbol,
            open=float(self.open[i]), high=float(self.high[i]), low=float(self.low[i]),
            close=float(self.close[i]), volume=float(self.volume[i]), vwap=float(self.vwap[i]),
            trades=int(self.trades[i]),
        )  # fmt: skip


def bars_from_feed(feed: VenueFeed, interval_ns: int) -> BarSeries:
    """Cut the feed's trades into bars of ``interval_ns`` aligned to the epoch."""
    if interval_ns <= 0:
        raise ValueError(f"bar interval must be > 0 ns, got {interval_ns}")
    rows = feed.rows[feed.rows["kind"] == FEED_TRADE]
    price = rows["tick"].astype(np.float64) * feed.tick_size
    qty = rows["qty"]
    bucket = rows["ts"] // interval_ns * interval_ns
    if bucket.size == 0:
        empty = np.empty(0)
        cols = dict(ts=np.empty(0, np.int64), open=empty, high=empty, low=empty, close=empty,
                    volume=empty, vwap=empty, trades=np.empty(0, np.int64))  # fmt: skip
        return BarSeries(feed.symbol, interval_ns, cols)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], bucket.size]
    volume = np.add.reduceat(qty, starts)
    notional = np.add.reduceat(price * qty, starts)
    cols = {
        "ts": bucket[starts].astype(np.int64),
        "open": price[starts],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "close": price[ends - 1],
        "volume": volume,
        "vwap": np.divide(notional, volume, out=np.full(volume.size, np.nan), where=volume > 0),
        "trades": (ends - starts).astype(np.int64),
    }
    return BarSeries(feed.symbol, interval_ns, cols)


def bar_schedule(series: Mapping[str, BarSeries]) -> np.ndarray:
    """Sorted unique close times of every symbol's bars: when the engine must wake."""
    closes = [s.ts + s.interval_ns for s in series.values() if len(s)]
    if not closes:
        return np.empty(0, np.int64)
    return np.unique(np.concatenate(closes))
