"""The HTML tearsheet: one self-contained file, every section, tables with the expected columns."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import polars as pl
import pytest

from shriven import schemas
from shriven.analytics.tearsheet import (
    SECTION_TITLES,
    build_tearsheet,
    monthly_returns_table,
    trade_statistics_table,
    write_tearsheet,
)

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAYS = 120


def _equity() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    ts = pl.datetime_range(
        START,
        START + dt.timedelta(days=DAYS - 1),
        "1d",
        eager=True,
        time_zone="UTC",
        time_unit="ns",
    )
    equity = 1_000.0 * np.cumprod(1 + rng.normal(0.0005, 0.01, DAYS))
    return pl.DataFrame({"ts": ts, "equity": equity})


def _positions(equity: pl.DataFrame) -> pl.DataFrame:
    n = equity.height
    mv = equity["equity"].to_numpy() * 0.5
    frame = pl.DataFrame(
        {
            "ts": pl.concat([equity["ts"], equity["ts"]]),
            "symbol": ["AAA"] * n + ["BBB"] * n,
            "quantity": [5.0] * n + [-2.0] * n,
            "avg_cost": [100.0] * 2 * n,
            "mark_price": [100.0] * 2 * n,
            "market_value": np.concatenate([mv, -mv * 0.4]),
            "realized_pnl": [0.0] * 2 * n,
            "unrealized_pnl": [0.0] * 2 * n,
            "fees": [0.0] * 2 * n,
        }
    )
    return pl.from_arrow(schemas.conform(frame.to_arrow(), schemas.POSITIONS))


def _fills() -> pl.DataFrame:
    ts = [START + dt.timedelta(hours=h) for h in range(4)]
    frame = pl.DataFrame(
        {
            "ts": ts,
            "client_order_id": ["o1", "o2", "o3", "o4"],
            "strategy_id": ["s"] * 4,
            "symbol": ["AAA"] * 4,
            "venue": ["sim"] * 4,
            "trade_id": ["t1", "t2", "t3", "t4"],
            # buy 10 @ 100, sell 10 @ 110 (+100); buy 5 @ 100, sell 5 @ 90 (-50)
            "side": ["buy", "sell", "buy", "sell"],
            "price": [100.0, 110.0, 100.0, 90.0],
            "quantity": [10.0, 10.0, 5.0, 5.0],
            "fee": [0.1, 0.1, 0.1, 0.1],
            "liquidity": ["taker"] * 4,
        }
    )
    return pl.from_arrow(schemas.conform(frame.to_arrow(), schemas.FILLS))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    equity = _equity()
    path = tmp_path_factory.mktemp("reports") / "tearsheet.html"
    sheet = write_tearsheet(path, equity, positions=_positions(equity), fills=_fills())
    return path, sheet


def test_the_file_is_written_atomically_with_no_temp_left(written):
    path, sheet = written
    assert path.read_text(encoding="utf-8") == sheet.html
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_page_is_self_contained_with_plotly_js_once(written):
    _, sheet = written
    assert len(re.findall(r"\* plotly\.js v\d", sheet.html)) == 1
    assert "<script src=" not in sheet.html
    # no external script: the only cdn.plot.ly mention is plotly.js's own topojson default
    assert not re.search(r"<script[^>]*\bsrc=", sheet.html)
    assert sheet.html.count('class="plotly-graph-div"') == 5


def test_the_page_has_every_section(written):
    _, sheet = written
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in sheet.html


def test_tables_have_the_expected_columns(written):
    _, sheet = written
    tables = sheet.tables
    assert set(tables) == {
        "metrics",
        "monthly_returns",
        "drawdowns",
        "exposure",
        "trade_statistics",
    }
    assert tables["metrics"].columns == ["metric", "value"]
    assert tables["monthly_returns"].columns == ["year", "month", "return"]
    assert tables["drawdowns"].columns == [
        "peak",
        "trough",
        "recovery",
        "depth",
        "duration_periods",
        "duration_days",
    ]
    assert tables["exposure"].columns == ["ts", "gross_exposure", "net_exposure"]
    assert tables["trade_statistics"].columns == ["statistic", "value"]
    # 2024-01-01 + 119 days ends in April: four months
    assert tables["monthly_returns"]["month"].to_list() == [1, 2, 3, 4]
    assert tables["metrics"].height == 20


def test_exposure_sums_market_values_per_ts(written):
    _, sheet = written
    exposure = sheet.tables["exposure"]
    equity = _equity()["equity"].to_numpy()
    # AAA +0.5 equity, BBB -0.2 equity: gross 0.7, net 0.3
    np.testing.assert_allclose(exposure["gross_exposure"].to_numpy(), 0.7 * equity, rtol=1e-12)
    np.testing.assert_allclose(exposure["net_exposure"].to_numpy(), 0.3 * equity, rtol=1e-12)


def test_trade_statistics_by_hand():
    table = dict(trade_statistics_table(_fills()).iter_rows())
    assert table["fills"] == 4
    assert table["closing trades"] == 2
    assert table["win rate"] == pytest.approx(0.5)
    assert table["profit factor"] == pytest.approx(100 / 50)
    assert table["average win"] == pytest.approx(100.0)
    assert table["average loss"] == pytest.approx(-50.0)
    assert table["realized pnl (before fees)"] == pytest.approx(50.0)
    assert table["fees"] == pytest.approx(0.4)
    assert table["realized pnl (after fees)"] == pytest.approx(49.6)
    assert table["traded notional"] == pytest.approx(1000 + 1100 + 500 + 450)


def test_monthly_returns_by_hand():
    equity = pl.DataFrame(
        {
            "ts": [
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                dt.datetime(2024, 1, 31, tzinfo=dt.UTC),
                dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
                dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
            ],
            "equity": [100.0, 110.0, 99.0, 121.0],
        }
    )
    table = monthly_returns_table(equity)
    # January: 110 / 100 - 1; February: 121 / 110 - 1 (from January's last)
    assert table.rows() == [(2024, 1, pytest.approx(0.1)), (2024, 2, pytest.approx(0.1))]


def test_without_positions_or_fills_the_sections_say_so():
    sheet = build_tearsheet(_equity().head(30))
    assert "No positions given." in sheet.html
    assert "No fills given." in sheet.html
    assert set(sheet.tables) == {"metrics", "monthly_returns", "drawdowns"}


def test_a_pnl_frame_supplies_exposure_itself():
    equity = _equity().head(30)
    pnl = equity.with_columns(
        (pl.col("equity") * 0.9).alias("gross_exposure"),
        (pl.col("equity") * 0.1).alias("net_exposure"),
    )
    sheet = build_tearsheet(pnl)
    assert sheet.tables["exposure"].columns == ["ts", "gross_exposure", "net_exposure"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"ts": [START] * 3}), "lacks columns"),
        (
            pl.DataFrame(
                {"ts": [START + dt.timedelta(days=i) for i in range(2)], "equity": [1.0, 2.0]}
            ),
            "at least 3",
        ),
        (
            pl.DataFrame(
                {"ts": [START + dt.timedelta(days=i) for i in range(3)], "equity": [1.0, None, 2.0]}
            ),
            "nulls",
        ),
        (pl.DataFrame({"ts": [START] * 3, "equity": [1.0, 2.0, 3.0]}), "duplicate"),
        (pl.DataFrame({"ts": [1, 2, 3], "equity": [1.0, 2.0, 3.0]}), "datetime"),
        (
            pl.DataFrame(
                {"ts": [START + dt.timedelta(days=i) for i in range(3)], "equity": [1.0, -1.0, 2.0]}
            ),
            "> 0",
        ),
    ],
)
def test_bad_equity_raises_value_error(frame, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        write_tearsheet(tmp_path / "x.html", frame)
    assert not list(tmp_path.iterdir())


def test_bad_fills_raise_value_error():
    with pytest.raises(ValueError, match="side"):
        trade_statistics_table(_fills().with_columns(pl.lit("long").alias("side")))
