"""The Portfolio page through AppTest: exposure, positions and weights against the latest targets."""

from __future__ import annotations

import pytest

from tests.unit.dashboards.trading_lake import CRUX_WEIGHT


@pytest.fixture
def app(trading_lake, open_page):
    return open_page(trading_lake.data_dir, "portfolio", trading_lake.config)


def test_exposure_and_positions(app) -> None:
    assert not app.exception
    assert app.title[0].value == "Portfolio"
    metrics = {m.label: m.value for m in app.metric}
    positions, _ = app.dataframe
    values = dict(zip(positions.value["symbol"], positions.value["market_value"], strict=True))
    assert set(values) == {"ACME", "BOLT"}
    assert metrics["Gross exposure"] == f"{sum(abs(v) for v in values.values()):,.2f}"
    assert metrics["Net exposure"] == f"{sum(values.values()):+,.2f}"
    assert metrics["Open positions"] == "2"
    assert len(app.get("plotly_chart")) == 2  # exposure, weights


def test_weights_meet_the_followed_targets(app, trading_lake) -> None:
    _, weights = app.dataframe
    rows = {row["symbol"]: row for row in weights.value.to_dict("records")}
    assert set(rows) == {"ACME", "BOLT", "CRUX"}
    # the backtest followed the position targets: ACME 30, BOLT -40, so no gap
    assert rows["ACME"]["target_kind"] == "position"
    assert rows["ACME"]["target_quantity"] == 30.0
    assert rows["ACME"]["weight_gap"] == pytest.approx(0.0, abs=1e-12)
    assert rows["BOLT"]["target_quantity"] == -40.0
    # CRUX's target is a weight it never got (restricted)
    assert rows["CRUX"]["target_kind"] == "weight"
    assert rows["CRUX"]["target_weight"] == CRUX_WEIGHT
    assert rows["CRUX"]["weight"] == 0.0
    assert rows["CRUX"]["weight_gap"] == pytest.approx(-CRUX_WEIGHT)


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="portfolio_live").set_value(True).run()
    assert not app.exception
    assert len(app.dataframe) == 2


def test_empty_lake_says_what_to_run(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "portfolio")
    assert not app.exception
    (info,) = app.info
    assert "No trading data in the lake yet" in info.value
    assert "shriven backtest" in info.value
    assert not app.metric
    assert not app.get("plotly_chart")
