"""The sweep flow under the real Prefect engine: rows equal the core's, a resume evaluates only
missing chunks, a bad grid does no work, and a local Dask cluster gives identical rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from shriven.aggregation.incremental import BarAggregator
from shriven.analytics.conventions import EQUITIES, periods_per_year_for
from shriven.lake.layout import Window
from shriven.lake.views import create_views
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from shriven.research.sweep import Costs, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

DAY = date(2026, 1, 5)
GRID = {"fast": [3, 5], "slow": [8, 13, 21], "quantity": [10.0], "allow_short": [True]}


@pytest.fixture
def bars_platform(small_platform):
    lake = Lake(small_platform.lake_root)
    ingest_window(SyntheticExchange(small_platform), lake, Window.days(DAY), small_platform.universe, small_platform.universe)
    BarAggregator(lake, small_platform.state_dir, small_platform.aggregation.intervals).run()
    return small_platform


def _expected(settings) -> pl.DataFrame:
    bars = Lake(settings.lake_root).read("bars_1m", [DAY.isoformat()]).select(["ts", "symbol", "close"])
    costs = Costs(starting_cash=settings.trading.starting_cash, fee_bps=5.0, spread_bps=2.0)
    conventions = replace(EQUITIES, periods_per_year=periods_per_year_for("1m", "equities"))
    return pl.from_arrow(run_sweep(pl.from_arrow(bars), GRID, costs, conventions=conventions))


def _stored(settings, sweep_id: str) -> pl.DataFrame:
    con = duckdb.connect()
    create_views(con, settings.lake_root)
    frame = con.sql(f"SELECT * EXCLUDE (date, sweep) FROM sweep_results WHERE sweep = '{sweep_id}' ORDER BY set_id").pl()
    return frame


def test_sweep_rows_equal_the_core_and_a_resume_evaluates_only_missing_chunks(bars_platform):
    from flows.sweep import sweep

    args = {"start": DAY, "fast": GRID["fast"], "slow": GRID["slow"], "quantity": GRID["quantity"], "chunk_size": 2}
    first = sweep(**args, sweep_id="t1")
    assert (first["sets"], first["chunks"], first["evaluated_chunks"]) == (6, 3, 3)
    expected = _expected(bars_platform)
    assert _stored(bars_platform, "t1").equals(expected)  # bit-identical through Prefect and the lake

    # a worker died after two chunks: the third file is missing; the same id evaluates only it
    (part,) = Path(bars_platform.lake_root).glob("sweep_results/date=*/sweep=t1/part-000001.parquet")
    part.unlink()
    resumed = sweep(**args, sweep_id="t1")
    assert resumed["evaluated_chunks"] == 1
    assert _stored(bars_platform, "t1").equals(expected)
    assert sweep(**args, sweep_id="t1")["evaluated_chunks"] == 0

    with pytest.raises(ValueError, match="other inputs"):
        sweep(**{**args, "quantity": [20.0]}, sweep_id="t1")


def test_a_bad_grid_is_refused_before_any_work(bars_platform):
    from flows.sweep import sweep

    with pytest.raises(ValueError, match="fast"):
        sweep(start=DAY, fast=[5, 30], slow=[21], sweep_id="bad")
    assert not list(Path(bars_platform.lake_root).glob("sweep_results/*/sweep=bad"))


def test_a_local_dask_cluster_gives_identical_rows(bars_platform):
    from flows.sweep import sweep

    result = sweep(start=DAY, fast=GRID["fast"], slow=GRID["slow"], quantity=GRID["quantity"], chunk_size=1,
                   dask_workers=2, sweep_id="dask")  # fmt: skip
    assert result["evaluated_chunks"] == 6
    assert _stored(bars_platform, "dask").equals(_expected(bars_platform))


def test_a_sweep_killed_mid_run_loses_no_finished_chunk_and_resumes(bars_platform):
    """`shriven sweep` in a real process, SIGKILLed once chunks have landed; the same id finishes it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from prefect.settings import PREFECT_API_URL

    from flows.sweep import sweep

    fast, slow = list(range(2, 14)), list(range(20, 40))
    root = Path(bars_platform.lake_root)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    # small chunks (4 sets, one task each), so the sweep is still running when chunks have landed
    command = [sys.executable, "-m", "cli.main", "sweep", "--start", DAY.isoformat(), "--fast", *map(str, fast),
               "--slow", *map(str, slow), "--chunk-size", "4", "--sweep-id", "killed"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    parts: list[Path] = []
    while len(parts) < 5:
        assert proc.poll() is None, "the sweep finished before it could be killed"
        assert time.monotonic() < deadline, "no chunk landed in time"
        time.sleep(0.05)
        parts = list(root.glob("sweep_results/date=*/sweep=killed/part-*.parquet"))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    landed = len(list(root.glob("sweep_results/date=*/sweep=killed/part-*.parquet")))
    assert 5 <= landed < len(fast) * len(slow) // 4
    resumed = sweep(start=DAY, fast=fast, slow=slow, quantity=[10.0], chunk_size=4, sweep_id="killed")
    assert resumed["evaluated_chunks"] == len(fast) * len(slow) // 4 - landed
    costs = Costs(starting_cash=bars_platform.trading.starting_cash, fee_bps=5.0, spread_bps=2.0)
    bars = Lake(bars_platform.lake_root).read("bars_1m", [DAY.isoformat()]).select(["ts", "symbol", "close"])
    grid = {"fast": fast, "slow": slow, "quantity": [10.0], "allow_short": [True]}
    conventions = replace(EQUITIES, periods_per_year=periods_per_year_for("1m", "equities"))
    expected = pl.from_arrow(run_sweep(pl.from_arrow(bars), grid, costs, conventions=conventions))
    assert _stored(bars_platform, "killed").equals(expected)
