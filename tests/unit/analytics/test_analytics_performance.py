"""Performance metrics against hand-computed values on tiny arrays."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import numpy as np
import pytest

from shriven.analytics import performance as perf
from shriven.analytics.conventions import CRYPTO, EQUITIES

# The running example: three periods, +10%, -5%, +2%.
R = [0.1, -0.05, 0.02]
# wealth 1 -> 1.1 -> 1.045 -> 1.0659
TOTAL = 1.1 * 0.95 * 1.02 - 1  # 0.0659
MEAN = 0.07 / 3
# sum of squares about the mean: sum(r^2) - n * mean^2 = 0.0129 - 0.0049 / 3
SS = 0.0129 - 0.07**2 / 3
VAR_SAMPLE = SS / 2  # ddof 1
VAR_POPULATION = SS / 3  # ddof 0
YEAR_NS = int(365.25 * 86_400 * 1e9)


# -- returns and growth -------------------------------------------------------------------------


def test_simple_and_log_returns_from_equity():
    equity = [100.0, 110.0, 104.5, 106.59]
    np.testing.assert_allclose(perf.simple_returns(equity), R, rtol=1e-12)
    np.testing.assert_allclose(
        perf.log_returns(equity), [math.log(1.1), math.log(0.95), math.log(1.02)], rtol=1e-12
    )


def test_wealth_index_and_cumulative_return():
    np.testing.assert_allclose(perf.wealth_index(R), [1.0, 1.1, 1.045, 1.0659], rtol=1e-12)
    assert perf.cumulative_return(R) == pytest.approx(0.0659, rel=1e-12)


def test_cagr_by_periods_252_vs_365():
    # (1 + total) ** (ppy / n) - 1 with n = 3
    assert perf.cagr(R, EQUITIES) == pytest.approx(1.0659 ** (252 / 3) - 1, rel=1e-10)
    assert perf.cagr(R, CRYPTO) == pytest.approx(1.0659 ** (365 / 3) - 1, rel=1e-10)


def test_cagr_by_calendar_time_uses_the_timestamps_span():
    # equity points at 0, 1, 1.5 and 2 Julian years: two years, whatever the period count
    ts = np.array([0, YEAR_NS, YEAR_NS * 3 // 2, 2 * YEAR_NS], dtype=np.int64)
    assert perf.cagr_by_time(R, ts) == pytest.approx(1.0659**0.5 - 1, rel=1e-10)
    as_datetime = ts.astype("datetime64[ns]")
    assert perf.cagr_by_time(R, as_datetime) == pytest.approx(1.0659**0.5 - 1, rel=1e-10)
    # periods per year play no part
    assert perf.cagr_by_time(R, ts, CRYPTO) == perf.cagr_by_time(R, ts, EQUITIES)


# -- volatility and ratios ------------------------------------------------------------------------


def test_annualized_volatility_sample_std():
    assert perf.annualized_volatility(R, EQUITIES) == pytest.approx(
        math.sqrt(VAR_SAMPLE * 252), rel=1e-12
    )


def test_annualisation_252_vs_365_scales_by_sqrt_ratio():
    ratio = math.sqrt(365 / 252)
    assert perf.annualized_volatility(R, CRYPTO) == pytest.approx(
        perf.annualized_volatility(R, EQUITIES) * ratio, rel=1e-12
    )
    assert perf.sharpe_ratio(R, CRYPTO) == pytest.approx(
        perf.sharpe_ratio(R, EQUITIES) * ratio, rel=1e-12
    )
    assert perf.sortino_ratio(R, CRYPTO) == pytest.approx(
        perf.sortino_ratio(R, EQUITIES) * ratio, rel=1e-12
    )


def test_ddof_changes_volatility_by_sqrt_n_over_n_minus_1():
    population = perf.annualized_volatility(R, EQUITIES.with_(ddof=0))
    assert population == pytest.approx(math.sqrt(VAR_POPULATION * 252), rel=1e-12)
    assert perf.annualized_volatility(R, EQUITIES) / population == pytest.approx(
        math.sqrt(3 / 2), rel=1e-12
    )


def test_sharpe_without_risk_free():
    assert perf.sharpe_ratio(R) == pytest.approx(
        MEAN / math.sqrt(VAR_SAMPLE) * math.sqrt(252), rel=1e-12
    )


def test_sharpe_subtracts_the_compounded_per_period_risk_free():
    c = EQUITIES.with_(risk_free_rate=0.05)
    rf = 1.05 ** (1 / 252) - 1  # compound conversion; std of r - rf equals std of r
    assert perf.sharpe_ratio(R, c) == pytest.approx(
        (MEAN - rf) / math.sqrt(VAR_SAMPLE) * math.sqrt(252), rel=1e-10
    )
    simple = c.with_(rf_conversion="simple")
    assert perf.sharpe_ratio(R, simple) == pytest.approx(
        (MEAN - 0.05 / 252) / math.sqrt(VAR_SAMPLE) * math.sqrt(252), rel=1e-10
    )


def test_sortino_downside_deviation_over_all_periods():
    # only -0.05 falls below the 0 target: sqrt(0.05^2 / 3) over all three periods
    assert perf.downside_deviation(R) == pytest.approx(math.sqrt(0.0025 / 3), rel=1e-12)
    assert perf.sortino_ratio(R) == pytest.approx(
        MEAN / math.sqrt(0.0025 / 3) * math.sqrt(252), rel=1e-12
    )
    # downside_ddof 1 divides by n - 1 instead
    assert perf.downside_deviation(R, EQUITIES.with_(downside_ddof=1)) == pytest.approx(
        math.sqrt(0.0025 / 2), rel=1e-12
    )


def test_sortino_is_nan_without_a_loss_and_sharpe_nan_without_dispersion():
    assert math.isnan(perf.sortino_ratio([0.01, 0.02]))
    assert math.isnan(perf.sharpe_ratio([0.01, 0.01, 0.01]))


def test_calmar_is_cagr_over_max_drawdown():
    assert perf.calmar_ratio(R) == pytest.approx((1.0659 ** (252 / 3) - 1) / 0.05, rel=1e-10)
    assert math.isnan(perf.calmar_ratio([0.01, 0.02]))


# -- drawdowns ----------------------------------------------------------------------------------


def test_underwater_and_max_drawdown():
    # wealth 1, 1.1, 1.045, 1.0659; peaks 1, 1.1, 1.1, 1.1
    np.testing.assert_allclose(
        perf.underwater(R), [0.0, 0.0, 1.045 / 1.1 - 1, 1.0659 / 1.1 - 1], atol=1e-15
    )
    assert perf.max_drawdown(R) == pytest.approx(-0.05, rel=1e-12)
    assert perf.max_drawdown([-0.1, 0.05]) == pytest.approx(-0.1, rel=1e-12)  # first period counts
    assert perf.max_drawdown([0.01, 0.02]) == 0.0


def test_drawdown_duration_recovered():
    # wealth 1, 1.1, 1.045, 1.0659, 1.108536: peak at 1, trough at 2, back above 1.1 at 4
    longest = perf.max_drawdown_duration([0.1, -0.05, 0.02, 0.04])
    assert longest is not None
    assert (longest.peak_index, longest.trough_index, longest.recovery_index) == (1, 2, 4)
    assert longest.duration_periods == 3
    assert longest.recovered
    assert longest.depth == pytest.approx(-0.05, rel=1e-12)


def test_drawdown_duration_unrecovered_runs_to_the_end():
    longest = perf.max_drawdown_duration(R)
    assert longest is not None
    assert longest.recovery_index is None
    assert not longest.recovered
    assert longest.duration_periods == 2  # peak at point 1, last point 3


def test_drawdown_episodes_in_periods_and_calendar_time():
    returns = [0.1, -0.05, 0.06, -0.1, 0.01, 0.01]
    # wealth 1, 1.1, 1.045, 1.1077, 0.99693, 1.0069, 1.01697
    # episode 1: peak 1 -> recovery 3 (1.1077 >= 1.1); episode 2: peak 3, never recovered
    days = np.array([0, 1, 2, 5, 6, 7, 10], dtype="datetime64[D]")
    first, second = perf.drawdowns(returns, days)
    assert (first.peak_index, first.recovery_index, first.duration_periods) == (1, 3, 2)
    assert first.duration == dt.timedelta(days=4)  # day 1 -> day 5
    assert (second.peak_index, second.recovery_index, second.duration_periods) == (3, None, 3)
    assert second.trough_index == 4
    assert second.depth == pytest.approx(0.9 - 1, rel=1e-12)
    assert second.duration == dt.timedelta(days=5)  # day 5 -> day 10 (the end)
    longest = perf.max_drawdown_duration(returns, days)
    assert longest == second


def test_no_drawdown_gives_none():
    assert perf.drawdowns([0.01, 0.0, 0.02]) == []
    assert perf.max_drawdown_duration([0.01, 0.0, 0.02]) is None


# -- benchmark ----------------------------------------------------------------------------------

BENCH = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
STRATEGY = 0.001 + 2.0 * BENCH  # beta exactly 2, alpha 0.001 per period


def test_beta_and_alpha_on_a_constructed_series():
    assert perf.beta(STRATEGY, BENCH) == pytest.approx(2.0, rel=1e-12)
    assert perf.alpha(STRATEGY, BENCH) == pytest.approx(0.001 * 252, rel=1e-9)
    assert perf.alpha(STRATEGY, BENCH, CRYPTO) == pytest.approx(0.001 * 365, rel=1e-9)


def test_alpha_with_risk_free():
    c = EQUITIES.with_(risk_free_rate=0.05)
    rf = 1.05 ** (1 / 252) - 1
    # mean(r - rf) - 2 * mean(b - rf) = 0.001 - rf + 2 rf
    assert perf.alpha(STRATEGY, BENCH, c) == pytest.approx((0.001 + rf) * 252, rel=1e-9)


def test_beta_of_a_flat_benchmark_is_nan():
    assert math.isnan(perf.beta([0.01, 0.02, -0.01], [0.0, 0.0, 0.0]))


# -- trading statistics -------------------------------------------------------------------------


def test_hit_rate_and_profit_factor():
    assert perf.hit_rate(R) == pytest.approx(2 / 3)
    assert perf.hit_rate([0.01, 0.0, -0.01, 0.02]) == pytest.approx(2 / 3)  # flat period excluded
    assert math.isnan(perf.hit_rate([0.0, 0.0]))
    assert perf.profit_factor(R) == pytest.approx((0.1 + 0.02) / 0.05)  # 2.4
    assert perf.profit_factor([0.01, 0.02]) == math.inf
    assert math.isnan(perf.profit_factor([0.0]))


def test_turnover_is_two_sided_and_starts_from_cash():
    weights = [[0.5, 0.5], [0.6, 0.4], [0.6, 0.4], [0.0, 1.0]]
    # |0.5|+|0.5| = 1.0 from cash; |0.1|+|-0.1|; nothing; |-0.6|+|0.6|
    np.testing.assert_allclose(perf.turnover(weights), [1.0, 0.2, 0.0, 1.2], atol=1e-15)
    np.testing.assert_allclose(
        perf.turnover(weights, initial=[0.5, 0.5]), [0.0, 0.2, 0.0, 1.2], atol=1e-15
    )


def test_weights_and_exposure_from_positions():
    quantities = [[10.0, -5.0], [0.0, 5.0]]
    prices = [[10.0, 20.0], [11.0, 22.0]]
    gross, net = perf.exposure(quantities, prices)
    np.testing.assert_allclose(gross, [100 + 100, 110])
    np.testing.assert_allclose(net, [100 - 100, 110])
    gross_fraction, net_fraction = perf.exposure(quantities, prices, equity=[200.0, 220.0])
    np.testing.assert_allclose(gross_fraction, [1.0, 0.5])
    np.testing.assert_allclose(net_fraction, [0.0, 0.5])
    weights = perf.weights_from_positions(quantities, prices, [200.0, 220.0])
    np.testing.assert_allclose(weights, [[0.5, -0.5], [0.0, 0.5]])
    # from cash |0.5| + |-0.5|; then |0 - 0.5| + |0.5 - (-0.5)|
    np.testing.assert_allclose(perf.turnover(weights), [1.0, 1.5])


# -- rolling ------------------------------------------------------------------------------------


def test_rolling_sharpe_by_hand():
    out = perf.rolling_sharpe(R, 2)
    assert math.isnan(out[0])
    # window [0.1, -0.05]: mean 0.025, sample std 0.15 / sqrt(2)
    assert out[1] == pytest.approx(0.025 / (0.15 / math.sqrt(2)) * math.sqrt(252), rel=1e-12)
    # window [-0.05, 0.02]: mean -0.015, sample std 0.07 / sqrt(2)
    assert out[2] == pytest.approx(-0.015 / (0.07 / math.sqrt(2)) * math.sqrt(252), rel=1e-12)


def test_rolling_volatility_matches_the_full_metric_on_each_window():
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0, 0.01, 50)
    out = perf.rolling_volatility(returns, 10)
    assert np.isnan(out[:9]).all()
    for t in (9, 25, 49):
        assert out[t] == pytest.approx(
            perf.annualized_volatility(returns[t - 9 : t + 1]), rel=1e-12
        )


def test_rolling_beta_of_a_constructed_series():
    out = perf.rolling_beta(STRATEGY, BENCH, 3)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], 2.0, rtol=1e-12)


@pytest.mark.parametrize("metric", ["sharpe", "volatility", "beta"])
def test_rolling_metrics_are_point_in_time(metric):
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0005, 0.01, 60)
    bench = rng.normal(0.0, 0.01, 60)
    changed = returns.copy()
    changed[40:] = rng.normal(0.05, 0.2, 20)  # rewrite the future after t = 39

    def run(values):
        if metric == "sharpe":
            return perf.rolling_sharpe(values, 20)
        if metric == "volatility":
            return perf.rolling_volatility(values, 20)
        return perf.rolling_beta(values, bench, 20)

    before, after = run(returns), run(changed)
    np.testing.assert_array_equal(before[:40], after[:40])
    assert not np.allclose(before[40:], after[40:])


def test_rolling_window_longer_than_sample_is_all_nan():
    assert np.isnan(perf.rolling_sharpe(R, 5)).all()


# -- summary ------------------------------------------------------------------------------------


def test_summary_from_equity_equals_summary_from_returns():
    from_equity = perf.summary(equity=[100.0, 110.0, 104.5, 106.59])
    from_returns = perf.summary(returns=R)
    for key, value in from_returns.as_dict().items():
        other = from_equity.as_dict()[key]
        if isinstance(value, float):
            assert other == pytest.approx(value, rel=1e-9, nan_ok=True), key
        else:
            assert other == value, key


def test_summary_headline_values():
    days = np.array([0, 1, 2, 3], dtype="datetime64[D]")
    s = perf.summary(returns=R, benchmark=[0.05, -0.025, 0.01], timestamps=days)
    assert s.periods == 3
    assert s.total_return == pytest.approx(TOTAL, rel=1e-12)
    assert s.max_drawdown == pytest.approx(-0.05, rel=1e-12)
    assert s.max_drawdown_duration_periods == 2
    assert s.max_drawdown_duration_days == pytest.approx(2.0)
    assert not s.max_drawdown_recovered
    assert s.value_at_risk == pytest.approx(0.043, rel=1e-12)
    assert s.conditional_value_at_risk == pytest.approx(0.05, rel=1e-12)
    assert s.beta == pytest.approx(2.0, rel=1e-12)  # R = 2 * benchmark exactly
    assert s.alpha == pytest.approx(0.0, abs=1e-12)
    assert s.cagr_by_time == pytest.approx(1.0659 ** (365.25 / 3) - 1, rel=1e-9)
    assert s.best_period == 0.1
    assert s.worst_period == -0.05
    d = s.as_dict()
    assert d["conventions.periods_per_year"] == 252
    assert "conventions" not in d


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: perf.cumulative_return([]), "at least 1"),
        (lambda: perf.sharpe_ratio([0.01, math.nan, 0.02]), "NaN"),
        (lambda: perf.cagr([0.01, math.inf]), "NaN/infinite"),
        (lambda: perf.max_drawdown([0.1, -1.0]), "> -1"),
        (lambda: perf.annualized_volatility([0.01]), "at least 2"),
        (lambda: perf.sharpe_ratio([[0.01, 0.02]]), "1-D"),
        (lambda: perf.sharpe_ratio(["a", "b"]), "numeric"),
        (lambda: perf.simple_returns([100.0]), "at least 2"),
        (lambda: perf.simple_returns([100.0, 0.0]), "> 0"),
        (lambda: perf.value_at_risk(R, confidence=1.5), "confidence"),
        (lambda: perf.beta(R, [0.01, 0.02]), "align"),
        (lambda: perf.cagr_by_time(R, np.arange(3)), "len\\(returns\\) \\+ 1"),
        (lambda: perf.cagr_by_time(R, np.array([0, 2, 1, 3])), "increasing"),
        (lambda: perf.cagr_by_time(R, np.array([0.0, 1.0, 2.0, 3.0])), "datetime64"),
        (lambda: perf.rolling_sharpe(R, 1), "window"),
        (lambda: perf.summary(), "exactly one"),
        (lambda: perf.summary(equity=[1.0, 2.0], returns=R), "exactly one"),
        (lambda: perf.summary(returns=[0.01]), "at least 2"),
        (lambda: perf.turnover([[0.5, math.nan]]), "NaN"),
        (lambda: perf.exposure([[1.0, 2.0]], [[1.0]]), "same shape"),
    ],
)
def test_bad_input_raises_value_error_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_drop_nan_is_the_explicit_way_out():
    returns = [0.01, math.nan, 0.02]
    days = np.array([1, 2, 3], dtype="datetime64[D]")
    kept, kept_days = perf.drop_nan(returns, days)
    np.testing.assert_array_equal(kept, [0.01, 0.02])
    np.testing.assert_array_equal(kept_days, np.array([1, 3], dtype="datetime64[D]"))
    assert perf.cumulative_return(kept) == pytest.approx(1.01 * 1.02 - 1)


def test_the_analytics_core_imports_no_adapter_framework():
    code = (
        "import sys, shriven.analytics, shriven.analytics.tearsheet; "
        "bad = {m.split('.')[0] for m in sys.modules} & {'prefect', 'streamlit', 'fastapi'}; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
