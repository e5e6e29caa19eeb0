"""The Orders & fills page through AppTest: filters by symbol, state and date, with counts."""

from __future__ import annotations

import pytest

from tests.unit.dashboards.trading_lake import ACCOUNT, DAY, PROBE_ORDERS


@pytest.fixture
def app(trading_lake, open_page):
    return open_page(trading_lake.data_dir, "blotter", trading_lake.config)


def _counts(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _tables(app):
    orders, fills = (d.value for d in app.dataframe)
    return orders, fills


def test_unfiltered_blotter_lists_every_order_and_fill(app, trading_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "Orders & fills"
    result = trading_lake.result
    orders, fills = _tables(app)
    assert len(orders) == result.orders + result.denied
    assert len(fills) == result.fills
    counts = _counts(app)
    assert counts["Orders"] == f"{len(orders)}"
    assert counts["Filled orders"] == f"{result.fills}"
    assert counts["Fills"] == f"{result.fills}"
    assert [s.value for s in app.subheader] == [f"Orders ({len(orders)})", f"Fills ({len(fills)})"]
    assert app.date_input(key=f"blotter_dates_{ACCOUNT}").value == (DAY, DAY)


def test_symbol_and_state_filters(app) -> None:
    app.multiselect(key=f"blotter_symbols_{ACCOUNT}").set_value(["CRUX"]).run()
    assert not app.exception
    assert _counts(app)["Orders"] == f"{PROBE_ORDERS}"
    assert _counts(app)["Fills"] == "0"
    assert any("No fills match" in i.value for i in app.info)

    app.multiselect(key=f"blotter_symbols_{ACCOUNT}").set_value([])
    app.multiselect(key=f"blotter_states_{ACCOUNT}").set_value(["filled"]).run()
    orders, _ = _tables(app)
    assert set(orders["state"]) == {"filled"}
    assert set(orders["symbol"]) == {"ACME", "BOLT"}


def test_date_range_and_a_range_still_being_picked(app) -> None:
    app.date_input(key=f"blotter_dates_{ACCOUNT}").set_value((DAY, DAY)).run()
    assert not app.exception
    assert _counts(app)["Orders"] != "0"
    # a single date while the range is being picked is read as that day
    app.date_input(key=f"blotter_dates_{ACCOUNT}").set_value((DAY,)).run()
    assert not app.exception
    assert _counts(app)["Orders"] != "0"


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="blotter_live").set_value(True).run()
    assert not app.exception
    assert len(app.dataframe) == 2


def test_empty_lake_says_what_to_run(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "blotter")
    assert not app.exception
    (info,) = app.info
    assert "No trading data in the lake yet" in info.value
    assert not app.dataframe
