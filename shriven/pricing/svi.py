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

from dataclasses import dataclass

import numpy as np
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


def _linear_fit(k, w, weights, m, sigma):
    """Best (a, d, c) of w = a + d y + c sqrt(y^2 + 1), y = (k - m) / sigma, and its error."""
    y = (k - m) / sigma
    design = np.stack([np.ones_like(y), y, np.sqrt(y * y + 1)], axis=1)
    sw = np.sqrt(weights)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], w * sw, rcond=None)
    a, d, c = coef
    c = max(c, 0.0)
    d = float(np.clip(d, -c * (1 - 1e-9), c * (1 - 1e-9))) if c > 0 else 0.0
    a = max(a, -c * np.sqrt(max(1 - (d / c) ** 2, 0.0)) if c > 0 else 0.0)
    resid = a + d * y + c * np.sqrt(y * y + 1) - w
    return (a, d, c), float(np.sum(weights * resid * resid))


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
    best = (np.inf, 0.0, 1.0, (0.0, 0.0, 0.0))
    for _ in range(zooms):
        for m in np.linspace(m_lo, m_hi, grid):
            for log_s in np.linspace(s_lo, s_hi, grid):
                sigma = float(np.exp(log_s))
                coef, err = _linear_fit(k, w, wt, float(m), sigma)
                if err < best[0]:
                    best = (err, float(m), sigma, coef)
        _, m_best, s_best, _ = best
        m_step = (m_hi - m_lo) / (grid - 1)
        s_step = (s_hi - s_lo) / (grid - 1)
        m_lo, m_hi = m_best - 2 * m_step, m_best + 2 * m_step
        s_lo, s_hi = np.log(s_best) - 2 * s_step, np.log(s_best) + 2 * s_step
    _, m, sigma, (a, d, c) = best
    b = c / sigma
    rho = d / c if c > 0 else 0.0
    return SVIParams(a=float(a), b=float(b), rho=float(rho), m=float(m), sigma=float(sigma))
