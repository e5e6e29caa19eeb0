"""Research backtests: vectorised (numba) backtests of target positions and parameter sweeps."""

from shriven.research.sweep import (
    SWEEP_RESULTS,
    Costs,
    evaluate_chunk,
    expand_grid,
    run_sweep,
    validate_grid,
)
from shriven.research.vectorised import VECTORISED_BACKTEST, backtest, ema_cross_targets, summarise

__all__ = [
    "SWEEP_RESULTS",
    "VECTORISED_BACKTEST",
    "Costs",
    "backtest",
    "ema_cross_targets",
    "evaluate_chunk",
    "expand_grid",
    "run_sweep",
    "summarise",
    "validate_grid",
]
