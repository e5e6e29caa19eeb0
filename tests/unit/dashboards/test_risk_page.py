"""The Risk page through AppTest: kill switch, limit usage, order counts, denials and breaches."""

from __future__ import annotations

import math

import pytest

from shriven.engine.killswitch import KillSwitch
from tests.unit.dashboards.trading_lake import PROBE_ORDERS


@pytest.fixture
def app(trading_lake, open_page):
    return open_page(trading_lake.data_dir, "risk", trading_lake.config)


def _table(app, first_column: str):
    (table,) = [d.value for d in app.dataframe if d.value.columns[0] == first_column]
    return table


def test_counts_and_denials(app, trading_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "Risk"
    metrics = {m.label: m.value for m in app.metric}
    result = trading_lake.result
    assert metrics == {
        "Trading state": "active",
        "Orders": f"{result.orders + result.denied}",
        "Open orders": "0",
        "Denials": f"{PROBE_ORDERS}",
        "Breaches & state changes": "0",
    }
    denials = _table(app, "reason")
    assert denials.to_dict("records") == [{"reason": "restricted_symbol", "denials": PROBE_ORDERS}]
    states = dict(_table(app, "state").itertuples(index=False))
    assert states == {"denied": PROBE_ORDERS, "filled": result.fills}
    assert "No limit breach" in app.success[-1].value


def test_limit_usage_uses_the_settings_limits(app, trading_lake) -> None:
    usage = _table(app, "limit").set_index("limit")
    risk = trading_lake.settings.trading.risk
    assert usage.loc["gross exposure", "limit_value"] == risk.max_gross_exposure == 200_000.0
    assert usage.loc["open orders", "limit_value"] == 50.0
    assert usage.loc["position BOLT (notional)", "limit_value"] == 50_000.0
    assert usage.loc["gross exposure", "usage"] == pytest.approx(
        usage.loc["gross exposure", "value"] / 200_000.0
    )
    assert math.isnan(usage.loc["net exposure (absolute)", "limit_value"])  # no limit set


def test_kill_switch_on_is_shown(trading_lake, open_page) -> None:
    # the switch lives under the settings' state dir; it is turned off again for the other tests
    switch = KillSwitch(trading_lake.settings.state_dir)
    switch.set(True, reason="dashboard test", by="pytest")
    try:
        app = open_page(trading_lake.data_dir, "risk", trading_lake.config)
        assert not app.exception
        assert "Kill switch ON" in app.error[0].value
        assert "dashboard test" in app.error[0].value
    finally:
        switch.set(False)


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="risk_live").set_value(True).run()
    assert not app.exception
    assert any("Refreshed at" in c.value for c in app.caption)


def test_empty_lake_shows_the_kill_switch_and_what_to_run(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "risk")
    assert not app.exception
    assert "Kill switch off" in app.success[0].value
    (info,) = app.info
    assert "No trading data in the lake yet" in info.value
    assert not app.metric
