"""L2 order books rebuilt from BOOK rows (snapshots + deltas): one live book, or a batch replay to top-N samples.

Two entry points over the same numba kernels (``shriven.book._l2_kernels``, where the data
structure and its trade-offs are described):

- :class:`L2Book`, one instrument's book for the per-event path: ``apply``/``apply_rows`` BOOK
  rows, then query best bid/ask, depth, mid, microprice, spread and imbalance; problems found
  (seq gaps, crossed books, ...) accumulate as :class:`BookIssue` records.
- :func:`replay_book`, a whole Arrow BOOK table (one or many symbols, sorted by symbol then seq)
  replayed to a :data:`BOOK_DEPTH`-shaped table of top-N samples plus a :data:`BOOK_ISSUES` table.

Rules (the same in both): rows with the same ``(seq, is_snapshot)`` in a row form one message. A
snapshot message replaces the book and clears the stale flag. A delta message whose seq jumps by
more than 1 is a gap: reported, and the book is stale until the next snapshot (a seq going back is
reported and marks it stale too; deltas before any snapshot are reported once, the book starts
stale). A message that leaves the book crossed (best bid >= best ask) is reported when the book
becomes crossed. Rows with a side other than 1/-1 or a negative size are reported and skipped.
Nothing is dropped silently. Prices must lie on the tick grid (``ValueError`` otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shriven.book import _l2_kernels as k
from shriven.book._l2_kernels import (
    ISSUE_CROSSED,
    ISSUE_DTYPE,
    ISSUE_INVALID_ROW,
    ISSUE_NO_SNAPSHOT,
    ISSUE_SEQ_GAP,
    ISSUE_SEQ_REGRESSION,
)
from shriven.schemas import BOOK_DEPTH, BOOK_DEPTH_LEVELS, BOOK_ISSUES, TIMESTAMP, book_depth_schema

__all__ = [
    "BOOK_DEPTH",
    "BOOK_ISSUES",
    "DEFAULT_DEPTH",
    "DEFAULT_WINDOW_TICKS",
    "ISSUE_CROSSED",
    "ISSUE_INVALID_ROW",
    "ISSUE_NAMES",
    "ISSUE_NO_SNAPSHOT",
    "ISSUE_SEQ_GAP",
    "ISSUE_SEQ_REGRESSION",
    "BookDepth",
    "BookIssue",
    "BookReplay",
    "L2Book",
    "book_depth_schema",
    "infer_tick_size",
    "replay_book",
]

#: Levels per side of the ``book_snapshots`` dataset.
DEFAULT_DEPTH = BOOK_DEPTH_LEVELS
#: Width in ticks of the dense window around the touch (64 kB of sizes per book).
DEFAULT_WINDOW_TICKS = 4096
#: Initial overflow slots per side for levels outside the window (grown on demand).
_OVERFLOW_LEVELS = 64
#: Initial issue buffer (grown on demand).
_ISSUE_CAPACITY = 64
#: Largest distance of ``price / tick`` from an integer still taken as on the grid.
_GRID_TOLERANCE = 1e-6

#: Issue kind -> name, for logs and reports.
ISSUE_NAMES: dict[int, str] = {
    ISSUE_SEQ_GAP: "seq_gap",
    ISSUE_SEQ_REGRESSION: "seq_regression",
    ISSUE_CROSSED: "crossed",
    ISSUE_NO_SNAPSHOT: "no_snapshot",
    ISSUE_INVALID_ROW: "invalid_row",
}





@dataclass(frozen=True)
class BookIssue:
    """A problem of a book: at message ``seq`` (time ``ts``, ns UTC), of ``kind`` (``ISSUE_*``)."""

    ts: int
    seq: int
    kind: int
    detail: int

    @property
    def name(self) -> str:
        """The kind's name, e.g. ``seq_gap``."""
        return ISSUE_NAMES[self.kind]


class BookDepth(NamedTuple):
    """The best levels per side, best first (as many as the book holds, up to the asked depth)."""

    bid_price: np.ndarray
    bid_size: np.ndarray
    ask_price: np.ndarray
    ask_size: np.ndarray


@dataclass(frozen=True)
class BookReplay:
    """What :func:`replay_book` returns: the samples (``book_depth_schema(depth)``) and the issues."""

    snapshots: pa.Table
    issues: pa.Table


