"""The dashboards' query functions, without Streamlit, over a demo lake."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.compute as pc
import pytest

from dashboards import data
from shriven.lake.writer import Lake
from shriven.testing.demo_lake import write_demo_lake

DAY_1 = date(2026, 1, 5)
DAY_2 = date(2026, 1, 6)


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("lake") / "lake")
    write_demo_lake(root, days=2)
    return root


@pytest.fixture(scope="module")
def reader(lake_root: str) -> data.LakeReader:
    return data.LakeReader(lake_root)


def _trades(lake_root: str, symbol: str, day: date):
    trades = Lake(lake_root).read("trades", dates=[day.isoformat()])
    return trades.filter(pc.equal(trades.column("symbol"), symbol)).sort_by(
        [("ts", "ascending"), ("trade_id", "ascending")]
    )


def test_symbols_and_dates(reader: data.LakeReader) -> None:
    assert data.symbols_with_bars(reader) == ["ACME", "BOLT"]
    assert data.bar_date_range(reader) == data.DateRange(DAY_1, DAY_2)


def test_empty_lake_gives_empty_answers(tmp_path: Path) -> None:
    empty = data.LakeReader(str(tmp_path / "lake"))
    assert data.symbols_with_bars(empty) == []
    assert data.bar_date_range(empty) is None
    assert data.symbol_bars(empty, "ACME", "1m", DAY_1, DAY_1).is_empty()
    assert data.universe_summary(empty).is_empty()
    assert data.previous_close(empty, "ACME", DAY_1) is None


def test_bars_are_one_symbol_one_day_in_time_order_with_utc_times(reader: data.LakeReader) -> None:
    bars = data.symbol_bars(reader, "BOLT", "5m", DAY_2, DAY_2)
    assert bars.height == 78
    assert set(bars.get_column("symbol")) == {"BOLT"}
    assert set(bars.get_column("date")) == {DAY_2}
    assert bars.get_column("ts").is_sorted()
    assert bars.schema["ts"].time_zone == "UTC"


def test_session_vwap_is_cumulative_within_each_day(reader: data.LakeReader) -> None:
    bars = data.symbol_bars(reader, "ACME", "1h", DAY_1, DAY_2)
    for day in (DAY_1, DAY_2):
        one = bars.filter(bars.get_column("date") == day)
        expected = np.cumsum(one.get_column("notional").to_numpy()) / np.cumsum(
            one.get_column("volume").to_numpy()
        )
        np.testing.assert_allclose(one.get_column("session_vwap").to_numpy(), expected)


def test_unknown_interval_is_refused(reader: data.LakeReader) -> None:
    with pytest.raises(ValueError, match="unknown bar interval '2m'"):
        data.symbol_bars(reader, "ACME", "2m", DAY_1, DAY_1)


@pytest.mark.parametrize("interval", data.INTERVALS)
def test_session_metrics_equal_the_trades_at_every_interval(
    reader: data.LakeReader, lake_root: str, interval: str
) -> None:
    trades = _trades(lake_root, "ACME", DAY_2)
    price = trades.column("price").to_numpy()
    size = trades.column("size").to_numpy()
    side = trades.column("side").to_numpy()
    previous = _trades(lake_root, "ACME", DAY_1).column("price")[-1].as_py()

    bars = data.symbol_bars(reader, "ACME", interval, DAY_2, DAY_2)
    metrics = data.session_metrics(bars, DAY_2, data.previous_close(reader, "ACME", DAY_2))

    assert metrics is not None
    assert metrics.last == price[-1]
    assert metrics.reference == previous
    assert metrics.reference_name == "previous close"
    assert metrics.change_pct == pytest.approx(100 * (price[-1] / previous - 1))
    assert metrics.volume == pytest.approx(size.sum())
    assert metrics.trades == len(price)
    assert metrics.realized_vol == pytest.approx(math.sqrt((np.diff(np.log(price)) ** 2).sum()))
    assert metrics.ofi == pytest.approx(
        (size[side == 1].sum() - size[side == -1].sum()) / size.sum()
    )


def test_first_days_change_is_against_the_open(reader: data.LakeReader, lake_root: str) -> None:
    price = _trades(lake_root, "BOLT", DAY_1).column("price").to_numpy()
    bars = data.symbol_bars(reader, "BOLT", "1m", DAY_1, DAY_1)

    metrics = data.session_metrics(bars, DAY_1, data.previous_close(reader, "BOLT", DAY_1))

    assert metrics is not None
    assert metrics.reference_name == "open"
    assert metrics.reference == price[0]


def test_session_metrics_of_a_day_without_bars_is_none(reader: data.LakeReader) -> None:
    bars = data.symbol_bars(reader, "ACME", "1m", DAY_1, DAY_2)
    assert data.session_metrics(bars, date(2026, 1, 7), None) is None


def test_universe_summary_as_of_a_day(reader: data.LakeReader, lake_root: str) -> None:
    summary = data.universe_summary(reader, as_of=DAY_1)
    assert summary.get_column("symbol").to_list() == ["ACME", "BOLT"]
    assert set(summary.get_column("date")) == {DAY_1}

    latest = data.universe_summary(reader)
    acme = latest.row(0, named=True)
    day_1_close = _trades(lake_root, "ACME", DAY_1).column("price")[-1].as_py()
    day_2 = _trades(lake_root, "ACME", DAY_2)
    assert acme["date"] == DAY_2
    assert acme["last"] == day_2.column("price")[-1].as_py()
    assert acme["change_pct"] == pytest.approx(100 * (acme["last"] / day_1_close - 1))
    assert acme["trades"] == day_2.num_rows


def test_a_new_reader_sees_datasets_that_got_their_first_files(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    before = data.LakeReader(root)
    write_demo_lake(root, minutes=30)

    assert data.symbols_with_bars(before) == []  # views made over an empty lake stay empty
    assert data.symbols_with_bars(data.LakeReader(root)) == ["ACME", "BOLT"]


@pytest.mark.parametrize(
    ("value", "text"), [(11_887_656, "11.9M"), (252_150, "252.2K"), (999, "999"), (2.5e9, "2.5B")]
)
def test_compact_number_fits_a_metric_tile(value, text):
    from dashboards.charts import compact_number

    assert compact_number(value) == text


# ------------------------------------------------------------------------------ trading path
def test_empty_lake_has_no_trading_answers(tmp_path: Path) -> None:
    empty = data.LakeReader(str(tmp_path / "lake"))
    assert data.trading_accounts(empty) == []
    assert data.pnl_samples(empty, "paper").is_empty()
    assert data.account_metrics(data.pnl_samples(empty, "paper")) is None
    assert data.latest_positions(empty, "paper").is_empty()
    assert data.latest_targets(empty).is_empty()
    assert data.risk_events(empty, "paper").is_empty()
    assert data.blotter_options(empty, "paper") == data.BlotterOptions([], [], None, None)


def _pnl(days_and_equity: list[tuple[date, float]]) -> pl.DataFrame:
    from datetime import UTC, datetime, time

    return pl.DataFrame(
        {
            "ts": [datetime.combine(d, time(14, i), UTC) for i, (d, _) in enumerate(days_and_equity)],
            "date": [d for d, _ in days_and_equity],
            "cash": [e for _, e in days_and_equity],
            "equity": [e for _, e in days_and_equity],
            "gross_exposure": [0.0] * len(days_and_equity),
            "net_exposure": [0.0] * len(days_and_equity),
            "realized_pnl": [0.0] * len(days_and_equity),
            "unrealized_pnl": [0.0] * len(days_and_equity),
            "fees": [0.0] * len(days_and_equity),
        }
    )


def test_day_pnl_is_against_the_previous_days_last_equity() -> None:
    metrics = data.account_metrics(
        _pnl([(DAY_1, 100.0), (DAY_1, 120.0), (DAY_1, 110.0), (DAY_2, 90.0), (DAY_2, 105.0)])
    )
    assert metrics.day == DAY_2
    assert metrics.equity == 105.0
    assert metrics.day_pnl == pytest.approx(-5.0)
    assert metrics.total_pnl == pytest.approx(5.0)
    assert metrics.max_drawdown == pytest.approx(30.0 / 120.0)


def test_weights_against_targets_convert_positions_and_weights_at_the_mark() -> None:
    positions = pl.DataFrame(
        {"symbol": ["ACME", "BOLT"], "quantity": [10.0, -5.0], "mark_price": [100.0, 50.0],
         "market_value": [1000.0, -250.0]}  # fmt: skip
    )
    targets = pl.DataFrame(
        {"symbol": ["ACME", "BOLT"], "kind": ["weight", "position"], "target": [0.2, -5.0]}
    )
    weights = data.weights_against_targets(positions, targets, 10_000.0)
    rows = {r["symbol"]: r for r in weights.iter_rows(named=True)}
    assert rows["ACME"]["weight"] == pytest.approx(0.1)
    assert rows["ACME"]["target_quantity"] == pytest.approx(20.0)
    assert rows["ACME"]["weight_gap"] == pytest.approx(-0.1)
    assert rows["BOLT"]["target_weight"] == pytest.approx(-0.025)
    assert rows["BOLT"]["weight_gap"] == pytest.approx(0.0)


def test_flow_runs_of_an_unreachable_api_raise_and_the_loader_says_why() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    result = data.load_flow_runs.__wrapped__(url, 5)
    assert result.runs is None
    assert result.error.startswith("ConnectionError: nothing listens at 127.0.0.1:")  # fails fast
