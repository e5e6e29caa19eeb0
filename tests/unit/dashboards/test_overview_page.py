"""The Overview page through AppTest: over a lake with one backtest account, and an empty one."""

from __future__ import annotations

import duckdb
import pytest

from dashboards.charts import compact_number
from shriven.lake.views import create_views
from tests.unit.dashboards.trading_lake import ACCOUNT

TILES = [
    "Equity", "Day PnL", "Total PnL", "Max drawdown",
    "Realised PnL", "Unrealised PnL", "Fees", "Cash",
    "Gross exposure", "Net exposure", "Fills today", "Traded today",
]  # fmt: skip


@pytest.fixture
def app(trading_lake, open_page):
    return open_page(trading_lake.data_dir, "overview", trading_lake.config)


def _metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_metrics_are_the_accounts_last_pnl_sample(app, trading_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert app.selectbox(key="overview_account").value == ACCOUNT
    assert list(_metrics(app)) == TILES
    con = duckdb.connect()
    create_views(con, trading_lake.settings.lake_root)
    equity, realized, fees, gross = con.sql(
        "SELECT equity, realized_pnl, fees, gross_exposure FROM pnl WHERE account = ? "
        "ORDER BY ts DESC LIMIT 1",
        params=[ACCOUNT],
    ).fetchall()[0]
    (fills, notional) = con.sql(
        "SELECT count(*), sum(price * quantity) FROM fills WHERE account = ?", params=[ACCOUNT]
    ).fetchall()[0]
    metrics = _metrics(app)
    starting = trading_lake.settings.trading.starting_cash
    assert metrics["Equity"] == f"{equity:,.2f}"
    assert metrics["Equity"] == f"{trading_lake.result.final_equity:,.2f}"
    # a one-day account: the day's PnL is everything since its first sample (at starting cash)
    assert metrics["Total PnL"] == f"{equity - starting:+,.2f}"
    assert metrics["Day PnL"] == metrics["Total PnL"]
    assert metrics["Realised PnL"] == f"{realized:+,.2f}"
    assert metrics["Fees"] == f"{fees:,.2f}"
    assert metrics["Gross exposure"] == compact_number(gross)
    assert metrics["Fills today"] == f"{fills:,}" == f"{trading_lake.result.fills:,}"
    assert metrics["Traded today"] == compact_number(notional)


def test_equity_chart_and_positions_table(app, trading_lake) -> None:
    (chart,) = app.get("plotly_chart")
    assert chart.proto.spec
    (positions,) = app.dataframe
    assert dict(zip(positions.value["symbol"], positions.value["quantity"], strict=True)) == {
        "ACME": 30.0,
        "BOLT": -40.0,
    }


def test_account_choice_is_shared_with_the_other_pages(app) -> None:
    assert app.session_state["account"] == ACCOUNT
    app.switch_page("app_pages/portfolio.py").run()
    assert not app.exception
    assert app.selectbox(key="portfolio_account").value == ACCOUNT


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="overview_live").set_value(True).run()
    assert not app.exception
    assert len(app.metric) == len(TILES)
    assert any("Refreshed at" in c.value for c in app.caption)


def test_empty_lake_says_what_to_run(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "overview")
    assert not app.exception
    (info,) = app.info
    assert "No trading data in the lake yet" in info.value
    assert "shriven backtest --start 2026-01-05 --days 1" in info.value
    assert "execution/paper" in info.value
    assert not app.metric
    assert not app.dataframe
