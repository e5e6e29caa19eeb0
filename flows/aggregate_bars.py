"""Deployment `aggregate_bars`: trades -> bars at every interval, only where trades changed."""

from __future__ import annotations

from prefect import flow

from flows import OUTCOME_HOOKS
from tasks.aggregation import aggregate_bars_task


@flow(name="aggregate_bars", **OUTCOME_HOOKS)
def aggregate_bars(dates: list[str] | None = None, full: bool = False) -> dict[str, object]:
    """Bring bars up to date with the trades in the lake."""
    return aggregate_bars_task(dates, full)
