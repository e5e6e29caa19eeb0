"""American options: Barone-Adesi-Whaley approximation and a Cox-Ross-Rubinstein binomial tree.

``barone_adesi_whaley`` (Barone-Adesi and Whaley, J. Finance 1987; implementation as in Haug,
"The Complete Guide to Option Pricing Formulas", 2nd ed., 1.3.1) is a quadratic approximation:
European value plus an early-exercise premium, with the critical price found by Newton
iteration (tolerance 1e-12 of the strike). It is fast and accurate to roughly 1e-3 of the
price for ordinary inputs, less for long expiries.

``binomial_tree`` is a CRR tree with ``steps`` time steps (O(steps^2) per option), the
reference for BAW. Its error falls roughly as 1/steps and oscillates; ``binomial_convergence``
reports the change from ``steps`` to ``2 * steps`` so a caller can check that a step count is
enough.

Without early-exercise value the American price equals the European one, and both functions
return the Black-Scholes-Merton price exactly there (BAW) or the tree's European value (tree):
a call with dividend yield q <= 0, a put with rate r <= 0. Inputs and reasons as in
``black_scholes``; a tree with fewer than 1 step, or whose risk-neutral probability falls
outside [0, 1] (``steps`` too small for the carry), gives ``INVALID_PARAMETER``; a BAW critical
price that does not converge gives ``NO_CONVERGENCE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from shriven.pricing import _kernels as _k
from shriven.pricing.black_scholes import PriceResult, price_with_kernel
from shriven.pricing.reasons import raise_for

__all__ = [
    "BinomialConvergence",
    "american_price",
    "barone_adesi_whaley",
    "binomial_convergence",
    "binomial_tree",
]


def barone_adesi_whaley(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
) -> PriceResult:
    """Barone-Adesi-Whaley American option prices, vectorised (arguments as ``black_scholes``)."""
    values = (spot, strike, expiry, rate, dividend_yield, volatility)
    return price_with_kernel(_k.baw_kernel, values, is_call)


def binomial_tree(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    steps: int = 1000,
    american: bool = True,
) -> PriceResult:
    """Cox-Ross-Rubinstein binomial prices, American unless ``american`` is False."""
    values = (spot, strike, expiry, rate, dividend_yield, volatility)
    return price_with_kernel(_k.crr_kernel, values, is_call, bool(american), int(steps))


@dataclass(frozen=True, slots=True)
class BinomialConvergence:
    """Tree prices with ``steps`` and ``2 * steps`` and the largest absolute change."""

    price: np.ndarray
    price_doubled: np.ndarray
    max_abs_change: float
    max_rel_change: float


def binomial_convergence(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    steps: int = 1000,
    american: bool = True,
) -> BinomialConvergence:
    """Convergence check of the tree: prices with ``steps`` and ``2 * steps`` steps."""
    args = (spot, strike, expiry, rate, dividend_yield, volatility, is_call)
    coarse = binomial_tree(*args, steps=steps, american=american).price
    fine = binomial_tree(*args, steps=2 * steps, american=american).price
    change = np.abs(fine - coarse)
    finite = np.isfinite(change)
    rel = change[finite] / np.maximum(np.abs(fine[finite]), 1e-300)
    return BinomialConvergence(
        price=coarse,
        price_doubled=fine,
        max_abs_change=float(change[finite].max(initial=0.0)),
        max_rel_change=float(rel.max(initial=0.0)),
    )


def american_price(
    spot: float,
    strike: float,
    expiry: float,
    rate: float,
    dividend_yield: float,
    volatility: float,
    is_call: bool,
    method: str = "baw",
    steps: int = 1000,
) -> float:
    """American price of one option by ``method`` "baw" or "binomial"; ``ValueError`` if invalid."""
    args = (spot, strike, expiry, rate, dividend_yield, volatility, is_call)
    if any(np.ndim(a) != 0 for a in args):
        raise ValueError("american_price: scalar inputs expected")
    if method == "baw":
        result = barone_adesi_whaley(*args)
    elif method == "binomial":
        result = binomial_tree(*args, steps=steps)
    else:
        raise ValueError(f"american_price: unknown method {method!r} (use 'baw' or 'binomial')")
    raise_for(int(result.reason[()]), "american_price")
    return float(result.price[()])
