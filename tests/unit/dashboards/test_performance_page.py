"""The Performance page through AppTest: the tearsheet of the backtest account, and an empty lake."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboards import data
from shriven.analytics import tearsheet
from shriven.analytics.lake_inputs import conventions_for, load_account, sampling_interval
from tests.unit.dashboards.trading_lake import ACCOUNT

CHARTS = ("equity", "drawdown", "monthly", "rolling", "exposure")


@pytest.fixture
def app(trading_lake, open_page):
    return open_page(trading_lake.data_dir, "performance", trading_lake.config)


def _table(app, first_column: str):
    (table,) = [d.value for d in app.dataframe if d.value.columns[0] == first_column]
    return table


def test_tearsheet_of_the_shared_account(app, trading_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "Performance"
    assert app.session_state["account"] == ACCOUNT
    assert {c.key for c in app.get("plotly_chart")} >= {f"performance_{name}" for name in CHARTS}
    assert "Conventions: **equities**" in app.caption[0].value

    # the numbers are shriven.analytics' own, from the same lake rows
    account = load_account(str(trading_lake.settings.lake_root), ACCOUNT)
    conventions = conventions_for("equities", sampling_interval(account.equity))
    expected = tearsheet.build_tearsheet(
        account.equity, fills=account.fills, conventions=conventions
    ).tables
    metrics = _table(app, "metric").set_index("metric")["value"]
    expected_metrics = dict(expected["metrics"].iter_rows())
    assert metrics["Total return"] == pytest.approx(expected_metrics["Total return"])
    assert metrics["Max drawdown"] == pytest.approx(expected_metrics["Max drawdown"])
    statistics = _table(app, "statistic").set_index("statistic")["value"]
    assert statistics["fills"] == trading_lake.result.fills
    assert statistics["fills"] == expected["trade_statistics"].row(0)[1]
    assert {m.label for m in app.metric} == {
        "Total return", "Sharpe ratio", "Sortino ratio", "Max drawdown", "Annualised volatility",
    }  # fmt: skip


def test_crypto_conventions_and_window(app) -> None:
    equities = {m.label: m.value for m in app.metric}
    app.radio(key="performance_market").set_value("crypto").run()
    assert not app.exception
    assert "Conventions: **crypto**" in app.caption[0].value
    crypto = {m.label: m.value for m in app.metric}
    assert crypto["Total return"] == equities["Total return"]  # not annualised
    assert crypto["Annualised volatility"] != equities["Annualised volatility"]

    app.slider(key="performance_window").set_value(10).run()
    assert not app.exception
    assert "rolling window 10 periods" in app.caption[0].value


def test_performance_report_reuses_the_analytics(trading_lake) -> None:
    account = load_account(str(trading_lake.settings.lake_root), ACCOUNT)
    report = data.account_performance(account, "crypto", 20)
    assert report is not None
    assert report.window == 20
    assert data.account_performance(account, "crypto", 10_000).window == (account.equity.height - 1) // 2
    assert report.drawdown.height == account.equity.height
    assert report.rolling_sharpe.height == account.equity.height - 1
    assert report.conventions.periods_per_year == conventions_for(
        "crypto", report.interval
    ).periods_per_year
    assert set(report.tables) == {
        "metrics", "monthly_returns", "drawdowns", "trade_statistics", "exposure",
    }  # fmt: skip
    too_short = replace(account, equity=account.equity.head(2))
    assert data.account_performance(too_short, "equities", 30) is None


def test_empty_lake_says_to_run_a_backtest(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "performance")
    assert not app.exception
    (info,) = app.info
    assert "No trading data in the lake yet" in info.value
    assert "shriven backtest" in info.value
    assert not app.metric


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="performance_live").set_value(True).run()
    assert not app.exception
    assert any("Refreshed at" in c.value for c in app.caption)