# -- tick grid ----------------------------------------------------------------------------------


def _decimal_grid(step: float) -> tuple[int, int]:
    """A tick size as ``(units, 10**d)`` with ``step == units / 10**d`` (d <= 12)."""
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"tick size must be a positive number, got {step}")
    for d in range(13):
        scaled = step * 10**d
        if abs(round(scaled) - scaled) < 1e-9 * max(1.0, scaled):
            return round(scaled), 10**d
    return max(1, round(step * 10**12)), 10**12


def infer_tick_size(prices: np.ndarray) -> float:
    """The coarsest decimal grid all ``prices`` lie on (their greatest common decimal divisor).

    A tick size the data actually uses is never finer than this, so it is a valid grid to index
    the book on; pass the instrument's tick size instead when it is known.
    """
    values = np.unique(np.asarray(prices, dtype=np.float64))
    if values.size == 0 or not np.all(np.isfinite(values)) or values[0] <= 0:
        raise ValueError("cannot infer a tick size: prices must be finite and > 0")
    for d in range(13):
        scaled = values * 10.0**d
        if scaled[-1] >= 2.0**53:
            break
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, scaled)):
            units = int(np.gcd.reduce(np.rint(scaled).astype(np.int64)))
            return units / 10**d
    raise ValueError("cannot infer a tick size: prices are not on a decimal grid of <= 12 places")


def _to_ticks(price: np.ndarray, units: int, scale: int) -> np.ndarray:
    exact = np.asarray(price, dtype=np.float64) * scale / units
    ticks = np.rint(exact)
    off = ~(np.abs(exact - ticks) <= _GRID_TOLERANCE)  # NaN counts as off the grid
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"{int(off.sum())} price(s) off the tick grid {units / scale} (first: {price[first]!r})"
        )
    return ticks.astype(np.int64)


# -- buffers shared by the live book and the replay ---------------------------------------------


class _Buffers:
    """State vector, level window, overflow and issue buffer of one book (grown on demand)."""

    def __init__(self, window_ticks: int) -> None:
        if window_ticks < 16:
            raise ValueError(f"window_ticks must be >= 16, got {window_ticks}")
        self.st = k.new_state(window_ticks)
        self.qty = np.zeros((2, window_ticks))
        self.o_tick = np.zeros((2, _OVERFLOW_LEVELS), np.int64)
        self.o_qty = np.zeros((2, _OVERFLOW_LEVELS))
        self.scratch = np.empty(window_ticks)
        self.issues = np.empty(_ISSUE_CAPACITY, ISSUE_DTYPE)

    def reset(self) -> None:
        self.st[:] = k.new_state(self.qty.shape[1])
        self.qty.fill(0.0)

    def grow(self, status: int) -> None:
        if status == k.STATUS_OVERFLOW_FULL:
            cap = max(2 * self.o_tick.shape[1], int(self.st[k.S_NEED]))
            o_tick = np.zeros((2, cap), np.int64)
            o_qty = np.zeros((2, cap))
            o_tick[:, : self.o_tick.shape[1]] = self.o_tick
            o_qty[:, : self.o_qty.shape[1]] = self.o_qty
            self.o_tick, self.o_qty = o_tick, o_qty
        elif status == k.STATUS_ISSUES_FULL:
            issues = np.empty(2 * self.issues.size, ISSUE_DTYPE)
            issues[: self.issues.size] = self.issues
            self.issues = issues
        else:  # pragma: no cover - kernels return only these
            raise RuntimeError(f"unexpected L2 kernel status {status}")

    def take_issues(self) -> np.ndarray:
        n = int(self.st[k.S_N_ISSUES])
        out = self.issues[:n].copy()
        self.st[k.S_N_ISSUES] = 0
        return out


def _as_ns(ts: np.ndarray) -> np.ndarray:
    ts = np.asarray(ts)
    if np.issubdtype(ts.dtype, np.datetime64):
        return ts.astype("datetime64[ns]").view(np.int64)
    return ts.astype(np.int64, copy=False)


# -- the live book ------------------------------------------------------------------------------


