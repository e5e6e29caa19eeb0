"""The ML & sentiment page through AppTest: registry, ML signals, sentiment; and an empty lake."""

from __future__ import annotations

import pytest

from dashboards import data
from tests.unit.dashboards.ml_lake import HEADLINES, ML_TARGETS, MODEL, SENTIMENT_SYMBOLS


@pytest.fixture
def app(ml_lake, open_page):
    return open_page(ml_lake.data_dir, "ml_sentiment")


def _table(app, first_column: str):
    (table,) = [d.value for d in app.dataframe if d.value.columns[0] == first_column]
    return table


def test_models_signals_and_sentiment(app, ml_lake) -> None:
    assert not app.exception
    assert app.title[0].value == "ML & sentiment"
    assert not app.info
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Models": "1", "Versions": "2", "In production": f"{MODEL} v1"}

    models = _table(app, "name")
    assert models["version"].tolist() == [2, 1]  # newest first
    assert models.set_index("version").loc[1, "aliases"] == "production"
    assert models.set_index("version").loc[2, "aliases"] == "staging"
    assert models["production"].tolist() == [False, True]
    assert models[["ic", "rank_ic", "sharpe"]].notna().all().all()

    signals = _table(app, "offset")
    assert sorted(signals["symbol"]) == sorted(s for s, _ in ML_TARGETS)
    assert set(signals["source"]) == {f"ml:{MODEL}"}

    (chart,) = [c for c in app.get("plotly_chart") if c.key == "ml_sentiment_chart"]
    assert chart is not None
    headlines = _table(app, "ts")
    assert len(headlines) == len(HEADLINES)
    assert headlines["text"].iloc[0] == HEADLINES[-1][1]  # newest first, text joined from news


def test_sentiment_index_query(ml_lake) -> None:
    reader = data.LakeReader(str(ml_lake.data_dir / "lake"))
    index = data.sentiment_index_series(reader)
    assert sorted(index["symbol"].unique()) == sorted(s or "market" for s in SENTIMENT_SYMBOLS)
    assert index["index"].is_between(-1, 1).all()


def test_empty_lake_names_the_flows(empty_data_dir, open_page) -> None:
    app = open_page(empty_data_dir, "ml_sentiment")
    assert not app.exception
    texts = " ".join(info.value for info in app.info)
    for flow in ("train_model", "ml_inference", "sentiment"):
        assert f"`{flow}`" in texts
    assert not app.metric
    assert not app.dataframe


def test_auto_refresh_keeps_the_page_working(app) -> None:
    app.toggle(key="ml_live").set_value(True).run()
    assert not app.exception
    assert any("Refreshed at" in c.value for c in app.caption)


def test_no_registry_gives_an_empty_table(tmp_path) -> None:
    models = data.registered_models(str(tmp_path))
    assert models.is_empty()
    assert "production" in models.columns
