"""Task around incremental bar aggregation."""

from __future__ import annotations

from dataclasses import asdict

from prefect import get_run_logger, task

from shriven.aggregation.incremental import BarAggregator
from shriven.config import load_settings
from shriven.lake.writer import Lake
from tasks import retry_unless_bad_input


@task(retries=2, retry_delay_seconds=[5, 15], retry_condition_fn=retry_unless_bad_input)
def aggregate_bars_task(dates: list[str] | None = None, full: bool = False) -> dict[str, object]:
    """Rebuild bars for trade partitions with new data (or all of them with ``full``)."""
    settings = load_settings()
    logger = get_run_logger()
    aggregator = BarAggregator(Lake(settings.lake_root), settings.state_dir, settings.aggregation.intervals)
    result = aggregator.run(
        dates, full, progress=lambda done, total: logger.info("aggregated %d/%d partitions", done, total)
    )
    logger.info(
        "%d of %d partitions had new trades; %d trades -> bars %s in %.2fs",
        result.partitions_aggregated, result.partitions_seen, result.trades_read, result.bars_written, result.seconds,
    )
    return asdict(result)
