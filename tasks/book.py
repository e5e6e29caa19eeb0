"""Task around the order book: periodic depth snapshots from the lake's L2 events."""

from __future__ import annotations

from dataclasses import asdict

from prefect import get_run_logger, task

from shriven.book.snapshots import write_book_snapshots
from shriven.config import load_settings
from shriven.lake.writer import Lake
from tasks import retry_unless_bad_input


@task(retries=1, retry_delay_seconds=[10], retry_condition_fn=retry_unless_bad_input)
def book_snapshots_task(dates: list[str], every_s: float = 1.0) -> dict[str, object]:
    """Top-10 book every ``every_s`` seconds for each day, with the gaps and crossings found."""
    settings = load_settings()
    ticks = {s.symbol: s.tick_size for s in settings.symbols}
    result = write_book_snapshots(Lake(settings.lake_root), dates, ticks, int(every_s * 1e9))
    get_run_logger().info(
        "%d book events -> %d snapshots over %d days; issues: %s",
        result.book_events, result.snapshots, result.days, result.issues or "none",
    )
    return asdict(result)
