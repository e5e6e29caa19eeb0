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

Beside the queries: pure computations over their frames (``account_metrics``, ``limit_usage``,
``weights_against_targets``, …), and the two sources outside the lake, the kill-switch file and
the Prefect API (``flow_runs``: async client, bounded by a timeout; its loader caches failures
too, so an unreachable server costs one attempt per ``FLOW_RUNS_TTL_S``).

Timestamps come back as ``Datetime("ns", "UTC")``; ``date`` is the UTC date of the partition.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import polars as pl
import streamlit as st

from shriven.config import Settings
from shriven.engine.killswitch import KillSwitch, KillSwitchState
from shriven.lake.warehouse import memory_connection
from shriven.observability.health import HealthReport, check_health
from shriven.observability.metrics import (
    ORDER_REJECTS,
    RISK_CHECK_LATENCY,
    TICK_TO_ORDER_LATENCY,
    MetricsSnapshot,
    read_snapshots,
)
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

    def __init__(self, lake_root: str, signals_root: str | None = None) -> None:
        self.lake_root = lake_root
        self.signals_root = signals_root
        self._connection = memory_connection(lake_root, signals_root=signals_root)
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
                    self._connection = memory_connection(self.lake_root, signals_root=self.signals_root)
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
def lake_reader(lake_root: str, signals_root: str | None = None) -> LakeReader:
    """The process-wide reader of the lake at ``lake_root`` (signal log at ``signals_root`` when
    the lake is remote), rebuilt every ``CONNECTION_TTL_S``."""
    return LakeReader(lake_root, signals_root)


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


# ------------------------------------------------------------------------------ trading path
#: Order states after which an order no longer works (the orders view keeps each order's latest).
TERMINAL_ORDER_STATES: tuple[str, ...] = ("filled", "canceled", "expired", "denied", "rejected")
#: Risk-event kinds that are not order denials: limit breaches, trading-state changes, kill switch.
BREACH_KINDS: tuple[str, ...] = ("breach", "state_change", "kill_switch")
_TRADING_VIEWS = ("orders", "fills", "positions", "pnl", "risk_events")


@dataclass(frozen=True)
class AccountMetrics:
    """Headline numbers of one account from its equity curve (the ``pnl`` view)."""

    #: Time of the latest sample and its UTC date ("today" of the account).
    as_of: Any
    day: date
    equity: float
    cash: float
    #: Equity now minus the equity at the end of the previous date with samples (or the day's
    #: first sample on the account's first date).
    day_pnl: float
    #: Equity now minus the first sample's equity.
    total_pnl: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    gross_exposure: float
    net_exposure: float
    #: Largest fall from peak equity, as a fraction of the peak (0 … 1).
    max_drawdown: float


@dataclass(frozen=True)
class BlotterOptions:
    """What the blotter filters can offer for one account."""

    symbols: list[str]
    states: list[str]
    first: date | None
    last: date | None


def trading_accounts(reader: LakeReader) -> list[str]:
    """Accounts with any orders, fills, positions, PnL or risk events, sorted."""
    union = " UNION ".join(f"SELECT DISTINCT account FROM {v}" for v in _TRADING_VIEWS)
    result = reader.query(f"SELECT account FROM ({union}) WHERE account IS NOT NULL ORDER BY account")
    return result.get_column("account").to_list()


def pnl_samples(reader: LakeReader, account: str) -> pl.DataFrame:
    """The equity curve of one account in time order (the PNL schema plus ``date``)."""
    return reader.query(
        "SELECT ts, date, cash, equity, gross_exposure, net_exposure, realized_pnl, "
        "unrealized_pnl, fees FROM pnl WHERE account = ? ORDER BY ts",
        [account],
    )


def account_metrics(pnl: pl.DataFrame) -> AccountMetrics | None:
    """Headline numbers from an equity curve (:func:`pnl_samples`), or None when it is empty."""
    if pnl.is_empty():
        return None
    pnl = pnl.sort("ts")
    last = pnl.row(-1, named=True)
    day = last["date"]
    before = pnl.filter(pl.col("date") < day)
    reference = (
        float(before.get_column("equity")[-1])
        if not before.is_empty()
        else float(pnl.filter(pl.col("date") == day).get_column("equity")[0])
    )
    equity = pnl.get_column("equity").to_numpy()
    peaks = np.maximum.accumulate(equity)
    drawdowns = np.where(peaks > 0, 1.0 - equity / np.where(peaks > 0, peaks, 1.0), 0.0)
    return AccountMetrics(
        as_of=last["ts"],
        day=day,
        equity=float(last["equity"]),
        cash=float(last["cash"]),
        day_pnl=float(last["equity"]) - reference,
        total_pnl=float(last["equity"]) - float(equity[0]),
        realized_pnl=float(last["realized_pnl"]),
        unrealized_pnl=float(last["unrealized_pnl"]),
        fees=float(last["fees"]),
        gross_exposure=float(last["gross_exposure"]),
        net_exposure=float(last["net_exposure"]),
        max_drawdown=float(drawdowns.max()),
    )


def latest_positions(reader: LakeReader, account: str) -> pl.DataFrame:
    """The latest position snapshot of each symbol of one account, by symbol.

    Columns: the POSITIONS schema plus ``date``; flat symbols are kept (quantity 0).
    """
    return reader.query(
        "SELECT ts, date, symbol, quantity, avg_cost, mark_price, market_value, realized_pnl, "
        "unrealized_pnl, fees FROM positions WHERE account = ? "
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) = 1 ORDER BY symbol",
        [account],
    )


