"""Vectorised backtest: Momentum's semantics as arrays, the accounting of fills and fees, the report."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from shriven.analytics.conventions import CRYPTO, Conventions
from shriven.analytics.performance import max_drawdown, sharpe_ratio, simple_returns
from shriven.model.records import Bar
from shriven.research.vectorised import (
    VECTORISED_BACKTEST,
    backtest,
    ema_cross,
    ema_cross_targets,
    summarise,
)
from shriven.strategy.momentum import Momentum
from shriven.testing.fake_context import FakeContext


def _walk(n: int, seed: int, vol: float = 0.003) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


def _momentum_targets(closes: np.ndarray, **params) -> np.ndarray:
    """The event-driven strategy's target after each bar, through a fake context."""
    strategy = Momentum("m", ("X",), **params)
    ctx = FakeContext(strategy, apply_targets=True)
    out = np.empty(closes.size)
    for i, c in enumerate(closes):
        ctx.feed_bar(Bar(ts=i * 60, end_ts=(i + 1) * 60, symbol="X", open=c, high=c, low=c, close=float(c),
                         volume=1.0, vwap=c, trades=1))  # fmt: skip
        out[i] = ctx.position("X")
    return out


@pytest.mark.parametrize(
    ("fast", "slow", "allow_short", "seed"),
    [(3, 8, True, 1), (5, 20, True, 2), (2, 3, False, 3), (10, 30, False, 4), (1, 2, True, 5)],
)
def test_ema_cross_targets_equal_the_momentum_strategy(fast, slow, allow_short, seed) -> None:
    closes = _walk(3_000, seed)
    expected = _momentum_targets(
        closes, fast=fast, slow=slow, quantity=7.0, allow_short=allow_short
    )
    got = ema_cross_targets(closes, fast=fast, slow=slow, quantity=7.0, allow_short=allow_short)
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(np.diff(got)) > 10


def test_emas_equal_the_strategy_state() -> None:
    closes = _walk(200, 9)
    strategy = Momentum("m", ("X",), fast=4, slow=9, quantity=1.0)
    ctx = FakeContext(strategy, apply_targets=True)
    cross = ema_cross(closes, fast=4, slow=9, quantity=1.0)
    for i, c in enumerate(closes):
        ctx.feed_bar(
            Bar(
                ts=i,
                end_ts=i + 1,
                symbol="X",
                open=c,
                high=c,
                low=c,
                close=float(c),
                volume=1.0,
                vwap=c,
                trades=1,
            )
        )
        assert strategy.emas("X") == (cross.fast_ema[i], cross.slow_ema[i])


