"""Numba kernels of the options pricers (private; the public API is in the sibling modules).

All kernels loop over flat arrays with ``prange`` and write into preallocated outputs; a bad
element gets NaN outputs and a reason code, never an exception. The only ``fastmath`` flag is
``contract`` (fused multiply-add, one rounding instead of two) on the vectorised passes: the
closed forms must match an arbitrary-precision reference to 1e-12 relative, and the
implied-volatility solver relies on IEEE behaviour of inf and NaN, so no flag that reassociates
or assumes finite values. ``error_model="numpy"`` only removes Python's division-by-zero checks.

Speed: PyPI llvmlite has no vector math library, so ``math.exp`` / ``math.log`` are scalar libm
calls that stop LLVM from vectorising a loop. The hot loops (pass 1 of the closed forms, the
vectorised pass of the implied-volatility solver) use the inlined branch-free ``fexp`` /
``flog`` of ``_fastmath`` and compute every branch (Cody's three rationals, the far-tail price
form) and select, so they vectorise (AVX-512 on this machine); rare elements go to the scalar
slow paths.

Normal CDF: the pricers compute the density n(d1) once, of the exact square of d1, take
n(d2) = n(d1) F / K, and get N(d1), N(d2) from Cody's rational approximations of erf and
erfcx (relative error < 1e-15, no exponential of their own). Far out of the money, where
F N(d1) - K N(d2) would cancel, prices use the scaled form of ``_norm_otm_call_bp``, so prices
keep relative precision down to underflow. ``_ncdf`` (``math.erfc``) serves the slower paths.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from shriven.numba_cache import cache_depends_on
from shriven.pricing import _fastmath
from shriven.pricing._fastmath import fexp, fexp_in_range, flog, fma

# The kernels compile in the fast exp/log intrinsics: their caches follow that file too.
cache_depends_on(__file__, _fastmath)

#: Reason code: the element was priced / solved (mirrors ``reasons.Reason``).
R_OK = 0
#: Reason code: an input is NaN or infinite.
R_NAN_INPUT = 1
#: Reason code: spot, forward or strike <= 0.
R_NONPOSITIVE_PRICE = 2
#: Reason code: time to expiry < 0.
R_NEGATIVE_TIME = 3
#: Reason code: volatility < 0.
R_NEGATIVE_VOL = 4
#: Reason code: option price below the discounted intrinsic value.
R_PRICE_BELOW_INTRINSIC = 5
#: Reason code: option price at or above the no-arbitrage upper bound.
R_PRICE_ABOVE_MAX = 6
#: Reason code: the iterative solver did not reach its tolerance.
R_NO_CONVERGENCE = 7
#: Reason code: invalid method parameter.
R_INVALID_PARAMETER = 8
#: Reason code: valid inputs whose result is not finite (overflow).
R_OUT_OF_RANGE = 9

#: Row of the greeks output matrix: option price.
G_PRICE = 0
#: Row of the greeks output matrix: dV/dS (BSM) or dV/dF (Black-76).
G_DELTA = 1
#: Row of the greeks output matrix: d2V/dS2 or d2V/dF2.
G_GAMMA = 2
#: Row of the greeks output matrix: dV/dsigma, per 1.00 of volatility.
G_VEGA = 3
#: Row of the greeks output matrix: -dV/dT, per year.
G_THETA = 4
#: Row of the greeks output matrix: dV/dr, per 1.00 of rate (F held fixed for Black-76).
G_RHO = 5
#: Row of the greeks output matrix: d2V/dS dsigma.
G_VANNA = 6
#: Row of the greeks output matrix: d2V/dsigma2.
G_VOLGA = 7
#: Number of rows of the greeks output matrix.
N_GREEKS = 8

_INV_SQRT2 = 0.7071067811865475244
_INV_SQRT2PI = 0.3989422804014326779
_INV_SQRTPI = 0.5641895835477562869
_HALF_LOG_2PI = 0.9189385332046727418
_EPS = 2.220446049250313e-16
_DBL_MAX = 1.7976931348623157e308
_DBL_MIN = 2.2250738585072014e-308
_MAX_ITER = 60
#: A Householder step (not a bisection) smaller than this fraction of s ends the solver.
_STEP_DONE = 1e-6
#: Below this d2 (out-of-the-money side) prices use the erfcx form: erfc(-d/sqrt2) amplifies
#: the rounding of its argument by d^2, which the difference of two tail terms then magnifies.
_TAIL_D = -4.0
#: Above this fraction of b(s_c) (or of e^{x/2} - b(s_c)), start from the tangent at s_c.
_TANGENT_SWITCH = 0.5
#: Pass 1's erfcx fractions hold for |d| below this (``_erfcx_fraction``); beyond, pass 2.
_CORE_MAX_D = 1e25
#: Far-tail prices from a density below this would lose bits in subnormal products: pass 2.
_TINY_PDF = 1e-290
#: Solver stops when |ln(model) - ln(target)| is below this (relative price error).
_F_TOL = 4e-15
#: Solver result is accepted (OK, else NO_CONVERGENCE) when the best residual is below this.
_F_ACCEPT = 1e-11


@njit(cache=True, inline="always")
def _ncdf(x):
    return 0.5 * math.erfc(-x * _INV_SQRT2)


@njit(cache=True, inline="always")
def _npdf(x):
    return _INV_SQRT2PI * math.exp(-0.5 * x * x)


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), as in netlib specfun CALERF: relative error below 1e-15 (checked against mpmath in
# the tests). For y > 0.46875 the rational functions give erfcx(y) = exp(y^2) erfc(y) directly,
# which lets the pricers share one exp(-d^2/2) between the normal density and both CDF values.
_CODY_A0 = 3.16112374387056560e00
_CODY_A1 = 1.13864154151050156e02
_CODY_A2 = 3.77485237685302021e02
_CODY_A3 = 3.20937758913846947e03
_CODY_A4 = 1.85777706184603153e-1
_CODY_B0 = 2.36012909523441209e01
_CODY_B1 = 2.44024637934444173e02
_CODY_B2 = 1.28261652607737228e03
_CODY_B3 = 2.84423683343917062e03
_CODY_C0 = 5.64188496988670089e-1
_CODY_C1 = 8.88314979438837594e00
_CODY_C2 = 6.61191906371416295e01
_CODY_C3 = 2.98635138197400131e02
_CODY_C4 = 8.81952221241769090e02
_CODY_C5 = 1.71204761263407058e03
_CODY_C6 = 2.05107837782607147e03
_CODY_C7 = 1.23033935479799725e03
_CODY_C8 = 2.15311535474403846e-8
_CODY_D0 = 1.57449261107098347e01
_CODY_D1 = 1.17693950891312499e02
_CODY_D2 = 5.37181101862009858e02
_CODY_D3 = 1.62138957456669019e03
_CODY_D4 = 3.29079923573345963e03
_CODY_D5 = 4.36261909014324716e03
_CODY_D6 = 3.43936767414372164e03
_CODY_D7 = 1.23033935480374942e03
_CODY_P0 = 3.05326634961232344e-1
_CODY_P1 = 3.60344899949804439e-1
_CODY_P2 = 1.25781726111229246e-1
_CODY_P3 = 1.60837851487422766e-2
_CODY_P4 = 6.58749161529837803e-4
_CODY_P5 = 1.63153871373020978e-2
_CODY_Q0 = 2.56852019228982242e00
_CODY_Q1 = 1.87295284992346725e00
_CODY_Q2 = 5.27905102951428412e-1
_CODY_Q3 = 6.05183413124413191e-2
_CODY_Q4 = 2.33520497626869185e-3
#: Below this |z| Cody's erf(z) rational is used; above it erfcx(z).
_CODY_SMALL = 0.46875
_SQRT_HALF_PI = 1.2533141373155002512


@njit(cache=True, inline="always")
def _erf_small(z):
    """erf(z) for |z| <= 0.46875 (Cody)."""
    zz = z * z
    num = (((_CODY_A4 * zz + _CODY_A0) * zz + _CODY_A1) * zz + _CODY_A2) * zz + _CODY_A3
    den = (((zz + _CODY_B0) * zz + _CODY_B1) * zz + _CODY_B2) * zz + _CODY_B3
    return z * num / den


@njit(cache=True, inline="always")
def _cody_small_fraction(y):
    """Cody's erfcx(y) rational for 0.46875 < y <= 4 as (numerator, denominator)."""
    num = _CODY_C8 * y
    den = y
    num = (num + _CODY_C0) * y
    den = (den + _CODY_D0) * y
    num = (num + _CODY_C1) * y
    den = (den + _CODY_D1) * y
    num = (num + _CODY_C2) * y
    den = (den + _CODY_D2) * y
    num = (num + _CODY_C3) * y
    den = (den + _CODY_D3) * y
    num = (num + _CODY_C4) * y
    den = (den + _CODY_D4) * y
    num = (num + _CODY_C5) * y
    den = (den + _CODY_D5) * y
    num = (num + _CODY_C6) * y
    den = (den + _CODY_D6) * y
    return num + _CODY_C7, den + _CODY_D7


