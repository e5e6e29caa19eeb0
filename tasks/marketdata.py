"""Tasks around ingestion: one window of one source into the lake."""

from __future__ import annotations

from dataclasses import asdict

from prefect import get_run_logger, task

from shriven.config import load_settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.sources import build_source
from tasks import retry_unless_bad_input


@task(retries=3, retry_delay_seconds=[2, 5, 15], retry_condition_fn=retry_unless_bad_input, task_run_name="ingest {source} {label}")
def ingest_window_task(
    source: str,
    start_ns: int,
    end_ns: int,
    symbols: list[str] | None = None,
    paths: list[str] | None = None,
    layout: str = "shriven",
    label: str = "",
) -> dict[str, object]:
    """Ingest one window; retried because live sources fail transiently."""
    settings = load_settings()
    src = build_source(source, settings, paths or (), layout)
    # The synthetic exchange makes the configured universe; files and exchanges deliver what they
    # have, and validation quarantines symbols outside the universe.
    wanted = list(symbols) if symbols else (list(settings.universe) if source == "synthetic" else [])
    result = ingest_window(src, Lake(settings.lake_root), Window(start_ns, end_ns), wanted, settings.universe)
    get_run_logger().info(
        "%s %s: %d in, %d valid, %d quarantined %s, %d book events",
        result.source, result.window, result.input_rows, result.valid_rows,
        result.quarantined_rows, result.reasons or "", result.book_rows,
    )
    return asdict(result) | {"seconds": result.seconds}


@task(task_run_name="time range of {paths}")
def file_time_range_task(paths: list[str], layout: str = "shriven") -> tuple[int, int]:
    """First and last timestamp in the files, to choose the windows of a file backfill."""
    settings = load_settings()
    src = build_source("file", settings, paths, layout)
    return src.time_range()  # type: ignore[attr-defined]
