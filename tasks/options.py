"""Task around the options job."""

from __future__ import annotations

from dataclasses import asdict

from prefect import get_run_logger, task

from shriven.config import load_settings
from shriven.lake.writer import Lake
from shriven.pricing.daily import price_synthetic_chains
from tasks import retry_unless_bad_input


@task(retries=1, retry_delay_seconds=[10], retry_condition_fn=retry_unless_bad_input)
def options_analytics_task(dates: list[str]) -> dict[str, object]:
    """Synthetic chains for each day's underlyings, priced to implied vols, greeks and SVI smiles."""
    settings = load_settings()
    result = price_synthetic_chains(Lake(settings.lake_root), settings, dates)
    get_run_logger().info(
        "%d options (%d with an implied vol), %d smiles, %d flagged for arbitrage, in %.1fs",
        result.options, result.priced, result.smiles, result.arbitrage_flags, result.seconds,
    )
    return asdict(result)
