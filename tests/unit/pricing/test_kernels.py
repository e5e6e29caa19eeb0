"""The special functions inside the kernels against mpmath (they carry the 1e-12 exactness)."""

from __future__ import annotations

import mpmath as mp
import numpy as np

from shriven.pricing import _kernels as _k

mp.mp.dps = 40


def test_normal_cdf_given_density_is_accurate_over_the_whole_range() -> None:
    worst = 0.0
    for d in np.concatenate([np.linspace(-37.5, 8.0, 4001), [-0.66, -0.6629, 0.6629, 0.0]]):
        pdf = _k._npdf_exact(float(d))
        got = _k._ncdf_pdf(float(d), pdf)
        ref = mp.ncdf(mp.mpf(float(d)))
        worst = max(worst, abs(got - float(ref)) / float(ref))
    # Relative, far tails included: a few ulp of the exact-square density and Cody's rationals.
    assert worst < 2e-14


def test_erfcx_is_accurate() -> None:
    for a in np.concatenate([np.linspace(0.0, 30.0, 3001), [1e3, 1e6]]):
        ref = mp.exp(mp.mpf(float(a)) ** 2) * mp.erfc(mp.mpf(float(a)))
        assert abs(_k._erfcx(float(a)) - float(ref)) <= 2e-15 * float(ref), a


def test_normalised_out_of_the_money_call_keeps_relative_precision() -> None:
    for x, s in [(-0.7, 0.02), (-0.7, 0.3), (-0.05, 0.001), (-1.4, 1.0), (-0.2, 2.0), (0.0, 0.5)]:
        xm, sm = mp.mpf(x), mp.mpf(s)
        ref = mp.exp(xm / 2) * mp.ncdf(xm / sm + sm / 2) - mp.exp(-xm / 2) * mp.ncdf(
            xm / sm - sm / 2
        )
        got = _k._norm_otm_call(x, s)
        # Cancellation of the two terms costs log10(|d|/s) digits, d^2 amplification none.
        d = abs(x / s) + s
        assert abs(got - float(ref)) <= 4e-16 * (1 + d / s) * float(ref), (x, s)


def test_inverse_normal_guess() -> None:
    # Acklam's approximation only seeds the solver: relative error ~1e-9 is enough.
    from scipy.special import ndtri

    for p in (1e-300, 1e-10, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9):
        assert abs(_k._inv_ncdf(p) - ndtri(p)) < 1e-8 * (1 + abs(ndtri(p)))
