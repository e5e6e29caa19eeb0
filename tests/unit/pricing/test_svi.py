"""Raw SVI: evaluation, butterfly density, calibration recovering known parameters."""

from __future__ import annotations

import numpy as np
import pytest

from shriven.pricing import black76_prices, implied_volatility_black76
from shriven.pricing.svi import (
    SVIParams,
    calibrate_svi,
    svi_butterfly_density,
    svi_implied_vol,
    svi_total_variance,
)

# Gatheral and Jacquier (2014), section 5.2 example: a=-0.0410, b=0.1331, rho=0.3060,
# m=0.3586, sigma=0.4153 (T = 1), which has butterfly arbitrage near k = 1.
ARBITRAGE = SVIParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
SMOOTH = SVIParams(a=0.02, b=0.1, rho=-0.4, m=0.05, sigma=0.2)


def test_total_variance_minimum_and_wings() -> None:
    p = SMOOTH
    k = np.linspace(-0.5, 0.5, 100_001)
    expected_min = p.a + p.b * p.sigma * np.sqrt(1 - p.rho**2)
    assert svi_total_variance(k, p).min() == pytest.approx(expected_min, rel=1e-9)
    # Asymptotic slopes b (1 + rho) and b (rho - 1).
    far = np.array([-1000.0, -999.0, 999.0, 1000.0])
    w = svi_total_variance(far, p)
    assert w[3] - w[2] == pytest.approx(p.b * (1 + p.rho), rel=1e-6)
    assert w[1] - w[0] == pytest.approx(p.b * (p.rho - 1), rel=1e-6)


def test_butterfly_density_flags_the_gatheral_jacquier_example() -> None:
    k = np.linspace(-1.5, 1.5, 601)
    assert svi_butterfly_density(k, ARBITRAGE).min() < 0
    assert svi_butterfly_density(k, SMOOTH).min() > 0


def test_butterfly_density_matches_call_price_convexity() -> None:
    # g(k) >= 0 <=> d2C/dK2 >= 0: check the sign agrees with finite differences of prices.
    strikes = np.linspace(np.exp(-1.2), np.exp(1.2), 401)
    k = np.log(strikes)
    vol = svi_implied_vol(k, 1.0, ARBITRAGE)
    calls = black76_prices(1.0, strikes, 1.0, 0.0, vol, True).price
    convexity = np.diff(calls, 2)
    g = svi_butterfly_density(k[1:-1], ARBITRAGE)
    clear = np.abs(g) > 0.05
    assert np.array_equal(np.sign(convexity[clear]), np.sign(g[clear]))


def test_calibration_recovers_parameters() -> None:
    k = np.linspace(-0.6, 0.5, 23)
    w = svi_total_variance(k, SMOOTH)
    fit = calibrate_svi(k, w)
    for name in ("a", "b", "rho", "m", "sigma"):
        assert getattr(fit, name) == pytest.approx(getattr(SMOOTH, name), abs=1e-5), name
    assert np.max(np.abs(svi_total_variance(k, fit) - w)) < 1e-8


def test_calibration_from_option_prices_through_implied_vol() -> None:
    k = np.linspace(-0.5, 0.4, 19)
    t = 0.5
    vol = svi_implied_vol(k, t, SMOOTH)
    prices = black76_prices(100.0, 100.0 * np.exp(k), t, 0.02, vol, k > 0).price
    iv = implied_volatility_black76(prices, 100.0, 100.0 * np.exp(k), t, 0.02, k > 0)
    fit = calibrate_svi(k, iv.volatility**2 * t)
    np.testing.assert_allclose(svi_implied_vol(k, t, fit), vol, rtol=1e-6)


def test_invalid_parameters_and_inputs() -> None:
    with pytest.raises(ValueError, match="rho"):
        SVIParams(a=0.0, b=0.1, rho=1.0, m=0.0, sigma=0.1)
    with pytest.raises(ValueError, match="negative total variance"):
        SVIParams(a=-1.0, b=0.1, rho=0.0, m=0.0, sigma=0.1)
    with pytest.raises(ValueError, match="NAN_INPUT"):
        calibrate_svi([0.0, 0.1, 0.2, 0.3, np.nan], [0.1] * 5)
    with pytest.raises(ValueError, match="at least 5"):
        calibrate_svi([0.0, 0.1], [0.1, 0.1])
    with pytest.raises(ValueError, match="NEGATIVE_TIME"):
        svi_implied_vol(0.0, 0.0, SMOOTH)