@njit(cache=True, inline="always")
def _erfcx_large(y):
    """erfcx(y) = exp(y^2) erfc(y) for y > 0.46875 (Cody), no exponential needed."""
    if y <= 4.0:
        num, den = _cody_small_fraction(y)
        return num / den
    zz = 1.0 / (y * y)
    num = ((((_CODY_P5 * zz + _CODY_P0) * zz + _CODY_P1) * zz + _CODY_P2) * zz + _CODY_P3) * zz
    den = ((((zz + _CODY_Q0) * zz + _CODY_Q1) * zz + _CODY_Q2) * zz + _CODY_Q3) * zz
    return (_INV_SQRTPI - zz * (num + _CODY_P4) / (den + _CODY_Q4)) / y


@njit(cache=True, inline="always")
def _npdf_exact(d):
    """Normal density exp(-d^2/2)/sqrt(2 pi) of the exact square d^2 = hi + lo (one FMA).

    An explicit FMA rather than a Veltkamp split: under ``fastmath={"contract"}`` LLVM may fuse
    the split's own multiply-subtract and break it.
    """
    hi = d * d
    lo = fma(d, d, -hi)
    return _INV_SQRT2PI * fexp(-0.5 * hi) * (1.0 - 0.5 * lo)


@njit(cache=True, inline="always")
def _ncdf_pdf(d, pdf):
    """Normal CDF N(d) given the density pdf = n(d): no exponential of its own."""
    z = d * _INV_SQRT2
    if abs(z) <= _CODY_SMALL:
        return 0.5 + 0.5 * _erf_small(z)
    tail = _SQRT_HALF_PI * pdf * _erfcx_large(abs(z))
    return tail if d < 0.0 else 1.0 - tail


@njit(cache=True)
def _erfcx(a):
    """Scaled complementary error function exp(a^2) erfc(a) for a >= 0, to about 1e-15."""
    if a <= _CODY_SMALL:
        return math.exp(a * a) * (1.0 - _erf_small(a))
    return _erfcx_large(a)


@njit(cache=True)
def _norm_otm_call(x, s):
    """Normalised out-of-the-money call b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2).

    For x <= 0, s > 0 (see ``_norm_otm_call_bp``).
    """
    bp = _INV_SQRT2PI * math.exp(-0.5 * (x / s) * (x / s) - 0.125 * s * s)
    return _norm_otm_call_bp(x, s, bp, math.exp(0.5 * x), math.exp(-0.5 * x))


@njit(cache=True, inline="always")
def _norm_otm_call_bp(x, s, bp, ex2, emx2):
    """b(x, s) given bp = b'(s) = e^{x/2} n(d1) = e^{-x/2} n(d2), ex2 = e^{x/2}, emx2 = e^{-x/2}.

    Far below the inflection point (s^2 < 2|x| and d2 < _TAIL_D) both terms are far-tail
    values of nearly equal size; there b = sqrt(pi/2) bp (erfcx(-d1/sqrt2) - erfcx(-d2/sqrt2)),
    which keeps relative precision down to underflow: the erfcx difference loses only
    log10(|d|/s) digits, with no exp(-d^2/2) amplification of rounding in d.
    """
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    if d2 < _TAIL_D and s * s < -2.0 * x:
        if bp == 0.0:
            return 0.0
        return _SQRT_HALF_PI * bp * (_erfcx(-d1 * _INV_SQRT2) - _erfcx(-d2 * _INV_SQRT2))
    if x == 0.0:
        return math.erf(0.5 * s * _INV_SQRT2)
    return ex2 * _ncdf_pdf(d1, bp * emx2) - emx2 * _ncdf_pdf(d2, bp * ex2)


@njit(cache=True, inline="always")
def _finite(x):
    return not (math.isnan(x) or math.isinf(x))


@njit(cache=True, inline="always")
def _check_inputs(under, strike, expiry, rate, carry, vol):
    if not (
        _finite(under)
        and _finite(strike)
        and _finite(expiry)
        and _finite(rate)
        and _finite(carry)
        and _finite(vol)
    ):
        return R_NAN_INPUT
    if under <= 0.0 or strike <= 0.0:
        return R_NONPOSITIVE_PRICE
    if expiry < 0.0:
        return R_NEGATIVE_TIME
    if vol < 0.0:
        return R_NEGATIVE_VOL
    return R_OK


# --- Black-Scholes-Merton / Black-76 -----------------------------------------------------------


# The closed forms run in two passes. Pass 1 has no calls other than inlined arithmetic and
# math intrinsics and no early exits, so LLVM if-converts and vectorises it (measured 2.5x
# faster than the same loop with one out-of-line call on a rare branch); it marks the elements
# it cannot finish (bad input, sigma sqrt(T) = 0, far tails, underflowed density) with the
# reason code ``_TODO`` (no scratch array: 1 MB less to allocate and fault in per 1M options).
# Pass 2 visits those few, checks their inputs for the real code and finishes them with the
# slow paths.

#: Reason code pass 1 gives an element it leaves to pass 2 (int8, none of the real codes).
_TODO = 64


@njit(cache=True, inline="always")
def _is_tail(w, x, d2, sd):
    # Out of the money, far below the inflection point: the erfcx price form is needed.
    return (w * d2 < _TAIL_D) & (w * x < 0.0) & (sd * sd < 2.0 * abs(x))


@njit(cache=True, inline="always")
def _in_safe_range(s, k, t, r, q, v, sd):
    # Inside these bounds no output over- or underflows into inf or NaN (exp arguments below
    # 500, d1 * d2 below 1e200), so pass 1 is final; outside them pass 2 checks every output
    # and reports OUT_OF_RANGE. Comparisons on inputs only: cheaper than testing 8 outputs.
    return (
        (abs(r * t) < 500.0)
        & (abs(q * t) < 500.0)
        & (s > 1e-100)
        & (s < 1e100)
        & (k > 1e-100)
        & (k < 1e100)
        & (v < 1e50)
        & (t < 1e50)
        & (sd > 1e-100)
    )