def daily_fill_stats(reader: LakeReader, account: str) -> pl.DataFrame:
    """Per UTC date, the fills of one account: fills, orders, quantity, notional, fees, maker share.

    Columns: date, fills, orders, quantity, notional, fees, maker_share; by date.
    """
    return reader.query(
        "SELECT date, count(*) AS fills, count(DISTINCT client_order_id) AS orders, "
        "sum(quantity) AS quantity, sum(price * quantity) AS notional, sum(fee) AS fees, "
        "avg(CASE liquidity WHEN 'maker' THEN 1.0 ELSE 0.0 END) AS maker_share "
        "FROM fills WHERE account = ? GROUP BY date ORDER BY date",
        [account],
    )


def latest_targets(reader: LakeReader) -> pl.DataFrame:
    """The latest target of each symbol in the signal log (highest offset), by symbol.

    Columns: symbol, kind ("position" or "weight"), target, ts, source, offset.
    """
    return reader.query(
        'SELECT symbol, kind, target, ts, source, "offset" FROM signals '
        "WHERE kind IN ('position', 'weight') "
        'QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY "offset" DESC) = 1 '
        "ORDER BY symbol"
    )


def order_state_counts(reader: LakeReader, account: str) -> pl.DataFrame:
    """Orders of one account per latest state (columns state, orders), most first."""
    return reader.query(
        "SELECT state, count(*) AS orders FROM orders WHERE account = ? "
        "GROUP BY state ORDER BY orders DESC, state",
        [account],
    )


def risk_events(reader: LakeReader, account: str) -> pl.DataFrame:
    """Every risk event of one account, newest first (the RISK_EVENTS schema plus ``date``)."""
    return reader.query(
        "SELECT ts, date, kind, reason, symbol, client_order_id, trading_state, detail "
        "FROM risk_events WHERE account = ? ORDER BY ts DESC",
        [account],
    )


def blotter_options(reader: LakeReader, account: str) -> BlotterOptions:
    """Symbols, order states and the date range of one account's orders and fills."""
    result = reader.query(
        "SELECT symbol, state, date FROM orders WHERE account = ? "
        "UNION ALL SELECT symbol, NULL, date FROM fills WHERE account = ?",
        [account, account],
    )
    if result.is_empty():
        return BlotterOptions([], [], None, None)
    dates = result.get_column("date")
    return BlotterOptions(
        symbols=sorted(result.get_column("symbol").unique().to_list()),
        states=sorted(result.get_column("state").drop_nulls().unique().to_list()),
        first=dates.min(),
        last=dates.max(),
    )


def _blotter_where(
    account: str, symbols: Sequence[str], start: date, end: date
) -> tuple[str, list[Any]]:
    where = "account = ? AND date BETWEEN ? AND ?"
    params: list[Any] = [account, start, end]
    if symbols:
        where += f" AND symbol IN ({', '.join('?' * len(symbols))})"
        params += list(symbols)
    return where, params


def blotter_orders(
    reader: LakeReader,
    account: str,
    symbols: Sequence[str],
    states: Sequence[str],
    start: date,
    end: date,
) -> pl.DataFrame:
    """Orders of one account created on UTC dates ``start`` … ``end``, newest first.

    Empty ``symbols`` or ``states`` mean all. Columns: the ORDERS schema plus ``date``.
    """
    where, params = _blotter_where(account, symbols, start, end)
    if states:
        where += f" AND state IN ({', '.join('?' * len(states))})"
        params += list(states)
    return reader.query(
        "SELECT ts, updated_ts, client_order_id, strategy_id, symbol, side, order_type, price, "
        "quantity, filled_quantity, avg_fill_price, fees, state, reason, venue, signal_offset, "
        f"date FROM orders WHERE {where} ORDER BY ts DESC, client_order_id",
        params,
    )


def blotter_fills(
    reader: LakeReader, account: str, symbols: Sequence[str], start: date, end: date
) -> pl.DataFrame:
    """Fills of one account on UTC dates ``start`` … ``end``, newest first (empty symbols: all)."""
    where, params = _blotter_where(account, symbols, start, end)
    return reader.query(
        "SELECT ts, client_order_id, strategy_id, symbol, side, price, quantity, "
        "price * quantity AS notional, fee, liquidity, venue, trade_id, date "
        f"FROM fills WHERE {where} ORDER BY ts DESC, client_order_id, trade_id",
        params,
    )


# ------------------------------------------------------------------------------ computations
def exposure_by_symbol(positions: pl.DataFrame) -> pl.DataFrame:
    """Gross (|market value|) and net (market value) exposure per symbol with a position.

    Columns: symbol, gross, net; largest gross first.
    """
    return (
        positions.filter(pl.col("quantity") != 0)
        .select(
            "symbol",
            pl.col("market_value").abs().alias("gross"),
            pl.col("market_value").alias("net"),
        )
        .sort(["gross", "symbol"], descending=[True, False])
    )


