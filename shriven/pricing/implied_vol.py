"""Implied volatility of European option prices (Black-Scholes-Merton and Black-76).

Method (after Jaeckel, "Let's be rational", Wilmott 2015): the price is divided by the discount
factor and by sqrt(F K); its time value is then the normalised price b(x, s) of an
out-of-the-money call with x = -|ln(F/K)| and total volatility s = sigma sqrt(T). The solver
splits at the inflection point s_c = sqrt(2|x|) of b: below it, it solves ln b(s) = ln(beta)
(an initial guess from the asymptotic expansion of b for small s); above it, ln(e^{x/2} - b(s))
= ln(e^{x/2} - beta) (a guess from the inverse normal CDF). Both objectives are nearly linear
in the right variable, and each is solved with third-order Householder steps inside a
bisection bracket, so it needs 2 to 3 evaluations over ordinary inputs (at most 11 on the test
grid) and never leaves the bracket. It stops when the relative price residual is within the
evaluation's own rounding noise, or after a Householder step smaller than 1e-6 of s (third
order: the remaining error is of order 1e-18). Far tails keep full relative precision because the normal CDF is erfc-based.

Bounds: the undiscounted price p must satisfy intrinsic <= p < upper (upper = F for a call,
K for a put). A price equal to intrinsic gives volatility 0; outside the bounds the result is
NaN with ``PRICE_BELOW_INTRINSIC`` or ``PRICE_ABOVE_MAX``. A time value whose normalised price
is not representable (it underflows to 0, e.g. a 1-day 1 %-vol option 50 % out of the money)
cannot be inverted: it reads as 0 and gives volatility 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from shriven.pricing import _kernels as _k
from shriven.pricing._inputs import broadcast_inputs
from shriven.pricing.reasons import raise_for

__all__ = [
    "ImpliedVolResult",
    "implied_vol",
    "implied_vol_black76",
    "implied_volatility",
    "implied_volatility_black76",
]


@dataclass(frozen=True, slots=True)
class ImpliedVolResult:
    """Implied volatilities (NaN where ``reason != Reason.OK``) and solver effort.

    ``iterations`` counts evaluations of the normalised price (each followed by at most one
    Householder step); 0 where no solve was needed (bad input, or a price at intrinsic value).
    """

    volatility: np.ndarray
    reason: np.ndarray
    iterations: np.ndarray


def _solve(
    price: ArrayLike,
    underlying: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    is_call: ArrayLike,
    forward_model: bool,
) -> ImpliedVolResult:
    shape, (p, u, k, t, r, q), c = broadcast_inputs(
        (price, underlying, strike, expiry, rate, carry), is_call
    )
    n = p.shape[0]
    out = np.empty(n)
    reason = np.empty(n, dtype=np.int8)
    iterations = np.empty(n, dtype=np.int8)
    _k.implied_vol_kernel(p, u, k, t, r, q, c, forward_model, out, reason, iterations)
    return ImpliedVolResult(
        volatility=out.reshape(shape),
        reason=reason.reshape(shape),
        iterations=iterations.reshape(shape),
    )


def implied_volatility(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    is_call: ArrayLike,
) -> ImpliedVolResult:
    """Black-Scholes-Merton implied volatility, vectorised with numpy broadcasting.

    Parameters as ``black_scholes.black_scholes`` with the option ``price`` in place of the
    volatility. Never raises on a bad element: NaN and a ``Reason`` code instead.
    """
    return _solve(price, spot, strike, expiry, rate, dividend_yield, is_call, False)


def implied_volatility_black76(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    is_call: ArrayLike,
) -> ImpliedVolResult:
    """Black-76 implied volatility of options on a forward, discounted at ``rate``."""
    return _solve(price, forward, strike, expiry, rate, 0.0, is_call, True)


def implied_vol(
    price: float,
    spot: float,
    strike: float,
    expiry: float,
    rate: float,
    dividend_yield: float,
    is_call: bool,
) -> float:
    """Black-Scholes-Merton implied volatility of one price; ``ValueError`` naming the reason."""
    args = (price, spot, strike, expiry, rate, dividend_yield, is_call)
    if any(np.ndim(a) != 0 for a in args):
        raise ValueError("implied_vol: scalar inputs expected, use implied_volatility")
    result = implied_volatility(*args)
    raise_for(int(result.reason[()]), "implied_vol")
    return float(result.volatility[()])


def implied_vol_black76(
    price: float, forward: float, strike: float, expiry: float, rate: float, is_call: bool
) -> float:
    """Black-76 implied volatility of one price; ``ValueError`` naming the reason."""
    args = (price, forward, strike, expiry, rate, is_call)
    if any(np.ndim(a) != 0 for a in args):
        raise ValueError("implied_vol_black76: scalar inputs expected")
    result = implied_volatility_black76(*args)
    raise_for(int(result.reason[()]), "implied_vol_black76")
    return float(result.volatility[()])