@njit(cache=True, inline="always")
def _core_is_final(s, k, t, r, q, v, w, sd, x, d1, d2, pdf):
    # Pass 1's result of valid inputs stands, else pass 2 recomputes the element.
    return (
        (sd > 0.0)
        & _in_safe_range(s, k, t, r, q, v, sd)
        & (abs(d1) < _CORE_MAX_D)
        & (not (_is_tail(w, x, d2, sd) & (pdf < _TINY_PDF)))
    )


@njit(cache=True, inline="always")
def _erf_small_fraction(z):
    """erf(z) for |z| <= 0.46875 (Cody) as (top, bottom), the division left to the caller."""
    zz = z * z
    num = (((_CODY_A4 * zz + _CODY_A0) * zz + _CODY_A1) * zz + _CODY_A2) * zz + _CODY_A3
    den = (((zz + _CODY_B0) * zz + _CODY_B1) * zz + _CODY_B2) * zz + _CODY_B3
    return z * num, den


@njit(cache=True, inline="always")
def _erfcx_fraction(y):
    """erfcx(y) for y > 0.46875 as (top, bottom), the division left to the caller.

    Cody's two rationals with the y > 4 one multiplied through by y^10, so it is a fraction of
    polynomials in u = y^2 (positive coefficients: no cancellation) and needs no 1 / y^2. A
    branch-free caller picks a fraction and divides once. Valid for y < 1e25 (u^5 stays finite).
    """
    num, den = _cody_small_fraction(y)
    u = y * y
    nu = ((((_CODY_P4 * u + _CODY_P3) * u + _CODY_P2) * u + _CODY_P1) * u + _CODY_P0) * u + _CODY_P5
    du = ((((_CODY_Q4 * u + _CODY_Q3) * u + _CODY_Q2) * u + _CODY_Q1) * u + _CODY_Q0) * u + 1.0
    # erfcx = (1/sqrt(pi) - nu / (u du)) / y
    udu = u * du
    small = y <= 4.0
    top = num if small else _INV_SQRTPI * udu - nu
    bottom = den if small else udu * y
    return top, bottom


@njit(cache=True, inline="always")
def _bs_core(s, k, t, r, q, v, w, forward_model):
    """Pass 1 of the closed forms for one element, shared by the greeks and price kernels.

    Returns (df, dq, fwd, sqt, sd, x, d1, d2, pdf, nd1, nd2, price, 1 / (s sd)). Written for SIMD: every
    branch is a select, and the divisions (the costliest vector instruction here) are kept to
    a minimum by choosing between fractions before dividing.
    """
    # |r T|, |q T| < 500 wherever pass 1 is final (``_in_safe_range``): the unchecked exp
    df = fexp_in_range(-r * t)
    dq = fexp_in_range(-q * t)
    fwd = s if forward_model else s * dq / df
    sqt = math.sqrt(t)
    sd = v * sqt
    m = fwd / k
    # ln(F / K) = ln(S / K) + (r - q) T: the log need not wait for the exps and two divisions
    # of F / K (the loop is bound by the latency of that chain), and is more accurate.
    x = flog(s / k) if forward_model else flog(s / k) + (r - q) * t
    # One reciprocal for 1 / (s sd) and 1 / sd = s / (s sd).
    inv_ssd = 1.0 / (s * sd)
    d1 = x * (s * inv_ssd) + 0.5 * sd
    d2 = d1 - sd
    pdf = _npdf_exact(d1)
    z1 = w * d1 * _INV_SQRT2
    z2 = w * d2 * _INV_SQRT2
    a1 = abs(z1)
    a2 = abs(z2)
    # N(w d1) as ``_ncdf_pdf`` with one division: 0.5 + 0.5 erf(z1) for small |z1|, else the
    # tail sqrt(pi/2) n(d1) erfcx(|z1|), or one minus it.
    en1, ed1 = _erf_small_fraction(z1)
    xt1, xb1 = _erfcx_fraction(a1)
    ct1 = _SQRT_HALF_PI * pdf * xt1
    small1 = a1 <= _CODY_SMALL
    nd1 = (0.5 * (ed1 + en1) if small1 else (ct1 if z1 < 0.0 else xb1 - ct1)) / (
        ed1 if small1 else xb1
    )
    # N(w d2) likewise, with n(d2) = n(d1) F / K exactly (d1 + d2 = 2 x / sd); the tail value
    # without the factor F / K is kept for the far-tail price below.
    en2, ed2 = _erf_small_fraction(z2)
    xt2, xb2 = _erfcx_fraction(a2)
    small2 = a2 <= _CODY_SMALL
    f2 = (0.5 * (ed2 + en2) if small2 else xt2) / (ed2 if small2 else xb2)
    tail2 = _SQRT_HALF_PI * pdf * f2
    nd2 = f2 if small2 else (m * tail2 if z2 < 0.0 else 1.0 - m * tail2)
    # Rounding of F N(d1) - K N(d2) must not cross the no-arbitrage floor.
    price = df * max(w * (fwd * nd1 - k * nd2), w * (fwd - k), 0.0)
    # Far out of the money both terms are tails of nearly equal size: K N(w d2) is written as
    # F sqrt(pi/2) n(d1) erfcx(|z2|), so the price is F sqrt(pi/2) n(d1) (erfcx(a1) -
    # erfcx(a2)) (the erfcx form of ``_norm_otm_call_bp``) and keeps relative precision down to
    # underflow: only the rounding of d1 is amplified, by d1^2, as in n(d1) itself.
    tail_price = df * w * fwd * (nd1 - tail2)
    price = tail_price if _is_tail(w, x, d2, sd) else price
    return df, dq, fwd, sqt, sd, x, d1, d2, pdf, nd1, nd2, price, inv_ssd


@njit(cache=True, parallel=True, error_model="numpy", fastmath={"contract"})
def bs_greeks_kernel(under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason):
    """Price and greeks of European options, written into ``out[N_GREEKS, n]`` and ``reason``.

    ``under`` is the spot (BSM, ``carry`` = dividend yield q) or the forward (Black-76,
    ``forward_model`` True; ``carry`` is then ignored and the rate is used, so F grows at 0).
    """
    n = out.shape[1]
    for i in prange(n):
        s = under[i]
        k = strike[i]
        t = expiry[i]
        r = rate[i]
        q = r if forward_model else carry[i]
        v = vol[i]
        w = 1.0 if is_call[i] else -1.0
        df, dq, fwd, sqt, sd, x, d1, d2, pdf, nd1, nd2, price, inv_ssd = _bs_core(
            s, k, t, r, q, v, w, forward_model
        )
        # No division of its own: 1 / v = s sqrt(T) / (s sd), v / sqrt(T) = v s v / (s sd).
        inv_v = s * sqt * inv_ssd
        vega = s * dq * pdf * sqt
        delta = w * dq * nd1
        gamma = dq * pdf * inv_ssd
        theta = (
            -0.5 * s * dq * pdf * (v * s * v * inv_ssd)
            - w * r * k * df * nd2
            + w * q * s * dq * nd1
        )
        rho = -t * price if forward_model else w * k * t * df * nd2
        vanna = -dq * pdf * d2 * inv_v
        volga = vega * d1 * d2 * inv_v
        # An underflowed density: exact zeros (no -0.0 from the sign of d).
        vanna = vanna if pdf > 0.0 else 0.0
        volga = volga if pdf > 0.0 else 0.0
        out[G_PRICE, i] = price
        out[G_DELTA, i] = delta
        out[G_GAMMA, i] = gamma
        out[G_VEGA, i] = vega
        out[G_THETA, i] = theta
        out[G_RHO, i] = rho
        out[G_VANNA, i] = vanna
        out[G_VOLGA, i] = volga
        # Final elements have valid inputs (``_in_safe_range`` fails on NaN, inf, S, K <= 0,
        # T < 0, sigma < 0), so only pass 2 needs ``_check_inputs``.
        final = _core_is_final(s, k, t, r, q, v, w, sd, x, d1, d2, pdf)
        reason[i] = R_OK if final else _TODO
    for i in prange(n):
        if reason[i] == _TODO:
            _finish_greeks(
                i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason
            )