def weights_against_targets(
    positions: pl.DataFrame, targets: pl.DataFrame, equity: float
) -> pl.DataFrame:
    """Each symbol's weight of equity next to its latest target, as weights and quantities.

    A position target becomes a weight at the symbol's mark; a weight target a quantity at the
    same mark (null without a mark). Columns: symbol, quantity, weight, target_kind,
    target_quantity, target_weight, weight_gap (weight - target_weight); symbols of either side.
    """
    held = positions.select(
        "symbol",
        "quantity",
        "mark_price",
        (pl.col("market_value") / equity if equity else pl.lit(None, pl.Float64)).alias("weight"),
    )
    wanted = targets.select("symbol", pl.col("kind").alias("target_kind"), "target")
    joined = held.join(wanted, on="symbol", how="full", coalesce=True)
    mark = pl.col("mark_price")
    is_weight = pl.col("target_kind") == "weight"
    return (
        joined.with_columns(
            pl.col("quantity").fill_null(0.0),
            pl.col("weight").fill_null(0.0),
            pl.when(is_weight)
            .then(pl.col("target") * equity / mark)
            .otherwise(pl.col("target"))
            .alias("target_quantity"),
            pl.when(is_weight)
            .then(pl.col("target"))
            .otherwise(pl.col("target") * mark / equity if equity else None)
            .alias("target_weight"),
        )
        .with_columns((pl.col("weight") - pl.col("target_weight")).alias("weight_gap"))
        .select(
            "symbol", "quantity", "weight", "target_kind", "target_quantity", "target_weight",
            "weight_gap",
        )
        .sort("symbol")
    )


def limit_usage(
    positions: pl.DataFrame,
    metrics: AccountMetrics | None,
    open_orders: int,
    trading: Any,
) -> pl.DataFrame:
    """Current values against the risk limits of ``trading`` (``settings.trading``).

    One row per limit: limit, value, limit_value (null: no limit), usage (value / limit, null
    without a limit). Positions are checked per symbol against ``max_position_notional``.
    """
    risk = trading.risk
    rows: list[tuple[str, float, float | None]] = []
    for row in positions.filter(pl.col("quantity") != 0).iter_rows(named=True):
        rows.append(
            (f"position {row['symbol']} (notional)", abs(row["market_value"]), trading.max_position_notional)
        )
    gross = metrics.gross_exposure if metrics else 0.0
    net = abs(metrics.net_exposure) if metrics else 0.0
    equity = metrics.equity if metrics else 0.0
    rows += [
        ("gross exposure", gross, risk.max_gross_exposure),
        ("net exposure (absolute)", net, risk.max_net_exposure),
        ("leverage (gross / equity)", gross / equity if equity else 0.0, risk.max_leverage),
        ("open orders", float(open_orders), float(risk.max_open_orders)),
        ("daily loss", max(0.0, -metrics.day_pnl) if metrics else 0.0, risk.daily_loss_limit),
        ("drawdown from peak (fraction)", metrics.max_drawdown if metrics else 0.0, risk.max_drawdown),
    ]
    limits = [None if math.isinf(limit) else float(limit) for _, _, limit in rows]
    return pl.DataFrame(
        {
            "limit": [name for name, _, _ in rows],
            "value": [float(value) for _, value, _ in rows],
            "limit_value": limits,
            "usage": [
                None if limit is None else (value / limit if limit else None)
                for (_, value, _), limit in zip(rows, limits, strict=True)
            ],
        },
        schema={"limit": pl.String, "value": pl.Float64, "limit_value": pl.Float64, "usage": pl.Float64},
    )


# ------------------------------------------------------------------------------ outside the lake
#: The Prefect API that ``make serve`` starts; used when ``PREFECT_API_URL`` is not set.
DEFAULT_PREFECT_API_URL = "http://127.0.0.1:4200/api"
#: Seconds the Prefect API gets to answer before the page says it is unreachable.
PREFECT_TIMEOUT_S = 5.0
#: Seconds a list of flow runs is reused.
FLOW_RUNS_TTL_S = 10
_FLOW_RUN_COLUMNS = {
    "flow": pl.String,
    "name": pl.String,
    "deployment_id": pl.String,
    "state": pl.String,
    "state_name": pl.String,
    "start_time": pl.Datetime("us", "UTC"),
    "end_time": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64,
    "expected_start_time": pl.Datetime("us", "UTC"),
    "tags": pl.String,
}


def prefect_api_url() -> str:
    """The Prefect API the dashboards read: ``PREFECT_API_URL`` if set, else ``make serve``'s.

    The environment is read on every call (Prefect's own settings are fixed at import), then the
    active Prefect profile.
    """
    env = os.environ.get("PREFECT_API_URL")
    if env:
        return env  # without importing prefect (~1 s on a first render)
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or DEFAULT_PREFECT_API_URL


async def _read_flow_runs(api_url: str, limit: int) -> pl.DataFrame:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            runs = await client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
            flow_ids = list({run.flow_id for run in runs})
            flows = {}
            if flow_ids:
                from prefect.client.schemas.filters import FlowFilter, FlowFilterId

                found = await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids)))
                flows = {flow.id: flow.name for flow in found}
    return pl.DataFrame(
        [
            {
                "flow": flows.get(run.flow_id, str(run.flow_id)),
                "name": run.name,
                "deployment_id": str(run.deployment_id) if run.deployment_id else "",
                "state": run.state_type.value.lower() if run.state_type else "",
                "state_name": run.state_name or "",
                "start_time": run.start_time,
                "end_time": run.end_time,
                "duration_s": run.total_run_time.total_seconds() if run.total_run_time else None,
                "expected_start_time": run.expected_start_time,
                "tags": ", ".join(run.tags),
            }
            for run in runs
        ],
        schema=_FLOW_RUN_COLUMNS,
    )


