"""Deployment `backtest`: replay days of the lake through the same engine that trades paper and live."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import OUTCOME_HOOKS
from tasks.reporting import reports_dir, tearsheet_task
from tasks.trading import backtest_task


@flow(name="backtest", **OUTCOME_HOOKS)
def backtest(
    start: date | None = None, days: int = 1, strategies: str | None = None, run_id: str | None = None,
    conventions: Literal["equities", "crypto"] = "equities",
) -> dict[str, object]:
    """Backtest whole UTC days (yesterday by default) with the strategies file (settings' by default).

    The run's tearsheet goes to ``data/reports/backtest-<run_id>/tearsheet.html`` (annualised in
    the ``conventions`` market), its key tables to artifacts ``backtest-<run_id>-*``.
    """
    first = start or (datetime.now(UTC).date() - timedelta(days=1))
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    summary = backtest_task(dates, strategies, run_id)
    account = str(summary["account"])
    report = tearsheet_task(
        account, f"{reports_dir()}/{account}/tearsheet.html", account, start=dates[0], end=dates[-1], market=conventions
    )
    summary["tearsheet"] = report["path"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
    create_markdown_artifact(
        f"## Backtest {summary['run_id']}\n\n| | |\n|---|---|\n{rows}\n\n"
        f"Query it: `SELECT * FROM pnl WHERE account = '{summary['account']}' ORDER BY ts`",
        key="backtest-summary",
        description=f"backtest {dates[0]} .. {dates[-1]}",
    )
    return summary