class L2Book:
    """One instrument's L2 book on its tick grid, fed with BOOK rows.

    Parameters
    ----------
    tick_size
        The instrument's tick (``SymbolConfig.tick_size``); every price must be a multiple of it.
    window_ticks
        Width of the dense level window that follows the touch; levels farther away are kept in a
        small overflow (slower, never lost).
    """

    def __init__(self, tick_size: float, *, window_ticks: int = DEFAULT_WINDOW_TICKS) -> None:
        self._units, self._scale = _decimal_grid(tick_size)
        self.tick_size = self._units / self._scale
        self._b = _Buffers(window_ticks)
        self._issues: list[BookIssue] = []

    # -- updates ---------------------------------------------------------------------------

    def apply(
        self, ts: int, seq: int, side: int, price: float, size: float, is_snapshot: bool = False
    ) -> None:
        """Apply one BOOK row (a message of its own unless the next row shares its seq)."""
        exact = price * self._scale / self._units
        tick = round(exact) if math.isfinite(exact) else 0
        if not abs(exact - tick) <= _GRID_TOLERANCE:
            raise ValueError(f"price {price!r} is off the tick grid {self.tick_size}")
        b = self._b
        while True:
            status = k.apply_one(
                b.st, b.qty, b.o_tick, b.o_qty, b.scratch, b.issues,
                ts, seq, side, tick, size, is_snapshot,
            )  # fmt: skip
            if status == k.STATUS_OK:
                break
            b.grow(status)
        if b.st[k.S_N_ISSUES]:
            self._collect_issues()

    def _collect_issues(self) -> None:
        self._issues += [
            BookIssue(int(r["ts"]), int(r["seq"]), int(r["kind"]), int(r["detail"]))
            for r in self._b.take_issues()
        ]

    def apply_rows(
        self,
        ts: np.ndarray,
        seq: np.ndarray,
        side: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        is_snapshot: np.ndarray,
    ) -> None:
        """Apply BOOK rows in order (columns as arrays); the call ends with a complete message."""
        ts = _as_ns(ts)
        n = ts.size
        columns = (seq, side, price, size, is_snapshot)
        if any(np.asarray(c).shape != (n,) for c in columns):
            raise ValueError("apply_rows: all columns must be 1-d arrays of the same length")
        seq = np.asarray(seq, dtype=np.int64)
        side = np.asarray(side, dtype=np.int8)
        ticks = _to_ticks(np.asarray(price, dtype=np.float64), self._units, self._scale)
        size = np.asarray(size, dtype=np.float64)
        snap = np.asarray(is_snapshot, dtype=np.bool_)
        b = self._b
        row = 0
        while True:
            row, status = k.apply_rows(
                b.st, b.qty, b.o_tick, b.o_qty, b.scratch, b.issues,
                ts, seq, side, ticks, size, snap, row,
            )  # fmt: skip
            if status == k.STATUS_OK:
                break
            b.grow(status)
        if b.st[k.S_N_ISSUES]:
            self._collect_issues()

    # -- queries ---------------------------------------------------------------------------

    def _price(self, tick: int) -> float:
        return tick * self._units / self._scale

    def _size_at(self, s: int, tick: int) -> float:
        b = self._b
        idx = tick - int(b.st[k.S_BASE])
        if 0 <= idx < b.qty.shape[1]:
            return float(b.qty[s, idx])
        n = int(b.st[k.S_NOVER + s])
        j = np.flatnonzero(b.o_tick[s, :n] == tick)
        return float(b.o_qty[s, j[0]]) if j.size else 0.0

    def _best(self, s: int) -> tuple[float, float]:
        if self._b.st[k.S_COUNT + s] == 0:
            return math.nan, 0.0
        tick = int(self._b.st[k.S_BEST + s])
        return self._price(tick), self._size_at(s, tick)

    def best_bid(self) -> tuple[float, float]:
        """(price, size) of the best bid; (nan, 0.0) when there is none."""
        return self._best(k.BID)

    def best_ask(self) -> tuple[float, float]:
        """(price, size) of the best ask; (nan, 0.0) when there is none."""
        return self._best(k.ASK)

    def depth(self, levels: int) -> BookDepth:
        """The best ``levels`` levels per side, best first (fewer when the side is thinner)."""
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        b = self._b
        out = []
        for s in (k.BID, k.ASK):
            ticks = np.empty(levels, np.int64)
            sizes = np.empty(levels)
            n = k.depth_side(b.st, b.qty, b.o_tick, b.o_qty, s, levels, ticks, sizes)
            out += [(ticks[:n] * self._units) / self._scale, sizes[:n]]
        return BookDepth(*out)

    def mid(self) -> float:
        """(best bid + best ask) / 2; nan when a side is empty."""
        (b, _), (a, _) = self.best_bid(), self.best_ask()
        return 0.5 * (b + a)

    def microprice(self) -> float:
        """Size-weighted mid ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``; nan if a side is empty."""
        (b, bs), (a, az) = self.best_bid(), self.best_ask()
        if math.isnan(b) or math.isnan(a):
            return math.nan
        return (b * az + a * bs) / (bs + az)

    def spread(self) -> float:
        """Best ask - best bid; nan when a side is empty."""
        return self.best_ask()[0] - self.best_bid()[0]

    def imbalance(self, levels: int = 1) -> float:
        """``(bid size - ask size) / total`` over the best ``levels`` per side; nan for an empty book."""
        d = self.depth(levels)
        sum_b = 0.0
        for s in d.bid_size:
            sum_b += s
        sum_a = 0.0
        for s in d.ask_size:
            sum_a += s
        total = sum_b + sum_a
        return (sum_b - sum_a) / total if total > 0.0 else math.nan

    @property
    def level_counts(self) -> tuple[int, int]:
        """Number of (bid, ask) levels in the book."""
        st = self._b.st
        return int(st[k.S_COUNT + k.BID]), int(st[k.S_COUNT + k.ASK])

    @property
    def is_stale(self) -> bool:
        """True before the first snapshot and after a seq gap until the next snapshot."""
        return bool(self._b.st[k.S_STALE])

    @property
    def is_crossed(self) -> bool:
        """True when the last message left best bid >= best ask."""
        return bool(self._b.st[k.S_CROSSED])

    @property
    def last_seq(self) -> int | None:
        """Seq of the last row applied (None before any)."""
        st = self._b.st
        return int(st[k.S_LAST_SEQ]) if st[k.S_HAS_SEQ] else None

    @property
    def issues(self) -> tuple[BookIssue, ...]:
        """Every problem found so far, in order."""
        return tuple(self._issues)