def flow_runs(api_url: str, limit: int = 50, timeout_s: float = PREFECT_TIMEOUT_S) -> pl.DataFrame:
    """The latest ``limit`` flow runs of the Prefect API at ``api_url``, newest expected start first.

    Columns: flow, name, deployment_id, state (completed, failed, running, …), state_name,
    start_time, end_time, duration_s, expected_start_time, tags. Raises ``TimeoutError`` after
    ``timeout_s`` and the client's error (``httpx.HTTPError``, …) when the API cannot be read.
    """
    import asyncio

    _check_listening(api_url)

    async def bounded() -> pl.DataFrame:
        return await asyncio.wait_for(_read_flow_runs(api_url, limit), timeout_s)

    return asyncio.run(bounded())


def _check_listening(api_url: str, timeout_s: float = 0.3) -> None:
    """Fail fast (ConnectionError) when nothing listens at the API's host and port: the client
    would import Prefect and retry for ~1.5 s before saying so, on every cache miss."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(api_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing listens at {parts.hostname}:{port} ({exc})") from None


def flow_run_state_counts(runs: pl.DataFrame) -> pl.DataFrame:
    """Flow runs per state (columns state, runs), most first."""
    return runs.group_by("state").agg(pl.len().alias("runs")).sort(["runs", "state"], descending=[True, False])


def kill_switch_state(state_dir: str) -> KillSwitchState:
    """The manual kill switch under ``state_dir`` (off when never set)."""
    return KillSwitch(state_dir).read()


# ------------------------------------------------------------------------------ cached loaders (trading)
@dataclass(frozen=True)
class FlowRuns:
    """The flow runs the Prefect API answered with, or why it could not be read."""

    api_url: str
    runs: pl.DataFrame | None
    error: str = ""


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_accounts(lake_root: str) -> list[str]:
    """Accounts with trading data (cached)."""
    return trading_accounts(lake_reader(lake_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_pnl(lake_root: str, account: str) -> pl.DataFrame:
    """Equity curve of one account (cached)."""
    return pnl_samples(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_positions(lake_root: str, account: str) -> pl.DataFrame:
    """Latest position of each symbol of one account (cached)."""
    return latest_positions(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_daily_fill_stats(lake_root: str, account: str) -> pl.DataFrame:
    """Fill statistics per date of one account (cached)."""
    return daily_fill_stats(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_targets(lake_root: str, signals_root: str | None = None) -> pl.DataFrame:
    """Latest target of each symbol in the signal log (cached)."""
    return latest_targets(lake_reader(lake_root, signals_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_order_state_counts(lake_root: str, account: str) -> pl.DataFrame:
    """Orders per state of one account (cached)."""
    return order_state_counts(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_risk_events(lake_root: str, account: str) -> pl.DataFrame:
    """Risk events of one account, newest first (cached)."""
    return risk_events(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_blotter_options(lake_root: str, account: str) -> BlotterOptions:
    """Filter choices of the blotter for one account (cached)."""
    return blotter_options(lake_reader(lake_root), account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_blotter_orders(
    lake_root: str,
    account: str,
    symbols: tuple[str, ...],
    states: tuple[str, ...],
    start: date,
    end: date,
) -> pl.DataFrame:
    """Filtered orders of one account (cached)."""
    return blotter_orders(lake_reader(lake_root), account, symbols, states, start, end)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_blotter_fills(
    lake_root: str, account: str, symbols: tuple[str, ...], start: date, end: date
) -> pl.DataFrame:
    """Filtered fills of one account (cached)."""
    return blotter_fills(lake_reader(lake_root), account, symbols, start, end)


@st.cache_data(ttl=5, show_spinner=False)
def load_kill_switch(state_dir: str) -> KillSwitchState:
    """The manual kill switch (cached for 5 s)."""
    return kill_switch_state(state_dir)


@st.cache_data(ttl=FLOW_RUNS_TTL_S, show_spinner=False)
def load_flow_runs(api_url: str, limit: int = 50) -> FlowRuns:
    """Latest flow runs of the Prefect API, or the reason it could not be read (cached, errors too)."""
    try:
        return FlowRuns(api_url, flow_runs(api_url, limit))
    except TimeoutError:
        return FlowRuns(api_url, None, f"no answer within {PREFECT_TIMEOUT_S:g} s")
    except Exception as exc:  # noqa: BLE001 - any failure of the API means "not reachable" here
        return FlowRuns(api_url, None, f"{type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------ performance
#: Markets whose conventions (periods per year, risk-free, VaR) the performance page offers.
MARKETS: tuple[str, ...] = ("equities", "crypto")


@dataclass(frozen=True)
class PerformanceReport:
    """The interactive tearsheet of one account: shriven.analytics tables and series.

    Every number comes from :mod:`shriven.analytics` (``performance`` for the series and the
    summary, ``tearsheet`` for the tables); nothing is computed again here.
    """

    account: str
    market: str
    #: Typical spacing of the equity samples (``"60s"``), which sets periods per year.
    interval: str
    conventions: Any
    #: Rolling window actually used (the requested one, shrunk to half a short sample).
    window: int
    #: ts, equity, cash, gross_exposure, net_exposure, … (the PNL rows).
    equity: pl.DataFrame
    #: ts, drawdown (<= 0) at every equity sample.
    drawdown: pl.DataFrame
    #: ts, sharpe: rolling Sharpe at every sample after the first (null before a full window).
    rolling_sharpe: pl.DataFrame
    #: ``metrics``, ``monthly_returns``, ``drawdowns``, ``exposure``, ``trade_statistics``.
    tables: dict[str, pl.DataFrame]


def account_performance(
    account_data: Any, market: str, window: int
) -> PerformanceReport | None:
    """The tearsheet of :func:`shriven.analytics.lake_inputs.load_account`'s data, or None.

    None when the account has fewer than ``lake_inputs.MIN_POINTS`` equity samples. Conventions
    are the market's preset at the curve's sampling interval (``conventions_for``), as the
    ``reporting`` flow uses them.
    """
    from shriven.analytics import performance as perf
    from shriven.analytics import tearsheet
    from shriven.analytics.lake_inputs import MIN_POINTS, conventions_for, sampling_interval

    equity = account_data.equity
    if equity.height < MIN_POINTS:
        return None
    interval = sampling_interval(equity)
    conventions = conventions_for(market, interval)
    returns = perf.simple_returns(equity.get_column("equity").to_numpy())
    ts = equity.get_column("ts")
    stats = perf.summary(
        returns=returns,
        conventions=conventions,
        timestamps=ts.dt.cast_time_unit("ns").dt.replace_time_zone(None).to_numpy(),
    )
    # as build_tearsheet: a short sample still gets a rolling line over half of it
    used_window = max(2, min(int(window), returns.size // 2))
    rolling = perf.rolling_sharpe(returns, used_window, conventions)
    tables = {
        "metrics": tearsheet.metrics_table(stats),
        "monthly_returns": tearsheet.monthly_returns_table(equity),
        "drawdowns": tearsheet.drawdown_table(equity),
        "trade_statistics": tearsheet.trade_statistics_table(account_data.fills),
    }
    exposure = tearsheet.exposure_table(equity)
    if exposure is not None:
        tables["exposure"] = exposure
    return PerformanceReport(
        account=account_data.account,
        market=market,
        interval=interval,
        conventions=conventions,
        window=used_window,
        equity=equity,
        drawdown=pl.DataFrame({"ts": ts, "drawdown": perf.underwater(returns)}),
        rolling_sharpe=pl.DataFrame(
            {"ts": ts[1:], "sharpe": rolling}, nan_to_null=True
        ),
        tables=tables,
    )


def conventions_note(report: PerformanceReport) -> str:
    """Which conventions are in force, in one line (as the tearsheet's footer says it)."""
    c = report.conventions
    return (
        f"Conventions: **{report.market}** at {report.interval} samples, "
        f"{c.periods_per_year:,.0f} periods/year, annual risk-free {c.risk_free_rate:g} "
        f"({c.rf_conversion}), ddof {c.ddof}, VaR {c.var_method} at {c.var_confidence:g} "
        f"(positive loss), rolling window {report.window} periods."
    )


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_account_data(lake_root: str, account: str) -> Any:
    """PNL, positions and fills of one account from the lake (``lake_inputs.load_account``, cached)."""
    from shriven.analytics.lake_inputs import load_account

    return load_account(lake_root, account)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_performance(
    lake_root: str, account: str, market: str, window: int
) -> PerformanceReport | None:
    """The interactive tearsheet of one account under one market's conventions (cached)."""
    return account_performance(load_account_data(lake_root, account), market, window)


# ------------------------------------------------------------------------------ ML and sentiment
#: ML signals shown on the ML page (newest first).
ML_SIGNALS_LIMIT = 200
#: Scored headlines shown on the ML page (newest first).
HEADLINES_LIMIT = 50
#: Days of sentiment index shown, up to the latest grid time.
SENTIMENT_LOOKBACK_DAYS = 30
_MODEL_COLUMNS = {
    "name": pl.String,
    "version": pl.Int64,
    "aliases": pl.String,
    "production": pl.Boolean,
    "kind": pl.String,
    "created_at": pl.String,
    "training_start": pl.Datetime("ns", "UTC"),
    "training_end": pl.Datetime("ns", "UTC"),
    "n_features": pl.Int64,
    "n_rows": pl.Int64,
    "ic": pl.Float64,
    "rank_ic": pl.Float64,
    "sharpe": pl.Float64,
    "available": pl.Boolean,
    "code_version": pl.String,
}


def registered_models(local_dir: str) -> pl.DataFrame:
    """Every registered version of every model in the registry under ``local_dir``.

    Names come from ``<local_dir>/models/catalog.parquet``; versions, metrics and aliases from
    :meth:`models.registry.ModelRegistry.list_versions`. Columns: ``_MODEL_COLUMNS``; by name,
    newest version first. ``production`` is true for the version the production alias points at.
    """
    from models.registry import CATALOG_FILE, DEFAULT_ALIAS, ModelRegistry

    registry = ModelRegistry(local_dir)
    catalog = registry.root / CATALOG_FILE
    if not catalog.is_file():
        return pl.DataFrame(schema=_MODEL_COLUMNS)
    names = sorted(pl.read_parquet(catalog, columns=["name"]).get_column("name").unique().to_list())
    rows = [
        {
            "name": v.name,
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "production": DEFAULT_ALIAS in v.aliases,
            "kind": v.kind,
            "created_at": v.created_at,
            "training_start": v.training_start_ns,
            "training_end": v.training_end_ns,
            "n_features": v.n_features,
            "n_rows": v.n_rows,
            "ic": v.ic,
            "rank_ic": v.rank_ic,
            "sharpe": v.sharpe,
            "available": v.available,
            "code_version": v.code_version,
        }
        for name in names
        for v in reversed(registry.list_versions(name))
    ]
    schema = {**_MODEL_COLUMNS, "training_start": pl.Int64, "training_end": pl.Int64}
    return pl.DataFrame(rows, schema=schema, nan_to_null=True).with_columns(
        pl.col("training_start", "training_end").cast(pl.Datetime("ns", "UTC"))
    )


def ml_signals(reader: LakeReader, limit: int = ML_SIGNALS_LIMIT) -> pl.DataFrame:
    """The newest ``limit`` signals of ML models (source ``ml:<name>``), newest offset first.

    Columns: offset, ts, symbol, target, kind, source, model_version, appended_at.
    """
    return reader.query(
        'SELECT "offset", ts, symbol, target, kind, source, model_version, appended_at '
        "FROM signals WHERE starts_with(source, 'ml:') ORDER BY \"offset\" DESC LIMIT ?",
        [limit],
    )


def sentiment_index_series(
    reader: LakeReader, lookback_days: int = SENTIMENT_LOOKBACK_DAYS
) -> pl.DataFrame:
    """The sentiment index of every symbol over the last ``lookback_days`` up to its latest grid time.

    Columns: ts, symbol ('' is shown as "market"), index, weight, n_texts; by symbol, ts.
    """
    return reader.query(
        "SELECT ts, CASE WHEN symbol = '' THEN 'market' ELSE symbol END AS symbol, "
        '"index", weight, n_texts FROM sentiment_index '
        "WHERE ts >= (SELECT max(ts) FROM sentiment_index) - to_days(?) ORDER BY symbol, ts",
        [int(lookback_days)],
    )


def latest_headlines(reader: LakeReader, limit: int = HEADLINES_LIMIT) -> pl.DataFrame:
    """The newest ``limit`` scored texts with their headline (from ``news``), newest first.

    Columns: ts, symbol, label, score, text, source, model, model_version.
    """
    return reader.query(
        "SELECT s.ts, s.symbol, s.label, s.score, n.text, s.source, s.model, s.model_version "
        "FROM (SELECT * FROM sentiment_scores ORDER BY ts DESC, text_id, symbol LIMIT ?) s "
        "LEFT JOIN (SELECT text_id, any_value(text) AS text FROM news GROUP BY text_id) n "
        "USING (text_id) ORDER BY s.ts DESC, s.symbol",
        [limit],
    )


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_registered_models(local_dir: str) -> pl.DataFrame:
    """Registered model versions with metrics and aliases (cached)."""
    return registered_models(local_dir)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_ml_signals(
    lake_root: str, signals_root: str | None = None, limit: int = ML_SIGNALS_LIMIT
) -> pl.DataFrame:
    """Newest ML signals (cached)."""
    return ml_signals(lake_reader(lake_root, signals_root), limit)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_sentiment_index(
    lake_root: str, lookback_days: int = SENTIMENT_LOOKBACK_DAYS
) -> pl.DataFrame:
    """Sentiment index per symbol over the recent days (cached)."""
    return sentiment_index_series(lake_reader(lake_root), lookback_days)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_headlines(lake_root: str, limit: int = HEADLINES_LIMIT) -> pl.DataFrame:
    """Newest scored headlines (cached)."""
    return latest_headlines(lake_reader(lake_root), limit)


# ------------------------------------------------------------------------------ options and depth
#: Book levels per side the depth ladder shows by default (the lake keeps ``BOOK_DEPTH_LEVELS``).
DEFAULT_LADDER_LEVELS = 5


def options_and_depth_symbols(reader: LakeReader) -> list[str]:
    """Symbols with option analytics or book snapshots, sorted."""
    result = reader.query(
        "SELECT DISTINCT symbol FROM option_analytics "
        "UNION SELECT DISTINCT symbol FROM book_snapshots ORDER BY symbol"
    )
    return result.get_column("symbol").to_list()


def latest_book_snapshot(reader: LakeReader, symbol: str) -> pl.DataFrame:
    """The latest ``book_snapshots`` row of ``symbol`` (empty without one): the BOOK_DEPTH schema."""
    return reader.query(
        "SELECT * EXCLUDE (date) FROM book_snapshots WHERE symbol = ? "
        "AND date = (SELECT max(date) FROM book_snapshots WHERE symbol = ?) "
        "ORDER BY ts DESC LIMIT 1",
        [symbol, symbol],
    )


def book_ladder(snapshot: pl.DataFrame, levels: int = DEFAULT_LADDER_LEVELS) -> pl.DataFrame:
    """The top ``levels`` of a snapshot row as a ladder: level, bid_size, bid, ask, ask_size.

    Level 0 is the best price; a side thinner than ``levels`` shows nulls.
    """
    schema = {
        "level": pl.Int64, "bid_size": pl.Float64, "bid": pl.Float64,
        "ask": pl.Float64, "ask_size": pl.Float64,
    }  # fmt: skip
    if snapshot.is_empty():
        return pl.DataFrame(schema=schema)
    row = snapshot.row(0, named=True)
    depth = min(levels, sum(1 for c in snapshot.columns if c.startswith("bid_px_")))
    return pl.DataFrame(
        {
            "level": list(range(depth)),
            "bid_size": [row[f"bid_sz_{j}"] for j in range(depth)],
            "bid": [row[f"bid_px_{j}"] for j in range(depth)],
            "ask": [row[f"ask_px_{j}"] for j in range(depth)],
            "ask_size": [row[f"ask_sz_{j}"] for j in range(depth)],
        },
        schema=schema,
    )


def latest_option_chain(reader: LakeReader, symbol: str) -> pl.DataFrame:
    """The option analytics of ``symbol``'s latest chain (its latest quote time), by expiry, strike.

    Columns: ts, expiry, time_to_expiry, strike, is_call, underlying_price, log_moneyness, iv,
    svi_iv, delta, reason.
    """
    return reader.query(
        "SELECT ts, expiry, time_to_expiry, strike, is_call, underlying_price, log_moneyness, iv, "
        "svi_iv, delta, reason FROM option_analytics WHERE symbol = ? "
        "AND ts = (SELECT max(ts) FROM option_analytics WHERE symbol = ?) "
        "ORDER BY expiry, strike, is_call",
        [symbol, symbol],
    )


def latest_svi_fits(reader: LakeReader, symbol: str) -> pl.DataFrame:
    """The SVI smiles of ``symbol``'s latest chain, by expiry (the SVI_FITS schema)."""
    return reader.query(
        "SELECT * EXCLUDE (date) FROM svi_fits WHERE symbol = ? "
        "AND ts = (SELECT max(ts) FROM svi_fits WHERE symbol = ?) ORDER BY expiry",
        [symbol, symbol],
    )


def out_of_the_money(chain: pl.DataFrame) -> pl.DataFrame:
    """One quote per (expiry, strike): the call at or above the underlying, else the put."""
    return chain.filter(pl.col("is_call") == (pl.col("strike") >= pl.col("underlying_price")))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_options_and_depth_symbols(lake_root: str) -> list[str]:
    """Symbols with option analytics or book depth (cached)."""
    return options_and_depth_symbols(lake_reader(lake_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_book_snapshot(lake_root: str, symbol: str) -> pl.DataFrame:
    """Latest book snapshot of one symbol (cached)."""
    return latest_book_snapshot(lake_reader(lake_root), symbol)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_option_chain(lake_root: str, symbol: str) -> pl.DataFrame:
    """Latest priced option chain of one underlying (cached)."""
    return latest_option_chain(lake_reader(lake_root), symbol)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_svi_fits(lake_root: str, symbol: str) -> pl.DataFrame:
    """SVI smiles of one underlying's latest chain (cached)."""
    return latest_svi_fits(lake_reader(lake_root), symbol)


# ------------------------------------------------------------------------------ parameter sweeps
#: Metrics of a sweep the Sweeps page can map: column -> (label, d3 format, higher is better).
SWEEP_METRICS: dict[str, tuple[str, str, bool]] = {
    "sharpe_ratio": ("Sharpe ratio", ".2f", True),
    "total_return": ("Total return", "+.2%", True),
    "max_drawdown": ("Max drawdown", ".2%", True),  # <= 0: the shallowest is the best
    "trades": ("Trades", ",d", True),
    "fees": ("Fees", ",.2f", False),
    "final_equity": ("Final equity", ",.2f", True),
}
#: Strategy parameters of a sweep row (``shriven.research.sweep.PARAMETERS``), in grid order.
SWEEP_PARAMETERS: tuple[str, ...] = ("fast", "slow", "quantity", "allow_short")
#: Parameter sets the Sweeps page lists as the top of a sweep.
SWEEP_TOP_SETS = 10


@dataclass(frozen=True)
class SweepHeatmap:
    """One metric of a sweep over two parameters: ``z[i][j]`` is at ``y[i]``, ``x[j]``.

    Axis values are sorted ascending; a cell no row fills is None (so is a NaN metric).
    """

    x_name: str
    y_name: str
    x: list[Any]
    y: list[Any]
    z: list[list[float | None]]


def sweep_catalog(reader: LakeReader) -> pl.DataFrame:
    """Every sweep in the lake, newest first: sweep, date (the day it started), sets (rows so far)."""
    return reader.query(
        "SELECT sweep, any_value(date) AS date, count(*) AS sets FROM sweep_results "
        "GROUP BY sweep ORDER BY date DESC, sweep DESC"
    )


def sweep_rows(reader: LakeReader, sweep: str) -> pl.DataFrame:
    """The finished rows of one sweep by ``set_id``: the SWEEP_RESULTS columns (no partitions)."""
    return reader.query(
        "SELECT * EXCLUDE (date, sweep) FROM sweep_results WHERE sweep = ? ORDER BY set_id",
        [sweep],
    )


def sweep_parameter_values(rows: pl.DataFrame) -> dict[str, list[Any]]:
    """The distinct values of each parameter in a sweep's rows, ascending."""
    return {
        name: sorted(rows.get_column(name).unique().drop_nulls().to_list())
        for name in SWEEP_PARAMETERS
    }


def filter_sweep(rows: pl.DataFrame, fixed: dict[str, Any]) -> pl.DataFrame:
    """The rows whose parameters equal ``fixed`` (parameter -> value)."""
    return rows.filter(*(pl.col(name) == value for name, value in fixed.items())) if fixed else rows


def _metric_values(metric: str) -> pl.Expr:
    if metric not in SWEEP_METRICS:
        raise ValueError(f"unknown sweep metric {metric!r}; known: {list(SWEEP_METRICS)}")
    return pl.col(metric).cast(pl.Float64).fill_nan(None)


def sweep_heatmap(rows: pl.DataFrame, metric: str, x_name: str, y_name: str) -> SweepHeatmap:
    """``metric`` of ``rows`` over the parameters ``x_name`` × ``y_name``.

    The other parameters should be fixed first (:func:`filter_sweep`), so that each cell holds
    one set; a cell with several sets shows their mean.
    """
    if x_name == y_name or not {x_name, y_name} <= set(SWEEP_PARAMETERS):
        raise ValueError(f"heatmap axes must be two of {SWEEP_PARAMETERS}, got {x_name}, {y_name}")
    cells = rows.group_by(x_name, y_name).agg(_metric_values(metric).mean().alias("value"))
    xs = sorted(cells.get_column(x_name).unique().to_list())
    ys = sorted(cells.get_column(y_name).unique().to_list())
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    for x, y, value in cells.select(x_name, y_name, "value").iter_rows():
        z[ys.index(y)][xs.index(x)] = value
    return SweepHeatmap(x_name, y_name, xs, ys, z)


def top_sweep_sets(rows: pl.DataFrame, metric: str, n: int = SWEEP_TOP_SETS) -> pl.DataFrame:
    """The ``n`` best sets of a sweep by ``metric`` (its direction in SWEEP_METRICS), NaN last."""
    higher_is_better = SWEEP_METRICS.get(metric, ("", "", True))[2]
    return (
        rows.with_columns(_metric_values(metric).alias("_key"))
        .sort("_key", "set_id", descending=[higher_is_better, False], nulls_last=True)
        .drop("_key")
        .head(n)
    )


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_sweeps(lake_root: str) -> pl.DataFrame:
    """Sweeps in the lake, newest first, with their set counts (cached)."""
    return sweep_catalog(lake_reader(lake_root))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def load_sweep(lake_root: str, sweep: str) -> pl.DataFrame:
    """Every finished row of one sweep (cached)."""
    return sweep_rows(lake_reader(lake_root), sweep)


# ------------------------------------------------------------------------------ health
#: Seconds a health report or the metrics snapshot files are reused before they are read again.
HEALTH_TTL_S = 5
#: Latency histograms the Health page shows, with their labels.
LATENCIES = {RISK_CHECK_LATENCY: "Risk check", TICK_TO_ORDER_LATENCY: "Tick to order"}


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def load_health(
    local_dir: str, _settings: Settings, prefect_api_url: str | None, gateway_url: str | None
) -> HealthReport:
    """The health report of the platform whose local directory is ``local_dir``."""
    return check_health(_settings, prefect_api_url=prefect_api_url, gateway_url=gateway_url)


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def load_snapshots(metrics_dir: str) -> list[MetricsSnapshot]:
    """Every readable metrics snapshot file (unreadable ones are skipped)."""
    return read_snapshots(metrics_dir)


def components_table(report: HealthReport) -> pl.DataFrame:
    """One row per component: name, status, detail."""
    return pl.DataFrame(
        {
            "component": [c.name for c in report.components],
            "status": [str(c.status) for c in report.components],
            "detail": [c.detail for c in report.components],
        },
        schema={"component": pl.String, "status": pl.String, "detail": pl.String},
    )


def _microseconds(ns: float) -> float | None:
    return None if math.isnan(ns) else ns / 1e3


def latency_table(snapshots: list[MetricsSnapshot]) -> pl.DataFrame:
    """p50 and p99 (upper bounds of their buckets, µs) of the known latency histograms."""
    rows = [
        {
            "component": s.component,
            "metric": label,
            "count": h.count,
            "p50_us": _microseconds(h.quantile_ns(0.5)),
            "p99_us": _microseconds(h.quantile_ns(0.99)),
        }
        for s in snapshots
        for name, label in LATENCIES.items()
        if (h := s.histograms.get(name)) is not None and h.count > 0
    ]
    schema = {
        "component": pl.String,
        "metric": pl.String,
        "count": pl.Int64,
        "p50_us": pl.Float64,
        "p99_us": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def rejects_by_reason(snapshots: list[MetricsSnapshot]) -> pl.DataFrame:
    """Order rejects summed over components, by reason, most first."""
    totals: dict[str, float] = {}
    for s in snapshots:
        counter = s.counters.get(ORDER_REJECTS)
        for reason, value in (counter.values if counter else {}).items():
            totals[reason] = totals.get(reason, 0.0) + value
    frame = pl.DataFrame(
        {"reason": list(totals), "rejects": list(totals.values())},
        schema={"reason": pl.String, "rejects": pl.Float64},
    )
    return frame.sort("rejects", descending=True)
