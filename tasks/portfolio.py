"""Tasks around the portfolio optimiser: plan a rebalance, append its signals, publish the weights."""

from __future__ import annotations

import math
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from shriven.config import load_settings
from shriven.lake.writer import Lake
from shriven.optimize.rebalance import RebalanceParams, RebalancePlan, append_plan, plan_rebalance
from shriven.signals.log import SignalLog

#: Key of the table artifact of target against current weights (one per run, newest on top).
ARTIFACT_KEY = "rebalance-weights"


@task(cache_policy=NO_CACHE)
def plan_rebalance_task(
    params: RebalanceParams, end_date: str | None, now_ns: int
) -> RebalancePlan:
    """Read the look-back's closes and optimise (read-only; a bad parameter fails with its message)."""
    settings = load_settings()
    lake = Lake(settings.lake_root)
    plan = plan_rebalance(
        lake,
        params,
        settings.universe,
        now_ns=now_ns,
        account=settings.trading.account,
        end_date=end_date,
    )
    logger = get_run_logger()
    first, last = (plan.dates[0], plan.dates[-1]) if plan.dates else ("-", "-")
    logger.info(
        "%s over %d daily returns (%s..%s, %d dropped for a missing close), covariance %s: %s",
        params.method, plan.observations, first, last, plan.dropped_periods, params.covariance, plan.status,
    )  # fmt: skip
    if plan.status != "ok":
        logger.warning("no signals: %s", plan.message)
    else:
        logger.info("target weights %s (%s)", _rounded(plan.weights()), plan.message)
    return plan


@task(cache_policy=NO_CACHE)
def append_signals_task(plan: RebalancePlan, now_ns: int) -> dict[str, Any]:
    """Append the plan's weight signals to the signal log (no retries: an append is not idempotent)."""
    settings = load_settings()
    log = SignalLog(settings.signal_log_root, symbols=settings.universe or None)
    appended = append_plan(log, plan, now_ns=now_ns)
    if appended is None:
        return {"appended": 0, "quarantined": 0}
    get_run_logger().info(
        "%d signals appended (offsets %d..%d), %d quarantined, source %s, model_version %s",
        appended.appended, appended.first_offset, appended.last_offset, appended.quarantined,
        plan.params.source, plan.params.model_version,
    )  # fmt: skip
    return {
        "appended": appended.appended,
        "quarantined": appended.quarantined,
        "first_offset": appended.first_offset,
        "last_offset": appended.last_offset,
    }


@task(cache_policy=NO_CACHE)
def publish_weights_task(plan: RebalancePlan) -> list[dict[str, Any]]:
    """A table artifact of target against current weights per symbol (the run's decision at a glance)."""
    rows = weight_rows(plan)
    create_table_artifact(
        rows,
        key=ARTIFACT_KEY,
        description=(
            f"{plan.params.source} {plan.params.model_version}: {plan.status}, "
            f"{plan.observations} daily returns. {plan.message}"
        ),
    )
    return rows


def weight_rows(plan: RebalancePlan) -> list[dict[str, Any]]:
    """One row per symbol: target weight, current weight, the trade between and the position."""
    targets = plan.weights()
    current = plan.current
    rows = []
    for i, symbol in enumerate(plan.symbols):
        now = current.weights[i] if current is not None else 0.0
        target = targets.get(symbol)
        contribution = None
        if plan.result is not None:
            contribution = _round(float(plan.result.risk_contributions[i]))
        rows.append(
            {
                "symbol": symbol,
                "target_weight": _round(target),
                "current_weight": _round(now),
                "change": _round(target - now) if target is not None else None,
                "current_quantity": current.quantity[i] if current is not None else 0.0,
                "risk_contribution": contribution,
            }
        )
    return rows


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None and math.isfinite(value) else None


def _rounded(weights: dict[str, float]) -> dict[str, float | None]:
    return {k: _round(v) for k, v in weights.items()}