def test_no_trade_in_the_warm_up_and_none_before_a_regime_is_set() -> None:
    # rising then falling: the only cross after warm-up is the turn down
    closes = np.concatenate([np.linspace(100, 110, 30), np.linspace(110, 90, 30)])
    target = ema_cross_targets(closes, fast=3, slow=8, quantity=5.0)
    assert (target[:30] == 0).all()  # the regime was set in the warm-up: no trade on it
    assert set(np.unique(target)) == {0.0, -5.0}
    flat = ema_cross_targets(closes, fast=3, slow=8, quantity=5.0, allow_short=False)
    assert (flat == 0).all()
    assert (ema_cross_targets(np.full(50, 100.0), fast=3, slow=8, quantity=5.0) == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fast": 8, "slow": 8, "quantity": 1.0}, "fast < slow"),
        ({"fast": 0, "slow": 8, "quantity": 1.0}, "fast < slow"),
        ({"fast": 2.5, "slow": 8, "quantity": 1.0}, "integers"),
        ({"fast": 2, "slow": 8, "quantity": 0.0}, "quantity"),
    ],
)
def test_ema_cross_rejects_bad_parameters(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        ema_cross_targets(np.ones(10), **kwargs)


def test_fills_fees_cash_and_equity_by_hand() -> None:
    close = np.array([100.0, 101.0, 99.0, 100.0])
    target = np.array([10.0, 10.0, -5.0, 0.0])
    half = np.array([0.05, 0.05, 0.10, 0.05])
    out = backtest(
        close, target, starting_cash=10_000.0, fee_bps=10.0, slippage_bps=20.0, half_spread=half
    ).to_pydict()
    # buy 10 at 100 + 0.05 + 100 * 0.002 = 100.25; sell 15 at 99 - 0.10 - 0.198 = 98.702; buy 5 at 100.25
    fills = [100.25, None, 98.702, 100.25]
    assert out["fill_price"][1] is None
    assert [out["fill_price"][i] for i in (0, 2, 3)] == pytest.approx([fills[i] for i in (0, 2, 3)])
    assert out["trade"] == [10.0, 0.0, -15.0, 5.0]
    assert out["position"] == [10.0, 10.0, -5.0, 0.0]
    fees = [10 * 100.25 * 1e-3, 0.0, 15 * 98.702 * 1e-3, 5 * 100.25 * 1e-3]
    assert out["fee"] == pytest.approx(fees)
    cash = 10_000.0 - 1002.5 - fees[0]
    assert out["cash"][0] == pytest.approx(cash)
    assert out["equity"][0] == pytest.approx(cash + 10 * 100.0)
    assert out["equity"][1] == pytest.approx(cash + 10 * 101.0)
    cash += 15 * 98.702 - fees[2]
    assert out["equity"][2] == pytest.approx(cash - 5 * 99.0)
    cash -= 5 * 100.25 + fees[3]
    assert out["equity"][3] == pytest.approx(cash)
    assert sum(out["pnl"]) == pytest.approx(out["equity"][-1] - 10_000.0)
    # round trips only lose the spread, slippage and fees when the price does not move
    flat = backtest(
        np.full(4, 100.0), np.array([1.0, 0.0, 1.0, 0.0]), starting_cash=1e4, spread_bps=10.0
    )
    assert flat.column("equity")[-1].as_py() == pytest.approx(1e4 - 4 * 0.05)


def test_signals_times_size_and_a_fixed_spread() -> None:
    close = _walk(500, 11)
    signals = np.sign(np.sin(np.arange(500) / 20.0))
    out = backtest(close, signals * 3.0, starting_cash=1e5, spread_bps=4.0)
    trade = out.column("trade").to_numpy()
    fill = out.column("fill_price").to_numpy(zero_copy_only=False)
    traded = trade != 0
    np.testing.assert_allclose(fill[traded], close[traded] * (1 + np.sign(trade[traded]) * 2e-4))
    assert out.column("fill_price").null_count == int((~traded).sum())


def test_given_fill_prices_replace_the_model() -> None:
    close = np.array([10.0, 11.0, 12.0])
    out = backtest(
        close,
        [1.0, 1.0, 0.0],
        starting_cash=100.0,
        spread_bps=50.0,
        fill_prices=[10.5, 0.0, 11.0],
        fee_bps=100,
    )
    assert out.column("fill_price").to_pylist() == [10.5, None, 11.0]
    assert out.column("equity")[-1].as_py() == pytest.approx(100.0 - 10.5 - 0.105 + 11.0 - 0.11)


def test_schema_and_timestamps() -> None:
    ts = np.array(["2026-01-05T14:31", "2026-01-05T14:32"], dtype="datetime64[ns]")
    out = backtest([1.0, 2.0], [0.0, 1.0], starting_cash=10.0, ts=ts)
    assert out.schema.equals(VECTORISED_BACKTEST, check_metadata=False)
    assert out.column("ts").cast(pa.int64()).to_pylist() == ts.astype(np.int64).tolist()
    assert backtest([1.0], [0.0], starting_cash=1.0).column("ts").null_count == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"close": [1.0, 2.0], "target": [1.0]}, "target has 1 values"),
        ({"close": [1.0, math.nan], "target": [1.0, 1.0]}, "close has NaN"),
        ({"close": [1.0, -2.0], "target": [1.0, 1.0]}, "close must be > 0"),
        ({"close": [], "target": []}, "empty"),
        ({"close": [1.0], "target": [1.0], "fee_bps": -1.0}, "fee_bps"),
        ({"close": [1.0], "target": [1.0], "slippage_bps": math.inf}, "slippage_bps"),
        ({"close": [1.0], "target": [1.0], "spread_bps": 1.0, "half_spread": [0.1]}, "not both"),
        ({"close": [1.0], "target": [1.0], "half_spread": [-0.1]}, "half_spread"),
        ({"close": [1.0], "target": [1.0], "starting_cash": 0.0}, "starting_cash"),
        ({"close": [[1.0]], "target": [[1.0]]}, "1-D"),
    ],
)
def test_backtest_rejects_bad_input(kwargs, match) -> None:
    kwargs = {"starting_cash": 100.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        backtest(**kwargs)


def test_summary_is_the_platforms_analytics_of_the_equity_curve() -> None:
    close = _walk(2_000, 21)
    out = backtest(
        close,
        ema_cross_targets(close, fast=5, slow=20, quantity=100.0),
        starting_cash=1e5,
        fee_bps=5,
    )
    conventions = Conventions(periods_per_year=CRYPTO.periods_per_year * 1440)
    report = summarise(out, starting_cash=1e5, conventions=conventions)
    returns = simple_returns(np.concatenate(([1e5], out.column("equity").to_numpy())))
    assert report.periods == 2_000
    assert report.sharpe_ratio == sharpe_ratio(returns, conventions)
    assert report.max_drawdown == max_drawdown(returns)
    assert report.total_return == pytest.approx(
        out.column("equity")[-1].as_py() / 1e5 - 1, rel=1e-9
    )
