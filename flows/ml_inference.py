"""Deployment `ml_inference`: the promoted model's targets for the newest bars, into the signal log.

Each run refreshes the ``features`` partition of the newest bar date, loads the model the alias
points at (verified against its sha256), scores the newest features row of each symbol and
appends weight targets ``max_weight * clip(prediction / position_scale, -1, 1)`` (see
:mod:`models.inference`) with ``source = "ml:<name>"`` and ``model_version = "<name>@<version>"``.
An alias that points nowhere, or a missing or corrupt model, fails the run with the registry's
message; a lake without features is a logged no-op.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed

from flows import OUTCOME_HOOKS
from models.inference import DEFAULT_MAX_WEIGHT
from models.registry import DEFAULT_ALIAS
from shriven.config import load_settings
from tasks.ml import (
    bar_dates_task,
    load_model_task,
    materialise_features_task,
    score_and_append_task,
)


@flow(name="ml_inference", **OUTCOME_HOOKS)
def ml_inference(
    name: str = "momentum-gbm",
    alias: str = DEFAULT_ALIAS,
    max_weight: float = DEFAULT_MAX_WEIGHT,
    refresh_features: bool = True,
) -> dict[str, Any]:
    """Score the newest features with model ``name`` at ``alias`` and append its weight targets."""
    logger = get_run_logger()
    started = time.perf_counter()
    loaded = load_model_task(name, alias, return_state=True)
    if loaded.is_failed():
        return Failed(message=loaded.message)
    model = loaded.result()
    if refresh_features:
        interval = load_settings().trading.bar_interval
        dates = bar_dates_task(interval)
        if dates:
            materialise_features_task(dates[-1:], interval)
    result = score_and_append_task(model, max_weight)
    result = {"name": name, "version": model.version, "alias": alias, **result}
    result["seconds"] = time.perf_counter() - started
    logger.info(
        "%s@%d (%s): %s, %d appended in %.2fs",
        name, model.version, alias, result["status"], result["appended"], result["seconds"],
    )  # fmt: skip
    return result
