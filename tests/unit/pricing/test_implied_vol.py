"""Implied volatility: price -> vol -> price round trip on a wide grid, bounds, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_reference import black76 as mp_black76

from shriven.pricing import (
    Reason,
    black76,
    black76_prices,
    black_scholes_prices,
    implied_vol,
    implied_vol_black76,
    implied_volatility,
    implied_volatility_black76,
)

# Moneyness K/F 0.5-2, expiry 1 day-5 years, vol 1 %-300 %, calls and puts.
MONEYNESS = np.geomspace(0.5, 2.0, 41)
EXPIRIES = np.geomspace(1 / 365, 5.0, 30)
VOLS = np.geomspace(0.01, 3.0, 40)
FORWARD = 100.0
RATE = 0.03


@pytest.fixture(scope="module")
def grid():
    m, t, v, c = np.meshgrid(MONEYNESS, EXPIRIES, VOLS, [True, False], indexing="ij")
    strike = FORWARD * m
    price = black76_prices(FORWARD, strike, t, RATE, v, c).price
    solved = implied_volatility_black76(price, FORWARD, strike, t, RATE, c)
    repriced = black76_prices(FORWARD, strike, t, RATE, solved.volatility, c).price
    return {
        "strike": strike,
        "t": t,
        "v": v,
        "c": c,
        "price": price,
        "solved": solved,
        "repriced": repriced,
    }


def test_round_trip_price_error_below_1e10_on_the_whole_grid(grid) -> None:
    price, solved, repriced = grid["price"], grid["solved"], grid["repriced"]
    # The only exclusions: prices that underflow to exactly 0 (their time value is not
    # representable in double precision; nothing to invert). They still solve, to vol 0.
    underflow = price == 0.0
    assert underflow.mean() < 0.2
    assert (solved.reason[underflow] == Reason.OK).all()
    assert (solved.volatility[underflow] == 0.0).all()
    valid = ~underflow
    assert (solved.reason[valid] == Reason.OK).all()
    rel = np.abs(repriced[valid] - price[valid]) / price[valid]
    assert rel.max() < 1e-10


def test_recovers_the_volatility_where_it_is_identifiable(grid) -> None:
    # Where the price is sensitive to the volatility (elasticity vega * vol / price >= 1e-2
    # and the time value is not lost to rounding against the intrinsic value), the solved
    # volatility matches the input one.
    strike, t, v, c, price = grid["strike"], grid["t"], grid["v"], grid["c"], grid["price"]
    greeks = black76(FORWARD, strike, t, RATE, v, c)
    intrinsic = np.exp(-RATE * t) * np.maximum(np.where(c, 1, -1) * (FORWARD - strike), 0)
    time_value = price - intrinsic
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = greeks.vega * v / price
    ok = (price > 1e-290) & (elasticity > 1e-2) & (time_value > 1e-6 * price)
    assert ok.mean() > 0.5
    err = np.abs(grid["solved"].volatility[ok] - v[ok]) / v[ok]
    assert err.max() < 1e-8


def test_iterations_are_few(grid) -> None:
    its = grid["solved"].iterations[grid["price"] > 0]
    assert np.median(its) <= 3
    assert its.max() <= 20


def test_against_mpmath_prices() -> None:
    # Prices computed in 50-digit arithmetic, inverted in double precision.
    for k, t, v, c in [
        (60.0, 0.1, 0.8, False),
        (100.0, 1 / 365, 0.12, True),
        (190.0, 4.0, 0.25, True),
        (75.0, 2.0, 0.02, False),
    ]:
        price = float(mp_black76(100.0, k, t, 0.01, v, c)["price"])
        assert implied_vol_black76(price, 100.0, k, t, 0.01, c) == pytest.approx(v, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(1.0, 1000.0),
    moneyness=st.floats(0.5, 2.0),
    expiry=st.floats(1 / 365, 5.0),
    rate=st.floats(-0.02, 0.15),
    dividend=st.floats(0.0, 0.1),
    vol=st.floats(0.01, 3.0),
    is_call=st.booleans(),
)
def test_bsm_round_trip_hypothesis(spot, moneyness, expiry, rate, dividend, vol, is_call) -> None:
    strike = spot * moneyness
    price = float(black_scholes_prices(spot, strike, expiry, rate, dividend, vol, is_call).price)
    if price <= 0.0:
        return
    iv = implied_vol(price, spot, strike, expiry, rate, dividend, is_call)
    again = float(black_scholes_prices(spot, strike, expiry, rate, dividend, iv, is_call).price)
    assert abs(again - price) <= 1e-10 * price


def test_bounds_and_bad_inputs_vectorised() -> None:
    f, k, t, r = 100.0, 90.0, 1.0, 0.05
    df = math.exp(-r * t)
    cases = [
        (df * 10.0 - 1e-6, f, k, t, True, Reason.PRICE_BELOW_INTRINSIC),  # call below intrinsic
        (-1.0, f, 110.0, t, True, Reason.PRICE_BELOW_INTRINSIC),  # negative price
        (df * f, f, k, t, True, Reason.PRICE_ABOVE_MAX),  # call at discounted forward
        (df * k * 1.01, f, k, t, False, Reason.PRICE_ABOVE_MAX),  # put above discounted strike
        (np.nan, f, k, t, True, Reason.NAN_INPUT),
        (5.0, np.inf, k, t, True, Reason.NAN_INPUT),
        (5.0, 0.0, k, t, True, Reason.NONPOSITIVE_PRICE),
        (5.0, f, -1.0, t, True, Reason.NONPOSITIVE_PRICE),
        (5.0, f, k, -1.0, True, Reason.NEGATIVE_TIME),
        (1.0, f, 110.0, 0.0, True, Reason.PRICE_ABOVE_MAX),  # time value at expiry
        (df * 10.0, f, k, t, True, Reason.OK),  # exactly intrinsic: vol 0
        (12.0, f, k, t, True, Reason.OK),
    ]
    cols = [np.array([row[i] for row in cases]) for i in range(5)]
    res = implied_volatility_black76(cols[0], cols[1], cols[2], cols[3], r, cols[4])
    assert res.reason.tolist() == [int(row[5]) for row in cases]
    assert np.isnan(res.volatility[:-2]).all()
    assert res.volatility[-2] == 0.0
    assert 0.0 < res.volatility[-1] < 1.0


def test_scalar_raises_naming_the_reason() -> None:
    with pytest.raises(ValueError, match="PRICE_BELOW_INTRINSIC"):
        implied_vol(0.5, 100.0, 90.0, 1.0, 0.0, 0.0, True)
    with pytest.raises(ValueError, match="PRICE_ABOVE_MAX"):
        implied_vol(101.0, 100.0, 90.0, 1.0, 0.0, 0.0, True)
    with pytest.raises(ValueError, match="NAN_INPUT"):
        implied_vol(5.0, 100.0, 90.0, 1.0, np.nan, 0.0, True)
    with pytest.raises(ValueError, match="NONPOSITIVE_PRICE"):
        implied_vol_black76(5.0, -100.0, 90.0, 1.0, 0.0, True)


def test_hull_implied_vol_example() -> None:
    # Hull, section 15.11: a European call with S=21, K=20, r=10 %, T=0.25 priced at 1.875
    # has an implied volatility of 0.235 (0.2345 to more digits).
    iv = implied_vol(1.875, 21.0, 20.0, 0.25, 0.10, 0.0, True)
    assert iv == pytest.approx(0.235, abs=5e-4)
    both = implied_volatility(1.875, 21.0, 20.0, 0.25, 0.10, 0.0, [True, True])
    assert both.volatility.shape == (2,)
    assert both.volatility[0] == iv


def test_dividend_yield_and_parity_consistency() -> None:
    # A call and a put at the same strike imply the same volatility.
    s, k, t, r, q, v = 100.0, 115.0, 0.75, 0.04, 0.025, 0.37
    call = float(black_scholes_prices(s, k, t, r, q, v, True).price)
    put = float(black_scholes_prices(s, k, t, r, q, v, False).price)
    assert implied_vol(call, s, k, t, r, q, True) == pytest.approx(v, rel=1e-12)
    assert implied_vol(put, s, k, t, r, q, False) == pytest.approx(v, rel=1e-12)


def test_garbage_inputs_never_raise_and_never_silent_nan() -> None:
    rng = np.random.default_rng(11)
    values = np.array([np.nan, np.inf, -1.0, 0.0, 1e-300, 1e300, 0.5, 1.0, 10.0, 100.0])
    cols = [rng.choice(values, 50_000) for _ in range(6)]
    res = implied_volatility(*cols, rng.random(50_000) < 0.5)
    ok = res.reason == Reason.OK
    assert np.isfinite(res.volatility[ok]).all()
    assert np.isnan(res.volatility[~ok]).all()
