"""Deployment `ingest_market_data`: live polling every minute, or a backfill by date range."""

from __future__ import annotations

import time
from datetime import date

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows import OUTCOME_HOOKS
from shriven.lake.layout import NS_PER_DAY, Window, ns_to_date
from tasks.cluster import dask_task_runner
from tasks.marketdata import file_time_range_task, ingest_window_task

NS_PER_MINUTE = 60_000_000_000
_TOTALS = ("input_rows", "valid_rows", "quarantined_rows", "book_rows", "ohlcv_rows", "files_written")


def plan_windows(
    source: str,
    start: date | None,
    days: int,
    now_ns: int,
    lookback_minutes: int,
    file_range: tuple[int, int] | None = None,
) -> list[Window]:
    """Windows to ingest: whole UTC days for a backfill, the last complete minutes when live."""
    if start is not None:
        first = Window.days(start, 1).start_ns
        return [Window(first + i * NS_PER_DAY, first + (i + 1) * NS_PER_DAY) for i in range(days)]
    if file_range is not None:
        lo, hi = file_range
        first_day = lo // NS_PER_DAY
        count = hi // NS_PER_DAY - first_day + 1
        return plan_windows(source, ns_to_date(first_day * NS_PER_DAY), count, now_ns, lookback_minutes)
    end = now_ns // NS_PER_MINUTE * NS_PER_MINUTE
    return [Window(end - lookback_minutes * NS_PER_MINUTE, end)]


@flow(name="ingest_market_data", **OUTCOME_HOOKS)
def ingest_market_data(
    source: str = "synthetic",
    start: date | None = None,
    days: int = 1,
    symbols: list[str] | None = None,
    paths: list[str] | None = None,
    layout: str = "shriven",
    lookback_minutes: int = 1,
    dask_workers: int = 0,
) -> dict[str, object]:
    """Ingest trades (and book, vendor bars) into the lake; without ``start`` it polls the last minute.

    ``dask_workers > 0`` ingests the windows (whole days of a backfill) on a Dask cluster (local
    worker processes, or the scheduler at ``$SHRIVEN_DASK_ADDRESS``): each window writes its own
    partitions, so the lake ends up exactly as a one-process run leaves it.
    """
    logger = get_run_logger()
    if days < 1 or lookback_minutes < 1:
        raise ValueError(f"days ({days}) and lookback_minutes ({lookback_minutes}) must be at least 1")
    file_range = None
    if source == "file" and start is None:
        file_range = file_time_range_task(list(paths or []), layout)
    windows = plan_windows(source, start, days, time.time_ns(), lookback_minutes, file_range)
    totals: dict[str, int] = dict.fromkeys(_TOTALS, 0)
    seconds = 0.0
    reasons: dict[str, int] = {}
    rows = []
    calls = [
        {"source": source, "start_ns": w.start_ns, "end_ns": w.end_ns, "symbols": symbols, "paths": paths,
         "layout": layout, "label": str(w)}
        for w in windows
    ]  # fmt: skip
    if dask_workers > 0 and len(windows) > 1:
        with dask_task_runner(dask_workers) as runner:
            futures = [runner.submit(ingest_window_task, call) for call in calls]
            results = [future.result() for future in futures]
    else:
        results = (ingest_window_task(**call) for call in calls)
    for i, (window, result) in enumerate(zip(windows, results, strict=True), 1):
        for key in _TOTALS:
            totals[key] += int(result[key])
        seconds += float(result["seconds"])
        for reason, count in dict(result["reasons"]).items():
            reasons[reason] = reasons.get(reason, 0) + count
        rows.append({k: result[k] for k in ("window", "input_rows", "valid_rows", "quarantined_rows", "book_rows")})
        logger.info(
            "window %d/%d %s: %d valid, %d quarantined (total so far %d)",
            i, len(windows), window, result["valid_rows"], result["quarantined_rows"], totals["valid_rows"],
        )
    if len(windows) > 1 or start is not None:
        create_table_artifact(rows, key="ingest-market-data", description=f"ingestion from {source}, per window")
    return {"source": source, "windows": len(windows), **totals, "reasons": reasons, "seconds": seconds}
