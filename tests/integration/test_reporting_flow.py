"""The reporting flow and the backtest's tearsheet under the real Prefect engine."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest

from shriven.analytics.tearsheet import SECTION_TITLES
from shriven.config import load_settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

DAY = date(2026, 1, 5)
STRATEGIES = """
[[strategy]]
kind = "momentum"
id = "mom"
symbols = ["ACME", "BOLT", "CRUX"]
[strategy.params]
fast = 3
slow = 8
quantity = 10
"""


def _table(key: str) -> list[dict]:
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None, key
    assert artifact.type == "table", key
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


@pytest.fixture
def backtested(tmp_path, monkeypatch):
    """One synthetic day in the lake, backtested by the backtest flow as account backtest-report."""
    from flows.backtest import backtest

    (tmp_path / "strategies.toml").write_text(STRATEGIES)
    config = tmp_path / "shriven.toml"
    config.write_text(
        SMALL_CONFIG + f'\n[trading]\nstrategies = "{tmp_path / "strategies.toml"}"\njournal_fsync = false\n'
    )
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    ingest_window(SyntheticExchange(settings), Lake(settings.lake_root), Window.days(DAY), settings.universe, settings.universe)
    return settings, backtest(start=DAY, days=1, run_id="report")


def test_backtest_and_reporting_write_tearsheets_and_publish_tables(backtested, caplog, monkeypatch):
    from prefect.artifacts import Artifact

    from flows.reporting import reporting

    settings, summary = backtested
    reports = Path(settings.data_dir) / "reports"

    # The backtest's own tearsheet, its path in the summary (the CLI prints it) and its artifacts.
    sheet = reports / "backtest-report" / "tearsheet.html"
    assert summary["tearsheet"] == str(sheet)
    page = sheet.read_text()
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in page
    metrics = {row["metric"]: row["value"] for row in _table("backtest-report-metrics")}
    assert metrics["Periods"] > 2
    assert _table("backtest-report-monthly-returns")[0]["year"] == DAY.year
    trades = {row["statistic"]: row["value"] for row in _table("backtest-report-trade-statistics")}
    assert trades["fills"] == summary["fills"]
    assert str(sheet) in Artifact.get("backtest-report-tearsheet").data
    assert str(sheet) in Artifact.get("backtest-summary").data

    # Daily reporting skips backtest accounts by default, and a named account without data.
    monkeypatch.setattr(logging.getLogger("prefect"), "propagate", True)
    with caplog.at_level(logging.INFO):
        result = reporting(day=DAY)
        assert result == {"day": DAY.isoformat(), "accounts": 0, "written": {}, "skipped": {}}
        result = reporting(day=DAY, accounts=["backtest-report", "ghost"], conventions="crypto")
    daily = reports / "backtest-report" / f"{DAY.isoformat()}.html"
    assert result["written"] == {"backtest-report": str(daily)}
    assert list(result["skipped"]) == ["ghost"]
    assert "no pnl rows" in result["skipped"]["ghost"]
    assert "skipped account ghost: no pnl rows" in caplog.text
    assert "1 written, 1 skipped (of 2 accounts)" in caplog.text
    page = daily.read_text()
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in page
    assert f"{365 * 24 * 60:g} periods/year" in page  # crypto conventions, minute samples
    assert {row["metric"] for row in _table("report-backtest-report-metrics")} >= {"Sharpe ratio", "Max drawdown"}
    assert _table("report-backtest-report-monthly-returns")
    assert _table("report-backtest-report-trade-statistics")[0] == {"statistic": "fills", "value": summary["fills"]}
    assert str(daily) in Artifact.get("report-backtest-report-tearsheet").data
    assert Artifact.get("report-ghost-metrics") is None

    # With backtests included, the day's accounts are found in the lake.
    assert reporting(day=DAY, include_backtests=True)["written"] == {"backtest-report": str(daily)}


def test_artifact_keys_are_lowercase_letters_digits_and_dashes():
    from tasks.reporting import artifact_key

    assert artifact_key("report", "Paper_2.x") == "report-paper-2-x"
    assert artifact_key("backtest-20260105T0100", "monthly-returns") == "backtest-20260105t0100-monthly-returns"