@njit(cache=True, error_model="numpy")
def _finish_greeks(i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason):
    q = rate[i] if forward_model else carry[i]
    reason[i] = _check_inputs(under[i], strike[i], expiry[i], rate[i], q, vol[i])
    if reason[i] == R_OK:
        _fix_greeks(i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out)
        for g in range(N_GREEKS):
            if not abs(out[g, i]) <= _DBL_MAX:
                reason[i] = R_OUT_OF_RANGE
    if reason[i] != R_OK:
        for g in range(N_GREEKS):
            out[g, i] = np.nan


@njit(cache=True, error_model="numpy")
def _fix_greeks(i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out):
    s = under[i]
    k = strike[i]
    t = expiry[i]
    r = rate[i]
    q = r if forward_model else carry[i]
    v = vol[i]
    w = 1.0 if is_call[i] else -1.0
    df = math.exp(-r * t)
    dq = math.exp(-q * t)
    fwd = s if forward_model else s * dq / df
    sd = v * math.sqrt(t)
    if sd > 0.0:
        # Every output again with the scalar functions (libm exp and log, erfc): pass 1's
        # values hold only inside ``_in_safe_range`` (e.g. its exp is unchecked beyond it).
        sqt = math.sqrt(t)
        x = _log_moneyness(s, k, t, r, q, forward_model)
        d1 = x / sd + 0.5 * sd
        d2 = x / sd - 0.5 * sd
        pdf = _npdf_exact(d1)
        nd1 = _ncdf(w * d1)
        nd2 = _ncdf(w * d2)
        price = df * max(w * (fwd * nd1 - k * nd2), w * (fwd - k), 0.0)
        if _is_tail(w, x, d2, sd):
            price = df * math.sqrt(fwd * k) * _norm_otm_call(-abs(x), sd)
        vega = s * dq * pdf * sqt
        out[G_PRICE, i] = price
        out[G_DELTA, i] = w * dq * nd1
        out[G_GAMMA, i] = dq * pdf / (s * sd)
        out[G_VEGA, i] = vega
        out[G_THETA, i] = (
            -0.5 * s * dq * pdf * v / sqt - w * r * k * df * nd2 + w * q * s * dq * nd1
        )
        out[G_RHO, i] = -t * price if forward_model else w * k * t * df * nd2
        # An underflowed density: exact zeros (no -0.0 from the sign of d).
        out[G_VANNA, i] = -dq * pdf * d2 / v if pdf > 0.0 else 0.0
        out[G_VOLGA, i] = vega * d1 * d2 / v if pdf > 0.0 else 0.0
        return
    # Deterministic limit: intrinsic value of the forward, a half step at the strike.
    m = w * (fwd - k)
    h = 1.0 if m > 0.0 else (0.5 if m == 0.0 else 0.0)
    price = df * max(m, 0.0)
    out[G_PRICE, i] = price
    out[G_DELTA, i] = w * dq * h
    out[G_GAMMA, i] = 0.0
    out[G_VEGA, i] = 0.0
    out[G_THETA, i] = h * w * (q * s * dq - r * k * df)
    out[G_VANNA, i] = 0.0
    out[G_VOLGA, i] = 0.0
    out[G_RHO, i] = -t * price if forward_model else h * w * k * t * df


@njit(cache=True, parallel=True, error_model="numpy", fastmath={"contract"})
def bs_price_kernel(under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason):
    """Price only of European options (see ``bs_greeks_kernel``), into ``out[n]``."""
    n = out.shape[0]
    for i in prange(n):
        s = under[i]
        k = strike[i]
        t = expiry[i]
        r = rate[i]
        q = r if forward_model else carry[i]
        v = vol[i]
        w = 1.0 if is_call[i] else -1.0
        core = _bs_core(s, k, t, r, q, v, w, forward_model)
        out[i] = core[11]
        final = _core_is_final(s, k, t, r, q, v, w, core[4], core[5], core[6], core[7], core[8])
        reason[i] = R_OK if final else _TODO
    for i in prange(n):
        if reason[i] == _TODO:
            _finish_price(
                i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason
            )


@njit(cache=True, error_model="numpy")
def _finish_price(i, under, strike, expiry, rate, carry, vol, is_call, forward_model, out, reason):
    r = rate[i]
    q = r if forward_model else carry[i]
    reason[i] = _check_inputs(under[i], strike[i], expiry[i], r, q, vol[i])
    if reason[i] != R_OK:
        out[i] = np.nan
        return
    t = expiry[i]
    df = math.exp(-r * t)
    fwd = under[i] if forward_model else under[i] * math.exp(-q * t) / df
    x = _log_moneyness(under[i], strike[i], t, r, q, forward_model)
    price = _forward_price(fwd, strike[i], t, df, vol[i], is_call[i], x)
    if not abs(price) <= _DBL_MAX:
        reason[i] = R_OUT_OF_RANGE
        price = np.nan
    out[i] = price


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _bs_price(s, k, t, r, q, v, call):
    # Valid inputs only; bit for bit the price of ``bs_price_kernel``.
    w = 1.0 if call else -1.0
    core = _bs_core(s, k, t, r, q, v, w, False)
    if _core_is_final(s, k, t, r, q, v, w, core[4], core[5], core[6], core[7], core[8]):
        return core[11]
    df = math.exp(-r * t)
    x = _log_moneyness(s, k, t, r, q, False)
    return _forward_price(s * math.exp(-q * t) / df, k, t, df, v, call, x)


@njit(cache=True, inline="always")
def _log_moneyness(s, k, t, r, q, forward_model):
    """ln(F / K) as pass 1 takes it, ln(S / K) + (r - q) T (F rounds off a tiny (r - q) T),
    with S / K split where it over- or underflows."""
    ratio = s / k
    if _DBL_MIN <= ratio <= _DBL_MAX:
        x = math.log(ratio)
    else:
        x = math.log(s) - math.log(k)
    if not forward_model:
        x += (r - q) * t
    return x


@njit(cache=True, error_model="numpy")
def _forward_price(fwd, k, t, df, v, call, x):
    # ``x``: ln(F / K) from ``_log_moneyness`` (not ln(fwd / k): fwd may have rounded).
    w = 1.0 if call else -1.0
    sd = v * math.sqrt(t)
    if sd > 0.0:
        d1 = x / sd + 0.5 * sd
        d2 = d1 - sd
        if w * d2 < _TAIL_D and w * x < 0.0 and sd * sd < 2.0 * abs(x):
            return df * math.sqrt(fwd * k) * _norm_otm_call(-abs(x), sd)
        pdf = _npdf_exact(d1)
        pdf2 = pdf * (fwd / k) if pdf > 1e-290 else _npdf_exact(d2)
        nd1 = _ncdf_pdf(w * d1, pdf)
        nd2 = _ncdf_pdf(w * d2, pdf2)
        return df * max(w * (fwd * nd1 - k * nd2), w * (fwd - k), 0.0)
    return df * max(w * (fwd - k), 0.0)


