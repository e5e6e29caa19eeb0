"""Tasks around the ML core: feature materialisation, training fits, the registry, inference.

Fits run with ``max_threads=1``: several fits share the CPUs (a sweep, Dask workers), and
gradient boosting's spinning OpenMP threads crawl on an oversubscribed machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from models.feature_store import (
    TrainingFrame,
    bar_dates,
    latest_features,
    materialise_features,
    training_frame,
)
from models.inference import score_latest, signals_from_scores
from models.registry import LoadedModel, ModelRegistry, RegistryError
from models.training import ModelSpec, TrainingResult, WalkForwardConfig, train
from shriven.config import INTERVALS_NS, Settings, load_settings
from shriven.lake.writer import Lake
from shriven.signals.log import SignalLog
from tasks import retry_unless_bad_input


def periods_per_year(settings: Settings, interval: str) -> float:
    """Bars per year: 252 sessions of the configured session length (Sharpe annualisation)."""
    open_s, close_s = settings.synthetic.session_bounds_s()
    per_session = max(1.0, (close_s - open_s) * 1e9 / INTERVALS_NS[interval])
    return 252.0 * per_session


@task(retries=1, retry_delay_seconds=[5], retry_condition_fn=retry_unless_bad_input, cache_policy=NO_CACHE)
def materialise_features_task(dates: list[str], interval: str) -> list[dict[str, Any]]:
    """Compute and write the features of each date (atomic per date; re-runs replace)."""
    settings = load_settings()
    lake = Lake(settings.lake_root)
    logger = get_run_logger()
    out = []
    for day in dates:
        result = materialise_features(lake, day, interval=interval)
        logger.info(
            "features %s: %d rows over %d symbols (look-back dates %s, %d rows with sentiment)",
            day, result.rows, result.symbols, list(result.lookback_dates), result.rows_with_sentiment,
        )  # fmt: skip
        out.append(asdict(result))
    return out


@task(cache_policy=NO_CACHE)
def bar_dates_task(interval: str) -> list[str]:
    """Dates with bars of ``interval`` in the lake, ascending."""
    return bar_dates(Lake(load_settings().lake_root), interval)


def walk_forward_config(
    frame: TrainingFrame, n_splits: int, test_size: int | None
) -> WalkForwardConfig:
    """Expanding folds purged and embargoed by the label horizon; ``test_size`` defaults to the
    labelled times split into ``n_splits + 2`` blocks (the first fold trains on two)."""
    if test_size is None:
        usable = frame.frame.drop_nulls(["label", *frame.features])
        test_size = max(1, usable["ts"].n_unique() // (n_splits + 2))
    return WalkForwardConfig(
        n_splits=n_splits,
        test_size=test_size,
        expanding=True,
        label_horizon_ns=frame.label_horizon_ns,
        embargo_ns=frame.label_horizon_ns,
    )


@task(cache_policy=NO_CACHE)
def training_frame_task(
    dates: list[str], interval: str, label_horizon: int, classify_threshold: float | None
) -> TrainingFrame:
    """Stored features of the dates joined with their forward-return labels."""
    frame = training_frame(
        Lake(load_settings().lake_root),
        dates,
        interval=interval,
        label_horizon=label_horizon,
        classify_threshold=classify_threshold,
    )
    get_run_logger().info(
        "training frame: %d feature rows, %d without a label, horizon %d ns",
        frame.feature_rows, frame.unlabelled_rows, frame.label_horizon_ns,
    )  # fmt: skip
    return frame


@task(cache_policy=NO_CACHE)
def fit_task(
    frame: pl.DataFrame,
    spec: ModelSpec,
    features: tuple[str, ...],
    validation: WalkForwardConfig,
    periods: float,
    cost_bps: float,
    classifier: bool,
) -> TrainingResult:
    """Walk-forward train one spec (one native thread) and log its out-of-sample scores."""
    started = time.perf_counter()
    result = train(
        frame,
        spec,
        features=features,
        validation=validation,
        periods_per_year=periods,
        label="label",
        forward_return="fwd_return_1",
        cost_bps=cost_bps,
        max_threads=1,
    )
    get_run_logger().info(
        "%s %s: %d rows (%d dropped), IC %.4f, rank IC %.4f, Sharpe %.2f, in %.1fs",
        spec.kind.value, dict(spec.params), result.n_rows, result.dropped_rows,
        result.metrics.ic, result.metrics.rank_ic, result.metrics.sharpe, time.perf_counter() - started,
    )  # fmt: skip
    return result


@task(cache_policy=NO_CACHE)
def register_task(result: TrainingResult, name: str, promote: bool, alias: str) -> int:
    """Register the model as the next version of ``name`` and optionally point ``alias`` at it."""
    registry = ModelRegistry(load_settings().local_root)
    version = registry.register(result, name)
    logger = get_run_logger()
    logger.info("registered %s version %d under %s", name, version, registry.root)
    if promote:
        registry.promote(name, version, alias)
        logger.info("promoted %s version %d to %r", name, version, alias)
    return version


@task(cache_policy=NO_CACHE)
def load_model_task(name: str, alias: str) -> LoadedModel:
    """The model ``alias`` of ``name`` points at; a registry error fails the task with its message."""
    try:
        return ModelRegistry(load_settings().local_root).load(name, alias)
    except RegistryError as exc:
        message = f"cannot load model {name!r} at {alias!r}: {exc}"
        get_run_logger().error(message)
        return Failed(message=message)  # a clear failure, not a crash trace


@task(cache_policy=NO_CACHE)
def score_and_append_task(model: LoadedModel, max_weight: float) -> dict[str, Any]:
    """Score the newest features row per symbol and append weight targets to the signal log."""
    settings = load_settings()
    logger = get_run_logger()
    started = time.perf_counter()
    features = latest_features(Lake(settings.lake_root))
    if features.height == 0:
        logger.info("no features in the lake yet: nothing to score")
        return {"status": "no_features", "scored": 0, "appended": 0}
    scored = score_latest(model, features, max_weight)
    if scored.skipped:
        logger.warning("skipped %s: a model input is null (warm-up)", list(scored.skipped))
    signals = signals_from_scores(scored, model.name, model.version)
    if not signals:
        return {"status": "nothing_scorable", "scored": 0, "appended": 0,
                "skipped": list(scored.skipped)}  # fmt: skip
    log = SignalLog(settings.signal_log_root, symbols=settings.universe or None)
    now_ns = time.time_ns()
    appended = log.append(signals, source=f"ml:{model.name}", now_ns=now_ns)
    latency_ms = (time.perf_counter() - started) * 1e3
    newest_ns = max(s.ts for s in signals)
    logger.info(
        "%s@%d: %d rows scored, %d signals appended (offsets %d..%d), %d quarantined; "
        "scoring latency %.1f ms, newest feature %.1fs old",
        model.name, model.version, scored.rows.height, appended.appended, appended.first_offset,
        appended.last_offset, appended.quarantined, latency_ms, (now_ns - newest_ns) / 1e9,
    )  # fmt: skip
    return {
        "status": "ok",
        "scored": scored.rows.height,
        "appended": appended.appended,
        "quarantined": appended.quarantined,
        "first_offset": appended.first_offset,
        "last_offset": appended.last_offset,
        "skipped": list(scored.skipped),
        "latency_ms": latency_ms,
        "targets": {s.symbol: s.target for s in signals},
    }


def metrics_row(result: TrainingResult) -> dict[str, Any]:
    """One artifact-table row: the spec and its out-of-sample scores (NaN shown as None)."""
    metrics = result.metrics.as_dict()
    row: dict[str, Any] = {"kind": result.spec.kind.value, "params": str(dict(result.spec.params))}
    for key in ("n", "ic", "rank_ic", "hit_rate", "auc", "sharpe", "turnover"):
        value = metrics.get(key)
        row[key] = round(value, 6) if isinstance(value, float) and math.isfinite(value) else value
    return row
