"""Deployment `backtest`: replay days of the lake through the same engine that trades paper and live."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from tasks.trading import backtest_task


@flow(name="backtest")
def backtest(
    start: date | None = None, days: int = 1, strategies: str | None = None, run_id: str | None = None
) -> dict[str, object]:
    """Backtest whole UTC days (yesterday by default) with the strategies file (settings' by default)."""
    first = start or (datetime.now(UTC).date() - timedelta(days=1))
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    summary = backtest_task(dates, strategies, run_id)
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
    create_markdown_artifact(
        f"## Backtest {summary['run_id']}\n\n| | |\n|---|---|\n{rows}\n\n"
        f"Query it: `SELECT * FROM pnl WHERE account = '{summary['account']}' ORDER BY ts`",
        key="backtest-summary",
        description=f"backtest {dates[0]} .. {dates[-1]}",
    )
    return summary
