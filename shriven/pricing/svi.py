"""Raw SVI volatility smiles (Gatheral 2004): evaluation, butterfly-arbitrage check, calibration.

Total implied variance at log-moneyness k = ln(K / F) for one expiry:

    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),     implied vol = sqrt(w(k) / T),

with b >= 0, |rho| < 1, sigma > 0 and a + b sigma sqrt(1 - rho^2) >= 0 (w >= 0 everywhere).
A smile is free of butterfly arbitrage where Gatheral's density factor

    g(k) = (1 - k w' / (2 w))^2 - (w'^2 / 4) (1 / w + 1 / 4) + w'' / 2

is non-negative (Gatheral and Jacquier, "Arbitrage-free SVI volatility surfaces", 2014).

Calibration is the quasi-explicit method of Zeliade Systems (2009): for fixed (m, sigma) the
model is linear in (a, rho b sigma, b sigma), solved by weighted least squares; (m, sigma) are
found by a grid search refined by successive zooms. Parameters outside the constraints of a
linear solve are clipped back into them. Plain numpy: a smile has tens of points, not millions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

__all__ = [
    "SVIParams",
    "calibrate_svi",
    "svi_butterfly_density",
    "svi_implied_vol",
    "svi_total_variance",
]


@dataclass(frozen=True, slots=True)
class SVIParams:
    """Raw SVI parameters of one expiry; ``ValueError`` if they allow negative variance."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        values = (self.a, self.b, self.rho, self.m, self.sigma)
        if not all(np.isfinite(values)):
            raise ValueError("SVIParams: NAN_INPUT")
        if self.b < 0 or not -1 < self.rho < 1 or self.sigma <= 0:
            raise ValueError("SVIParams: need b >= 0, |rho| < 1, sigma > 0")
        if self.a + self.b * self.sigma * np.sqrt(1 - self.rho**2) < -1e-14:
            raise ValueError("SVIParams: negative total variance (a + b sigma sqrt(1-rho^2) < 0)")


def svi_total_variance(log_moneyness: ArrayLike, params: SVIParams) -> np.ndarray:
    """Total implied variance w(k) at log-moneyness k = ln(K/F)."""
    y = np.asarray(log_moneyness, dtype=np.float64) - params.m
    return params.a + params.b * (params.rho * y + np.sqrt(y * y + params.sigma**2))


def svi_implied_vol(log_moneyness: ArrayLike, expiry: float, params: SVIParams) -> np.ndarray:
    """Black implied volatility sqrt(w(k) / T) of the smile at expiry ``expiry`` (> 0 years)."""
    if not expiry > 0:
        raise ValueError("svi_implied_vol: NEGATIVE_TIME (expiry must be > 0)")
    return np.sqrt(np.maximum(svi_total_variance(log_moneyness, params), 0.0) / expiry)


def svi_butterfly_density(log_moneyness: ArrayLike, params: SVIParams) -> np.ndarray:
    """Gatheral's g(k); the smile is free of butterfly arbitrage where it is >= 0."""
    k = np.asarray(log_moneyness, dtype=np.float64)
    y = k - params.m
    root = np.sqrt(y * y + params.sigma**2)
    w = params.a + params.b * (params.rho * y + root)
    w1 = params.b * (params.rho + y / root)
    w2 = params.b * params.sigma**2 / root**3
    return (1 - k * w1 / (2 * w)) ** 2 - (w1 * w1 / 4) * (1 / w + 0.25) + w2 / 2


