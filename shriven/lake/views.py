"""The warehouse's view definitions: one SQL module for the warehouse file and every in-memory reader.

Each lake dataset becomes a view over its Parquet files (hive partitions give the ``date`` column).
A dataset with no files yet gets an empty view with the same columns, because DuckDB raises on an
empty glob; readers that outlive that moment re-run :func:`create_views` to pick the files up.
"""

from __future__ import annotations

import glob as globlib
import os
from dataclasses import dataclass

import pyarrow as pa

from shriven.lake.layout import dataset_glob
from shriven.lake.storage import lake_filesystem, register_lake_filesystem
from shriven.schemas import BAR_INTERVALS, DATASETS, Dataset
from shriven.security.audit import AUDIT_DUCKDB_TYPES, AUDIT_FILE

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


@dataclass(frozen=True)
class View:
    """A named SELECT of the warehouse, with the one-line description the README shows."""

    name: str
    sql: str
    description: str


def _duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ_NS"
    return _DUCKDB_TYPES[t]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _hive_columns(ds: Dataset) -> list[str]:
    """Partition keys that are not already file columns (they come from the directory names)."""
    return [k for k in ds.partition_by if k not in ds.schema.names]


def _dataset_select(ds: Dataset, lake_root: str, has_files: bool) -> str:
    hive = _hive_columns(ds)
    if not has_files:
        typed = [f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in ds.schema]
        typed += [f"CAST(NULL AS {'DATE' if k == 'date' else 'VARCHAR'}) AS {k}" for k in hive]
        return "SELECT " + ", ".join(typed) + " WHERE false"
    glob = dataset_glob(lake_root, ds.name, len(ds.partition_by))
    # Quoted: some columns are SQL keywords (the signal log's ``offset``).
    casts = [f'CAST("{f.name}" AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in ds.schema]
    hive_types = ", ".join(f"'{k}': {'DATE' if k == 'date' else 'VARCHAR'}" for k in ds.partition_by)
    source = (
        f"read_parquet({_sql_literal(glob)}, hive_partitioning = true, union_by_name = true, "
        f"hive_types = {{{hive_types}}})"
    )
    return "SELECT " + ", ".join(casts + hive) + " FROM " + source


_DESCRIPTIONS = {
    "trades": "every validated trade: ts, symbol, trade_id, price, size, side (1 buy aggressor, -1 sell)",
    "book": "L2 book events: snapshots (is_snapshot, all rows of one seq) and deltas (size = new level size)",
    "ohlcv": "vendor bars as published by a ccxt exchange",
    "quarantine": "rows rejected by validation, with the reason and the raw row as JSON",
    "book_snapshots": "top-10 book sampled every second: prices, sizes, mid, microprice, spread, imbalance",
    "book_issues": "problems found replaying the book: sequence gaps and regressions, crossed books, bad rows",
    "option_analytics": "option chains with implied volatility of the mid, greeks and the fitted smile",
    "svi_fits": "one raw-SVI smile per underlying and expiry with butterfly and calendar checks",
    "signals": "the signal log: targets (position or weight) from models and optimisers, by offset",
    "orders": "every order of an account with its latest state, fills, fees and the reason it ended",
    "fills": "every execution of our orders: price, quantity, fee, maker/taker, venue",
    "positions": "position snapshots per symbol: quantity, average cost, mark, realised and unrealised PnL",
    "pnl": "the account's equity curve: cash, equity, exposures, realised/unrealised PnL and fees",
    "risk_events": "risk manager decisions: denied orders, limit breaches, trading-state changes, kill switch",
    "news": "headlines and posts, one row per (text, symbol); symbol '' = market-wide",
    "sentiment_scores": "per (text, symbol) class probabilities and score p_positive - p_negative of the sentiment model",
    "sentiment_index": "point-in-time decayed sentiment index per symbol on a time grid",
    "features": "model features per symbol at each bar close: returns, volatility, volume z-score, order flow, RSI, ranks, sentiment",
    "sweep_results": "one row per parameter set of a research sweep (date it started, sweep = its id): parameters, return, Sharpe, drawdown, trades, fees",
}


#: Datasets that live on a local disk even when the lake is on object storage (fsync, flock).
LOCAL_DATASETS = frozenset({"signals"})


def lake_views(
    lake_root: str,
    *,
    audit_dir: str | os.PathLike[str] | None = None,
    signals_root: str | None = None,
) -> list[View]:
    """Every view of the warehouse over the lake at ``lake_root`` (checks which datasets have files),
    and ``audit_log`` over the gateway's audit files when ``audit_dir`` is given.

    ``signals_root``: the local lake root holding the signal log when the lake itself is remote
    (``Settings.signal_log_root``); default ``lake_root``.
    """
    views = []
    filesystems = {r: lake_filesystem(r) for r in {lake_root, signals_root or lake_root}}
    for name, ds in DATASETS.items():
        root_of = (signals_root or lake_root) if name in LOCAL_DATASETS else lake_root
        fs, root = filesystems[root_of]
        has_files = bool(fs.glob(dataset_glob(root, name, len(ds.partition_by))))
        if name.startswith("bars_"):
            interval = name.removeprefix("bars_")
            desc = f"{interval} bars from trades: OHLCV, VWAP, trade count, realised volatility, order-flow imbalance"
        else:
            desc = _DESCRIPTIONS[name]
        views.append(View(name, _dataset_select(ds, root_of, has_files), desc))
    union = " UNION ALL ".join(
        f"SELECT {_sql_literal(i)} AS interval, * FROM bars_{i}" for i in BAR_INTERVALS
    )
    views.append(View("bars", union, "all bar intervals in one view, with an interval column ('1s' … '1d')"))
    if audit_dir is not None:
        views.append(View("audit_log", _audit_select(str(audit_dir)), _AUDIT_DESCRIPTION))
    return views


_AUDIT_DESCRIPTION = "every state-changing gateway request: who, what, when, with what result (status, correlation id)"


def _audit_select(audit_dir: str) -> str:
    """The audit JSON lines with typed columns and a ``ts`` timestamp; an empty typed relation
    before the first request (an empty glob raises in DuckDB)."""
    columns = ", ".join(f"{_sql_literal(k)}: {_sql_literal(t)}" for k, t in AUDIT_DUCKDB_TYPES.items())
    glob = os.path.join(audit_dir, "date=*", AUDIT_FILE)
    if not globlib.glob(glob):
        typed = ", ".join(f"NULL::{t} AS {k}" for k, t in AUDIT_DUCKDB_TYPES.items())
        return f"SELECT NULL::TIMESTAMP_NS AS ts, {typed} WHERE false"
    return (
        f"SELECT make_timestamp_ns(ts_ns) AS ts, * FROM read_json({_sql_literal(glob)}, "
        f"format = 'newline_delimited', hive_partitioning = false, columns = {{{columns}}})"
    )


def create_views(
    con: object,
    lake_root: str,
    *,
    audit_dir: str | os.PathLike[str] | None = None,
    signals_root: str | None = None,
) -> list[str]:
    """Create (or replace) every view on a DuckDB connection; returns the view names.

    ``con`` is a ``duckdb.DuckDBPyConnection``; the session time zone is set to UTC so that
    timestamps print as the lake stores them, and a remote lake's filesystem is registered.
    """
    con.execute("SET TimeZone = 'UTC'")
    register_lake_filesystem(con, lake_root)
    names = []
    for view in lake_views(lake_root, audit_dir=audit_dir, signals_root=signals_root):
        con.execute(f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}")
        names.append(view.name)
    return names