# --- implied volatility ------------------------------------------------------------------------
#
# Normalised Black (Jaeckel, "Let's be rational", 2015): with x = ln(F/K) and s = sigma sqrt(T),
# the undiscounted price divided by sqrt(F K) is
#     b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)        (call).
# The time value of any call or put equals b(-|x|, s) (an out-of-the-money call), so the solver
# only inverts b for x <= 0, where b rises from 0 to e^{x/2}. Its inflection point is
# s_c = sqrt(2|x|). Below b(s_c) the solver works on ln b (nearly linear in 1/s^2); above it on
# ln(e^{x/2} - b) = ln(e^{x/2} N(-d1) + e^{-x/2} N(d2)) (no cancellation, nearly quadratic in s).
# Both objectives share the derivative structure
#     f' = +-b'/b_or_c,  b'(s) = exp(-x^2/(2 s^2) - s^2/8) / sqrt(2 pi),  b''/b' = x^2/s^3 - s/4,
# and are solved with third-order Householder steps inside a bisection bracket.


@njit(cache=True, inline="always")
def _norm_complement_bp(x, s, bp, ex2, emx2):
    # e^{x/2} - b(x, s) = e^{x/2} N(-d1) + e^{-x/2} N(d2), no cancellation.
    d1 = x / s + 0.5 * s
    return ex2 * _ncdf_pdf(-d1, bp * emx2) + emx2 * _ncdf_pdf(d1 - s, bp * ex2)


# Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9): numba
# freezes these module tuples into the kernels as constants.
_ACKLAM_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
             1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_ACKLAM_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
             6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
             -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_ACKLAM_D = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)
_ACKLAM_P_LOW = 0.02425


@njit(cache=True, inline="always")
def _acklam_tail(q):
    """The tail piece of Acklam's inverse, of ``q = sqrt(-2 log p)`` (p the tail probability)."""
    c1, c2, c3, c4, c5, c6 = _ACKLAM_C
    d1, d2, d3, d4 = _ACKLAM_D
    return (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / (
        (((d1 * q + d2) * q + d3) * q + d4) * q + 1.0
    )


@njit(cache=True, inline="always")
def _acklam_central(q):
    """The central piece of Acklam's inverse, of ``q = p - 0.5``."""
    a1, a2, a3, a4, a5, a6 = _ACKLAM_A
    b1, b2, b3, b4, b5 = _ACKLAM_B
    r = q * q
    return (
        (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6)
        * q
        / (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0)
    )


@njit(cache=True)
def _inv_ncdf(p):
    """Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9)."""
    if p < _ACKLAM_P_LOW:
        return _acklam_tail(math.sqrt(-2.0 * math.log(p)))
    if p <= 1.0 - _ACKLAM_P_LOW:
        return _acklam_central(p - 0.5)
    return -_acklam_tail(math.sqrt(-2.0 * math.log(1.0 - p)))


@njit(cache=True, error_model="numpy")
def _solve_normalised(beta, x):
    """Total volatility s with b(x, s) = beta for x <= 0 and 0 < beta < e^{x/2}.

    Returns (s, iterations, converged).
    """
    ex2 = math.exp(0.5 * x)
    emx2 = math.exp(-0.5 * x)
    ax = -x
    sc = math.sqrt(2.0 * ax)
    x2 = x * x
    lower = False
    if ax > 0.0:
        # b'(s_c) = e^{x/2} / sqrt(2 pi): no exponential needed at the inflection point.
        bc = _norm_otm_call_bp(x, sc, _INV_SQRT2PI * ex2, ex2, emx2)
        lower = beta <= bc
    if lower:
        target = math.log(beta)
        lo = 0.0
        hi = sc
        # Leading asymptotics ln b ~ -x^2/(2 s^2) + 3 ln s - 2 ln|x| - ln sqrt(2 pi), x^2 >> s^4.
        s = ax / math.sqrt(max(-2.0 * target, 1e-300))
        rhs0 = -target - 2.0 * math.log(ax) - _HALF_LOG_2PI
        for _ in range(2):
            rhs = rhs0 + 3.0 * math.log(s) - s * s / 8.0
            if rhs > 0.0:
                s = ax / math.sqrt(2.0 * rhs)
        if beta > _TANGENT_SWITCH * bc or not (s > lo and s < hi):
            # Near the inflection point: the tangent of b at s_c.
            bpc = _INV_SQRT2PI * ex2
            s = max(sc - (bc - beta) / bpc, 0.5 * sc)
    else:
        cstar = ex2 - beta
        target = math.log(cstar)
        lo = sc
        hi = np.inf
        # c(s) ~ (e^{x/2} + e^{-x/2}) N(-s/2) when s^2 >> |x|.
        p = cstar / (ex2 + emx2)
        s = -2.0 * _inv_ncdf(p) if p < 0.5 else sc
        if ax > 0.0:
            cc = ex2 - bc
            if cstar > _TANGENT_SWITCH * cc or not (s > lo):
                bpc = _INV_SQRT2PI * ex2
                s_t = sc + (beta - bc) / bpc
                s = s_t if not (s > lo) else max(s, s_t)
        if not (s > lo):
            s = sc * 1.5 + 1e-3
    best_s = s
    best_f = np.inf
    for it in range(1, _MAX_ITER + 1):
        bp = _INV_SQRT2PI * math.exp(-0.5 * x2 / (s * s) - 0.125 * s * s)
        if lower:
            val = _norm_otm_call_bp(x, s, bp, ex2, emx2)
            if val <= 0.0:
                lo = s
                s = 0.5 * (lo + hi)
                continue
            f = math.log(val) - target
            g1 = bp / val
            if f < 0.0:
                lo = s
            else:
                hi = s
        else:
            val = _norm_complement_bp(x, s, bp, ex2, emx2)
            if val <= 0.0:
                hi = s
                s = 0.5 * (lo + hi)
                continue
            f = math.log(val) - target
            g1 = -bp / val
            if f > 0.0:
                lo = s
            else:
                hi = s
        if abs(f) < best_f:
            best_f = abs(f)
            best_s = s
        # In the lower region b loses log10(|x|/s^2) digits to the erfcx difference: the
        # residual cannot get below that noise, so do not iterate on it.
        ftol = _F_TOL + 8.0 * _EPS * ax / (s * s) if lower else _F_TOL
        if abs(f) <= ftol:
            return s, it, True
        a = x2 / (s * s * s) - 0.25 * s
        da = -3.0 * x2 / (s * s * s * s) - 0.25
        g2 = g1 * a - g1 * g1
        g3 = g1 * (a * a + da) - 3.0 * g1 * g1 * a + 2.0 * g1 * g1 * g1
        nu = -f / g1
        h2 = g2 / g1
        h3 = g3 / g1
        ds = nu * (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu / 6.0))
        s_new = s + ds
        if not (s_new > lo and s_new < hi):
            s_new = 0.5 * (lo + hi) if hi < np.inf else 2.0 * s
        if abs(s_new - s) <= 4.0 * _EPS * s:
            return best_s, it, best_f <= _F_ACCEPT
        if abs(ds) <= _STEP_DONE * s and s_new == s + ds:
            # A third-order step this small leaves an error of order (ds/s)^3: done.
            return s_new, it, True
        s = s_new
    return best_s, _MAX_ITER, best_f <= _F_ACCEPT


