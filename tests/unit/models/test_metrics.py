"""Signal metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models.metrics import (
    CorrelationMethod,
    auc,
    evaluate,
    hit_rate,
    information_coefficient,
    mean_period_ic,
    net_pnl,
    period_ic,
    positions_from_predictions,
    sharpe_ratio,
    signal_sharpe,
)


def test_pearson_ic_by_hand() -> None:
    # centred: p (-1.5 -.5 .5 1.5), y (-1.5 .5 -.5 1.5); cov 4, both sums of squares 5
    assert information_coefficient([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_spearman_ic_ignores_scale_and_averages_ties() -> None:
    p = np.array([1.0, 2.0, 3.0, 100.0])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert information_coefficient(p, y, method="spearman") == pytest.approx(1.0)
    assert information_coefficient(p, y) < 0.9
    # ranks (1.5, 1.5, 3) vs (1, 2, 3): cov 1.5, sums of squares 1.5 and 2
    value = information_coefficient([1, 1, 2], [1, 2, 3], method=CorrelationMethod.SPEARMAN)
    assert value == pytest.approx(1.5 / math.sqrt(3.0))


def test_ic_drops_nan_pairs_and_is_nan_when_undefined() -> None:
    assert information_coefficient([1, 2, np.nan, 4], [1, 3, 9, 2]) == pytest.approx(
        information_coefficient([1, 2, 4], [1, 3, 2])
    )
    assert math.isnan(information_coefficient([1, 1, 1], [1, 2, 3]))
    assert math.isnan(information_coefficient([1.0], [2.0]))
    with pytest.raises(ValueError, match="one length"):
        information_coefficient([1, 2], [1, 2, 3])


def test_period_ic_and_its_mean() -> None:
    p = np.array([1, 2, 3, 1, 2, 3, 7], dtype=float)
    y = np.array([1, 2, 3, 1, 3, 2, 5], dtype=float)
    period = np.array([0, 0, 0, 1, 1, 1, 2])
    table = period_ic(p, y, period)
    assert table["period"].to_list() == [0, 1, 2]
    assert table["n"].to_list() == [3, 3, 1]
    ics = table["ic"].to_list()
    # period 1: centred (-1 0 1) vs (-1 1 0): cov 1, sums of squares 2 and 2
    assert ics[0] == pytest.approx(1.0)
    assert ics[1] == pytest.approx(0.5)
    assert math.isnan(ics[2])  # one symbol: no cross-section
    assert mean_period_ic(p, y, period) == pytest.approx(0.75)
    assert mean_period_ic(p, y, period, method="spearman") == pytest.approx(0.75)
    assert math.isnan(mean_period_ic(p[6:], y[6:], period[6:]))


def test_hit_rate_ignores_zero_predictions() -> None:
    p = [1.0, -1.0, 0.0, 2.0, -3.0]
    y = [0.5, 0.2, -1.0, -0.1, -0.4]
    # bets at 0, 1, 3, 4: right, wrong, wrong, right
    assert hit_rate(p, y) == pytest.approx(0.5)
    assert hit_rate([1.0], [0.0]) == 0.0  # a flat outcome is a miss
    assert math.isnan(hit_rate([0.0, 0.0], [1.0, -1.0]))


def test_auc_by_hand_and_against_sklearn() -> None:
    value, reason = auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert value == pytest.approx(0.75)
    assert reason is None
    assert auc([1.0, 1.0], [False, True])[0] == pytest.approx(0.5)  # a tie is half a win
    rng = np.random.default_rng(3)
    scores = rng.normal(size=200).round(1)  # ties on purpose
    labels = rng.random(200) < 0.4
    assert auc(scores, labels)[0] == pytest.approx(roc_auc_score(labels, scores))


def test_auc_of_one_class_is_nan_with_reason() -> None:
    value, reason = auc([0.1, 0.2, 0.3], [1, 1, 1])
    assert math.isnan(value)
    assert "one class" in reason


def test_positions_are_scaled_and_clipped() -> None:
    pos = positions_from_predictions(np.array([0.5, -3.0, np.nan, 1.0, 0.2]), scale=0.5, limit=1.0)
    np.testing.assert_allclose(pos, [1.0, -1.0, 0.0, 1.0, 0.4])
    with pytest.raises(ValueError, match="scale"):
        positions_from_predictions(np.array([1.0]), scale=0.0)


def test_net_pnl_charges_costs_on_position_changes() -> None:
    pnl = net_pnl([0.5, 1.0, -1.0], [0.02, -0.01, 0.03], cost_bps=10.0)
    # trades 0.5, 0.5, 2.0 at 10 bps
    np.testing.assert_allclose(pnl, [0.0095, -0.0105, -0.032])
    # each symbol's first row trades from flat
    pnl = net_pnl([1.0, 1.0, 1.0, 1.0], [0.0] * 4, cost_bps=10.0, symbol=["A", "A", "B", "B"])
    np.testing.assert_allclose(pnl, [-0.001, 0.0, -0.001, 0.0])
    with pytest.raises(ValueError, match="cost_bps"):
        net_pnl([1.0], [0.0], cost_bps=-1.0)


def test_sharpe_ratio_by_hand() -> None:
    # mean 0.02, std (ddof 1) 0.01, sqrt(4) = 2
    assert sharpe_ratio([0.01, 0.02, 0.03], periods_per_year=4) == pytest.approx(4.0)
    assert math.isnan(sharpe_ratio([0.01], periods_per_year=252))
    assert math.isnan(sharpe_ratio([0.01, 0.01], periods_per_year=252))
    with pytest.raises(ValueError, match="periods_per_year"):
        sharpe_ratio([0.01, 0.02], periods_per_year=0)


def test_signal_sharpe_of_a_panel_after_costs() -> None:
    position = [1.0, 1.0, 1.0, 1.0]
    ret = [0.01, 0.03, 0.01, 0.05]
    symbol = ["A", "A", "B", "B"]
    period = [0, 1, 0, 1]
    # period means 0.01, 0.04: mean 0.025, std 0.03 / sqrt(2)
    gross = signal_sharpe(position, ret, cost_bps=0.0, periods_per_year=1, period=period, symbol=symbol)
    assert gross == pytest.approx(0.025 / (0.03 / math.sqrt(2)))
    # 100 bps to enter both: period means 0.0, 0.04 -> mean 0.02, std 0.04 / sqrt(2)
    net = signal_sharpe(position, ret, cost_bps=100.0, periods_per_year=1, period=period, symbol=symbol)
    assert net == pytest.approx(1 / math.sqrt(2))


def test_evaluate_explains_every_nan() -> None:
    metrics = evaluate(
        np.array([0.1, 0.2, 0.3]),
        np.array([0.01, -0.02, 0.03]),
        period=np.array([0, 1, 2]),
        symbol=np.array(["A", "A", "A"]),
        position=np.array([1.0, 1.0, 1.0]),
        cost_bps=0.0,
        periods_per_year=252,
        positive=np.array([True, True, True]),
    )
    assert metrics.n == 3
    assert metrics.hit_rate == pytest.approx(2 / 3)
    assert math.isnan(metrics.auc)
    assert "one class" in metrics.reasons["auc"]
    assert math.isnan(metrics.mean_period_ic)
    assert "mean_period_ic" in metrics.reasons
    assert metrics.turnover == pytest.approx(1 / 3)
    as_dict = metrics.as_dict()
    assert as_dict["auc"] is None
    assert as_dict["n"] == 3
