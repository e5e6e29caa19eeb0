"""Every SQL example in the README runs against a warehouse built from a real (small) lake."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import duckdb
import msgspec
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shriven.aggregation.incremental import BarAggregator
from shriven.book.snapshots import write_book_snapshots
from shriven.config import Settings
from shriven.engine.wiring import run_backtest
from shriven.lake.layout import Window
from shriven.lake.warehouse import build_warehouse
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.marketdata.validation import validate_trades
from shriven.model.records import Signal
from shriven.pricing.daily import price_synthetic_chains
from shriven.research.results import SweepStore
from shriven.research.sweep import Costs, run_sweep
from shriven.schemas import OHLCV, TIMESTAMP
from shriven.security.audit import AuditLog, AuditRecord, audit_directory
from shriven.signals.log import SignalLog
from shriven.strategy.momentum import Momentum
from shriven.strategy.signal_follower import SignalFollower
from tests.conftest import SMALL_CONFIG

README = Path(__file__).resolve().parents[2] / "README.md"
DAY = date(2026, 1, 5)


def _readme_queries() -> list[str]:
    text = README.read_text()
    section = text.split("## Ad-hoc SQL", 1)[1].split("\n## ", 1)[0]
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", section, re.S)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    settings = msgspec.convert({**tomllib.loads(SMALL_CONFIG), "data_dir": str(root)}, Settings)
    lake = Lake(settings.lake_root)
    window = Window.days(DAY)
    ingest_window(SyntheticExchange(settings), lake, window, settings.universe, settings.universe)
    start = window.start_ns + 14 * 3600 * 10**9
    ts = pa.array(start + np.arange(3) * 60 * 10**9, TIMESTAMP)
    ohlcv = pa.table(
        {"ts": ts, "symbol": ["ACME"] * 3, "interval": ["1m"] * 3, "open": [1.0, 2.0, 3.0],
         "high": [2.0, 3.0, 4.0], "low": [0.5, 1.5, 2.5], "close": [2.0, 3.0, 3.5], "volume": [10.0, 11.0, 12.0]},
        schema=OHLCV,
    )
    lake.write_window("ohlcv", ohlcv, window)
    bad = pa.table({"ts": ["2026-01-05T15:00:00Z", "garbage"], "symbol": ["ACME", "NOPE"], "trade_id": [1, 2],
                    "price": [float("nan"), 10.0], "size": [1.0, -1.0], "side": [1, -1]})
    rejected = validate_trades(bad, settings.universe, "test", window.start_ns, window).quarantine
    lake.write_window("quarantine", rejected, window, partition={"origin": "test"})
    BarAggregator(lake, settings.state_dir, settings.aggregation.intervals).run()
    # lose a few of CRUX's book messages, as a feed does, so book_issues has something to show
    crux = lake.read("book", [DAY.isoformat()]).filter(pc.equal(pc.field("symbol"), "CRUX"))
    seq = crux.column("seq").to_numpy()
    lost = (seq > seq[len(seq) // 2]) & (seq <= seq[len(seq) // 2] + 3) & ~crux.column("is_snapshot").to_numpy()
    lake.write_window("book", crux.filter(pa.array(~lost)), window, symbols=["CRUX"])
    write_book_snapshots(lake, [DAY.isoformat()], {s.symbol: s.tick_size for s in settings.symbols})
    price_synthetic_chains(lake, settings, [DAY.isoformat()])
    # a backtest following signals (one too big: denied), so the trading views have rows
    open_ns, _ = session_window(settings, DAY)
    signals = [Signal(ts=open_ns + 600 * 10**9, symbol="ACME", target=50.0, source="readme"),
               Signal(ts=open_ns + 900 * 10**9, symbol="BOLT", target=100_000.0, source="readme")]
    SignalLog(settings.lake_root, symbols=settings.universe).append(signals, source="readme", now_ns=window.start_ns)
    strategies = [SignalFollower("follow", ("ACME", "BOLT")), Momentum("mom", ("CRUX",), fast=3, slow=8, quantity=10)]
    run_backtest(settings, [DAY.isoformat()], strategies=strategies, run_id="readme")
    bars = pl.from_arrow(lake.read("bars_1m", [DAY.isoformat()]).select(["ts", "symbol", "close"]))
    grid = {"fast": [3, 5], "slow": [13, 21], "quantity": [10.0], "allow_short": [True]}
    SweepStore(settings.lake_root, "readme", started=DAY).write(0, run_sweep(bars, grid, Costs(starting_cash=1e6)))
    AuditLog(audit_directory(settings.state_dir)).record(AuditRecord(
        ts_ns=open_ns, correlation_id="c-1", principal="alice", role="trader", action="POST /v1/orders",
        target="/v1/orders", result="ok", status=202, detail='{"symbol": "ACME"}',
    ))  # fmt: skip
    build_warehouse(settings.warehouse_path, settings.lake_root, audit_dir=audit_directory(settings.state_dir))
    return settings.warehouse_path


def test_readme_documents_every_view(warehouse):
    con = duckdb.connect(warehouse, read_only=True)
    try:
        views = {r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    finally:
        con.close()
    text = README.read_text()
    for view in views:
        assert f"`{view}`" in text, f"view {view} is not documented in the README"


@pytest.mark.parametrize("query", _readme_queries(), ids=lambda q: q.split("FROM", 1)[1].split()[0])
def test_readme_query_runs_and_returns_rows(warehouse, query):
    con = duckdb.connect(warehouse, read_only=True)
    try:
        rows = con.sql(query).fetchall()
    finally:
        con.close()
    assert rows, query
