"""Each optimiser's defining property: budget, bounds, leverage, turnover, KKT, closed forms."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from shriven.optimize import optimizers
from shriven.optimize.covariance import sample_covariance
from shriven.optimize.optimizers import (
    Constraints,
    equal_risk_contribution,
    hierarchical_risk_parity,
    max_sharpe,
    mean_variance,
    min_variance,
)

N = 6
UNCONSTRAINED = Constraints.unconstrained()


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    rng = np.random.default_rng(42)
    factor = rng.normal(size=(250, 1)) * 0.01
    loadings = rng.uniform(0.3, 1.5, size=(1, N))
    idio = rng.normal(size=(250, N)) * rng.uniform(0.005, 0.02, size=N)
    return factor @ loadings + idio + rng.uniform(0.0001, 0.001, size=N)


@pytest.fixture(scope="module")
def cov(returns) -> np.ndarray:
    return sample_covariance(returns)


@pytest.fixture(scope="module")
def mu() -> np.ndarray:
    """Expected daily returns: all positive, not proportional to risk (a sample mean is noise)."""
    return np.array([0.0004, 0.0009, 0.0002, 0.0012, 0.0006, 0.0003])


def _closed_min_variance(cov: np.ndarray, budget: float = 1.0) -> np.ndarray:
    y = np.linalg.solve(cov, np.ones(len(cov)))
    return budget * y / y.sum()


def _sharpe(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, rf: float = 0.0) -> float:
    return float((mu - rf) @ w / math.sqrt(w @ cov @ w))


# ----------------------------------------------------------------------------- min variance
def test_min_variance_closed_form_and_solver_agree(cov):
    closed = min_variance(cov, UNCONSTRAINED)
    solved = min_variance(cov, UNCONSTRAINED, solver="slsqp")
    assert closed.message == "closed form"
    assert solved.converged, solved.message
    np.testing.assert_allclose(closed.weights, _closed_min_variance(cov), rtol=1e-10)
    np.testing.assert_allclose(solved.weights, closed.weights, atol=1e-6)
    assert np.any(closed.weights < 0)  # the test only means something if shorting matters


def test_min_variance_first_order_conditions_hold_with_binding_bounds(cov):
    constraints = Constraints(lower=0.0, upper=0.3)
    result = min_variance(cov, constraints)
    w = result.weights
    assert result.converged, result.message
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(w >= -1e-9)
    assert np.all(w <= 0.3 + 1e-9)
    gradient = cov @ w
    interior = (w > 1e-6) & (w < 0.3 - 1e-6)
    at_lower = w <= 1e-6
    at_upper = w >= 0.3 - 1e-6
    assert interior.sum() >= 2
    assert at_lower.any() or at_upper.any()  # some bound binds, else this is the closed form
    level = gradient[interior].mean()
    # KKT: equal marginal variance inside the bounds, no lower for assets held at zero, no
    # higher for assets held at the cap.
    np.testing.assert_allclose(gradient[interior], level, rtol=1e-6)
    assert np.all(gradient[at_lower] >= level * (1 - 1e-6))
    assert np.all(gradient[at_upper] <= level * (1 + 1e-6))


def test_min_variance_uses_the_closed_form_when_no_bound_binds(cov):
    result = min_variance(cov, Constraints(lower=-5.0, upper=5.0))
    assert result.message.startswith("closed form")
    np.testing.assert_allclose(result.weights, _closed_min_variance(cov), rtol=1e-10)
    with pytest.raises(ValueError, match="closed form only"):
        min_variance(cov, Constraints(), solver="closed_form")


def test_leverage_binds_when_the_unconstrained_portfolio_is_more_levered(cov):
    free = _closed_min_variance(cov)
    gross = np.abs(free).sum()
    cap = 1.0 + (gross - 1.0) / 2
    result = min_variance(cov, Constraints(lower=-1.0, upper=1.0, leverage=cap))
    assert result.converged, result.message
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.abs(result.weights).sum() == pytest.approx(cap, abs=1e-7)
    assert result.volatility > math.sqrt(free @ cov @ free)
    loose = min_variance(cov, Constraints(lower=-1.0, upper=1.0, leverage=gross + 1))
    np.testing.assert_allclose(loose.weights, free, atol=1e-6)


def test_turnover_binds_and_the_move_is_toward_lower_variance(cov):
    previous = np.full(N, 1.0 / N)
    constraints = Constraints(max_turnover=0.1, previous_weights=tuple(previous))
    result = min_variance(cov, constraints)
    assert result.converged, result.message
    assert np.abs(result.weights - previous).sum() == pytest.approx(0.1, abs=1e-7)
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert result.weights @ cov @ result.weights < previous @ cov @ previous
    unlimited = min_variance(cov, Constraints())
    assert result.volatility > unlimited.volatility


def test_market_neutral_budget_with_leverage(mu, cov):
    constraints = Constraints(lower=-0.5, upper=0.5, budget=0.0, leverage=1.0)
    result = mean_variance(mu, cov, risk_aversion=1.0, constraints=constraints)
    assert result.converged, result.message
    assert result.weights.sum() == pytest.approx(0.0, abs=1e-9)
    assert np.abs(result.weights).sum() <= 1.0 + 1e-7
    assert result.expected_return > 0


# --------------------------------------------------------------------------- infeasibility
@pytest.mark.parametrize(
    ("constraints", "match"),
    [
        (Constraints(upper=0.1), "cannot sum to the budget"),
        (Constraints(lower=0.3), "cannot sum to the budget"),
        (Constraints(lower=(0.5, 0, 0, 0, 0, 0), upper=(0.2, 1, 1, 1, 1, 1)), "exceeds upper"),
        (Constraints(lower=-1.0, upper=1.0, budget=1.0, leverage=0.5), "leverage"),
        (Constraints(lower=0.2, upper=1.0, leverage=1.1), "cannot sum"),
        (
            Constraints(
                max_turnover=0.05, previous_weights=(1.0, 0.0, 0.0, 0.0, 0.0, 0.0), upper=0.8
            ),
            "least turnover",
        ),
        (Constraints(previous_weights=(0.5, 0.5), max_turnover=0.1), "previous_weights has 2"),
        (Constraints(lower=(0.0, 0.0), upper=1.0), "2 bounds for 6 assets"),
    ],
)
def test_infeasible_constraints_raise_before_solving(cov, constraints, match):
    with pytest.raises(ValueError, match=match):
        min_variance(cov, constraints)


def test_jointly_infeasible_leverage_and_turnover_raise(cov):
    previous = (1.0, -1.0, 0.5, 0.5, 0.0, 0.0)  # gross 3: far from any portfolio of gross <= 1.2
    constraints = Constraints(
        lower=-1.0, upper=1.0, leverage=1.2, max_turnover=0.5, previous_weights=previous
    )
    with pytest.raises(ValueError, match="jointly infeasible"):
        min_variance(cov, constraints)


def test_constraint_values_are_checked():
    with pytest.raises(ValueError, match="previous_weights"):
        Constraints(max_turnover=0.1)
    with pytest.raises(ValueError, match="leverage"):
        Constraints(leverage=0.0)
    with pytest.raises(ValueError, match="NaN"):
        Constraints(lower=math.nan)


def test_a_solve_that_stops_early_is_reported_not_converged(cov, monkeypatch):
    monkeypatch.setattr(optimizers, "_MAX_ITER", 1)
    result = min_variance(cov, Constraints(upper=0.3), solver="slsqp")
    assert not result.converged
    assert "SLSQP" in result.message


# ---------------------------------------------------------------------- mean-variance, Sharpe
def test_mean_variance_closed_form_and_solver_agree(mu, cov):
    closed = mean_variance(mu, cov, 5.0, UNCONSTRAINED)
    solved = mean_variance(mu, cov, 5.0, UNCONSTRAINED, solver="slsqp")
    assert solved.converged, solved.message
    assert closed.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(solved.weights, closed.weights, atol=1e-5)
    # first-order condition: lambda C w - mu is equal across assets (the budget's multiplier)
    gradient = 5.0 * cov @ closed.weights - mu
    np.testing.assert_allclose(gradient, gradient.mean(), atol=1e-12)
    assert closed.expected_return == pytest.approx(float(mu @ closed.weights))


def test_mean_variance_moves_toward_min_variance_as_risk_aversion_grows(mu, cov):
    bold = mean_variance(mu, cov, 0.5, Constraints())
    careful = mean_variance(mu, cov, 1e6, Constraints())
    assert bold.expected_return >= careful.expected_return
    np.testing.assert_allclose(careful.weights, min_variance(cov).weights, atol=1e-4)


def test_max_sharpe_equals_the_tangency_closed_form_when_unconstrained(mu, cov):
    rf = 0.0001
    y = np.linalg.solve(cov, mu - rf)
    tangency = y / y.sum()
    closed = max_sharpe(mu, cov, rf, UNCONSTRAINED)
    solved = max_sharpe(mu, cov, rf, UNCONSTRAINED, solver="slsqp")
    assert solved.converged, solved.message
    np.testing.assert_allclose(closed.weights, tangency, rtol=1e-10)
    np.testing.assert_allclose(solved.weights, tangency, atol=1e-5)
    assert _sharpe(solved.weights, mu, cov, rf) == pytest.approx(
        math.sqrt((mu - rf) @ np.linalg.solve(cov, mu - rf)), rel=1e-8
    )


def test_constrained_max_sharpe_beats_every_random_feasible_portfolio(mu, cov):
    result = max_sharpe(mu, cov, 0.0, Constraints(upper=0.4))
    assert result.converged, result.message
    assert np.all(result.weights <= 0.4 + 1e-9)
    best = _sharpe(result.weights, mu, cov)
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = rng.dirichlet(np.ones(N))
        if w.max() <= 0.4:
            assert _sharpe(w, mu, cov) <= best + 1e-9


def test_max_sharpe_without_a_positive_tangency_budget_raises(cov):
    with pytest.raises(ValueError, match="no maximum-Sharpe"):
        max_sharpe(np.full(N, -0.01), cov, 0.0, UNCONSTRAINED)
    with pytest.raises(ValueError, match="positive budget"):
        max_sharpe(np.full(N, 0.01), cov, 0.0, Constraints(budget=0.0, lower=-1))


# --------------------------------------------------------------------------------------- ERC
def test_equal_risk_contributions_are_equal(cov):
    result = equal_risk_contribution(cov)
    assert result.converged, result.message
    rc = result.risk_contributions
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(result.weights > 0)
    np.testing.assert_allclose(rc, rc.mean(), rtol=1e-6)
    assert rc.sum() == pytest.approx(result.volatility, rel=1e-12)


def test_risk_budgets_are_met(cov):
    budget = np.array([1, 2, 3, 1, 2, 1], dtype=float)
    result = equal_risk_contribution(cov, risk_budget=budget)
    assert result.converged, result.message
    np.testing.assert_allclose(
        result.risk_contributions / result.volatility, budget / budget.sum(), rtol=1e-6
    )


def test_erc_breaking_a_feasible_bound_reports_it(cov):
    free = equal_risk_contribution(cov).weights
    cap = float(free.max()) - 0.01
    result = equal_risk_contribution(cov, Constraints(upper=cap))
    assert not result.converged
    assert "upper bound" in result.message


# --------------------------------------------------------------------------------------- HRP
def test_hrp_matches_a_hand_worked_three_asset_example():
    sd = np.array([0.1, 0.2, 0.3])
    corr = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    cov = corr * np.outer(sd, sd)
    # A and B are closest (rho 0.9): the tree is ((A, B), C), leaf order C, A, B, so the first
    # bisection is [C] | [A, B]. Cluster {A, B} in inverse-variance weights (0.8, 0.2):
    var_ab = 0.8**2 * 0.01 + 0.2**2 * 0.04 + 2 * 0.8 * 0.2 * 0.9 * 0.1 * 0.2  # 0.01376
    var_c = 0.09
    alpha_c = 1 - var_c / (var_c + var_ab)
    alpha_a = 1 - 0.01 / (0.01 + 0.04)  # 0.8
    expected = np.array([(1 - alpha_c) * alpha_a, (1 - alpha_c) * (1 - alpha_a), alpha_c])
    result = hierarchical_risk_parity(cov)
    assert result.converged
    np.testing.assert_allclose(result.weights, expected, rtol=1e-12)
    assert "[2, 0, 1]" in result.message


def test_hrp_weights_are_positive_sum_to_one_and_accept_returns(returns, cov):
    from_cov = hierarchical_risk_parity(cov)
    from_returns = hierarchical_risk_parity(returns=returns)
    assert np.all(from_cov.weights > 0)
    assert from_cov.weights.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(from_returns.weights, from_cov.weights, rtol=1e-12)
    with pytest.raises(ValueError, match="exactly one"):
        hierarchical_risk_parity(cov, returns=returns)


def test_hrp_weights_that_break_given_constraints_are_not_converged(cov):
    free = hierarchical_risk_parity(cov)
    capped = hierarchical_risk_parity(
        cov, constraints=Constraints(upper=float(free.weights.max()) - 0.01)
    )
    assert free.converged
    assert not capped.converged
    assert "upper bound" in capped.message
    np.testing.assert_array_equal(capped.weights, free.weights)


# ------------------------------------------------------------------------------------ result
def test_results_are_frozen_and_read_only(cov):
    result = min_variance(cov)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.weights[0] = 1.0
    assert math.isnan(result.expected_return)
    assert result.risk_contributions.sum() == pytest.approx(result.volatility)


def test_a_singular_covariance_is_a_clear_error():
    x = np.random.default_rng(1).normal(size=(3, 5))
    with pytest.raises(ValueError, match="singular"):
        min_variance(sample_covariance(x), UNCONSTRAINED)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_solutions_do_not_depend_on_the_units_of_the_covariance(cov, mu, scale):
    reference = min_variance(cov, Constraints(upper=0.5)).weights
    result = min_variance(cov * scale, Constraints(upper=0.5))
    assert result.converged, result.message
    np.testing.assert_allclose(result.weights, reference, atol=1e-6)
    sharpe = max_sharpe(mu * math.sqrt(scale), cov * scale, 0.0, Constraints(upper=0.5))
    reference_sharpe = max_sharpe(mu, cov, 0.0, Constraints(upper=0.5))
    np.testing.assert_allclose(sharpe.weights, reference_sharpe.weights, atol=1e-6)


@pytest.mark.parametrize("risk_aversion", [1e-6, 1e-2, 1.0, 1e2, 1e6, 1e9])
def test_mean_variance_is_solved_at_any_risk_aversion(mu, cov, risk_aversion):
    constraints = Constraints(upper=0.5)
    result = mean_variance(mu, cov, risk_aversion, constraints)
    assert result.converged, result.message
    w = result.weights
    gradient = risk_aversion * cov @ w - mu
    interior = (w > 1e-6) & (w < 0.5 - 1e-6)
    if interior.sum() >= 2:
        np.testing.assert_allclose(
            gradient[interior], gradient[interior].mean(), atol=1e-6 * np.abs(gradient).max()
        )
    level = gradient[interior].mean() if interior.any() else None
    if level is not None:
        assert np.all(gradient[w <= 1e-6] >= level - 1e-6 * np.abs(gradient).max())
        assert np.all(gradient[w >= 0.5 - 1e-6] <= level + 1e-6 * np.abs(gradient).max())