@njit(cache=True, error_model="numpy")
def _implied_vol_one(price, fwd, k, t, df, call):
    """(vol, reason, iterations) of one undiscounted-by-df option price on a forward."""
    if not (_finite(price) and _finite(fwd) and _finite(k) and _finite(t) and _finite(df)):
        return np.nan, R_NAN_INPUT, 0
    if fwd <= 0.0 or k <= 0.0:
        return np.nan, R_NONPOSITIVE_PRICE, 0
    if t < 0.0:
        return np.nan, R_NEGATIVE_TIME, 0
    p = price / df
    w = 1.0 if call else -1.0
    intrinsic = max(w * (fwd - k), 0.0)
    upper = fwd if call else k
    if p < intrinsic:
        # A few ulp below intrinsic is rounding of price / df, not an arbitrage.
        if p < intrinsic * (1.0 - 8.0 * _EPS):
            return np.nan, R_PRICE_BELOW_INTRINSIC, 0
        p = intrinsic
    if p >= upper:
        return np.nan, R_PRICE_ABOVE_MAX, 0
    tv = p - intrinsic
    if tv == 0.0:
        return 0.0, R_OK, 0
    if t == 0.0:
        return np.nan, R_PRICE_ABOVE_MAX, 0
    rootfk = math.sqrt(fwd * k)
    beta = tv / rootfk
    x = -abs(math.log(fwd / k))
    if beta >= math.exp(0.5 * x):
        return np.nan, R_PRICE_ABOVE_MAX, 0
    s, iters, ok = _solve_normalised(beta, x)
    if not ok:
        return np.nan, R_NO_CONVERGENCE, iters
    return s / math.sqrt(t), R_OK, iters


@njit(cache=True, inline="always")
def _iv_pieces(d, pdf):
    """(N(d), N(-d), erf(d/sqrt2) or 0, erfcx(|d|/sqrt2)) given pdf = n(d), branch-free."""
    z = d * _INV_SQRT2
    a = abs(z)
    e = _erf_small(z)
    ex = _erfcx_large(a)
    tail = _SQRT_HALF_PI * pdf * ex
    small = a <= _CODY_SMALL
    n_pos = 0.5 + 0.5 * e if small else (tail if z < 0.0 else 1.0 - tail)
    n_neg = 0.5 - 0.5 * e if small else (1.0 - tail if z < 0.0 else tail)
    return n_pos, n_neg, e, ex


@njit(cache=True, inline="always")
def _iv_eval(x, s, bp, ex2, emx2, lower):
    """Branch-free b(x, s) (``lower``) or e^{x/2} - b(x, s), as ``_norm_otm_call_bp`` and
    ``_norm_complement_bp`` compute them (x < 0, s > 0; x == 0 only outside ``lower``)."""
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    n1, m1, e1, ex1 = _iv_pieces(d1, bp * emx2)
    n2, m2, e2, ex2_ = _iv_pieces(d2, bp * ex2)
    b_plain = ex2 * n1 - emx2 * n2
    # The erfcx form far below the inflection point (d1 < 0 there, -d2/sqrt2 > 2.8).
    a1 = abs(d1) * _INV_SQRT2
    erfcx1 = fexp(a1 * a1) * (1.0 + e1) if a1 <= _CODY_SMALL else ex1
    b_tail = _SQRT_HALF_PI * bp * (erfcx1 - ex2_)
    b = b_tail if (d2 < _TAIL_D) & (s * s < -2.0 * x) else b_plain
    c = ex2 * m1 + emx2 * n2
    return b if lower else c


@njit(cache=True, inline="always")
def _iv_guess_lower(x, ax, sc, beta, bc, ex2):
    """Initial guess of ``_solve_normalised`` below the inflection point, branch-free."""
    target = flog(beta)
    s = ax / math.sqrt(max(-2.0 * target, 1e-300))
    rhs0 = -target - 2.0 * flog(ax) - _HALF_LOG_2PI
    # Two fixed-point iterations, unrolled (an inner loop would stop the vectoriser).
    rhs = rhs0 + 3.0 * flog(s) - s * s / 8.0
    s = ax / math.sqrt(2.0 * rhs) if rhs > 0.0 else s
    rhs = rhs0 + 3.0 * flog(s) - s * s / 8.0
    s = ax / math.sqrt(2.0 * rhs) if rhs > 0.0 else s
    bpc = _INV_SQRT2PI * ex2
    s_t = max(sc - (bc - beta) / bpc, 0.5 * sc)
    use_t = (beta > _TANGENT_SWITCH * bc) | (not ((s > 0.0) & (s < sc)))
    return s_t if use_t else s


@njit(cache=True, inline="always")
def _inv_ncdf_low(p):
    """``_inv_ncdf`` for 0 < p < 0.5, branch-free (both pieces computed, one kept)."""
    low = _acklam_tail(math.sqrt(-2.0 * flog(p)))
    mid = _acklam_central(p - 0.5)
    return low if p < _ACKLAM_P_LOW else mid


@njit(cache=True, inline="always")
def _iv_guess_upper(x, ax, sc, beta, bc, ex2, emx2):
    """Initial guess of ``_solve_normalised`` above the inflection point, branch-free."""
    cstar = ex2 - beta
    p = cstar / (ex2 + emx2)
    s = -2.0 * _inv_ncdf_low(p) if p < 0.5 else sc
    cc = ex2 - bc
    bpc = _INV_SQRT2PI * ex2
    s_t = sc + (beta - bc) / bpc
    s_t = s_t if not (s > sc) else max(s, s_t)
    use_t = (ax > 0.0) & ((cstar > _TANGENT_SWITCH * cc) | (not (s > sc)))
    s = s_t if use_t else s
    return s if s > sc else sc * 1.5 + 1e-3


@njit(cache=True, inline="always")
def _iv_step(x, x2, ax, s, lo, hi, target, ex2, emx2, lower):
    """One evaluation and Householder step of ``_solve_normalised``, branch-free.

    Returns (s_new, lo, hi, converged_at_s, converged_at_s_new, ok).
    """
    inv_s = 1.0 / s
    xs2 = x2 * (inv_s * inv_s)
    bp = _INV_SQRT2PI * fexp(-0.5 * xs2 - 0.125 * s * s)
    val = _iv_eval(x, s, bp, ex2, emx2, lower)
    f = flog(val) - target
    g1 = bp / val if lower else -bp / val
    below = (f < 0.0) if lower else (f > 0.0)
    lo = s if below else lo
    hi = hi if below else s
    ftol = _F_TOL + 8.0 * _EPS * ax * (inv_s * inv_s) if lower else _F_TOL
    conv = abs(f) <= ftol
    # h2 = g2 / g1 and h3 = g3 / g1 of the scalar solver, without the divisions.
    a = xs2 * inv_s - 0.25 * s
    da = -3.0 * xs2 * (inv_s * inv_s) - 0.25
    h2 = a - g1
    h3 = (a * a + da) - 3.0 * g1 * a + 2.0 * g1 * g1
    nu = -f / g1
    ds = nu * (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu * (1.0 / 6.0)))
    s_new = s + ds
    inside = (s_new > lo) & (s_new < hi)
    conv_new = inside & (abs(ds) <= _STEP_DONE * s)
    # A step out of the bracket bisects it (doubles s when the bracket is open above).
    s_new = s_new if inside else (0.5 * (lo + hi) if hi < np.inf else 2.0 * s)
    ok = val > 0.0
    return s_new, lo, hi, conv, conv_new, ok


