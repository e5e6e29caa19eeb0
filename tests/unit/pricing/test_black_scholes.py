"""Black-Scholes-Merton and Black-76: closed forms to 1e-12 against mpmath, parity, greeks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_reference import black76 as mp_black76
from pricing_reference import bsm as mp_bsm

from shriven.pricing import (
    GreeksBuffer,
    Reason,
    black76,
    black76_greeks,
    black76_price,
    black76_prices,
    black_scholes,
    black_scholes_prices,
    bsm_greeks,
    bsm_price,
    release_output_memory,
)
from shriven.pricing.black_scholes import _POOL_ENABLED, POOL_MIN_OPTIONS

GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga")

# A grid of ordinary contracts: moneyness 0.7-1.4, 1 week - 5 years, vol 5 % - 150 %.
SPOTS = (70.0, 95.0, 100.0, 104.0, 140.0)
EXPIRIES = (7 / 365, 0.25, 1.0, 5.0)
VOLS = (0.05, 0.2, 0.6, 1.5)
RATES = ((0.05, 0.0), (0.03, 0.07), (-0.01, 0.02))
GRID = [
    (s, 100.0, t, r, q, v, c)
    for s, t, v, (r, q), c in itertools.product(SPOTS, EXPIRIES, VOLS, RATES, (True, False))
]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b != 0 else abs(a)


# --- textbook values ---------------------------------------------------------------------------


def test_hull_example_call_and_put() -> None:
    # Hull, Options Futures and Other Derivatives, Example 15.6: c = 4.76, p = 0.81.
    call = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    put = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False)
    assert call == pytest.approx(4.76, abs=5e-3)
    assert put == pytest.approx(0.81, abs=5e-3)
    assert _rel(call, float(mp_bsm(42, 40, 0.5, 0.1, 0, 0.2, True)["price"])) < 1e-12
    assert _rel(put, float(mp_bsm(42, 40, 0.5, 0.1, 0, 0.2, False)["price"])) < 1e-12


def test_hull_greeks_example() -> None:
    # Hull, chapter 19 (S=49, K=50, r=5 %, sigma=20 %, T=20 weeks): delta 0.522, gamma 0.066,
    # vega 12.1 per 1.00 vol, theta -4.31 per year, rho 8.91 per 1.00 rate.
    g = bsm_greeks(49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True)
    assert g.price == pytest.approx(2.40, abs=5e-3)
    assert g.delta == pytest.approx(0.522, abs=5e-4)
    assert g.gamma == pytest.approx(0.066, abs=5e-4)
    assert g.vega == pytest.approx(12.1, abs=0.05)
    assert g.theta == pytest.approx(-4.31, abs=5e-3)
    assert g.rho == pytest.approx(8.91, abs=5e-3)


def test_hull_black76_futures_option() -> None:
    # Hull, Example 18.7 (futures put): F=20, K=20, r=9 %, sigma=25 %, T=4 months: 1.12.
    assert black76_price(20.0, 20.0, 4 / 12, 0.09, 0.25, False) == pytest.approx(1.12, abs=5e-3)


# --- closed form vs mpmath ---------------------------------------------------------------------


def test_prices_match_mpmath_to_1e12() -> None:
    arr = np.array(GRID, dtype=object)
    s, k, t, r, q, v = (arr[:, i].astype(float) for i in range(6))
    c = arr[:, 6].astype(bool)
    price = black_scholes_prices(s, k, t, r, q, v, c).price
    worst = max(_rel(p, float(mp_bsm(*row)["price"])) for p, row in zip(price, GRID, strict=True))
    assert worst < 1e-12


@pytest.mark.parametrize("name", GREEKS)
def test_greeks_match_mpmath(name: str) -> None:
    arr = np.array(GRID, dtype=object)
    s, k, t, r, q, v = (arr[:, i].astype(float) for i in range(6))
    c = arr[:, 6].astype(bool)
    got = getattr(black_scholes(s, k, t, r, q, v, c), name)
    for value, row in zip(got, GRID, strict=True):
        ref = mp_bsm(*row)
        # Scale: the greek's own size, or (for greeks that cross zero) its natural magnitude.
        scale = max(abs(float(ref[name])), 1e-12 * float(ref["vega"] + ref["price"] + 1))
        assert abs(value - float(ref[name])) <= 1e-11 * scale, (name, row)


def test_black76_matches_mpmath() -> None:
    for f, t, v, c in itertools.product(
        (60.0, 100.0, 170.0), (0.02, 1.0, 4.0), (0.1, 0.9), (True, False)
    ):
        got = black76_greeks(f, 100.0, t, 0.04, v, c)
        ref = mp_black76(f, 100.0, t, 0.04, v, c)
        for name in GREEKS:
            scale = max(abs(float(ref[name])), 1e-12 * float(ref["vega"] + ref["price"] + 1))
            assert abs(getattr(got, name) - float(ref[name])) <= 1e-11 * scale, (name, f, t, v, c)


def test_deep_out_of_the_money_keeps_relative_precision() -> None:
    # Far tails (price down to ~1e-200): the erfcx form keeps relative precision where
    # F N(d1) - K N(d2) would cancel. The problem's own condition number |d|^2 (a relative
    # input perturbation of 1 ulp moves the price by ~d^2 ulp) sets the tolerance.
    cases = [
        (100.0, 200.0, 1 / 365, 0.0, 0.0, 1.0, True),
        (100.0, 50.0, 0.01, 0.02, 0.0, 0.4, False),
        (100.0, 160.0, 0.5, 0.01, 0.0, 0.05, True),
        (100.0, 70.0, 2.0, 0.05, 0.01, 0.04, False),
        (100.0, 130.0, 0.05, 0.0, 0.0, 0.2, True),
    ]
    for row in cases:
        ref = mp_bsm(*row)
        price = bsm_price(*row)
        s, k, t, r, q, v, _ = row
        d1 = abs(math.log(s / k) / (v * math.sqrt(t)))
        assert 1e-300 < float(ref["price"]) < 1e-6
        assert _rel(price, float(ref["price"])) < max(1e-12, 8 * d1 * d1 * 2.2e-16), row


# --- identities --------------------------------------------------------------------------------


def test_put_call_parity() -> None:
    arr = np.array(GRID, dtype=object)
    s, k, t, r, q, v = (arr[:, i].astype(float) for i in range(6))
    call = black_scholes_prices(s, k, t, r, q, v, True).price
    put = black_scholes_prices(s, k, t, r, q, v, False).price
    forward_value = s * np.exp(-q * t) - k * np.exp(-r * t)
    scale = np.maximum.reduce([call, put, s * np.exp(-q * t)])
    assert np.max(np.abs(call - put - forward_value) / scale) < 1e-12


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(1.0, 1000.0),
    moneyness=st.floats(0.5, 2.0),
    expiry=st.floats(1 / 365, 10.0),
    rate=st.floats(-0.05, 0.2),
    dividend=st.floats(-0.05, 0.2),
    vol=st.floats(0.01, 3.0),
)
def test_parity_and_bounds_hypothesis(spot, moneyness, expiry, rate, dividend, vol) -> None:
    strike = spot * moneyness
    call = bsm_price(spot, strike, expiry, rate, dividend, vol, True)
    put = bsm_price(spot, strike, expiry, rate, dividend, vol, False)
    sq = spot * math.exp(-dividend * expiry)
    kr = strike * math.exp(-rate * expiry)
    assert abs(call - put - (sq - kr)) <= 1e-12 * max(sq, kr)
    assert max(sq - kr, 0.0) * (1 - 1e-14) <= call <= sq
    assert max(kr - sq, 0.0) * (1 - 1e-14) <= put <= kr


def test_black76_equals_bsm_on_the_forward() -> None:
    arr = np.array(GRID, dtype=object)
    s, k, t, r, q, v = (arr[:, i].astype(float) for i in range(6))
    c = arr[:, 6].astype(bool)
    fwd = s * np.exp((r - q) * t)
    bsm = black_scholes(s, k, t, r, q, v, c)
    b76 = black76(fwd, k, t, r, v, c)
    dfdS = np.exp((r - q) * t)
    np.testing.assert_allclose(b76.price, bsm.price, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b76.delta * dfdS, bsm.delta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b76.gamma * dfdS**2, bsm.gamma, rtol=1e-11)
    np.testing.assert_allclose(b76.vega, bsm.vega, rtol=1e-11)
    np.testing.assert_allclose(b76.volga, bsm.volga, rtol=1e-9, atol=1e-12 * bsm.vega.max())
    np.testing.assert_allclose(b76.vanna * dfdS, bsm.vanna, rtol=1e-10, atol=1e-14)


# --- greeks vs finite differences --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spot", "expiry", "vol", "is_call"),
    [
        (100.0, 1.0, 0.2, True),
        (90.0, 0.25, 0.35, False),
        (120.0, 3.0, 0.6, True),
        (100.0, 0.05, 0.15, False),
    ],
)
def test_greeks_match_central_differences(spot, expiry, vol, is_call) -> None:
    k, r, q = 100.0, 0.04, 0.015

    def p(s=spot, t=expiry, rr=r, v=vol):
        return bsm_price(s, k, t, rr, q, v, is_call)

    g = bsm_greeks(spot, k, expiry, r, q, vol, is_call)
    hs, hv, ht, hr = 1e-4 * spot, 1e-4, 1e-5, 1e-5
    fd = {
        "delta": (p(s=spot + hs) - p(s=spot - hs)) / (2 * hs),
        "gamma": (p(s=spot + hs) - 2 * p() + p(s=spot - hs)) / hs**2,
        "vega": (p(v=vol + hv) - p(v=vol - hv)) / (2 * hv),
        "theta": -(p(t=expiry + ht) - p(t=expiry - ht)) / (2 * ht),
        "rho": (p(rr=r + hr) - p(rr=r - hr)) / (2 * hr),
        "vanna": (
            p(s=spot + hs, v=vol + hv)
            - p(s=spot + hs, v=vol - hv)
            - p(s=spot - hs, v=vol + hv)
            + p(s=spot - hs, v=vol - hv)
        )
        / (4 * hs * hv),
        "volga": (p(v=vol + hv) - 2 * p() + p(v=vol - hv)) / hv**2,
    }
    for name, value in fd.items():
        assert getattr(g, name) == pytest.approx(value, rel=1e-5, abs=1e-6 * g.vega), name


def test_black76_greeks_match_central_differences() -> None:
    f, k, t, r, v = 105.0, 100.0, 0.7, 0.03, 0.3

    def p(ff=f, tt=t, rr=r, vv=v):
        return black76_price(ff, k, tt, rr, vv, False)

    g = black76_greeks(f, k, t, r, v, False)
    h = 1e-3
    assert g.delta == pytest.approx((p(ff=f + h) - p(ff=f - h)) / (2 * h), rel=1e-7)
    assert g.gamma == pytest.approx((p(ff=f + h) - 2 * p() + p(ff=f - h)) / h**2, rel=1e-4)
    assert g.theta == pytest.approx(-(p(tt=t + 1e-6) - p(tt=t - 1e-6)) / 2e-6, rel=1e-6)
    assert g.rho == pytest.approx((p(rr=r + 1e-6) - p(rr=r - 1e-6)) / 2e-6, rel=1e-6)
    assert g.vega == pytest.approx((p(vv=v + 1e-6) - p(vv=v - 1e-6)) / 2e-6, rel=1e-6)


# --- limits, broadcasting, bad inputs ----------------------------------------------------------


def test_zero_vol_and_zero_time_give_discounted_intrinsic() -> None:
    res = black_scholes([110.0, 90.0, 100.0], 100.0, 1.0, 0.05, 0.02, 0.0, True)
    fwd = np.array([110.0, 90.0, 100.0]) * math.exp(0.03)
    np.testing.assert_allclose(res.price, math.exp(-0.05) * np.maximum(fwd - 100.0, 0.0))
    assert res.reason.tolist() == [0, 0, 0]
    expired = black_scholes([110.0, 90.0, 100.0], 100.0, 0.0, 0.05, 0.0, 0.3, False)
    np.testing.assert_array_equal(expired.price, [0.0, 10.0, 0.0])
    np.testing.assert_array_equal(expired.delta, [0.0, -1.0, -0.5])
    np.testing.assert_array_equal(expired.gamma, [0.0, 0.0, 0.0])


def test_broadcasting_shapes_and_scalar_results() -> None:
    strikes = np.linspace(80, 120, 5)[:, None]
    vols = np.array([0.1, 0.2, 0.3])[None, :]
    res = black_scholes(100.0, strikes, 1.0, 0.01, 0.0, vols, True)
    assert res.price.shape == (5, 3)
    assert res.reason.dtype == np.int8
    for i, j in itertools.product(range(5), range(3)):
        assert res.price[i, j] == bsm_price(100.0, strikes[i, 0], 1.0, 0.01, 0.0, vols[0, j], True)
    scalar = black76_prices(100.0, 100.0, 1.0, 0.0, 0.2, True)
    assert scalar.price.shape == ()


def test_result_is_frozen() -> None:
    res = black_scholes(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, True)
    with pytest.raises(AttributeError):
        res.price = np.zeros(1)  # type: ignore[misc]


BAD = [
    ((np.nan, 100.0, 1.0, 0.0, 0.0, 0.2), Reason.NAN_INPUT),
    ((100.0, 100.0, np.inf, 0.0, 0.0, 0.2), Reason.NAN_INPUT),
    ((100.0, 100.0, 1.0, np.nan, 0.0, 0.2), Reason.NAN_INPUT),
    ((100.0, 100.0, 1.0, 0.0, np.nan, 0.2), Reason.NAN_INPUT),
    ((0.0, 100.0, 1.0, 0.0, 0.0, 0.2), Reason.NONPOSITIVE_PRICE),
    ((100.0, -5.0, 1.0, 0.0, 0.0, 0.2), Reason.NONPOSITIVE_PRICE),
    ((100.0, 100.0, -0.1, 0.0, 0.0, 0.2), Reason.NEGATIVE_TIME),
    ((100.0, 100.0, 1.0, 0.0, 0.0, -0.2), Reason.NEGATIVE_VOL),
]


def test_bad_inputs_vectorised_give_nan_and_reason() -> None:
    rows = [args for args, _ in BAD] + [(100.0, 100.0, 1.0, 0.0, 0.0, 0.2)]
    cols = [np.array([row[i] for row in rows]) for i in range(6)]
    res = black_scholes(*cols, True)
    expected = [int(code) for _, code in BAD] + [Reason.OK]
    assert res.reason.tolist() == expected
    for name in GREEKS:
        values = getattr(res, name)
        assert np.isnan(values[:-1]).all(), name
        assert np.isfinite(values[-1]), name
    prices = black_scholes_prices(*cols, False)
    assert prices.reason.tolist() == expected
    assert np.isnan(prices.price[:-1]).all()


@pytest.mark.parametrize(("args", "code"), BAD)
def test_bad_inputs_scalar_raise_naming_the_reason(args, code) -> None:
    with pytest.raises(ValueError, match=code.name):
        bsm_price(*args, True)
    with pytest.raises(ValueError, match=code.name):
        bsm_greeks(*args, False)


def test_black76_bad_forward() -> None:
    with pytest.raises(ValueError, match="NONPOSITIVE_PRICE"):
        black76_price(-1.0, 100.0, 1.0, 0.0, 0.2, True)
    res = black76([-1.0, 100.0], 100.0, 1.0, 0.0, 0.2, True)
    assert res.reason.tolist() == [Reason.NONPOSITIVE_PRICE, Reason.OK]


def test_scalar_api_rejects_arrays() -> None:
    with pytest.raises(ValueError, match="scalar"):
        bsm_price(np.array([100.0, 101.0]), 100.0, 1.0, 0.0, 0.0, 0.2, True)


def test_extreme_inputs_give_out_of_range_not_silent_nan() -> None:
    res = black_scholes([100.0, 100.0], 100.0, 1.0, [1e300, 0.01], 0.0, 0.2, True)
    assert res.reason.tolist() == [Reason.OUT_OF_RANGE, Reason.OK]
    assert np.isnan(res.price[0])
    assert np.isfinite(res.price[1])
    with pytest.raises(ValueError, match="OUT_OF_RANGE"):
        bsm_price(100.0, 100.0, 1.0, -1e300, 0.0, 0.2, True)


def test_reason_ok_if_and_only_if_every_output_is_finite() -> None:
    # Garbage in, never an exception out, and never a silent NaN with reason OK.
    rng = np.random.default_rng(7)
    values = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-300, 1e300, 1e-8, 0.5, 1.0, 100.0])
    cols = [rng.choice(values, 50_000) for _ in range(6)]
    is_call = rng.random(50_000) < 0.5
    for res in (black_scholes(*cols, is_call), black76(*cols[:4], cols[5], is_call)):
        stacked = np.stack([getattr(res, name) for name in GREEKS])
        ok = res.reason == Reason.OK
        assert np.isfinite(stacked[:, ok]).all()
        assert np.isnan(stacked[:, ~ok]).all()
        assert ok.any()
        assert (~ok).any()
    prices = black_scholes_prices(*cols, is_call)
    ok = prices.reason == Reason.OK
    assert np.isfinite(prices.price[ok]).all()
    assert np.isnan(prices.price[~ok]).all()


def test_a_reused_buffer_gives_the_fresh_results_and_checks_its_size() -> None:
    rng = np.random.default_rng(7)
    n = 1_000
    s, k = 100.0, rng.uniform(50.0, 200.0, n)
    t, v = rng.uniform(0.01, 3.0, n), rng.uniform(0.05, 1.5, n)
    calls = rng.random(n) < 0.5
    buffer = GreeksBuffer(n)
    # Dirty the buffer with another book first: nothing of it may leak into the next result.
    black_scholes(s, k * 1.3, t, 0.02, 0.01, v * 0.5, ~calls, out=buffer)
    reused = black_scholes(s, k, t, 0.02, 0.01, v, calls, out=buffer)
    fresh = black_scholes(s, k, t, 0.02, 0.01, v, calls)
    for name in ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "reason"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name), err_msg=name)
    assert np.shares_memory(reused.price, buffer.values)
    b76 = black76(s, k, t, 0.02, v, calls, out=buffer)
    np.testing.assert_array_equal(b76.price, black76(s, k, t, 0.02, v, calls).price)
    with pytest.raises(ValueError, match="GreeksBuffer of 1000 options"):
        black_scholes(s, k, t, 0.02, 0.01, v, calls, out=GreeksBuffer(999))
    with pytest.raises(ValueError, match="size must be >= 0"):
        GreeksBuffer(-1)


def _large_book(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = POOL_MIN_OPTIONS
    k, t = rng.uniform(60.0, 160.0, n), rng.uniform(0.01, 3.0, n)
    return 100.0, k, t, 0.02, 0.01, rng.uniform(0.05, 1.5, n), rng.random(n) < 0.5


@pytest.mark.skipif(not _POOL_ENABLED, reason="no output recycling without a GIL")
def test_fresh_results_of_a_large_book_recycle_only_memory_no_array_uses() -> None:
    release_output_memory()
    book, other = _large_book(1), _large_book(2)
    expected = black_scholes(*book, out=GreeksBuffer(POOL_MIN_OPTIONS))
    first = black_scholes(*book)
    for name in (*GREEKS, "reason"):
        np.testing.assert_array_equal(getattr(first, name), getattr(expected, name), err_msg=name)
    assert first.price.ctypes.data % (2 << 20) == 0  # huge-page aligned
    # Any one array derived from a result keeps its memory out of reuse.
    derive = {
        "slice": lambda r: r.delta[::3],
        "memoryview": lambda r: memoryview(r.gamma),
        "frombuffer": lambda r: np.frombuffer(r.vega, dtype=np.float64),
        "reshaped": lambda r: r.reason.reshape(-1, 2),
    }
    del first
    for name, fn in derive.items():
        release_output_memory()
        kept = fn(black_scholes(*book))
        snapshot = np.array(kept).copy()
        live = [black_scholes(*other) for _ in range(3)]
        np.testing.assert_array_equal(np.array(kept), snapshot, err_msg=name)
        for x, y in itertools.combinations(live, 2):
            assert not np.shares_memory(x.price, y.volga)
    # Once nothing refers to a result, the next call of that size reuses its block (of the
    # last two).
    del kept, snapshot, x, y
    addresses = {r.price.ctypes.data for r in live[-2:]}
    del live
    again = black_scholes(*book)
    assert again.price.ctypes.data in addresses
    for name in (*GREEKS, "reason"):
        np.testing.assert_array_equal(getattr(again, name), getattr(expected, name), err_msg=name)
    # The usual loop keeps a result while the next one is computed: never the same memory.
    previous = again
    for _ in range(3):
        result = black_scholes(*other)
        assert not np.shares_memory(result.price, previous.price)
        previous = result
    release_output_memory()


@pytest.mark.parametrize(
    "args",
    [
        (100.0, 100.0, 1.0, 800.0, 0.0, 0.2, True),  # r T beyond the vectorised exp
        (100.0, 100.0, 1.0, 0.0, 800.0, 0.2, False),
        (1e150, 1e150, 1e60, 1e-60, 0.0, 0.2, True),  # huge expiry
        (100.0, 120.0, 1.0, 0.01, 0.0, 1e60, False),  # huge volatility
        (1e-160, 1e160, 4.0, 0.0, 0.0, 300.0, True),  # F / K far from 1
        (1e160, 1e-160, 4.0, 0.0, 0.0, 300.0, False),
        (1e300, 1e-10, 1.0, 0.0, 0.0, 0.2, True),  # S / K overflows
        (100.0, 100.0, 1e-300, 0.01, 0.0, 0.2, True),  # tiny sigma sqrt(T)
    ],
)
def test_valid_inputs_outside_the_fast_path_give_the_closed_forms_or_out_of_range(args) -> None:
    # Pass 2 recomputes such elements: their reason is OK only with every output right.
    res = black_scholes(*args)
    if res.reason[()] == Reason.OUT_OF_RANGE:
        assert np.isnan(res.price[()])
        return
    assert res.reason[()] == Reason.OK
    ref = mp_bsm(*args)
    for name in GREEKS:
        got, want = float(getattr(res, name)[()]), float(ref[name])
        assert abs(got - want) <= 1e-12 * abs(want) + 1e-300, (name, got, want)


def test_prices_only_equal_the_greeks_price_in_the_far_tail() -> None:
    """Both take ln(F/K) as ln(S/K) + (r - q) T (found apart in a 400k random sweep: the
    price-only path took ln(F/K) from a rounded F and differed in the last digits near 1e-300)."""
    cases = [
        (35736.551710073436, 111422.12796963708, 0.003517604467577742, 4.687048934435215,
         -0.22783542359901243, 0.5072942056740831, True),
        (78660.07131120747, 24558.471499934058, 0.06309742399013124, 2.769958367986614,
         -0.2452025410564294, 0.14649595660606843, False),
        (1104.5616970637825, 361.43331249407765, 62.07142611762679, -0.3091484197283788,
         -0.2601334784975708, 0.00660582447742202, True),
    ]  # fmt: skip
    for row in cases:
        args = [np.array([x]) for x in row]
        full = black_scholes(*args).price[0]
        assert 0.0 < full < 1e-290
        assert black_scholes_prices(*args).price[0] == full, row
