"""The Options & depth page through AppTest: book ladder, smile and surface; and an empty lake."""

from __future__ import annotations

import pytest

from dashboards import data


@pytest.fixture
def app(options_lake, open_page):
    return open_page(options_lake.data_dir, "options", options_lake.config)


def test_depth_smile_and_surface(app, options_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "Options & depth"
    assert app.selectbox(key="options_symbol").value == "ACME"
    charts = {c.key for c in app.get("plotly_chart")}
    assert charts == {"options_depth_chart", "options_smile_chart", "options_surface_chart"}
    (ladder,) = [d.value for d in app.dataframe if d.value.columns[0] == "level"]
    assert ladder["level"].tolist() == list(range(data.DEFAULT_LADDER_LEVELS))
    assert (ladder["bid"].diff().dropna() < 0).all()  # bids fall away from the touch
    assert (ladder["ask"].diff().dropna() > 0).all()
    assert (ladder["bid"].iloc[0] < ladder["ask"].iloc[0])
    assert {m.label for m in app.metric} == {"Mid", "Spread", "Imbalance"}
    (fits,) = [d.value for d in app.dataframe if "butterfly_ok" in d.value.columns]
    assert len(fits) > 0


def test_levels_and_symbol_change(app) -> None:
    app.slider(key="options_levels").set_value(3).run()
    app.selectbox(key="options_symbol").set_value("BOLT").run()
    assert not app.exception
    (ladder,) = [d.value for d in app.dataframe if d.value.columns[0] == "level"]
    assert len(ladder) == 3


def test_book_ladder_of_no_snapshot() -> None:
    import polars as pl

    assert data.book_ladder(pl.DataFrame()).is_empty()


def test_empty_lake_names_the_flows(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "options")
    assert not app.exception
    (info,) = app.info
    assert "`options_analytics`" in info.value
    assert "daily_pipeline" in info.value
    assert not app.get("plotly_chart")


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="options_live").set_value(True).run()
    assert not app.exception
    assert any("Refreshed at" in c.value for c in app.caption)
