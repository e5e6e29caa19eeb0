"""The Market page through Streamlit's AppTest, over a demo lake and over an empty one."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards.charts import compact_number
from shriven.lake.writer import Lake
from shriven.testing.demo_lake import write_demo_lake

APP = Path(__file__).resolve().parents[3] / "dashboards" / "streamlit_app.py"
SYMBOLS = ("ACME", "BOLT")
FIRST_DAY = date(2026, 1, 5)
#: 2026-01-05 (Monday) … 2026-01-12: six weekdays, so the weekend 10-11 has no bars.
DAYS = 6
LAST_DAY = date(2026, 1, 12)
METRIC_LABELS = ["Last", "Change", "Volume", "Trades", "Realised vol", "Flow imbalance"]


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo_data")
    write_demo_lake(str(data_dir / "lake"), symbols=SYMBOLS, day=FIRST_DAY, minutes=390, days=DAYS)
    return data_dir


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> None:
    # Loaders are keyed by lake root, but the caches are process-wide: start every test clean.
    st.cache_data.clear()
    st.cache_resource.clear()


def _app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SHRIVEN_CONFIG", raising=False)
    monkeypatch.chdir(data_dir)  # no ./shriven.toml from the developer's checkout
    return AppTest.from_file(str(APP), default_timeout=60)


@pytest.fixture
def app(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return _app(demo_data_dir, monkeypatch).run()


def _day_trades(data_dir: Path, symbol: str, day: date):
    trades = Lake(str(data_dir / "lake")).read("trades", dates=[day.isoformat()])
    return trades.filter(pc.equal(trades.column("symbol"), symbol)).sort_by(
        [("ts", "ascending"), ("trade_id", "ascending")]
    )


def _metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _candles(app: AppTest) -> dict:
    (chart,) = app.get("plotly_chart")
    candles = json.loads(chart.proto.spec)["data"][0]
    assert candles["type"] == "candlestick"
    return candles


def _candle_times(app: AppTest) -> list[str]:
    return _candles(app)["x"]


def _bar_count(data_dir: Path, symbol: str, interval: str, dates: list[date]) -> int:
    bars = Lake(str(data_dir / "lake")).read(
        f"bars_{interval}", dates=[d.isoformat() for d in dates]
    )
    return pc.sum(pc.equal(bars.column("symbol"), symbol)).as_py()


def test_page_renders_chart_metrics_and_universe(app: AppTest, demo_data_dir: Path) -> None:
    assert not app.exception
    assert app.title[0].value == "Market"
    assert app.selectbox(key="market_symbol").value == "ACME"
    assert app.radio(key="market_interval").value == "1m"
    assert app.date_input(key="market_day").value == LAST_DAY
    assert len(app.get("plotly_chart")) == 1
    assert list(_metrics(app)) == METRIC_LABELS
    assert sorted(app.dataframe[0].value["symbol"]) == list(SYMBOLS)


def test_metrics_match_the_days_trades(app: AppTest, demo_data_dir: Path) -> None:
    trades = _day_trades(demo_data_dir, "ACME", LAST_DAY)
    metrics = _metrics(app)
    assert metrics["Last"] == f"{trades.column('price')[-1].as_py():,.2f}"
    assert metrics["Volume"] == compact_number(pc.sum(trades.column("size")).as_py())
    assert metrics["Trades"] == f"{trades.num_rows:,}"


def test_changing_symbol_changes_the_data(app: AppTest, demo_data_dir: Path) -> None:
    acme_closes = _candles(app)["close"]
    acme_last = _metrics(app)["Last"]

    app.selectbox(key="market_symbol").select("BOLT").run()

    assert not app.exception
    bolt = _day_trades(demo_data_dir, "BOLT", LAST_DAY)
    assert _metrics(app)["Last"] == f"{bolt.column('price')[-1].as_py():,.2f}"
    assert _metrics(app)["Last"] != acme_last
    assert len(_candle_times(app)) == _bar_count(demo_data_dir, "BOLT", "1m", [LAST_DAY])
    assert _candles(app)["close"] != acme_closes


@pytest.mark.parametrize(
    ("interval", "chart_days"),
    [
        ("1s", [LAST_DAY]),
        ("5m", [LAST_DAY]),
        ("1h", [LAST_DAY]),
        ("1d", [date(2026, 1, d) for d in (5, 6, 7, 8, 9, 12)]),
    ],
)
def test_changing_interval_changes_the_bars_not_the_days_metrics(
    app: AppTest, demo_data_dir: Path, interval: str, chart_days: list[date]
) -> None:
    minute_metrics = _metrics(app)

    app.radio(key="market_interval").set_value(interval).run()

    assert not app.exception
    assert len(_candle_times(app)) == _bar_count(demo_data_dir, "ACME", interval, chart_days)
    assert len(_candle_times(app)) != _bar_count(demo_data_dir, "ACME", "1m", [LAST_DAY])
    assert _metrics(app) == minute_metrics


def test_change_is_against_the_previous_close(app: AppTest, demo_data_dir: Path) -> None:
    previous = _day_trades(demo_data_dir, "ACME", date(2026, 1, 9)).column("price")[-1].as_py()
    last = _day_trades(demo_data_dir, "ACME", LAST_DAY).column("price")[-1].as_py()
    assert _metrics(app)["Change"] == f"{100 * (last / previous - 1):+.2f}%"


def test_day_without_bars_warns_instead_of_failing(app: AppTest) -> None:
    app.date_input(key="market_day").set_value(date(2026, 1, 10)).run()

    assert not app.exception
    assert "No 1m bars of ACME on 2026-01-10" in app.warning[0].value
    assert not app.metric


def test_auto_refresh_toggle_keeps_the_page_working(app: AppTest) -> None:
    app.toggle(key="market_live").set_value(True).run()

    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    assert any("Refreshed at" in c.value for c in app.caption)


def test_empty_lake_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path, monkeypatch).run()

    assert not app.exception
    (info,) = app.info
    assert "make demo" in info.value
    assert "shriven ingest --source synthetic --start 2026-01-05 --days 1" in info.value
    assert "shriven aggregate" in info.value
    assert not app.get("plotly_chart")
    assert not app.metric