@njit(cache=True, inline="always")
def _iv_fast_step(x, x2, ax, s, lo, hi, target, ex2, emx2, lower, done, ok, result, its, it):
    """Evaluation number ``it`` of the vectorised pass, a no-op (but for s) once ``done``."""
    s_new, lo, hi, conv, conv_new, step_ok = _iv_step(
        x, x2, ax, s, lo, hi, target, ex2, emx2, lower
    )
    result = result if done else (s if conv else s_new)
    its = its if done else it
    ok = ok & (done | step_ok)
    done = done | conv | conv_new
    return s_new, lo, hi, done, ok, result, its


#: Elements per task of the parallel loops whose body is a separately compiled vectorised loop.
_CHUNK = 1024


@njit(cache=True, parallel=True, error_model="numpy")
def implied_vol_kernel(
    price, under, strike, expiry, rate, carry, is_call, forward_model, out, reason, iterations
):
    """Implied volatility of European option prices into ``out``, ``reason``, ``iterations``.

    Pass 1 (``_implied_vol_fast``) runs ``_solve_normalised``'s algorithm branch-free (so its
    loop vectorises) with a fixed number of evaluations (4) on the ordinary elements; pass 2
    solves the rest one by one. The parallel loop only hands out chunks: a large parfor body
    makes numba's parfor passes take minutes to compile.
    """
    n = out.shape[0]
    todo = np.empty(n, dtype=np.bool_)
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        _implied_vol_fast(
            c * _CHUNK,
            min(n, (c + 1) * _CHUNK),
            price,
            under,
            strike,
            expiry,
            rate,
            carry,
            is_call,
            forward_model,
            out,
            reason,
            iterations,
            todo,
        )
    for i in prange(n):
        if todo[i]:
            _implied_vol_slow(
                i,
                price,
                under,
                strike,
                expiry,
                rate,
                carry,
                is_call,
                forward_model,
                out,
                reason,
                iterations,
            )


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _implied_vol_fast(
    start,
    stop,
    price,
    under,
    strike,
    expiry,
    rate,
    carry,
    is_call,
    forward_model,
    out,
    reason,
    iterations,
    todo,
):
    """Vectorised pass of ``implied_vol_kernel`` over elements start:stop (sets ``todo``).

    The loop writes one fresh scratch array only: with the outputs written directly LLVM would
    need more runtime alias checks than it accepts, and would not vectorise.
    """
    res = np.empty((3, stop - start))
    for i in range(start, stop):
        t = expiry[i]
        r = rate[i]
        q = r if forward_model else carry[i]
        k = strike[i]
        u = under[i]
        pr = price[i]
        w = 1.0 if is_call[i] else -1.0
        # The forward exactly as the pricers compute it, so price -> vol -> price round-trips.
        df = fexp(-r * t)
        fwd = u if forward_model else u * fexp(-q * t) / df
        p = pr / df
        intrinsic = max(w * (fwd - k), 0.0)
        upper = fwd if w > 0.0 else k
        tv = p - intrinsic
        rootfk = math.sqrt(fwd * k)
        beta = tv / rootfk
        x = -abs(flog(fwd / k))
        ex2 = fexp(0.5 * x)
        emx2 = fexp(-0.5 * x)
        valid = (
            _finite(pr)
            & _finite(u)
            & _finite(k)
            & _finite(t)
            & _finite(r)
            & _finite(q)
            & (fwd > 1e-150)
            & (fwd < 1e150)
            & (k > 1e-150)
            & (k < 1e150)
            & (t > 0.0)
            & (df > 1e-300)
            & (df < 1e300)
            & (tv > 1e-300 * rootfk)
            & (p < upper)
            & (beta < ex2)
        )
        ax = -x
        sc = math.sqrt(2.0 * ax)
        x2 = x * x
        bc = _iv_eval(x, sc, _INV_SQRT2PI * ex2, ex2, emx2, True)
        lower = (ax > 0.0) & (beta <= bc)
        s = (
            _iv_guess_lower(x, ax, sc, beta, bc, ex2)
            if lower
            else _iv_guess_upper(x, ax, sc, beta, bc, ex2, emx2)
        )
        target = flog(beta) if lower else flog(ex2 - beta)
        lo = 0.0 if lower else sc
        hi = sc if lower else np.inf
        done = False
        ok = valid
        result = 0.0
        its = 0
        # Four evaluations, unrolled (an inner loop would stop the vectoriser).
        s, lo, hi, done, ok, result, its = _iv_fast_step(
            x, x2, ax, s, lo, hi, target, ex2, emx2, lower, done, ok, result, its, 1
        )
        s, lo, hi, done, ok, result, its = _iv_fast_step(
            x, x2, ax, s, lo, hi, target, ex2, emx2, lower, done, ok, result, its, 2
        )
        s, lo, hi, done, ok, result, its = _iv_fast_step(
            x, x2, ax, s, lo, hi, target, ex2, emx2, lower, done, ok, result, its, 3
        )
        s, lo, hi, done, ok, result, its = _iv_fast_step(
            x, x2, ax, s, lo, hi, target, ex2, emx2, lower, done, ok, result, its, 4
        )
        vol = result / math.sqrt(t)
        good = ok & done & (abs(vol) <= _DBL_MAX)
        res[0, i - start] = vol
        res[1, i - start] = its
        res[2, i - start] = 0.0 if good else 1.0
    for i in range(start, stop):
        out[i] = res[0, i - start]
        reason[i] = R_OK
        iterations[i] = np.int8(res[1, i - start])
        todo[i] = res[2, i - start] != 0.0


@njit(cache=True, error_model="numpy")
def _implied_vol_slow(
    i, price, under, strike, expiry, rate, carry, is_call, forward_model, out, reason, iterations
):
    t = expiry[i]
    r = rate[i]
    q = r if forward_model else carry[i]
    if not (_finite(r) and _finite(q)):
        out[i] = np.nan
        reason[i] = R_NAN_INPUT
        iterations[i] = 0
        return
    df = fexp(-r * t)
    fwd = under[i] if forward_model else under[i] * fexp(-q * t) / df
    vol, code, its = _implied_vol_one(price[i], fwd, strike[i], t, df, is_call[i])
    if code == R_OK and not abs(vol) <= _DBL_MAX:
        vol = np.nan
        code = R_OUT_OF_RANGE
    out[i] = vol
    reason[i] = code
    iterations[i] = its


# --- American options --------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _crr_one(s, k, t, r, q, v, call, american, steps, values):
    dt = t / steps
    u = math.exp(v * math.sqrt(dt))
    d = 1.0 / u
    growth = math.exp((r - q) * dt)
    disc = math.exp(-r * dt)
    pu = (growth - d) / (u - d)
    if not (pu >= 0.0 and pu <= 1.0):
        return np.nan
    pd = 1.0 - pu
    w = 1.0 if call else -1.0
    # values[j] = node with j up-moves at the current step.
    for j in range(steps + 1):
        sj = s * u ** (2 * j - steps)
        values[j] = max(w * (sj - k), 0.0)
    for step in range(steps - 1, -1, -1):
        for j in range(step + 1):
            cont = disc * (pu * values[j + 1] + pd * values[j])
            if american:
                sj = s * u ** (2 * j - step)
                ex = w * (sj - k)
                values[j] = cont if cont > ex else ex
            else:
                values[j] = cont
    return values[0]


