"""Bars polled from a live market-data source (ccxt, or the synthetic exchange's live feed).

At each wake-up the complete bar intervals since the last poll are fetched from the source,
validated like ingestion validates (bad rows counted by reason, never traded on) and cut into
bars. A bar ``[s, e)`` is fetched only once ``grace_ns`` has passed after ``e``, so trades the
venue publishes a little late still land in their bar.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow.compute as pc

from shriven.lake.layout import Window
from shriven.marketdata.source import MarketDataSource
from shriven.marketdata.validation import validate_trades
from shriven.model.records import Bar

__all__ = ["SourceBars"]

#: Closed bars kept per symbol for traded-volume questions (VWAP algos look back minutes).
_HISTORY = 1440


class SourceBars:
    """A :class:`~shriven.engine.bars.BarStream` polling a live :class:`MarketDataSource`."""

    def __init__(
        self,
        source: MarketDataSource,
        symbols: Sequence[str],
        interval_ns: int,
        start_ns: int,
        *,
        grace_ns: int = 2_000_000_000,
    ) -> None:
        if interval_ns <= 0:
            raise ValueError(f"bar interval must be > 0 ns, got {interval_ns}")
        self.source = source
        self.symbols = tuple(symbols)
        self.interval_ns = interval_ns
        self.grace_ns = grace_ns
        self._fetched_to = start_ns // interval_ns * interval_ns
        self._history: dict[str, deque[tuple[int, float]]] = {s: deque(maxlen=_HISTORY) for s in self.symbols}
        self.polls = 0
        self.rejected: dict[str, int] = {}

    def next_close(self) -> int | None:
        """When the next interval can be fetched (its end plus the grace)."""
        return self._fetched_to + self.interval_ns + self.grace_ns

    def closed(self, t: int) -> Iterator[Bar]:
        """Fetch the intervals complete by ``t - grace`` and yield their bars, symbol by symbol."""
        end = (t - self.grace_ns) // self.interval_ns * self.interval_ns
        if end <= self._fetched_to:
            return
        start, self._fetched_to = self._fetched_to, end
        self.polls += 1
        batch = self.source.fetch(start, end, self.symbols)
        result = validate_trades(batch.trades, self.symbols, self.source.name, t, Window(start, end))
        for reason, count in result.reasons.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count
        trades = result.valid
        for symbol in self.symbols:
            rows = trades.filter(pc.equal(trades.column("symbol"), symbol))
            if not rows.num_rows:
                continue
            ts = rows.column("ts").cast("int64").to_numpy()
            order = np.argsort(ts, kind="stable")
            ts = ts[order]
            price = rows.column("price").to_numpy()[order]
            size = rows.column("size").to_numpy()[order]
            bucket = ts // self.interval_ns * self.interval_ns
            starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
            ends = np.r_[starts[1:], bucket.size]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                p, q = price[a:b], size[a:b]
                volume = float(q.sum())
                bar = Bar(
                    ts=int(bucket[a]), end_ts=int(bucket[a]) + self.interval_ns, symbol=symbol,
                    open=float(p[0]), high=float(p.max()), low=float(p.min()), close=float(p[-1]),
                    volume=volume, vwap=float((p * q).sum() / volume) if volume > 0 else float("nan"),
                    trades=b - a,
                )  # fmt: skip
                self._history[symbol].append((bar.end_ts, volume))
                yield bar

    def traded_volume(self, symbol: str, start: int, end: int) -> float:
        """Volume of the polled bars that closed in ``(start, end]``."""
        return sum(v for close, v in self._history.get(symbol, ()) if start < close <= end)
