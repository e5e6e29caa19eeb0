"""An account's trading datasets read back from the lake, and its tearsheet written or skipped."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from shriven.analytics.conventions import CRYPTO, EQUITIES
from shriven.analytics.lake_inputs import (
    MIN_POINTS,
    accounts_in,
    conventions_for,
    list_accounts,
    load_account,
    report_account,
    resample_equity,
    sampling_interval,
    table_rows,
)
from shriven.analytics.tearsheet import SECTION_TITLES
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.schemas import FILLS, PNL, POSITIONS

DAYS = [dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)]
NS = 1_000_000_000


def _ts(day: dt.date, minutes: range) -> list[int]:
    midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * NS
    return [midnight + (10 * 60 + m) * 60 * NS for m in minutes]


def _pnl(ts: list[int], seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    equity = 1_000_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.001, len(ts)))
    exposure = np.full(len(ts), 50_000.0)
    zeros = np.zeros(len(ts))
    columns = {
        "ts": pa.array(ts, pa.int64()), "cash": equity - exposure, "equity": equity,
        "gross_exposure": exposure, "net_exposure": exposure, "realized_pnl": zeros,
        "unrealized_pnl": zeros, "fees": zeros,
    }  # fmt: skip
    return pa.table(columns).cast(PNL)


def _fills(ts: list[int]) -> pa.Table:
    n = len(ts)
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()), "client_order_id": [f"o{i}" for i in range(n)],
            "strategy_id": ["s"] * n, "symbol": ["ACME"] * n, "venue": ["sim"] * n,
            "trade_id": [f"t{i}" for i in range(n)], "side": ["buy", "sell"] * (n // 2),
            "price": [100.0, 101.0] * (n // 2), "quantity": [10.0] * n, "fee": [0.1] * n,
            "liquidity": ["taker"] * n,
        }
    ).cast(FILLS)  # fmt: skip


def _positions(ts: int) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([ts], pa.int64()), "symbol": ["ACME"], "quantity": [0.0], "avg_cost": [None],
            "mark_price": [101.0], "market_value": [0.0], "realized_pnl": [10.0], "unrealized_pnl": [0.0],
            "fees": [0.2],
        }
    ).cast(POSITIONS)  # fmt: skip


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> str:
    """Account ``paper`` trades three days (a minute curve), ``other`` only the first, ``thin`` has 2 samples."""
    root = str(tmp_path_factory.mktemp("lake") / "lake")
    lake = Lake(root)
    for i, day in enumerate(DAYS):
        window = Window.days(day)
        ts = _ts(day, range(60))
        lake.write_window("pnl", _pnl(ts, seed=i), window, partition={"account": "paper"})
        lake.write_window("fills", _fills(ts[5:9]), window, partition={"account": "paper"})
        lake.write_window("positions", _positions(ts[-1]), window, partition={"account": "paper"})
    first = Window.days(DAYS[0])
    lake.write_window("pnl", _pnl(_ts(DAYS[0], range(30)), seed=9), first, partition={"account": "other"})
    lake.write_window("pnl", _pnl(_ts(DAYS[0], range(2)), seed=8), first, partition={"account": "thin"})
    lake.write_window("pnl", _pnl(_ts(DAYS[0], range(10)), seed=7), first, partition={"account": "backtest-x"})
    return root


def test_list_accounts_by_date_range(lake_root):
    assert list_accounts(lake_root) == ["backtest-x", "other", "paper", "thin"]
    assert list_accounts(lake_root, start=DAYS[1], end="2026-01-07") == ["paper"]
    assert list_accounts(lake_root, start=dt.date(2027, 1, 1)) == []
    assert list_accounts(lake_root, dataset_name="fills") == ["paper"]
    assert accounts_in(list_accounts(lake_root), include_backtests=False) == ["other", "paper", "thin"]
    with pytest.raises(ValueError, match="dataset_name"):
        list_accounts(lake_root, dataset_name="orders")


def test_list_accounts_of_an_empty_lake(tmp_path):
    assert list_accounts(str(tmp_path / "nothing")) == []


def test_load_account_reads_the_frames_a_tearsheet_takes(lake_root):
    data = load_account(lake_root, "paper")
    assert not data.empty
    assert data.equity.height == 3 * 60
    assert data.equity.columns == PNL.names
    assert data.equity["ts"].is_sorted()
    assert data.equity.schema["ts"] == pl.Datetime("ns", "UTC")
    assert data.fills.height == 3 * 4
    assert data.fills.columns == FILLS.names
    assert data.positions.height == 3


def test_load_account_limits_to_the_date_range_inclusive(lake_root):
    data = load_account(lake_root, "paper", start=DAYS[1], end=DAYS[2])
    assert data.equity.height == 2 * 60
    assert data.equity["ts"].min().date() == DAYS[1]
    assert load_account(lake_root, "paper", end="2026-01-05").fills.height == 4
    with pytest.raises(ValueError, match="after end"):
        load_account(lake_root, "paper", start=DAYS[2], end=DAYS[0])


def test_an_account_without_data_is_empty_not_an_error(lake_root):
    data = load_account(lake_root, "ghost")
    assert data.empty
    assert data.equity.columns == PNL.names
    assert data.fills.is_empty()
    assert data.positions.is_empty()
    assert load_account(lake_root, "other", start=DAYS[1]).empty


def test_an_unsafe_account_name_is_refused(lake_root):
    with pytest.raises(ValueError, match="safe path component"):
        load_account(lake_root, "../paper")


def test_resampling_keeps_the_last_sample_of_each_bucket(lake_root):
    data = load_account(lake_root, "paper", interval="1d")
    assert data.equity.height == 3
    full = load_account(lake_root, "paper")
    last_of_days = full.equity.group_by(pl.col("ts").dt.date(), maintain_order=True).agg(pl.col("equity").last())
    assert data.equity["equity"].to_list() == last_of_days["equity"].to_list()
    assert resample_equity(full.equity, "1h").height == 3 * 1  # minutes 0..59 from 10:00: one hour a day
    with pytest.raises(ValueError, match="interval"):
        resample_equity(full.equity, "daily")


def test_sampling_interval_and_its_annualisation(lake_root):
    equity = load_account(lake_root, "paper").equity
    assert sampling_interval(equity) == "60s"  # overnight gaps do not move the median
    assert conventions_for("equities", "1d").periods_per_year == EQUITIES.periods_per_year
    assert conventions_for("crypto", "1d").periods_per_year == CRYPTO.periods_per_year
    assert conventions_for("crypto", "60s").periods_per_year == pytest.approx(365 * 24 * 60)
    assert conventions_for("equities", "60s").periods_per_year == pytest.approx(252 * 6.5 * 60)
    with pytest.raises(ValueError, match="market"):
        conventions_for("bonds", "1d")
    with pytest.raises(ValueError, match="two samples"):
        sampling_interval(equity.head(1))


def test_conflicting_pnl_rows_at_one_ts_raise(tmp_path):
    root = str(tmp_path / "lake")
    ts = _ts(DAYS[0], range(5))
    table = pa.concat_tables([_pnl(ts, seed=1), _pnl(ts[:1], seed=2)])
    Lake(root).write_window("pnl", table, Window.days(DAYS[0]), partition={"account": "bad"})
    with pytest.raises(ValueError, match="inconsistent"):
        load_account(root, "bad")


def test_report_account_writes_the_tearsheet(lake_root, tmp_path):
    path = tmp_path / "reports" / "paper" / "2026-01-07.html"
    report = report_account(lake_root, "paper", str(path), end=DAYS[2], market="crypto")
    assert report.status == "written"
    assert report.path == str(path)
    assert (report.points, report.fills, report.positions, report.interval) == (180, 12, 3, "60s")
    page = path.read_text()
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in page
    assert "No positions given" not in page  # exposure comes from the pnl columns
    assert f"{365 * 24 * 60:g} periods/year" in page
    tables = report.tearsheet.tables
    assert {"metrics", "monthly_returns", "trade_statistics", "exposure"} <= set(tables)
    stats = dict(tables["trade_statistics"].iter_rows())
    assert stats["fills"] == 12
    assert stats["closing trades"] == 6
    assert stats["realized pnl (before fees)"] == pytest.approx(6 * 10.0)
    assert not list(path.parent.glob(".*.tmp"))


def test_report_account_skips_an_account_without_enough_data(lake_root, tmp_path):
    missing = report_account(lake_root, "ghost", str(tmp_path / "ghost.html"))
    assert missing.status == "skipped"
    assert "no pnl rows" in missing.reason
    assert missing.path is None
    thin = report_account(lake_root, "thin", str(tmp_path / "thin.html"))
    assert thin.status == "skipped"
    assert f"at least {MIN_POINTS}" in thin.reason
    assert not list(tmp_path.glob("*.html"))


def test_table_rows_are_json_ready():
    frame = pl.DataFrame(
        {"name": ["a", "b"], "value": [float("inf"), 1.5], "when": [dt.date(2026, 1, 5), None]}
    )
    assert table_rows(frame) == [
        {"name": "a", "value": None, "when": "2026-01-05"},
        {"name": "b", "value": 1.5, "when": None},
    ]
