"""Covariance estimators for the optimisers: sample, Ledoit-Wolf shrinkage and EWMA.

Every estimator takes a returns matrix, ``T x N`` (rows are periods, columns assets), as a numpy
array or a wide polars frame (its numeric columns are the assets, in order; a temporal or string
column such as ``date`` is ignored). NaNs are rejected rather than dropped (the caller decides
how to align missing periods), and so are fewer than two observations.

Results are symmetric and positive semi-definite. All three estimators are PSD in exact
arithmetic (a Gram matrix, a convex combination of PSD matrices, a weighted Gram matrix); rounding
can leave an eigenvalue a hair below zero, which :func:`nearest_psd` repairs by clipping the
eigenvalues at zero (the nearest PSD matrix in the Frobenius norm, Higham 1988) only when the
smallest one is below ``-1e-12`` times the largest. With ``T <= N`` the sample covariance is
singular: prefer Ledoit-Wolf, which is positive definite whenever its shrinkage is above zero.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl

__all__ = [
    "CovarianceKind",
    "LedoitWolfTarget",
    "estimate_covariance",
    "ewma_covariance",
    "ewma_weights",
    "ledoit_wolf_covariance",
    "ledoit_wolf_shrinkage",
    "nearest_psd",
    "returns_matrix",
    "sample_covariance",
]

CovarianceKind = Literal["sample", "ledoit_wolf", "ewma"]
LedoitWolfTarget = Literal["constant_correlation", "identity"]

#: Fewest periods any estimator accepts (a covariance needs two observations).
MIN_OBSERVATIONS = 2
#: Relative size of a negative eigenvalue that :func:`nearest_psd` treats as rounding.
PSD_TOLERANCE = 1e-12


def returns_matrix(returns: np.ndarray | pl.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ``T x N`` float matrix and asset names of the input, checked (names ``0..N-1`` for numpy)."""
    if isinstance(returns, pl.DataFrame):
        columns = [name for name, dtype in returns.schema.items() if dtype.is_numeric()]
        if not columns:
            raise ValueError("the returns frame has no numeric (asset) columns")
        matrix = returns.select(columns).cast(pl.Float64).to_numpy()
        names = tuple(columns)
    else:
        matrix = np.asarray(returns, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"returns must be a T x N matrix, got shape {matrix.shape}")
        names = tuple(str(i) for i in range(matrix.shape[1]))
    if matrix.shape[1] == 0:
        raise ValueError("returns have no assets (N = 0)")
    if matrix.shape[0] < MIN_OBSERVATIONS:
        raise ValueError(
            f"need at least {MIN_OBSERVATIONS} observations (rows) to estimate a covariance, "
            f"got {matrix.shape[0]}"
        )
    bad = ~np.isfinite(matrix)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise ValueError(
            f"returns hold {int(bad.sum())} NaN/inf values (first at row {int(rows[0])}, "
            f"asset {names[int(cols[0])]!r}); align or fill them before estimating"
        )
    return np.ascontiguousarray(matrix), names


def sample_covariance(returns: np.ndarray | pl.DataFrame) -> np.ndarray:
    """The unbiased sample covariance (``ddof = 1``): the baseline every shrinkage is judged against."""
    x, _ = returns_matrix(returns)
    centred = x - x.mean(axis=0)
    return _finish(centred.T @ centred / (x.shape[0] - 1))


def ledoit_wolf_shrinkage(
    returns: np.ndarray | pl.DataFrame, target: LedoitWolfTarget = "constant_correlation"
) -> tuple[np.ndarray, float]:
    """The Ledoit-Wolf shrunk covariance and its intensity ``delta`` in ``[0, 1]``.

    The estimate is ``delta * F + (1 - delta) * S`` with ``S`` the maximum-likelihood sample
    covariance (``ddof = 0``, mean removed), as in both papers.

    * ``"constant_correlation"`` (default; Ledoit & Wolf 2004, "Honey, I shrunk the sample
      covariance matrix"): ``F`` keeps the sample variances and sets every correlation to the
      average sample correlation; ``delta = clip(kappa / T, 0, 1)`` with ``kappa = (pi - rho) /
      gamma`` from the paper's consistent estimators.
    * ``"identity"`` (Ledoit & Wolf 2004, "A well-conditioned estimator…"): ``F = mu * I`` with
      ``mu`` the average sample variance; the same estimator as ``sklearn.covariance.LedoitWolf``.
    """
    x, _ = returns_matrix(returns)
    t, n = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / t
    if target == "identity":
        x2 = x**2
        mu = float(np.trace(s)) / n
        phi = float(np.sum(x2.T @ x2)) / t - float(
            np.sum(s**2)
        )  # sum_ij of the sample variance of x_i x_j
        beta = phi / (n * t)
        delta_norm = float(np.sum((s - mu * np.eye(n)) ** 2)) / n
        beta = min(beta, delta_norm)
        shrinkage = 0.0 if beta == 0.0 else beta / delta_norm
        prior = mu * np.eye(n)
    elif target == "constant_correlation":
        var = np.diag(s).copy()
        std = np.sqrt(var)
        if np.any(std == 0.0):
            raise ValueError("an asset has zero variance: its correlations are undefined")
        corr = s / np.outer(std, std)
        rbar = (float(corr.sum()) - n) / (n * (n - 1)) if n > 1 else 0.0
        prior = rbar * np.outer(std, std)
        np.fill_diagonal(prior, var)
        y = x**2
        pi_mat = y.T @ y / t - s**2
        pi_hat = float(pi_mat.sum())
        theta = (x**3).T @ x / t - var[:, None] * s  # theta[i, j] = asy cov(s_ii, s_ij)
        ratio = std[None, :] / std[:, None]  # ratio[i, j] = sqrt(s_jj / s_ii)
        off = rbar / 2.0 * (ratio * theta + ratio.T * theta.T)
        np.fill_diagonal(off, 0.0)
        rho_hat = float(np.trace(pi_mat)) + float(off.sum())
        gamma_hat = float(np.sum((prior - s) ** 2))
        if gamma_hat == 0.0:
            shrinkage = 0.0
        else:
            shrinkage = max(0.0, min(1.0, (pi_hat - rho_hat) / gamma_hat / t))
    else:
        raise ValueError(
            f"unknown Ledoit-Wolf target {target!r}; known: constant_correlation, identity"
        )
    return _finish(shrinkage * prior + (1.0 - shrinkage) * s), float(shrinkage)


