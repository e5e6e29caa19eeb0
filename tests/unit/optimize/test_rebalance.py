"""Rebalance core: closes from the lake, the optimiser, and weight signals read back from the log."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from shriven.lake.layout import NS_PER_DAY, Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.model.enums import TargetKind
from shriven.optimize.optimizers import min_variance
from shriven.optimize.rebalance import (
    RebalanceParams,
    append_plan,
    current_positions,
    daily_closes,
    daily_returns,
    plan_rebalance,
)
from shriven.signals.log import SignalLog
from tasks.portfolio import weight_rows

SYMBOLS = ("ACME", "BOLT", "CRUX")
FIRST = date(2026, 1, 5)
NOW = day_start_ns(date(2026, 3, 2)) + 13 * 3600 * 10**9


def _closes(days: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0005, [0.01, 0.02, 0.015], size=(days - 1, 3))
    returns[:, 1] += 0.5 * returns[:, 0]
    return 100.0 * np.vstack([np.ones(3), np.cumprod(1 + returns, axis=0)])


def _bar_table(symbol: str, ts: list[int], close: list[float]) -> pa.Table:
    n = len(ts)
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "symbol": [symbol] * n,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": [1.0] * n,
            "notional": close,
            "vwap": close,
            "trades": pa.array([1] * n, pa.int64()),
            "buy_volume": [0.5] * n,
            "sell_volume": [0.5] * n,
            "realized_vol": [0.0] * n,
            "ofi": [0.0] * n,
        }
    )


def _write_bars(
    lake: Lake, closes: np.ndarray, interval: str = "1d", skip: tuple[int, str] | None = None
) -> list[str]:
    """One bar per day (1d) or two per day (1h, the day's close last) per symbol; ISO dates."""
    dates = []
    for i, row in enumerate(closes):
        day = FIRST + timedelta(days=i)
        dates.append(day.isoformat())
        start = day_start_ns(day)
        for j, symbol in enumerate(SYMBOLS):
            if skip == (i, symbol):
                continue
            if interval == "1d":
                table = _bar_table(symbol, [start], [float(row[j])])
            else:
                hour = 3600 * 10**9
                table = _bar_table(
                    symbol,
                    [start + 14 * hour, start + 15 * hour],
                    [float(row[j]) * 0.99, float(row[j])],
                )
            lake.write_window(f"bars_{interval}", table, Window.days(day), symbols=[symbol])
    return dates


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def test_daily_returns_are_close_to_close_of_the_newest_dates(lake):
    closes = _closes(12)
    dates = _write_bars(lake, closes)
    wide = daily_closes(lake, "1d", 6, SYMBOLS)
    assert wide["date"].to_list() == dates[-6:]
    np.testing.assert_allclose(wide.select(SYMBOLS).to_numpy(), closes[-6:])
    returns, dropped = daily_returns(wide)
    assert dropped == 0
    np.testing.assert_allclose(returns.select(SYMBOLS).to_numpy(), closes[-5:] / closes[-6:-1] - 1)


def test_hourly_bars_are_resampled_to_the_last_close_of_each_date(lake, tmp_path):
    closes = _closes(8)
    _write_bars(lake, closes, interval="1h")
    wide = daily_closes(lake, "1h", 8, SYMBOLS)
    np.testing.assert_allclose(wide.select(SYMBOLS).to_numpy(), closes)


def test_a_missing_close_drops_its_dates_and_counts_them(lake):
    _write_bars(lake, _closes(10), skip=(4, "BOLT"))
    returns, dropped = daily_returns(daily_closes(lake, "1d", 10, SYMBOLS))
    assert dropped == 2  # the returns into and out of the missing day
    assert returns.height == 7


def test_plan_appends_weight_signals_that_read_back(lake, tmp_path):
    _write_bars(lake, _closes(40))
    params = RebalanceParams(method="min_variance", lookback_days=30, covariance="sample")
    plan = plan_rebalance(lake, params, SYMBOLS, now_ns=NOW)
    assert plan.status == "ok", plan.message
    assert plan.observations == 30
    log = SignalLog(lake.root, symbols=SYMBOLS)
    appended = append_plan(log, plan, now_ns=NOW)
    assert appended is not None
    assert (appended.appended, appended.quarantined) == (3, 0)
    signals = log.read_after(-1)
    assert [s.symbol for s in signals] == list(SYMBOLS)
    assert {s.kind for s in signals} == {TargetKind.WEIGHT}
    assert {s.source for s in signals} == {"rebalance:min_variance"}
    assert {s.model_version for s in signals} == {params.model_version}
    assert {s.ts for s in signals} == {NOW}
    weights = np.array([s.target for s in signals])
    np.testing.assert_allclose(weights, plan.result.weights, atol=1e-10)
    assert weights.sum() == pytest.approx(1.0)
    # the same optimiser over the same returns, independently
    returns, _ = daily_returns(daily_closes(lake, "1d", 31, SYMBOLS))
    cov = np.cov(returns.select(SYMBOLS).to_numpy(), rowvar=False)
    np.testing.assert_allclose(weights, min_variance(cov).weights, atol=1e-6)


@pytest.mark.parametrize(
    "method",
    [
        "min_variance",
        "mean_variance",
        "max_sharpe",
        "equal_risk_contribution",
        "hierarchical_risk_parity",
    ],
)
def test_every_method_plans_long_only_weights(lake, method):
    _write_bars(lake, _closes(30))
    plan = plan_rebalance(
        lake, RebalanceParams(method=method, lookback_days=25), SYMBOLS, now_ns=NOW
    )
    assert plan.status == "ok", plan.message
    weights = np.array(list(plan.weights().values()))
    assert weights.sum() == pytest.approx(1.0, abs=1e-8)
    assert np.all(weights >= -1e-10)
    assert {s.source for s in plan.signals} == {f"rebalance:{method}"}


def test_model_version_is_a_stable_short_hash_of_the_parameters():
    a = RebalanceParams(method="max_sharpe", lookback_days=60)
    assert re.fullmatch(r"[0-9a-f]{12}", a.model_version)
    assert a.model_version == RebalanceParams(method="max_sharpe", lookback_days=60).model_version
    assert a.model_version != RebalanceParams(method="max_sharpe", lookback_days=61).model_version
    with pytest.raises(ValueError, match="unknown method"):
        RebalanceParams(method="kelly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lookback_days"):
        RebalanceParams(lookback_days=1)


def test_without_enough_bars_nothing_is_appended(lake):
    plan = plan_rebalance(lake, RebalanceParams(), SYMBOLS, now_ns=NOW)
    assert plan.status == "no_bars"
    assert plan.signals == ()
    assert append_plan(SignalLog(lake.root), plan, now_ns=NOW) is None
    assert SignalLog(lake.root).last_offset() == -1


def test_infeasible_constraints_fail_with_the_reason(lake):
    _write_bars(lake, _closes(20))
    with pytest.raises(ValueError, match="cannot sum to the budget"):
        plan_rebalance(lake, RebalanceParams(upper=0.2), SYMBOLS, now_ns=NOW)


def _write_positions(lake: Lake, day: date, values: dict[str, float], equity: float) -> None:
    ts = day_start_ns(day) + NS_PER_DAY // 2
    stamp = pa.timestamp("ns", tz="UTC")
    n = len(values)
    positions = pa.table(
        {
            "ts": pa.array([ts] * n, pa.int64()).cast(stamp),
            "symbol": list(values),
            "quantity": [v / 100.0 for v in values.values()],
            "avg_cost": [100.0] * n,
            "mark_price": [100.0] * n,
            "market_value": list(values.values()),
            "realized_pnl": [0.0] * n,
            "unrealized_pnl": [0.0] * n,
            "fees": [0.0] * n,
        }
    )
    lake.write_window("positions", positions, Window.days(day), partition={"account": "paper"})
    pnl = pa.table(
        {
            "ts": pa.array([ts], pa.int64()).cast(stamp),
            "cash": [equity - sum(values.values())],
            "equity": [equity],
            "gross_exposure": [sum(abs(v) for v in values.values())],
            "net_exposure": [sum(values.values())],
            "realized_pnl": [0.0],
            "unrealized_pnl": [0.0],
            "fees": [0.0],
        }
    )
    lake.write_window("pnl", pnl, Window.days(day), partition={"account": "paper"})


def test_current_positions_are_weights_of_equity_and_zero_without(lake):
    empty = current_positions(lake, "paper", SYMBOLS)
    assert empty.weights == (0.0, 0.0, 0.0)
    _write_positions(lake, date(2026, 2, 1), {"ACME": 900.0}, 1000.0)
    _write_positions(lake, date(2026, 2, 2), {"ACME": 500.0, "BOLT": 300.0}, 2000.0)
    current = current_positions(lake, "paper", SYMBOLS)
    assert current.weights == pytest.approx((0.25, 0.15, 0.0))
    assert current.quantity == pytest.approx((5.0, 3.0, 0.0))
    assert current.equity == 2000.0
    assert current.as_of_ns == day_start_ns(date(2026, 2, 2)) + NS_PER_DAY // 2
    assert current_positions(lake, "other", SYMBOLS).weights == (0.0, 0.0, 0.0)


def test_turnover_is_measured_from_the_current_positions(lake):
    _write_bars(lake, _closes(40))
    _write_positions(lake, date(2026, 2, 20), {"ACME": 600.0, "BOLT": 300.0, "CRUX": 100.0}, 1000.0)
    params = RebalanceParams(lookback_days=30, max_turnover=0.1)
    plan = plan_rebalance(lake, params, SYMBOLS, now_ns=NOW)
    assert plan.status == "ok", plan.message
    weights = np.array(list(plan.weights().values()))
    assert np.abs(weights - np.array([0.6, 0.3, 0.1])).sum() <= 0.1 + 1e-7
    rows = weight_rows(plan)
    assert [r["symbol"] for r in rows] == list(SYMBOLS)
    assert rows[0]["current_weight"] == pytest.approx(0.6)
    assert rows[0]["change"] == pytest.approx(rows[0]["target_weight"] - 0.6, abs=1e-6)
