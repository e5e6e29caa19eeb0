"""The branch-free exp / log / fma of ``_fastmath`` against mpmath (they carry the exactness of
the vectorised kernels)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from numba import njit

from shriven.pricing._fastmath import fexp, fexp_in_range, flog, fma

mp.mp.dps = 40


@njit(cache=False)
def _exp_all(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = fexp(a[i])
    return out


@njit(cache=False)
def _exp_in_range_all(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = fexp_in_range(a[i])
    return out


@njit(cache=False)
def _log_all(a):
    out = np.empty_like(a)
    for i in range(a.size):
        out[i] = flog(a[i])
    return out


@njit(cache=False)
def _fma(a, b, c):
    return fma(a, b, c)


def test_exp_is_within_one_ulp_including_subnormal_results() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            rng.uniform(-745.0, 709.7, 4000),
            rng.uniform(-1.0, 1.0, 2000),
            rng.uniform(-1e-9, 1e-9, 200),
            [0.0, -0.0, 1.0, -1.0, 709.78, -708.4, -720.0, -745.0],
        ]
    )
    got = _exp_all(x)
    for xi, gi in zip(x, got, strict=True):
        ref = float(mp.exp(mp.mpf(float(xi))))
        if ref < 2.2250738585072014e-308:
            assert abs(gi - ref) <= 5e-324, xi
        else:
            assert abs(gi - ref) <= math.ulp(ref), xi


def test_exp_in_range_equals_exp_on_its_range() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate(
        [rng.uniform(-700.0, 700.0, 4000), rng.uniform(-1.0, 1.0, 2000), [0.0, -700.0, 700.0]]
    )
    got = _exp_in_range_all(x)
    np.testing.assert_array_equal(got, _exp_all(x))  # the same arithmetic, bit for bit
    for xi, gi in zip(x[:500], got[:500], strict=True):
        ref = float(mp.exp(mp.mpf(float(xi))))
        assert abs(gi - ref) <= math.ulp(ref), xi


def test_exp_special_values() -> None:
    got = _exp_all(np.array([np.nan, np.inf, -np.inf, 710.0, 1e300, -746.0, -1e300]))
    assert np.isnan(got[0])
    assert (got[[1, 3, 4]] == np.inf).all()
    assert (got[[2, 5, 6]] == 0.0).all()


def test_log_is_within_one_ulp() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate(
        [
            np.exp(rng.uniform(-700.0, 700.0, 4000)),
            1.0 + rng.uniform(-0.3, 0.3, 2000),
            1.0 + rng.uniform(-1e-9, 1e-9, 200),
            [1.0, 2.0, 0.5, math.sqrt(2.0), 2.2250738585072014e-308, 1.7976931348623157e308],
        ]
    )
    got = _log_all(x)
    for xi, gi in zip(x, got, strict=True):
        ref = float(mp.log(mp.mpf(float(xi))))
        if ref == 0.0:
            assert gi == 0.0
        else:
            assert abs(gi - ref) <= math.ulp(ref), xi


def test_fma_rounds_once() -> None:
    a = 1.0 + 2.0**-30
    # a * a - 1 - 2^-29 = 2^-60 exactly: lost without the single rounding.
    assert _fma(a, a, -(1.0 + 2.0**-29)) == 2.0**-60