def ledoit_wolf_covariance(
    returns: np.ndarray | pl.DataFrame, target: LedoitWolfTarget = "constant_correlation"
) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance: well conditioned when T is short against N (see the shrinkage)."""
    return ledoit_wolf_shrinkage(returns, target)[0]


def ewma_weights(
    observations: int, *, half_life: float | None = None, decay: float | None = None
) -> np.ndarray:
    """Weights of the periods, oldest first, summing to 1: ``w_t ∝ lambda^(T-1-t)``.

    Give exactly one of ``half_life`` (in periods: the weight halves every ``half_life`` periods,
    ``lambda = 0.5 ** (1 / half_life)``) or ``decay`` (``lambda`` itself, in ``(0, 1]``;
    RiskMetrics daily uses 0.94).
    """
    if (half_life is None) == (decay is None):
        raise ValueError("give exactly one of half_life or decay")
    if half_life is not None:
        if not (math.isfinite(half_life) and half_life > 0):
            raise ValueError(f"half_life must be a positive number of periods, got {half_life!r}")
        decay = 0.5 ** (1.0 / half_life)
    assert decay is not None
    if not (0.0 < decay <= 1.0):
        raise ValueError(f"decay (lambda) must be in (0, 1], got {decay!r}")
    raw = decay ** np.arange(observations - 1, -1, -1, dtype=np.float64)
    return raw / raw.sum()


def ewma_covariance(
    returns: np.ndarray | pl.DataFrame,
    *,
    half_life: float | None = None,
    decay: float | None = None,
    demean: bool = True,
) -> np.ndarray:
    """Exponentially weighted covariance: recent periods count more, so the estimate follows regimes.

    With normalised weights ``w`` (:func:`ewma_weights`) and the weighted mean ``m`` (zero when
    ``demean`` is false), the estimate is ``sum_t w_t (x_t - m)(x_t - m)' / (1 - sum_t w_t^2)``:
    the reliability-weights bias correction, which makes it unbiased for i.i.d. returns and equal
    to the ``ddof = 1`` sample covariance when ``lambda = 1``. Without demeaning the divisor is 1
    (no degree of freedom is spent on the mean). Defaults to ``half_life = T / 4`` periods when
    neither parameter is given.
    """
    x, _ = returns_matrix(returns)
    t = x.shape[0]
    if half_life is None and decay is None:
        half_life = max(1.0, t / 4.0)
    w = ewma_weights(t, half_life=half_life, decay=decay)
    if demean:
        x = x - w @ x
        correction = 1.0 - float(np.sum(w**2))
        if correction <= 0.0:
            raise ValueError("the EWMA weights put all mass on one period: decay too fast for T")
    else:
        correction = 1.0
    return _finish((x * w[:, None]).T @ x / correction)


def estimate_covariance(
    returns: np.ndarray | pl.DataFrame,
    kind: CovarianceKind = "ledoit_wolf",
    *,
    target: LedoitWolfTarget = "constant_correlation",
    half_life: float | None = None,
    decay: float | None = None,
) -> np.ndarray:
    """One entry point for the rebalance settings: the covariance of ``kind`` with its options."""
    if kind == "sample":
        return sample_covariance(returns)
    if kind == "ledoit_wolf":
        return ledoit_wolf_covariance(returns, target)
    if kind == "ewma":
        return ewma_covariance(returns, half_life=half_life, decay=decay)
    raise ValueError(f"unknown covariance kind {kind!r}; known: sample, ledoit_wolf, ewma")


def nearest_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric part with negative eigenvalues clipped to zero: the nearest PSD matrix (Frobenius)."""
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a covariance must be square, got shape {a.shape}")
    sym = (a + a.T) / 2.0
    values, vectors = np.linalg.eigh(sym)
    if values.size == 0 or values[0] >= -PSD_TOLERANCE * max(float(values[-1]), 0.0):
        return sym
    clipped = (vectors * np.clip(values, 0.0, None)) @ vectors.T
    return (clipped + clipped.T) / 2.0


def _finish(cov: np.ndarray) -> np.ndarray:
    """Symmetric and PSD (rounding repaired, see the module docstring)."""
    return nearest_psd(cov)
