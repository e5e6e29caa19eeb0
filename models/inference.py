"""Scoring the newest features with a registered model and turning the scores into targets.

**Target mapping** (weight targets, ``TargetKind.WEIGHT``)::

    weight = max_weight * clip(prediction / position_scale, -1, 1)

``position_scale`` is the std of the final model's in-sample signal, recorded by training in the
registry metadata. Training sizes its walk-forward positions the same way
(``clip(signal / scale, -1, 1)`` with position limit 1), so the live sizing has the shape the
scores were measured with, scaled to at most ``max_weight`` of equity per symbol (default 10%).
A signal of one in-sample std or more takes the full ``max_weight``; a model whose scale is
missing, zero or not finite (a constant signal) gives weight 0.

Targets are levels, not orders: scoring the same newest rows twice restates the same targets,
which a target-following consumer acts on once.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import polars as pl

from models.registry import LoadedModel
from shriven.model.enums import TargetKind
from shriven.model.records import Signal

#: Default cap on |weight| per symbol (fraction of equity).
DEFAULT_MAX_WEIGHT = 0.1


@dataclass(frozen=True)
class Scored:
    """Predictions of the rows that could be scored, and the symbols skipped for null inputs."""

    #: ``symbol``, ``ts`` (feature time), ``prediction``, ``weight``; sorted by symbol.
    rows: pl.DataFrame
    skipped: tuple[str, ...]


def weights_from_predictions(
    prediction: np.ndarray, position_scale: float | None, max_weight: float = DEFAULT_MAX_WEIGHT
) -> np.ndarray:
    """``max_weight * clip(prediction / position_scale, -1, 1)`` (zeros for a degenerate scale)."""
    _check_max_weight(max_weight)
    prediction = np.asarray(prediction, dtype=np.float64)
    if (
        position_scale is None
        or isinstance(position_scale, bool)
        or not isinstance(position_scale, numbers.Real)
        or not math.isfinite(position_scale)
        or position_scale <= 0
    ):
        return np.zeros_like(prediction)
    return max_weight * np.clip(prediction / float(position_scale), -1.0, 1.0)


def score_latest(
    model: LoadedModel, features: pl.DataFrame, max_weight: float = DEFAULT_MAX_WEIGHT
) -> Scored:
    """Score the newest row of each symbol in ``features`` and size it as a weight target.

    Rows with a null or NaN model input are skipped (warm-up), and their symbols reported.
    """
    _check_max_weight(max_weight)
    if features.height == 0:
        return Scored(_empty_scores(features), ())
    newest = features.sort("symbol", "ts").group_by("symbol", maintain_order=True).last()
    inputs = list(model.features)
    missing = [c for c in inputs if c not in newest.columns]
    if missing:
        raise ValueError(
            f"model {model.name}@{model.version} needs feature columns {missing} that the "
            f"features dataset lacks"
        )
    bad = pl.any_horizontal(
        pl.col(c).cast(pl.Float64).is_null() | pl.col(c).cast(pl.Float64).is_nan() for c in inputs
    )
    usable = newest.filter(~bad)
    skipped = tuple(newest.filter(bad)["symbol"].to_list())
    if usable.height == 0:
        return Scored(_empty_scores(features), skipped)
    prediction = model.predict(usable)
    weight = weights_from_predictions(
        prediction, model.metadata.get("position_scale"), max_weight
    )
    rows = usable.select(
        "symbol",
        "ts",
        prediction=pl.Series(prediction, dtype=pl.Float64),
        weight=pl.Series(weight, dtype=pl.Float64),
    )
    return Scored(rows, skipped)


def signals_from_scores(scored: Scored, name: str, version: int) -> list[Signal]:
    """Weight signals of the scored rows, ``source = "ml:<name>"``, ``model_version = "<name>@<v>"``."""
    source = f"ml:{name}"
    model_version = f"{name}@{version}"
    return [
        Signal(
            ts=int(ts_ns),
            symbol=symbol,
            target=float(weight),
            kind=TargetKind.WEIGHT,
            source=source,
            model_version=model_version,
        )
        for symbol, ts_ns, weight in scored.rows.select(
            "symbol", pl.col("ts").dt.epoch("ns"), "weight"
        ).iter_rows()
    ]


def _empty_scores(features: pl.DataFrame) -> pl.DataFrame:
    ts_dtype = features.schema["ts"] if "ts" in features.columns else pl.Datetime("ns", "UTC")
    return pl.DataFrame(
        schema={"symbol": pl.String, "ts": ts_dtype, "prediction": pl.Float64, "weight": pl.Float64}
    )


def _check_max_weight(max_weight: float) -> None:
    if (
        isinstance(max_weight, bool)
        or not isinstance(max_weight, numbers.Real)
        or not math.isfinite(max_weight)
        or not 0 < max_weight <= 10
    ):
        raise ValueError(f"max_weight must be a number in (0, 10], got {max_weight!r}")
