"""Deployment `train_model`: walk-forward train a model on the lake's features and register it.

The flow refreshes the ``features`` of the training dates, joins them with forward-return labels
from the bars, fits one model per spec (one spec, or a ``sweep`` of parameter sets, each fit a
Prefect task), registers the best fit (by ``select_by`` of the out-of-sample metrics) as the next
version in the model registry under ``<local_dir>/models``, promotes it when asked, and publishes
the metrics as artifacts.

Scale: ``dask_workers > 0`` runs the fits on a ``prefect_dask.DaskTaskRunner``: a local cluster of
that many single-threaded worker processes, or, when ``SHRIVEN_DASK_ADDRESS`` is set (for example
``tcp://scheduler:8786``), the Dask cluster at that address (more machines: start ``dask scheduler``
and ``dask worker <address>`` with this checkout installed on each). Fits are deterministic, so
the metrics equal those of the sequential run.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed

from flows import OUTCOME_HOOKS
from models.registry import DEFAULT_ALIAS
from models.training import ModelKind, ModelSpec, TrainingResult
from shriven.config import load_settings
from tasks.cluster import dask_task_runner
from tasks.ml import (
    bar_dates_task,
    fit_task,
    materialise_features_task,
    metrics_row,
    periods_per_year,
    register_task,
    training_frame_task,
    walk_forward_config,
)

#: Estimator parameters used when neither ``params`` nor ``sweep`` is given.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    ModelKind.HGB_REGRESSOR.value: {"max_iter": 200, "max_depth": 3, "learning_rate": 0.05,
                                    "min_samples_leaf": 50},
    ModelKind.HGB_CLASSIFIER.value: {"max_iter": 200, "max_depth": 3, "learning_rate": 0.05,
                                     "min_samples_leaf": 50},
    ModelKind.RIDGE.value: {"alpha": 10.0},
    ModelKind.LOGISTIC.value: {"C": 0.1, "max_iter": 500},
}  # fmt: skip


@flow(name="train_model", **OUTCOME_HOOKS)
def train_model(
    name: str = "momentum-gbm",
    kind: str = ModelKind.HGB_REGRESSOR.value,
    start: date | None = None,
    end: date | None = None,
    days: int = 20,
    params: dict[str, Any] | None = None,
    sweep: list[dict[str, Any]] | None = None,
    promote: bool = False,
    alias: str = DEFAULT_ALIAS,
    dask_workers: int = 0,
    interval: str | None = None,
    label_horizon: int = 5,
    classify_threshold: float = 0.0,
    n_splits: int = 4,
    test_size: int | None = None,
    cost_bps: float = 1.0,
    select_by: str = "ic",
    refresh_features: bool = True,
) -> dict[str, Any]:
    """Train ``kind`` on the bar dates in [start, end] (default: the last ``days`` dates with bars).

    ``sweep`` is a list of estimator parameter dicts (one fit each; the best by ``select_by`` is
    registered); otherwise ``params`` (or ``DEFAULT_PARAMS[kind]``) is the one fit. Classifiers
    learn ``classify(forward return, classify_threshold)``; regressors the forward log return
    over ``label_horizon`` bars.
    """
    logger = get_run_logger()
    settings = load_settings()
    interval = interval or settings.trading.bar_interval
    model_kind = ModelKind(kind)
    if sweep is not None and not sweep:
        return Failed(message="sweep is an empty list: give parameter dicts, or None for one fit")
    specs = [ModelSpec(model_kind, p) for p in (sweep or [params or DEFAULT_PARAMS[model_kind.value]])]
    if select_by not in ("ic", "rank_ic", "mean_period_ic", "mean_period_rank_ic", "hit_rate",
                         "auc", "sharpe"):  # fmt: skip
        return Failed(message=f"select_by {select_by!r} is not a metric to maximise")

    available = bar_dates_task(interval)
    if start is not None or end is not None:
        first = (start or date.min).isoformat()
        last = (end or date.max).isoformat()
        dates = [d for d in available if first <= d <= last]
    else:
        dates = available[-days:] if days > 0 else []
    if not dates:
        return Failed(message=f"no bars_{interval} in the lake for the training dates")
    logger.info("training %s (%s) on %d dates %s .. %s", name, kind, len(dates), dates[0], dates[-1])
    if refresh_features:
        materialise_features_task(dates, interval)
    frame = training_frame_task(
        dates, interval, label_horizon, classify_threshold if model_kind.is_classifier else None
    )
    validation = walk_forward_config(frame, n_splits, test_size)
    fit_args = {
        "frame": frame.frame,
        "features": frame.features,
        "validation": validation,
        "periods": periods_per_year(settings, interval),
        "cost_bps": cost_bps,
        "classifier": model_kind.is_classifier,
    }
    if dask_workers > 0:
        with dask_task_runner(dask_workers) as runner:
            futures = [runner.submit(fit_task, {"spec": spec, **fit_args}) for spec in specs]
            results: list[TrainingResult] = [future.result() for future in futures]
    else:
        results = [fit_task(spec=spec, **fit_args) for spec in specs]

    best = max(range(len(results)), key=lambda i: _score(results[i], select_by))
    version = register_task(results[best], name, promote, alias)
    rows = [
        {**metrics_row(r), "selected": i == best, "version": version if i == best else None}
        for i, r in enumerate(results)
    ]
    create_table_artifact(rows, key="train-model-metrics",
                          description=f"{name} v{version}: out-of-sample metrics of each fit")  # fmt: skip
    chosen = results[best]
    create_markdown_artifact(
        f"# {name} version {version}\n\n"
        f"- kind `{chosen.spec.kind.value}`, params `{dict(chosen.spec.params)}`\n"
        f"- dates {dates[0]} .. {dates[-1]}, {chosen.n_rows} rows ({chosen.dropped_rows} dropped), "
        f"{len(chosen.folds)} walk-forward folds\n"
        f"- IC {chosen.metrics.ic:.4f}, rank IC {chosen.metrics.rank_ic:.4f}, "
        f"hit rate {chosen.metrics.hit_rate:.3f}, Sharpe after {cost_bps} bps {chosen.metrics.sharpe:.2f}\n"
        f"- {'promoted to `' + alias + '`' if promote else 'not promoted'}\n",
        key="train-model",
        description=f"{name} v{version}",
    )
    logger.info(
        "%d fit(s) over %d rows: registered %s version %d (%s %.4f)%s",
        len(results), chosen.n_rows, name, version, select_by, _score(chosen, select_by),
        f", promoted to {alias!r}" if promote else "",
    )  # fmt: skip
    return {
        "name": name,
        "version": version,
        "promoted": promote,
        "alias": alias if promote else None,
        "dates": dates,
        "rows": chosen.n_rows,
        "dropped_rows": chosen.dropped_rows,
        "metrics": chosen.metrics.as_dict(),
        "sweep": rows,
        "data_fingerprint": chosen.data_fingerprint,
    }


def _score(result: TrainingResult, metric: str) -> float:
    """The metric to maximise; NaN ranks last."""
    value = getattr(result.metrics, metric)
    return value if isinstance(value, float) and math.isfinite(value) else -math.inf
