"""Deployment `rebalance`: the optimiser's target weights into the signal log for the execution flow.

Each run reads the newest ``lookback_days`` of daily closes (``bars_<interval>``, resampled to
the last close of each UTC date), estimates the covariance, runs the optimiser ``method`` under
the constraints and appends one ``WEIGHT`` signal per symbol with ``source =
"rebalance:<method>"`` and ``model_version`` a hash of the parameters (see
:mod:`shriven.optimize.rebalance`). A table artifact shows target against current weights (from
the account's newest positions, zero without). Too little history or a solve that does not
converge appends nothing and says why; infeasible constraints fail the run with the reason.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger

from flows import OUTCOME_HOOKS
from shriven.optimize.covariance import CovarianceKind
from shriven.optimize.rebalance import Method, RebalanceParams
from tasks.portfolio import append_signals_task, plan_rebalance_task, publish_weights_task


@flow(name="rebalance", **OUTCOME_HOOKS)
def rebalance(
    method: Method = "min_variance",
    lookback_days: int = 60,
    covariance: CovarianceKind = "ledoit_wolf",
    interval: str = "1d",
    lower: float = 0.0,
    upper: float = 1.0,
    leverage: float | None = None,
    budget: float = 1.0,
    max_turnover: float | None = None,
    risk_aversion: float = 1.0,
    risk_free: float = 0.0,
    half_life: float | None = None,
    end_date: str | None = None,
) -> dict[str, Any]:
    """Optimise the universe's weights over the look-back and append them as weight signals."""
    logger = get_run_logger()
    started = time.perf_counter()
    params = RebalanceParams(
        method=method,
        lookback_days=lookback_days,
        covariance=covariance,
        interval=interval,
        lower=lower,
        upper=upper,
        leverage=leverage,
        budget=budget,
        max_turnover=max_turnover,
        risk_aversion=risk_aversion,
        risk_free=risk_free,
        half_life=half_life,
    )
    now_ns = time.time_ns()
    plan = plan_rebalance_task(params, end_date, now_ns)
    appended = append_signals_task(plan, now_ns)
    rows = publish_weights_task(plan)
    result = {
        "status": plan.status,
        "method": method,
        "source": params.source,
        "model_version": params.model_version,
        "observations": plan.observations,
        "dropped_periods": plan.dropped_periods,
        "message": plan.message,
        "targets": plan.weights(),
        "rows": rows,
        **appended,
        "seconds": time.perf_counter() - started,
    }
    logger.info(
        "%s (%s): %s, %d signals appended in %.2fs",
        params.source, params.model_version, plan.status, result["appended"], result["seconds"],
    )  # fmt: skip
    return result
