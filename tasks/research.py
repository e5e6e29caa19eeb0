"""Tasks of research sweeps: load the bars once, evaluate one chunk of parameter sets, write it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from shriven.analytics.conventions import EQUITIES, periods_per_year_for
from shriven.config import load_settings
from shriven.lake.writer import Lake
from shriven.research.results import SweepStore
from shriven.research.sweep import Costs, SweepBars, evaluate_chunk, prepare_bars
from tasks import retry_unless_bad_input


@task(cache_policy=NO_CACHE)
def load_sweep_bars_task(dates: list[str], interval: str, symbols: list[str] | None) -> SweepBars:
    """The closes of every symbol over the dates, as the sweep kernel wants them (read once)."""
    settings = load_settings()
    if symbols:
        unknown = sorted(set(symbols) - set(settings.universe))
        if unknown:
            raise ValueError(f"unknown symbols {unknown}; the universe is {list(settings.universe)}")
    table = Lake(settings.lake_root).read(f"bars_{interval}", dates, symbols or None)
    if table.num_rows == 0:
        raise ValueError(f"no bars_{interval} in the lake for {dates[0]} .. {dates[-1]}: run the daily pipeline first")
    bars = prepare_bars(pl.from_arrow(table.select(["ts", "symbol", "close"])))
    get_run_logger().info("%d bars of %d symbols over %d days", table.num_rows, len(bars.symbols), len(dates))
    return bars


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_unless_bad_input, cache_policy=NO_CACHE,
      task_run_name="sweep {store.sweep_id} chunk {chunk}")  # fmt: skip
def evaluate_chunk_task(
    bars: SweepBars, rows: list[dict[str, Any]], costs: Costs, interval: str, market: str,
    store: SweepStore, chunk: int,
) -> int:  # fmt: skip
    """Evaluate one chunk of parameter sets and write its rows (atomic: a dead worker loses only it)."""
    conventions = replace(EQUITIES, periods_per_year=periods_per_year_for(interval, market))
    table = evaluate_chunk(bars, rows, costs, conventions=conventions)
    store.write(chunk, table)
    return table.num_rows
