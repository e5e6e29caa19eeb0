"""VaR and CVaR: historical with linear interpolation, parametric normal, Cornish-Fisher."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shriven.analytics import performance as perf
from shriven.analytics.conventions import EQUITIES

# eleven returns -4% .. +6% in steps of 1%
SAMPLE = np.round(np.arange(-0.04, 0.0601, 0.01), 10)
Z95 = 1.6448536269514722  # norm.ppf(0.95)
PDF_Z95 = math.exp(-(Z95**2) / 2) / math.sqrt(2 * math.pi)


def test_historical_var_interpolates_linearly_between_order_statistics():
    # h = (n - 1) * (1 - c) = 10 * 0.05 = 0.5: halfway between -0.04 and -0.03
    assert perf.value_at_risk(SAMPLE, 0.95) == pytest.approx(0.035, rel=1e-12)
    # h = 10 * 0.1 = 1: exactly the second-worst
    assert perf.value_at_risk(SAMPLE, 0.90) == pytest.approx(0.03, rel=1e-12)


def test_historical_var_on_three_points():
    # sorted [-0.05, 0.02, 0.1]; h = 2 * 0.05 = 0.1: -0.05 + 0.1 * 0.07 = -0.043
    assert perf.value_at_risk([0.1, -0.05, 0.02], 0.95) == pytest.approx(0.043, rel=1e-12)


def test_quantile_method_is_a_convention():
    lower = EQUITIES.with_(quantile_method="lower")
    assert perf.value_at_risk(SAMPLE, 0.95, conventions=lower) == pytest.approx(0.04, rel=1e-12)


def test_historical_cvar_is_the_mean_loss_at_or_beyond_the_quantile():
    # returns <= -0.035: only -0.04
    assert perf.conditional_value_at_risk(SAMPLE, 0.95) == pytest.approx(0.04, rel=1e-12)
    # returns <= -0.03: -0.04 and -0.03
    assert perf.conditional_value_at_risk(SAMPLE, 0.90) == pytest.approx(0.035, rel=1e-12)


def test_var_is_a_positive_loss():
    assert perf.value_at_risk(SAMPLE, 0.95) > 0
    assert perf.conditional_value_at_risk(SAMPLE, 0.95) >= perf.value_at_risk(SAMPLE, 0.95)


def test_parametric_var_is_z_sigma_minus_mean():
    mean, sigma = SAMPLE.mean(), SAMPLE.std(ddof=1)  # 0.01 and 0.033166...
    assert mean == pytest.approx(0.01)
    assert perf.value_at_risk(SAMPLE, 0.95, "parametric") == pytest.approx(
        Z95 * sigma - mean, rel=1e-12
    )
    # the ddof convention reaches parametric VaR too
    assert perf.value_at_risk(SAMPLE, 0.95, "parametric", EQUITIES.with_(ddof=0)) == pytest.approx(
        Z95 * SAMPLE.std(ddof=0) - mean, rel=1e-12
    )


def test_parametric_cvar_is_sigma_pdf_over_tail_minus_mean():
    mean, sigma = SAMPLE.mean(), SAMPLE.std(ddof=1)
    assert perf.conditional_value_at_risk(SAMPLE, 0.95, "parametric") == pytest.approx(
        sigma * PDF_Z95 / 0.05 - mean, rel=1e-9
    )


def test_cornish_fisher_z_reduces_to_z_without_skew_or_kurtosis():
    for z in (-2.326, -Z95, 0.0, 1.0):
        assert perf.cornish_fisher_z(z, 0.0, 0.0) == z


def test_cornish_fisher_z_by_hand():
    z = -Z95
    # skew -1, excess kurtosis 3:
    expected = z + (z**2 - 1) * (-1) / 6 + (z**3 - 3 * z) * 3 / 24 - (2 * z**3 - 5 * z) * 1 / 36
    assert perf.cornish_fisher_z(z, -1.0, 3.0) == pytest.approx(expected, rel=1e-14)
    assert expected < z  # negative skew and fat tails push the quantile further out


def test_cornish_fisher_var_equals_parametric_on_a_sample_with_zero_skew_and_kurtosis():
    # [m + x, m - x, m, m, m, m]: symmetric (skew 0); m4 / m2^2 = (2x^4/6) / (2x^2/6)^2 = 3
    # so the (biased) excess kurtosis is 0 as well
    sample = 0.001 + np.array([0.02, -0.02, 0.0, 0.0, 0.0, 0.0])
    for confidence in (0.95, 0.99):
        assert perf.value_at_risk(sample, confidence, "cornish_fisher") == pytest.approx(
            perf.value_at_risk(sample, confidence, "parametric"), rel=1e-9
        )
        assert perf.conditional_value_at_risk(
            sample, confidence, "cornish_fisher"
        ) == pytest.approx(
            perf.conditional_value_at_risk(sample, confidence, "parametric"), rel=1e-7
        )


def test_cornish_fisher_var_exceeds_parametric_with_a_fat_left_tail():
    sample = np.array([0.01] * 18 + [-0.08, -0.1])
    assert perf.value_at_risk(sample, 0.99, "cornish_fisher") > perf.value_at_risk(
        sample, 0.99, "parametric"
    )


def test_default_method_and_level_come_from_the_conventions():
    c = EQUITIES.with_(var_method="parametric", var_confidence=0.95)
    assert perf.value_at_risk(SAMPLE, conventions=c) == perf.value_at_risk(
        SAMPLE, 0.95, "parametric"
    )


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        perf.value_at_risk(SAMPLE, 0.95, "monte_carlo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        perf.conditional_value_at_risk(SAMPLE, 0.95, "monte_carlo")  # type: ignore[arg-type]
