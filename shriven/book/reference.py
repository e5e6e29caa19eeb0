"""A plain-Python L2 book (a dict per side, sorted on query): the oracle of the tests, the bench baseline.

It follows the message rules of ``shriven.book._l2_kernels`` (grouping of rows by
``(seq, is_snapshot)``, snapshot reset, seq gap / regression, crossed on entry, invalid rows) so
tests can compare figures and issues one to one. Deliberately simple; not for production use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shriven.book._l2_kernels import (
    ISSUE_CROSSED,
    ISSUE_INVALID_ROW,
    ISSUE_NO_SNAPSHOT,
    ISSUE_SEQ_GAP,
    ISSUE_SEQ_REGRESSION,
)


@dataclass
class ReferenceL2Book:
    """An L2 book over ``dict[price, size]`` per side; ``tick_size`` only scales the crossed detail."""

    tick_size: float
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    issues: list[tuple[int, int, int, int]] = field(default_factory=list)  # ts, seq, kind, detail
    stale: bool = True
    crossed: bool = False
    last_seq: int | None = None
    last_ts: int | None = None
    _group: tuple[int, bool] | None = None
    _synced: bool = False

    def apply(
        self, ts: int, seq: int, side: int, price: float, size: float, is_snapshot: bool
    ) -> None:
        """Apply one row; the message closes when a row of another message arrives or on ``close()``."""
        if self._group != (seq, is_snapshot):
            if self._group is not None:
                self.close()
            if is_snapshot:
                self.bids.clear()
                self.asks.clear()
                self.stale = False
                self._synced = True
            elif self.last_seq is None:
                if not self._synced:
                    self.issues.append((ts, seq, ISSUE_NO_SNAPSHOT, 0))
            elif seq > self.last_seq + 1:
                self.issues.append((ts, seq, ISSUE_SEQ_GAP, seq - self.last_seq - 1))
                self.stale = True
            elif seq < self.last_seq:
                self.issues.append((ts, seq, ISSUE_SEQ_REGRESSION, self.last_seq - seq))
                self.stale = True
            self._group = (seq, is_snapshot)
        if side in (1, -1) and size >= 0.0:
            levels = self.bids if side == 1 else self.asks
            if size == 0.0:
                levels.pop(price, None)
            else:
                levels[price] = size
        else:
            self.issues.append((ts, seq, ISSUE_INVALID_ROW, side))
        self.last_seq = seq
        self.last_ts = ts

    def apply_rows(self, rows) -> None:
        """Apply ``(ts, seq, side, price, size, is_snapshot)`` rows, then close the last message."""
        for row in rows:
            self.apply(*row)
        self.close()

    def close(self) -> None:
        """Crossed check of the last message."""
        bid, ask = self.best_bid()[0], self.best_ask()[0]
        crossed = bool(self.bids and self.asks and bid >= ask)
        if crossed and not self.crossed:
            detail = round((bid - ask) / self.tick_size)
            self.issues.append((self.last_ts, self.last_seq, ISSUE_CROSSED, detail))
        self.crossed = crossed

    def best_bid(self) -> tuple[float, float]:
        """(price, size) of the best bid, (nan, 0.0) when there is none."""
        if not self.bids:
            return math.nan, 0.0
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> tuple[float, float]:
        """(price, size) of the best ask, (nan, 0.0) when there is none."""
        if not self.asks:
            return math.nan, 0.0
        price = min(self.asks)
        return price, self.asks[price]

    def depth(self, levels: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """Bid prices, bid sizes, ask prices, ask sizes of the best ``levels`` per side."""
        bids = sorted(self.bids.items(), reverse=True)[:levels]
        asks = sorted(self.asks.items())[:levels]
        return (
            [p for p, _ in bids],
            [s for _, s in bids],
            [p for p, _ in asks],
            [s for _, s in asks],
        )

    def mid(self) -> float:
        """(bid + ask) / 2, nan when a side is empty."""
        if not (self.bids and self.asks):
            return math.nan
        return 0.5 * (self.best_bid()[0] + self.best_ask()[0])

    def microprice(self) -> float:
        """Size-weighted mid: (bid * ask_size + ask * bid_size) / (bid_size + ask_size)."""
        if not (self.bids and self.asks):
            return math.nan
        (b, bs), (a, az) = self.best_bid(), self.best_ask()
        return (b * az + a * bs) / (bs + az)

    def spread(self) -> float:
        """ask - bid, nan when a side is empty."""
        if not (self.bids and self.asks):
            return math.nan
        return self.best_ask()[0] - self.best_bid()[0]

    def imbalance(self, levels: int = 1) -> float:
        """(bid size - ask size) / total over the best ``levels`` per side; nan for an empty book."""
        _, bid_sizes, _, ask_sizes = self.depth(levels)
        sum_b = 0.0
        for s in bid_sizes:
            sum_b += s
        sum_a = 0.0
        for s in ask_sizes:
            sum_a += s
        total = sum_b + sum_a
        return (sum_b - sum_a) / total if total > 0.0 else math.nan
