"""Tasks around the reports: accounts to report, and one account's tearsheet written and published."""

from __future__ import annotations

import re

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from shriven.analytics.lake_inputs import (
    AccountReport,
    Market,
    accounts_in,
    list_accounts,
    report_account,
    table_rows,
)
from shriven.config import load_settings
from tasks import retry_unless_bad_input

#: Tearsheet tables published as table artifacts (when the tearsheet has them), by artifact suffix.
PUBLISHED_TABLES = {
    "metrics": "metrics",
    "monthly-returns": "monthly_returns",
    "trade-statistics": "trade_statistics",
}


def reports_dir() -> str:
    """Where reports go: ``<local_dir>/reports`` (a local directory)."""
    return load_settings().local_root.rstrip("/") + "/reports"


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes) from free-form parts."""
    key = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return re.sub(r"-{2,}", "-", key)


@task
def accounts_task(day: str, include_backtests: bool = False) -> list[str]:
    """Accounts with PNL rows dated ``day`` (backtest accounts only when asked)."""
    found = list_accounts(load_settings().lake_root, start=day, end=day)
    accounts = accounts_in(found, include_backtests=include_backtests)
    get_run_logger().info("%d account(s) with pnl on %s: %s", len(accounts), day, accounts)
    return accounts


@task(retries=1, retry_delay_seconds=[10], retry_condition_fn=retry_unless_bad_input)
def tearsheet_task(
    account: str,
    path: str,
    key_prefix: str,
    start: str | None = None,
    end: str | None = None,
    market: Market = "equities",
    interval: str | None = None,
) -> dict[str, object]:
    """Write one account's tearsheet and publish its key tables; an account without data is a logged skip."""
    logger = get_run_logger()
    report = report_account(
        load_settings().lake_root, account, path, start=start, end=end, market=market, interval=interval
    )
    if report.status == "skipped":
        logger.warning("skipped account %s: %s", account, report.reason)
        return _result(report)
    publish_tearsheet(report, key_prefix)
    logger.info(
        "tearsheet of %s: %d equity samples (%s apart), %d fills, %d position rows -> %s",
        account, report.points, report.interval, report.fills, report.positions, report.path,
    )  # fmt: skip
    return _result(report)


def publish_tearsheet(report: AccountReport, key_prefix: str) -> list[str]:
    """The metrics, monthly returns and trade statistics as table artifacts, and a link to the file."""
    if report.tearsheet is None or report.path is None:
        raise ValueError(f"account {report.account} has no tearsheet to publish: {report.reason}")
    tables = report.tearsheet.tables
    keys = []
    for suffix, name in PUBLISHED_TABLES.items():
        if name in tables:
            key = artifact_key(key_prefix, suffix)
            create_table_artifact(table_rows(tables[name]), key=key, description=f"{report.account}: {name}")
            keys.append(key)
    key = artifact_key(key_prefix, "tearsheet")
    create_markdown_artifact(
        f"## Tearsheet of {report.account}\n\n[{report.path}](file://{report.path})\n\n"
        f"`{report.path}` - {report.points} equity samples ({report.interval} apart), "
        f"{report.fills} fills. Tables: {', '.join(keys)}.",
        key=key,
        description=f"tearsheet of {report.account}",
    )
    return [*keys, key]


def _result(report: AccountReport) -> dict[str, object]:
    return {
        "account": report.account, "status": report.status, "path": report.path, "reason": report.reason,
        "points": report.points, "fills": report.fills, "positions": report.positions, "interval": report.interval,
    }  # fmt: skip
