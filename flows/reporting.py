"""Deployment `reporting`: each account's HTML tearsheet in data/reports, its key tables as artifacts.

Which accounts: by default those with PNL rows dated ``day`` (yesterday, UTC), without
``backtest-*`` accounts (a backtest writes its own tearsheet); or the ``accounts`` given. What
period: each account's **whole history up to and including** ``day`` (or the last
``lookback_days`` days), so the monthly returns and drawdowns mean something; the file is
``data/reports/<account>/<day>.html``. Metrics are annualised for the equity curve's sampling
(the PNL interval, or ``interval`` when it resamples) in the ``conventions`` market. An account
with no PNL rows, or too few, is a logged skip, not a failure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from prefect import flow, get_run_logger

from flows import OUTCOME_HOOKS
from tasks.reporting import accounts_task, artifact_key, reports_dir, tearsheet_task


@flow(name="reporting", **OUTCOME_HOOKS)
def reporting(
    day: date | None = None,
    accounts: list[str] | None = None,
    conventions: Literal["equities", "crypto"] = "equities",
    interval: str | None = None,
    lookback_days: int | None = None,
    include_backtests: bool = False,
) -> dict[str, object]:
    """Write and publish the tearsheet of each account (active on ``day`` by default) up to ``day``."""
    logger = get_run_logger()
    last = day or (datetime.now(UTC).date() - timedelta(days=1))
    if lookback_days is not None and lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    first = None if lookback_days is None else (last - timedelta(days=lookback_days - 1)).isoformat()
    names = list(accounts) if accounts is not None else accounts_task(last.isoformat(), include_backtests)
    root = reports_dir()
    results = [
        tearsheet_task(
            account, f"{root}/{account}/{last.isoformat()}.html", artifact_key("report", account),
            start=first, end=last.isoformat(), market=conventions, interval=interval,
        )  # fmt: skip
        for account in names
    ]
    written = [r for r in results if r["status"] == "written"]
    skipped = {str(r["account"]): r["reason"] for r in results if r["status"] == "skipped"}
    logger.info(
        "reports for %s: %d written, %d skipped (of %d accounts)",
        last.isoformat(), len(written), len(skipped), len(names),
    )  # fmt: skip
    return {
        "day": last.isoformat(),
        "accounts": len(names),
        "written": {str(r["account"]): r["path"] for r in written},
        "skipped": skipped,
    }
