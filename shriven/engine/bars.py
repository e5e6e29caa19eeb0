"""Bars the engine hands to strategies, cut from the venue feed it replays.

The engine knows the whole feed of a backtest (and of a paper session on the synthetic live
feed, revealed as the clock passes), so bars are computed once, vectorised, and released when
their window closes: a bar ``[ts, ts + interval)`` is delivered at ``ts + interval``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np

from shriven.model.records import Bar
from shriven.venue._kernels import FEED_TRADE
from shriven.venue.simulated import VenueFeed

__all__ = ["BarSeries", "BarStream", "SeriesBars", "bar_schedule", "bars_from_feed"]


class BarStream(Protocol):
    """Where the engine's bars come from: precomputed (backtest, synthetic paper) or polled (live)."""

    def next_close(self) -> int | None:
        """The next time a bar may close (None: no more bars)."""
        ...

    def closed(self, t: int) -> Iterator[Bar]:
        """Bars that closed by ``t`` and were not handed out before, oldest first per symbol."""
        ...

    def traded_volume(self, symbol: str, start: int, end: int) -> float:
        """Market volume of the symbol's bars that closed in ``(start, end]`` (for VWAP algos)."""
        ...


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


class SeriesBars:
    """A :class:`BarStream` over precomputed series; bars closing at or before ``start_ns`` are skipped."""

    def __init__(self, series: Mapping[str, BarSeries], start_ns: int | None = None) -> None:
        self.series = dict(series)
        start = -(2**62) if start_ns is None else start_ns
        self._cursor = {s: int(np.searchsorted(b.ts + b.interval_ns, start, "right")) for s, b in self.series.items()}
        self._schedule = bar_schedule(self.series)
        self._pos = int(np.searchsorted(self._schedule, start, "right"))

    def next_close(self) -> int | None:
        """The next scheduled bar close."""
        return int(self._schedule[self._pos]) if self._pos < self._schedule.size else None

    def closed(self, t: int) -> Iterator[Bar]:
        """Every bar closing by ``t`` not yet delivered, symbol by symbol."""
        while self._pos < self._schedule.size and self._schedule[self._pos] <= t:
            self._pos += 1
        for sym, series in self.series.items():
            i, n, interval = self._cursor[sym], len(series), series.interval_ns
            while i < n and series.ts[i] + interval <= t:
                bar = series.bar(i)
                i += 1
                self._cursor[sym] = i
                yield bar

    def traded_volume(self, symbol: str, start: int, end: int) -> float:
        """Volume of the bars closing in ``(start, end]``."""
        series = self.series.get(symbol)
        if series is None or not len(series) or end <= start:
            return 0.0
        a, b = np.searchsorted(series.ts + series.interval_ns, [start, end], "right")
        return float(series.volume[a:b].sum())