@njit(cache=True, error_model="numpy")
def _linear_fit(k, w, weights, m, sigma):
    """Best (a, d, c) of w = a + d y + c sqrt(y^2 + 1), y = (k - m) / sigma, and its error.

    Weighted least squares by a modified Gram-Schmidt QR of the three columns (stable for the
    nearly collinear columns of far strikes), then the no-arbitrage clipping of (a, d, c).
    """
    n = k.shape[0]
    q = np.empty((3, n))
    rhs = np.empty(n)
    for i in range(n):
        sw = math.sqrt(weights[i])
        y = (k[i] - m) / sigma
        q[0, i] = sw
        q[1, i] = sw * y
        q[2, i] = sw * math.sqrt(y * y + 1.0)
        rhs[i] = sw * w[i]
    r = np.zeros((3, 3))
    for j in range(3):
        for p in range(j):
            dot = 0.0
            for i in range(n):
                dot += q[p, i] * q[j, i]
            r[p, j] = dot
            for i in range(n):
                q[j, i] -= dot * q[p, i]
        norm = 0.0
        for i in range(n):
            norm += q[j, i] * q[j, i]
        norm = math.sqrt(norm)
        r[j, j] = norm
        if norm > 0.0:
            for i in range(n):
                q[j, i] /= norm
    qtb = np.zeros(3)
    for j in range(3):
        for i in range(n):
            qtb[j] += q[j, i] * rhs[i]
    coef = np.zeros(3)
    for j in range(2, -1, -1):
        acc = qtb[j]
        for p in range(j + 1, 3):
            acc -= r[j, p] * coef[p]
        coef[j] = acc / r[j, j] if r[j, j] > 0.0 else 0.0
    a, d, c = coef[0], coef[1], coef[2]
    c = max(c, 0.0)
    if c > 0.0:
        lim = c * (1.0 - 1e-9)
        d = min(max(d, -lim), lim)
        a = max(a, -c * math.sqrt(max(1.0 - (d / c) ** 2, 0.0)))
    else:
        d = 0.0
        a = max(a, 0.0)
    err = 0.0
    for i in range(n):
        y = (k[i] - m) / sigma
        resid = a + d * y + c * math.sqrt(y * y + 1.0) - w[i]
        err += weights[i] * resid * resid
    return a, d, c, err


@njit(cache=True, error_model="numpy")
def _grid_search(k, w, weights, m_lo, m_hi, s_lo, s_hi, grid, zooms):
    """Zooming grid over (m, log sigma), the linear parameters solved at each point."""
    best_err = np.inf
    best = (0.0, 1.0, 0.0, 0.0, 0.0)
    for _ in range(zooms):
        for gm in range(grid):
            m = m_lo + (m_hi - m_lo) * gm / (grid - 1)
            for gs in range(grid):
                sigma = math.exp(s_lo + (s_hi - s_lo) * gs / (grid - 1))
                a, d, c, err = _linear_fit(k, w, weights, m, sigma)
                if err < best_err:
                    best_err = err
                    best = (m, sigma, a, d, c)
        m_step = (m_hi - m_lo) / (grid - 1)
        s_step = (s_hi - s_lo) / (grid - 1)
        m_lo, m_hi = best[0] - 2 * m_step, best[0] + 2 * m_step
        s_lo, s_hi = math.log(best[1]) - 2 * s_step, math.log(best[1]) + 2 * s_step
    return best


def calibrate_svi(
    log_moneyness: ArrayLike,
    total_variance: ArrayLike,
    weights: ArrayLike | None = None,
    zooms: int = 16,
    grid: int = 21,
) -> SVIParams:
    """Raw SVI parameters fitted to total variances w_i = sigma_i^2 T at log-moneyness k_i.

    Weighted least squares in total variance (``weights`` default 1); needs at least 5 points.
    """
    k = np.asarray(log_moneyness, dtype=np.float64)
    w = np.asarray(total_variance, dtype=np.float64)
    if k.shape != w.shape or k.ndim != 1 or k.size < 5:
        raise ValueError("calibrate_svi: need matching 1-d arrays of at least 5 points")
    if not (np.isfinite(k).all() and np.isfinite(w).all()):
        raise ValueError("calibrate_svi: NAN_INPUT")
    if (w < 0).any():
        raise ValueError("calibrate_svi: negative total variance")
    wt = np.ones_like(k) if weights is None else np.asarray(weights, dtype=np.float64)
    span = max(float(k.max() - k.min()), 1e-4)
    m_lo, m_hi = float(k.min()) - span, float(k.max()) + span
    s_lo, s_hi = np.log(1e-4 * span), np.log(2.0 * span)
    if grid < 2 or zooms < 1:
        raise ValueError("calibrate_svi: need grid >= 2 and zooms >= 1")
    m, sigma, a, d, c = _grid_search(k, w, wt, m_lo, m_hi, s_lo, s_hi, grid, zooms)
    b = c / sigma
    rho = d / c if c > 0 else 0.0
    return SVIParams(a=float(a), b=float(b), rho=float(rho), m=float(m), sigma=float(sigma))
