"""Portfolio optimisation: covariance estimators, optimisers and the rebalance that turns targets into signals."""

from shriven.optimize.covariance import (
    CovarianceKind,
    estimate_covariance,
    ewma_covariance,
    ledoit_wolf_covariance,
    nearest_psd,
    returns_matrix,
    sample_covariance,
)
from shriven.optimize.optimizers import (
    Constraints,
    OptimisationResult,
    equal_risk_contribution,
    hierarchical_risk_parity,
    max_sharpe,
    mean_variance,
    min_variance,
    risk_contributions,
)

__all__ = [
    "Constraints",
    "CovarianceKind",
    "OptimisationResult",
    "equal_risk_contribution",
    "estimate_covariance",
    "ewma_covariance",
    "hierarchical_risk_parity",
    "ledoit_wolf_covariance",
    "max_sharpe",
    "mean_variance",
    "min_variance",
    "nearest_psd",
    "returns_matrix",
    "risk_contributions",
    "sample_covariance",
]
