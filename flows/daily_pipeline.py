"""Deployment `daily_pipeline`: a day's ingestion, bars, compaction and the warehouse, in order."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows import OUTCOME_HOOKS
from flows.aggregate_bars import aggregate_bars
from flows.ingest_market_data import ingest_market_data
from tasks.book import book_snapshots_task
from tasks.lake import compact_task, refresh_warehouse_task


@flow(name="daily_pipeline", **OUTCOME_HOOKS)
def daily_pipeline(
    day: date | None = None,
    days: int = 1,
    source: str = "synthetic",
    symbols: list[str] | None = None,
) -> dict[str, object]:
    """Ingest whole days (yesterday by default), bars, book snapshots, compaction, the warehouse."""
    logger = get_run_logger()
    started = time.perf_counter()
    first = day or (datetime.now(UTC).date() - timedelta(days=1))
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    ingest = ingest_market_data(source=source, start=first, days=days, symbols=symbols)
    bars = aggregate_bars(dates=dates)
    snapshots = book_snapshots_task(dates)
    compacted = compact_task(["trades", "book", "ohlcv"], dates)
    warehouse = refresh_warehouse_task()
    wall = time.perf_counter() - started
    core = sum(float(step["seconds"]) for step in (ingest, bars, snapshots, compacted, warehouse))
    summary = {"dates": dates, "ingest": ingest, "bars": bars, "book_snapshots": snapshots,
               "compacted": compacted, "warehouse": warehouse, "wall_seconds": wall, "core_seconds": core}
    create_markdown_artifact(
        key="daily-pipeline",
        markdown=(
            f"## Daily pipeline {dates[0]} .. {dates[-1]}\n\n"
            f"| step | result |\n|---|---|\n"
            f"| trades valid / quarantined | {ingest['valid_rows']:,} / {ingest['quarantined_rows']:,} |\n"
            f"| book events | {ingest['book_rows']:,} |\n"
            f"| partitions aggregated | {bars['partitions_aggregated']} of {bars['partitions_seen']} |\n"
            f"| bars written | {bars['bars_written']} |\n"
            f"| book snapshots (1 s, top 10) / issues | {snapshots['snapshots']:,} / {snapshots['issues'] or 'none'} |\n"
            f"| warehouse | {warehouse['path']} ({len(warehouse['views'])} views) |\n"
            f"| wall time | {wall:.1f}s, of which core work {core:.1f}s |\n"
        ),
    )
    logger.info("daily pipeline for %s done in %.1fs", dates, wall)
    return summary
