"""Data access of the dashboards: the one module that queries the lake.

Readers never open ``warehouse.duckdb`` (DuckDB locks the file for whoever holds it): each
Streamlit server process keeps an in-memory DuckDB with the lake views
(:func:`shriven.lake.warehouse.memory_connection`), cached for ``CONNECTION_TTL_S`` so that the
views are re-created and datasets that got their first files show up. Every query runs on its
own cursor, since a DuckDB connection must not be shared by threads (one per browser session).

Two layers:

- plain query functions (``symbols_with_bars``, ``bars``, …) take a :class:`LakeReader` and return
  polars frames; they know nothing of Streamlit and are tested directly;
- ``load_*`` loaders wrap them with ``st.cache_data`` and are what pages call. Nothing here opens
  a connection at import time.

Timestamps come back as ``Datetime("ns", "UTC")``; ``date`` is the UTC date of the partition.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import polars as pl
import streamlit as st

from shriven.lake.warehouse import memory_connection
from shriven.schemas import BAR_INTERVALS

#: Bar intervals a page can show, finest first (the ``bars_<interval>`` views).
INTERVALS: tuple[str, ...] = BAR_INTERVALS
#: Seconds an in-memory DuckDB (and its view definitions) lives before it is rebuilt.
CONNECTION_TTL_S = 60
#: Seconds a query result is reused before it is read again from the lake.
QUERY_TTL_S = 30
#: Intervals whose views tell which symbols and dates have bars (small; 1s bars are not scanned).
_COVERAGE_INTERVALS = ("1m", "5m", "1h", "1d")


class LakeReader:
    """An in-memory DuckDB with the lake views; each query gets its own cursor.

    The connection is created once (views over the Parquet files that exist at that moment);
    queries re-read the files they match, so new files of a dataset that already had files are
    seen at once, and a dataset's first files after the reader is rebuilt.
    """

    def __init__(self, lake_root: str) -> None:
        self.lake_root = lake_root
        self._connection = memory_connection(lake_root)
        self._lock = threading.Lock()

    def query(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        """Run a read-only query with ``?`` parameters and return the result as a polars frame."""
        try:
            return self._query_once(sql, params)
        except duckdb.IOException:
            # A compaction can remove a file between the glob and the read: read again once.
            return self._query_once(sql, params)

    def _query_once(self, sql: str, params: Sequence[Any]) -> pl.DataFrame:
        with self._lock:
            connection = self._connection
            cursor = connection.cursor()
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            return cursor.sql(sql, params=list(params)).pl()
        except (duckdb.InternalException, duckdb.FatalException):
            # An internal error invalidates the whole database, for every later query too:
            # replace it so that one bad query does not break every page until the TTL ends.
            with self._lock:
                if self._connection is connection:
                    self._connection = memory_connection(self.lake_root)
            raise
        finally:
            cursor.close()


@dataclass(frozen=True)
class DateRange:
    """First and last UTC date with bars (inclusive)."""

    first: date
    last: date


@dataclass(frozen=True)
class SessionMetrics:
    """Headline numbers of one symbol over one UTC day."""

    last: float
    #: Price the change is measured against: the previous day's close, or the day's open.
    reference: float
    #: "previous close" or "open".
    reference_name: str
    change: float
    change_pct: float
    volume: float
    trades: int
    #: sqrt of the sum of squared log returns between consecutive trades of the day (not annualised).
    realized_vol: float
    #: (buy volume - sell volume) / volume over the day, in [-1, 1].
    ofi: float


# ------------------------------------------------------------------------------ query functions
def _check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        raise ValueError(f"unknown bar interval {interval!r}; known: {list(INTERVALS)}")
    return interval


def bar_coverage(reader: LakeReader) -> pl.DataFrame:
    """Per symbol with bars: first and last UTC date (columns symbol, first_date, last_date)."""
    union = " UNION ALL ".join(f"SELECT symbol, date FROM bars_{i}" for i in _COVERAGE_INTERVALS)
    return reader.query(
        "SELECT symbol, min(date) AS first_date, max(date) AS last_date "
        f"FROM ({union}) GROUP BY symbol ORDER BY symbol"
    )


def symbols_with_bars(reader: LakeReader) -> list[str]:
    """Symbols that have bars, sorted."""
    return bar_coverage(reader).get_column("symbol").to_list()


def bar_date_range(reader: LakeReader) -> DateRange | None:
    """The UTC dates with bars of any symbol, or None when the lake has no bars."""
    coverage = bar_coverage(reader)
    if coverage.is_empty():
        return None
    return DateRange(
        coverage.get_column("first_date").min(), coverage.get_column("last_date").max()
    )


def symbol_bars(
    reader: LakeReader, symbol: str, interval: str, start: date, end: date
) -> pl.DataFrame:
    """Bars of one symbol and interval for the UTC dates ``start`` … ``end`` (inclusive), by time.

    Columns: the BARS schema, ``date``, and ``session_vwap``, the VWAP of the day so far
    (cumulative notional / cumulative volume since the first bar of the bar's UTC date).
    """
    view = f"bars_{_check_interval(interval)}"
    return reader.query(
        "SELECT *, sum(notional) OVER day_so_far / nullif(sum(volume) OVER day_so_far, 0) AS session_vwap "
        f"FROM {view} WHERE symbol = ? AND date BETWEEN ? AND ? "
        "WINDOW day_so_far AS (PARTITION BY date ORDER BY ts ROWS UNBOUNDED PRECEDING) "
        "ORDER BY ts",
        [symbol, start, end],
    )


def previous_close(reader: LakeReader, symbol: str, day: date) -> float | None:
    """Close of the last daily bar of ``symbol`` before ``day``, or None."""
    result = reader.query(
        "SELECT close FROM bars_1d WHERE symbol = ? AND date < ? ORDER BY ts DESC LIMIT 1",
        [symbol, day],
    )
    return None if result.is_empty() else float(result.item(0, "close"))


def universe_summary(reader: LakeReader, as_of: date | None = None) -> pl.DataFrame:
    """Per symbol, its latest daily bar up to ``as_of``: last price, change %, volume, trades.

    The change is against the previous daily close, or the day's open for a symbol's first day.
    Columns: symbol, date, last, change_pct, volume, trades.
    """
    where, params = ("WHERE date <= ?", [as_of]) if as_of is not None else ("", [])
    # One window ordering only: DuckDB 2.0.1 fails with an internal error (and invalidates the
    # database) on two windows of opposite orderings over hive-partitioned Parquet.
    return reader.query(
        "SELECT symbol, date, close AS last, "
        "100 * (close / coalesce(previous_close, open) - 1) AS change_pct, "
        "volume, trades FROM ("
        "  SELECT *, lag(close) OVER by_symbol AS previous_close, lead(ts) OVER by_symbol AS next_ts "
        f"  FROM bars_1d {where} WINDOW by_symbol AS (PARTITION BY symbol ORDER BY ts)"
        ") WHERE next_ts IS NULL ORDER BY symbol",
        params,
    )


def session_metrics(
    bars: pl.DataFrame, day: date, reference_close: float | None
) -> SessionMetrics | None:
    """Metrics of ``day`` from its bars (any interval, one symbol), or None without bars that day.

    The day's realised volatility adds the bars' own realised variances and the squared log
    returns from each bar's close to the next bar's open, so it counts every pair of
    consecutive trades once, the same at every interval.
    """
    day_bars = bars.filter(pl.col("date") == day).sort("ts")
    if day_bars.is_empty():
        return None
    opens = day_bars.get_column("open").to_numpy()
    closes = day_bars.get_column("close").to_numpy()
    gaps = np.log(opens[1:] / closes[:-1])
    variance = float((day_bars.get_column("realized_vol").to_numpy() ** 2).sum() + (gaps**2).sum())
    volume = float(day_bars.get_column("volume").sum())
    buy = float(day_bars.get_column("buy_volume").sum())
    sell = float(day_bars.get_column("sell_volume").sum())
    last = float(closes[-1])
    reference, reference_name = (
        (reference_close, "previous close")
        if reference_close is not None
        else (float(opens[0]), "open")
    )
    return SessionMetrics(
        last=last,
        reference=reference,
        reference_name=reference_name,
        change=last - reference,
        change_pct=100 * (last / reference - 1),
        volume=volume,
        trades=int(day_bars.get_column("trades").sum()),
        realized_vol=math.sqrt(variance),
        ofi=(buy - sell) / volume if volume else 0.0,
    )


# ------------------------------------------------------------------------------ cached loaders
@st.cache_resource(ttl=CONNECTION_TTL_S, show_spinner=False)
def lake_reader(lake_root: str) -> LakeReader:
    """The process-wide reader of the lake at ``lake_root``, rebuilt every ``CONNECTION_TTL_S``."""
    return LakeReader(lake_root)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_symbols(lake_root: str) -> list[str]:
    """Symbols with bars (cached)."""
    return symbols_with_bars(lake_reader(lake_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_date_range(lake_root: str) -> DateRange | None:
    """Dates with bars, or None for an empty lake (cached)."""
    return bar_date_range(lake_reader(lake_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_bars(lake_root: str, symbol: str, interval: str, start: date, end: date) -> pl.DataFrame:
    """Bars of one symbol and interval over UTC dates ``start`` … ``end`` (cached)."""
    return symbol_bars(lake_reader(lake_root), symbol, interval, start, end)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_previous_close(lake_root: str, symbol: str, day: date) -> float | None:
    """Previous daily close of a symbol before ``day`` (cached)."""
    return previous_close(lake_reader(lake_root), symbol, day)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_universe_summary(lake_root: str, as_of: date | None = None) -> pl.DataFrame:
    """Latest daily summary of every symbol up to ``as_of`` (cached)."""
    return universe_summary(lake_reader(lake_root), as_of)