# -- batch replay -------------------------------------------------------------------------------


def _column(table: pa.Table, name: str, type_: pa.DataType) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        raise ValueError(f"book column {name!r} holds {col.null_count} null(s)")
    return col.cast(type_).to_numpy()


def _symbol_runs(symbols: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """Names and start rows (plus the end) of the runs of equal symbols; each symbol once."""
    arr = symbols.cast(pa.string()).combine_chunks()
    n = len(arr)
    if arr.null_count:
        raise ValueError(f"book column 'symbol' holds {arr.null_count} null(s)")
    change = pc.not_equal(arr.slice(1), arr.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(change) + 1, [n]]).astype(np.int64)
    names = arr.take(pa.array(starts[:-1])).to_pylist()
    if len(set(names)) != len(names):
        raise ValueError(
            "replay_book needs the book sorted by symbol, seq (a symbol's rows are split)"
        )
    return names, starts


def replay_book(
    book: pa.Table,
    depth: int = DEFAULT_DEPTH,
    every_ns: int | None = None,
    *,
    tick_size: float | Mapping[str, float] | None = None,
    window_ticks: int = DEFAULT_WINDOW_TICKS,
) -> BookReplay:
    """Replay a BOOK table to top-``depth`` samples per symbol, and the issues found.

    Parameters
    ----------
    book
        BOOK rows of one or many symbols, sorted by symbol then seq (the lake's order).
    depth
        Levels per side in the output.
    every_ns
        Sample on the grid of multiples of ``every_ns`` from each symbol's first row to its last
        (the book after every message that started at or before the grid time); None: one row
        after every message, at the time and seq of its last row.
    tick_size
        The tick of every symbol, or per symbol (``{s.symbol: s.tick_size for s in
        settings.symbols}``); None infers each symbol's grid from its prices
        (:func:`infer_tick_size`).
    window_ticks
        Width of the dense window of each book (see :class:`L2Book`).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if every_ns is not None and every_ns <= 0:
        raise ValueError(f"every_ns must be > 0 or None, got {every_ns}")
    missing = [
        name
        for name in ("ts", "symbol", "seq", "side", "price", "size", "is_snapshot")
        if name not in book.column_names
    ]
    if missing:
        raise ValueError(f"book table lacks columns {missing}")
    schema = book_depth_schema(depth)
    n = book.num_rows
    if n == 0:
        return BookReplay(schema.empty_table(), BOOK_ISSUES.empty_table())

    names, starts = _symbol_runs(book.column("symbol"))
    ts = _column(book, "ts", pa.int64())
    seq = _column(book, "seq", pa.int64())
    side = _column(book, "side", pa.int8())
    price = _column(book, "price", pa.float64())
    size = _column(book, "size", pa.float64())
    snap = _column(book, "is_snapshot", pa.bool_())

    # output rows per symbol
    if every_ns is None:
        new_message = np.ones(n, np.bool_)
        new_message[1:] = (seq[1:] != seq[:-1]) | (snap[1:] != snap[:-1])
        new_message[starts[:-1]] = True
        counts = np.add.reduceat(new_message.astype(np.int64), starts[:-1])
        first_sample = np.zeros(len(names), np.int64)
        last_sample = np.zeros(len(names), np.int64)
    else:
        first_ts = ts[starts[:-1]]
        last_ts = np.maximum.reduceat(ts, starts[:-1])
        first_sample = -(-first_ts // every_ns) * every_ns
        last_sample = (last_ts // every_ns) * every_ns
        counts = np.maximum(0, (last_sample - first_sample) // every_ns + 1)
    total = int(counts.sum())
    out_i = np.empty((3, total), np.int64)
    out_f = np.empty((4 * depth + k.OUT_N_SCALARS, total))

    buffers = _Buffers(window_ticks)
    issue_parts: list[np.ndarray] = []
    written = 0
    for code, name in enumerate(names):
        lo, hi = int(starts[code]), int(starts[code + 1])
        if tick_size is None:
            grid = _decimal_grid(infer_tick_size(price[lo:hi]))
        elif isinstance(tick_size, Mapping):
            if name not in tick_size:
                raise KeyError(f"no tick size for symbol {name!r}")
            grid = _decimal_grid(tick_size[name])
        else:
            grid = _decimal_grid(tick_size)
        units, scale = grid
        ticks = _to_ticks(price[lo:hi], units, scale)
        buffers.reset()
        st = buffers.st
        st[k.S_N_OUT] = written
        st[k.S_NEXT_SAMPLE] = first_sample[code]
        row = 0
        while True:
            b = buffers
            row, status = k.replay_rows(
                b.st, b.qty, b.o_tick, b.o_qty, b.scratch, b.issues,
                ts[lo:hi], seq[lo:hi], side[lo:hi], ticks, size[lo:hi], snap[lo:hi], row,
                0 if every_ns is None else every_ns, last_sample[code], depth, units, scale,
                out_i, out_f,
            )  # fmt: skip
            if status == k.STATUS_OK:
                break
            b.grow(status)
        written_now = int(buffers.st[k.S_N_OUT])
        if written_now - written != counts[code]:  # pragma: no cover - a kernel/count mismatch
            raise RuntimeError(
                f"{name}: wrote {written_now - written} rows, expected {counts[code]}"
            )
        written = written_now
        issue_parts.append(buffers.take_issues())

    codes = pa.array(np.repeat(np.arange(len(names), dtype=np.int32), counts))
    dictionary = pa.array(names, type=pa.string())
    columns = [
        pa.array(out_i[0]).cast(TIMESTAMP),
        pa.DictionaryArray.from_arrays(codes, dictionary).cast(pa.string()),
        pa.array(out_i[1]),
    ]
    columns += [pa.array(out_f[j], from_pandas=True) for j in range(out_f.shape[0])]
    columns.append(pa.array(out_i[2].astype(np.bool_)))
    snapshots = pa.Table.from_arrays(columns, schema=schema)

    issue_counts = [part.size for part in issue_parts]
    issues = np.concatenate(issue_parts) if issue_parts else np.empty(0, ISSUE_DTYPE)
    issue_codes = pa.array(np.repeat(np.arange(len(names), dtype=np.int32), issue_counts))
    issue_table = pa.Table.from_arrays(
        [
            pa.array(issues["ts"]).cast(TIMESTAMP),
            pa.DictionaryArray.from_arrays(issue_codes, dictionary).cast(pa.string()),
            pa.array(issues["seq"]),
            pa.array(issues["kind"]),
            pa.array(issues["detail"]),
        ],
        schema=BOOK_ISSUES,
    )
    return BookReplay(snapshots, issue_table)