@njit(cache=True, error_model="numpy")
def pu_invalid(s, t, r, q, v, steps):
    """True when the CRR up-probability falls outside [0, 1] (too few steps for the carry)."""
    dt = t / steps
    u = math.exp(v * math.sqrt(dt))
    d = 1.0 / u
    pu = (math.exp((r - q) * dt) - d) / (u - d)
    return not (pu >= 0.0 and pu <= 1.0)


@njit(cache=True, parallel=True, error_model="numpy")
def crr_kernel(spot, strike, expiry, rate, carry, vol, is_call, american, steps, out, reason):
    """Cox-Ross-Rubinstein binomial price of American (or European) options into ``out``."""
    n = out.shape[0]
    for i in prange(n):
        s = spot[i]
        k = strike[i]
        t = expiry[i]
        r = rate[i]
        q = carry[i]
        v = vol[i]
        code = _check_inputs(s, k, t, r, q, v)
        if code == R_OK and steps < 1:
            code = R_INVALID_PARAMETER
        reason[i] = code
        if code != R_OK:
            out[i] = np.nan
            continue
        if v * math.sqrt(t) == 0.0:
            w = 1.0 if is_call[i] else -1.0
            euro = math.exp(-r * t) * max(w * (s * math.exp((r - q) * t) - k), 0.0)
            price = max(euro, max(w * (s - k), 0.0)) if american else euro
        else:
            values = np.empty(steps + 1)
            price = _crr_one(s, k, t, r, q, v, is_call[i], american, steps, values)
        if not abs(price) <= _DBL_MAX:
            if v * math.sqrt(t) > 0.0 and pu_invalid(s, t, r, q, v, steps):
                reason[i] = R_INVALID_PARAMETER
            else:
                reason[i] = R_OUT_OF_RANGE
            price = np.nan
        out[i] = price


@njit(cache=True, error_model="numpy")
def _baw_call(s, k, t, r, q, v):
    """Barone-Adesi-Whaley American call (q > 0 or r < 0 side handled by the caller).

    Returns (price, converged).
    """
    b = r - q
    v2 = v * v
    sqt = math.sqrt(t)
    sd = v * sqt
    euro = _bs_price(s, k, t, r, q, v, True)
    nn = 2.0 * b / v2
    if abs(r * t) < 1e-12:
        m_over_k = 2.0 / (v2 * t)
        mm = 0.0
    else:
        mm = 2.0 * r / v2
        m_over_k = mm / (1.0 - math.exp(-r * t))
    q2 = 0.5 * (-(nn - 1.0) + math.sqrt((nn - 1.0) ** 2 + 4.0 * m_over_k))
    q2u = 0.5 * (-(nn - 1.0) + math.sqrt((nn - 1.0) ** 2 + 4.0 * mm))
    su = k / (1.0 - 1.0 / q2u) if q2u > 1.0 else 1e300
    h2 = -(b * t + 2.0 * sd) * k / (su - k)
    si = k + (su - k) * (1.0 - math.exp(h2))
    ebr = math.exp((b - r) * t)
    converged = False
    for _ in range(200):
        d1 = (math.log(si / k) + (b + 0.5 * v2) * t) / sd
        nd1 = _ncdf(d1)
        lhs = si - k
        rhs = _bs_price(si, k, t, r, q, v, True) + (1.0 - ebr * nd1) * si / q2
        if abs(lhs - rhs) <= 1e-12 * k:
            converged = True
            break
        bi = ebr * nd1 * (1.0 - 1.0 / q2) + (1.0 - ebr * _npdf(d1) / sd) / q2
        si = (k + rhs - bi * si) / (1.0 - bi)
        if not (si > 0.0):
            break
    if not converged:
        return np.nan, False
    if s >= si:
        return s - k, True
    d1 = (math.log(si / k) + (b + 0.5 * v2) * t) / sd
    a2 = (si / q2) * (1.0 - ebr * _ncdf(d1))
    return euro + a2 * (s / si) ** q2, True


@njit(cache=True, error_model="numpy")
def _baw_put(s, k, t, r, q, v):
    """Barone-Adesi-Whaley American put for r > 0. Returns (price, converged)."""
    b = r - q
    v2 = v * v
    sqt = math.sqrt(t)
    sd = v * sqt
    euro = _bs_price(s, k, t, r, q, v, False)
    nn = 2.0 * b / v2
    mm = 2.0 * r / v2
    kk = 1.0 - math.exp(-r * t)
    q1 = 0.5 * (-(nn - 1.0) - math.sqrt((nn - 1.0) ** 2 + 4.0 * mm / kk))
    q1u = 0.5 * (-(nn - 1.0) - math.sqrt((nn - 1.0) ** 2 + 4.0 * mm))
    su = k / (1.0 - 1.0 / q1u)
    h1 = (b * t - 2.0 * sd) * k / (k - su)
    si = su + (k - su) * math.exp(h1)
    ebr = math.exp((b - r) * t)
    converged = False
    for _ in range(200):
        d1 = (math.log(si / k) + (b + 0.5 * v2) * t) / sd
        nmd1 = _ncdf(-d1)
        lhs = k - si
        rhs = _bs_price(si, k, t, r, q, v, False) - (1.0 - ebr * nmd1) * si / q1
        if abs(lhs - rhs) <= 1e-12 * k:
            converged = True
            break
        bi = -ebr * nmd1 * (1.0 - 1.0 / q1) - (1.0 + ebr * _npdf(d1) / sd) / q1
        si = (k - rhs + bi * si) / (1.0 + bi)
        if not (si > 0.0):
            break
    if not converged:
        return np.nan, False
    if s <= si:
        return k - s, True
    d1 = (math.log(si / k) + (b + 0.5 * v2) * t) / sd
    a1 = -(si / q1) * (1.0 - ebr * _ncdf(-d1))
    return euro + a1 * (s / si) ** q1, True


@njit(cache=True, error_model="numpy")
def _baw_one(s, k, t, r, q, v, call):
    """(price, reason) of one valid American option by Barone-Adesi-Whaley."""
    w = 1.0 if call else -1.0
    exercise = max(w * (s - k), 0.0)
    if v * math.sqrt(t) == 0.0:
        euro = math.exp(-r * t) * max(w * (s * math.exp((r - q) * t) - k), 0.0)
        return max(euro, exercise), R_OK
    if call and q <= 0.0:
        # Early exercise of a call never pays without dividends: American = European.
        return _bs_price(s, k, t, r, q, v, True), R_OK
    if (not call) and r <= 0.0:
        return _bs_price(s, k, t, r, q, v, False), R_OK
    if call:
        price, ok = _baw_call(s, k, t, r, q, v)
    else:
        price, ok = _baw_put(s, k, t, r, q, v)
    if not ok:
        return np.nan, R_NO_CONVERGENCE
    return max(price, exercise), R_OK


@njit(cache=True, parallel=True, error_model="numpy")
def baw_kernel(spot, strike, expiry, rate, carry, vol, is_call, out, reason):
    """Barone-Adesi-Whaley (1987) American option prices into ``out``."""
    n = out.shape[0]
    for i in prange(n):
        s = spot[i]
        k = strike[i]
        t = expiry[i]
        r = rate[i]
        q = carry[i]
        v = vol[i]
        code = _check_inputs(s, k, t, r, q, v)
        price = np.nan
        if code == R_OK:
            price, code = _baw_one(s, k, t, r, q, v, is_call[i])
            if code == R_OK and not abs(price) <= _DBL_MAX:
                code = R_OUT_OF_RANGE
        reason[i] = code
        out[i] = price if code == R_OK else np.nan
