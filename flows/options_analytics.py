"""Deployment `options_analytics`: each day's option chains priced, with implied vols, greeks, smiles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows import OUTCOME_HOOKS
from tasks.options import options_analytics_task


@flow(name="options_analytics", **OUTCOME_HOOKS)
def options_analytics(day: date | None = None, days: int = 1) -> dict[str, object]:
    """Price the chains of whole UTC days (yesterday by default) from the lake's daily bars."""
    first = day or (datetime.now(UTC).date() - timedelta(days=1))
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    result = options_analytics_task(dates)
    create_table_artifact(
        [{k: result[k] for k in ("days", "options", "priced", "smiles", "arbitrage_flags")}],
        key="options-analytics",
        description=f"options analytics {dates[0]} .. {dates[-1]}",
    )
    return result
