"""Covariance estimators: definitions, PSD results, sklearn's Ledoit-Wolf, a hand-worked EWMA."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.covariance import LedoitWolf

from shriven.optimize.covariance import (
    estimate_covariance,
    ewma_covariance,
    ewma_weights,
    ledoit_wolf_covariance,
    ledoit_wolf_shrinkage,
    nearest_psd,
    returns_matrix,
    sample_covariance,
)


def _returns(t: int, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n, n)) * 0.01
    return rng.normal(size=(t, n)) @ mixing + 0.0005


def _is_psd(matrix: np.ndarray) -> bool:
    values = np.linalg.eigvalsh(matrix)
    return bool(np.allclose(matrix, matrix.T) and values.min() >= -1e-15 * max(values.max(), 1.0))


def test_sample_covariance_is_numpy_ddof_1():
    x = _returns(50, 4)
    np.testing.assert_allclose(sample_covariance(x), np.cov(x, rowvar=False, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("kind", ["sample", "ledoit_wolf", "ewma"])
@pytest.mark.parametrize("shape", [(60, 5), (8, 12)])
def test_every_estimator_is_symmetric_psd(kind, shape):
    cov = estimate_covariance(_returns(*shape), kind)
    assert cov.shape == (shape[1], shape[1])
    assert _is_psd(cov)


@pytest.mark.parametrize("shape", [(30, 5), (10, 20), (200, 3)])
def test_ledoit_wolf_identity_target_matches_sklearn(shape):
    x = _returns(*shape)
    cov, shrinkage = ledoit_wolf_shrinkage(x, "identity")
    reference = LedoitWolf().fit(x)
    np.testing.assert_allclose(cov, reference.covariance_, rtol=1e-10, atol=1e-18)
    assert shrinkage == pytest.approx(reference.shrinkage_, rel=1e-10)


def _cov_cor_reference(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf's covCor.m (2004), transcribed line by line with explicit loops."""
    t, n = x.shape
    x = x - x.mean(axis=0)
    sample = x.T @ x / t
    var = np.diag(sample)
    sd = np.sqrt(var)
    rbar = sum(sample[i, j] / (sd[i] * sd[j]) for i in range(n) for j in range(n) if i != j)
    rbar /= n * (n - 1)
    prior = np.array(
        [[var[i] if i == j else rbar * sd[i] * sd[j] for j in range(n)] for i in range(n)]
    )
    pi = np.zeros((n, n))
    theta = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            pi[i, j] = np.mean((x[:, i] * x[:, j] - sample[i, j]) ** 2)
            theta[i, j] = np.mean((x[:, i] ** 2 - var[i]) * (x[:, i] * x[:, j] - sample[i, j]))
    rho = np.trace(pi) + rbar * sum(
        sd[j] / sd[i] * theta[i, j] for i in range(n) for j in range(n) if i != j
    )
    gamma = np.sum((sample - prior) ** 2)
    shrinkage = max(0.0, min(1.0, (pi.sum() - rho) / gamma / t))
    return shrinkage * prior + (1 - shrinkage) * sample, shrinkage


@pytest.mark.parametrize("shape", [(25, 4), (80, 6)])
def test_ledoit_wolf_constant_correlation_matches_the_papers_estimator(shape):
    x = _returns(*shape, seed=11)
    cov, shrinkage = ledoit_wolf_shrinkage(x, "constant_correlation")
    expected, expected_shrinkage = _cov_cor_reference(x)
    assert 0.0 < shrinkage < 1.0
    assert shrinkage == pytest.approx(expected_shrinkage, rel=1e-9)
    np.testing.assert_allclose(cov, expected, rtol=1e-9)
    np.testing.assert_allclose(np.diag(cov), np.diag(x.T @ (x - x.mean(0)) / len(x)), rtol=1e-12)


def test_ledoit_wolf_is_well_conditioned_when_t_is_below_n():
    x = _returns(6, 10)
    assert np.linalg.matrix_rank(sample_covariance(x)) < 10
    assert np.linalg.eigvalsh(ledoit_wolf_covariance(x)).min() > 0


def test_ewma_equals_a_hand_computation():
    x = np.array([[0.01, 0.02], [0.03, -0.01], [-0.02, 0.05]])
    # decay 0.5: raw weights 0.25, 0.5, 1 (oldest first) -> 1/7, 2/7, 4/7
    w = np.array([1, 2, 4]) / 7
    mean0 = (0.01 * 1 + 0.03 * 2 - 0.02 * 4) / 7  # -0.01/7
    mean1 = (0.02 * 1 - 0.01 * 2 + 0.05 * 4) / 7  # 0.2/7
    d0 = x[:, 0] - mean0
    d1 = x[:, 1] - mean1
    correction = 1 - (1 + 4 + 16) / 49
    expected = (
        np.array(
            [
                [np.sum(w * d0 * d0), np.sum(w * d0 * d1)],
                [np.sum(w * d1 * d0), np.sum(w * d1 * d1)],
            ]
        )
        / correction
    )
    np.testing.assert_allclose(ewma_covariance(x, decay=0.5), expected, rtol=1e-12)
    np.testing.assert_allclose(ewma_covariance(x, half_life=1.0), expected, rtol=1e-12)
    np.testing.assert_allclose(ewma_weights(3, decay=0.5), w, rtol=1e-12)


def test_ewma_without_decay_is_the_sample_covariance_and_decays_toward_recent_periods():
    x = _returns(40, 3)
    np.testing.assert_allclose(ewma_covariance(x, decay=1.0), sample_covariance(x), rtol=1e-12)
    calm_then_wild = np.vstack([_returns(50, 2) * 0.1, _returns(10, 2, seed=5) * 5])
    assert (
        ewma_covariance(calm_then_wild, half_life=5)[0, 0] > sample_covariance(calm_then_wild)[0, 0]
    )


def test_ewma_parameters_are_checked():
    x = _returns(10, 2)
    with pytest.raises(ValueError, match="exactly one"):
        ewma_covariance(x, half_life=3, decay=0.9)
    with pytest.raises(ValueError, match="decay"):
        ewma_covariance(x, decay=1.5)
    with pytest.raises(ValueError, match="half_life"):
        ewma_covariance(x, half_life=0)


def test_a_polars_wide_frame_gives_the_same_estimate_and_names():
    x = _returns(20, 3)
    frame = pl.DataFrame(
        {"date": [f"d{i}" for i in range(20)], "A": x[:, 0], "B": x[:, 1], "C": x[:, 2]}
    )
    matrix, names = returns_matrix(frame)
    assert names == ("A", "B", "C")
    np.testing.assert_array_equal(matrix, x)
    np.testing.assert_allclose(ledoit_wolf_covariance(frame), ledoit_wolf_covariance(x))


def test_nans_and_too_few_observations_are_rejected():
    x = _returns(10, 3)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sample_covariance(x)
    with pytest.raises(ValueError, match="at least 2 observations"):
        ewma_covariance(_returns(1, 3), decay=0.9)
    with pytest.raises(ValueError, match="T x N"):
        sample_covariance(np.zeros(5))
    with pytest.raises(ValueError, match="unknown covariance kind"):
        estimate_covariance(_returns(10, 2), "shrunk")  # type: ignore[arg-type]


def test_nearest_psd_clips_negative_eigenvalues_and_leaves_psd_matrices_alone():
    indefinite = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    assert np.linalg.eigvalsh(indefinite).min() < 0
    fixed = nearest_psd(indefinite)
    assert _is_psd(fixed)
    psd = sample_covariance(_returns(30, 3))
    np.testing.assert_array_equal(nearest_psd(psd), psd)
