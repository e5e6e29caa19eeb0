"""Train scikit-learn models over purged walk-forward folds and score them out of sample.

One call of :func:`train` takes a feature frame joined with its labels (columns ``ts``,
``symbol``, the features, the label and optionally the forward return), validates everything
before fitting anything, drops (and counts) rows with a null or NaN input, fits one model per
walk-forward fold of :mod:`models.validation`, scores the out-of-sample predictions with
:mod:`models.metrics`, and finally fits the model on the whole window for the registry.

A model's *signal* (its ``prediction``) is the regressor's output, or for a classifier the
expected class ``sum(class * P(class))``: with the ``-1 / 0 / 1`` classes of
:func:`models.labels.classify` that is ``P(up) - P(down)``, signed like a return. Positions are
``clip(signal / scale, -limit, limit)`` with ``scale`` the std of the fold model's in-sample
signal, so sizing uses nothing from the test fold.

Everything is deterministic: every estimator gets a fixed ``random_state`` (0 unless given).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from models.metrics import MetricSet, evaluate, positions_from_predictions
from models.validation import rows_of, walk_forward_splits

log = logging.getLogger(__name__)

#: Version tag mixed into every fingerprint; bump it if the byte layout below changes.
_FINGERPRINT_TAG = b"shriven-data-fingerprint-v1\0"


class ModelKind(StrEnum):
    """The estimators training knows how to build."""

    HGB_REGRESSOR = "hgb_regressor"
    HGB_CLASSIFIER = "hgb_classifier"
    RIDGE = "ridge"
    LOGISTIC = "logistic"

    @property
    def is_classifier(self) -> bool:
        """Whether the model predicts classes (and is scored with an AUC)."""
        return self in (ModelKind.HGB_CLASSIFIER, ModelKind.LOGISTIC)


_ESTIMATORS: dict[ModelKind, type] = {
    ModelKind.HGB_REGRESSOR: HistGradientBoostingRegressor,
    ModelKind.HGB_CLASSIFIER: HistGradientBoostingClassifier,
    ModelKind.RIDGE: Ridge,
    ModelKind.LOGISTIC: LogisticRegression,
}
#: Linear models see standardised features (their penalty assumes comparable scales).
_SCALED = frozenset({ModelKind.RIDGE, ModelKind.LOGISTIC})


@dataclass(frozen=True)
class ModelSpec:
    """What to train: a kind and its estimator parameters, checked on construction, not at fit.

    ``params`` go to the estimator itself (``alpha`` for ridge, not ``model__alpha``); they must
    be JSON scalars or lists so the registry can record them. ``random_state`` defaults to 0 and
    may not be ``None``.
    """

    kind: ModelKind
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            kind = ModelKind(self.kind)
        except ValueError:
            known = [k.value for k in ModelKind]
            raise ValueError(f"unknown model kind {self.kind!r}; known kinds: {known}") from None
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params must be a mapping, got {type(self.params).__name__}")
        params = dict(self.params)
        estimator_class = _ESTIMATORS[kind]
        allowed = set(estimator_class().get_params())
        unknown = sorted(str(k) for k in params if k not in allowed)
        if unknown:
            raise ValueError(
                f"unknown parameters {unknown} for {kind.value} "
                f"({estimator_class.__name__}); allowed: {sorted(allowed)}"
            )
        if "random_state" in params and (
            isinstance(params["random_state"], bool)
            or not isinstance(params["random_state"], numbers.Integral)
        ):
            raise ValueError(
                f"random_state must be an int (training is deterministic), got "
                f"{params['random_state']!r}"
            )
        params.setdefault("random_state", 0)
        try:
            json.dumps(params, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(
                f"params of {kind.value} must be JSON numbers, strings, booleans, null or lists, "
                f"got {params!r}"
            ) from None
        estimator = estimator_class(**params)
        validate = getattr(estimator, "_validate_params", None)
        if validate is not None:
            try:
                validate()
            except (ValueError, TypeError) as exc:
                raise ValueError(f"bad parameters for {kind.value}: {exc}") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "params", params)  # a private copy (picklable, unlike a proxy)

    def build(self) -> Any:
        """A fresh unfitted estimator (a scaler + model pipeline for the linear kinds)."""
        estimator = _ESTIMATORS[self.kind](**dict(self.params))
        if self.kind in _SCALED:
            return Pipeline([("scale", StandardScaler()), ("model", estimator)])
        return estimator

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for metadata."""
        return {"kind": self.kind.value, "params": dict(self.params)}


@dataclass(frozen=True)
class WalkForwardConfig:
    """Arguments of :func:`models.validation.walk_forward_splits` (times in ns)."""

    n_splits: int
    test_size: int
    train_size: int | None = None
    expanding: bool = False
    label_horizon_ns: int = 0
    embargo_ns: int = 0


@dataclass(frozen=True)
class FoldResult:
    """One fold: the times it trained on, the block it tested on, and its scores."""

    fold: int
    n_train: int
    n_test: int
    train_start_ns: int
    train_end_ns: int
    test_start_ns: int
    test_end_ns: int
    #: Distinct sample times (ns) of the training rows: what purging and embargo left.
    train_times_ns: np.ndarray
    metrics: MetricSet
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the train times)."""
        return {
            "fold": self.fold,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "train_start_ns": self.train_start_ns,
            "train_end_ns": self.train_end_ns,
            "test_start_ns": self.test_start_ns,
            "test_end_ns": self.test_end_ns,
            "metrics": self.metrics.as_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class TrainingResult:
    """Everything a training run produced: the final model, its evidence and its provenance."""

    spec: ModelSpec
    features: tuple[str, ...]
    label: str
    forward_return: str | None
    validation: WalkForwardConfig
    cost_bps: float
    periods_per_year: float
    #: Out-of-sample rows sorted by (symbol, ts): ts, symbol, prediction, label, forward_return,
    #: position, fold.
    predictions: pl.DataFrame
    folds: tuple[FoldResult, ...]
    metrics: MetricSet
    model: Any
    #: Std of the final model's in-sample signal: divide by it to size positions.
    position_scale: float
    training_start_ns: int
    training_end_ns: int
    n_rows: int
    dropped_rows: int
    dropped_by_column: Mapping[str, int]
    data_fingerprint: str

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Signal of the final model on new feature rows (columns selected by name)."""
        return predict_signal(self.model, self.spec.kind, frame, self.features)


def predict_signal(
    model: Any, kind: ModelKind | str, frame: pl.DataFrame, features: Sequence[str]
) -> np.ndarray:
    """A fitted model's signal on a frame: regressor output or a classifier's expected class."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks feature columns {missing}")
    x = frame.select(pl.col(list(features)).cast(pl.Float64)).to_numpy()
    return _signal(model, ModelKind(kind), x)


def data_fingerprint(frame: pl.DataFrame) -> str:
    """sha256 of a frame's content, independent of row order and chunking: names the data a model saw.

    Rows are sorted by (``symbol``, ``ts``, every other column); each column contributes its name,
    dtype, null mask and values (numbers as little-endian int64/float64, strings length-prefixed
    UTF-8). Stable across runs and library versions; changes when any value changes.
    """
    keys = [c for c in ("symbol", "ts") if c in frame.columns]
    ordered = frame.sort([*keys, *[c for c in frame.columns if c not in keys]], nulls_last=True)
    digest = hashlib.sha256(_FINGERPRINT_TAG)
    digest.update(f"{ordered.height}\0".encode())
    for name in ordered.columns:
        series = ordered[name]
        digest.update(f"{name}\0{series.dtype}\0".encode())
        nulls = series.is_null().to_numpy()
        digest.update(np.packbits(nulls).tobytes())
        dtype = series.dtype
        if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            for value in series.cast(pl.String).fill_null("").to_list():
                data = value.encode()
                digest.update(len(data).to_bytes(8, "little") + data)
        elif dtype.is_float():
            values = series.cast(pl.Float64).fill_null(0.0).to_numpy()
            digest.update(values.astype("<f8").tobytes())
        elif dtype.is_integer() or dtype.is_temporal() or dtype == pl.Boolean:
            values = series.to_physical().cast(pl.Int64).fill_null(0).to_numpy()
            digest.update(values.astype("<i8").tobytes())
        else:
            raise ValueError(f"cannot fingerprint column {name!r} of dtype {dtype}")
    return digest.hexdigest()


def train(
    frame: pl.DataFrame,
    spec: ModelSpec,
    *,
    features: Sequence[str],
    validation: WalkForwardConfig,
    periods_per_year: float,
    label: str = "label",
    forward_return: str | None = None,
    cost_bps: float = 0.0,
    position_limit: float = 1.0,
    max_threads: int | None = None,
) -> TrainingResult:
    """Walk-forward train and score a model, then fit it on the whole window, so it can be trusted.

    Parameters
    ----------
    frame
        ``ts`` (datetime or integer ns, the feature time), ``symbol``, the feature columns, the
        label and (optionally) the forward-return column; one row per (symbol, ts). An
        ``end_ts`` column, when present, is checked against ``validation.label_horizon_ns``.
    spec
        The model to train.
    features
        Feature columns, in the order the model sees them.
    validation
        Walk-forward folds over the distinct times of the clean rows.
    periods_per_year
        Periods (distinct ``ts``) per year, to annualise the Sharpe ratio.
    label
        Target column: a return for regressors, integer classes for classifiers.
    forward_return
        Realised return column the scores use (IC, hit rate, Sharpe). Required for classifiers;
        regressors default to the label. The Sharpe assumes it spans one period: with a longer
        label the per-period PnL overlaps and the Sharpe is inflated (pass the 1-period return).
    cost_bps
        Cost per unit of position traded, in basis points.
    position_limit
        Cap on ``|position|``.
    max_threads
        Cap on the native (OpenMP / BLAS) threads of the fits. Give it when other work shares the
        CPUs (Dask workers, parallel runs): gradient boosting's OpenMP threads spin-wait and, on an
        oversubscribed machine, a fit was measured 300x slower than with one thread.

    Raises
    ------
    ValueError
        Before any fitting, on a bad frame or arguments, or folds that cannot be built.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    for name, value, low in (
        ("cost_bps", cost_bps, 0.0),
        ("periods_per_year", periods_per_year, None),
        ("position_limit", position_limit, None),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or (value < low if low is not None else value <= 0)
        ):
            bound = ">= 0" if low is not None else "> 0"
            raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    if max_threads is not None and (
        isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1
    ):
        raise ValueError(f"max_threads must be an int >= 1 or None, got {max_threads!r}")
    feature_list = tuple(features)
    clean, dropped_by_column, dropped = _clean_frame(
        frame, spec, feature_list, label, forward_return, validation
    )
    outcome_column = forward_return or label
    ts_ns = _ts_ns(clean)
    times = np.unique(ts_ns)
    splits = walk_forward_splits(
        times,
        n_splits=validation.n_splits,
        test_size=validation.test_size,
        train_size=validation.train_size,
        expanding=validation.expanding,
        label_horizon_ns=validation.label_horizon_ns,
        embargo_ns=validation.embargo_ns,
    )
    x = clean.select(pl.col(list(feature_list)).cast(pl.Float64)).to_numpy()
    y = clean[label].to_numpy()
    outcome = clean[outcome_column].cast(pl.Float64).to_numpy()
    symbols = clean["symbol"].to_numpy()
    _check_classes(spec, y, "the full window")
    limits = (
        contextlib.nullcontext() if max_threads is None else threadpool_limits(limits=max_threads)
    )
    with limits:
        pieces: list[pl.DataFrame] = []
        folds: list[FoldResult] = []
        for k, split in enumerate(splits):
            train_rows = rows_of(split.train_idx, times, ts_ns)
            test_rows = rows_of(split.test_idx, times, ts_ns)
            notes: list[str] = []
            signal, scale, fold_notes = _fit_fold(spec, x, y, train_rows, test_rows)
            notes.extend(fold_notes)
            if scale is None:
                position = np.zeros(test_rows.size)
            else:
                position = positions_from_predictions(signal, scale=scale, limit=position_limit)
            fold_metrics = evaluate(
                signal,
                outcome[test_rows],
                period=ts_ns[test_rows],
                symbol=symbols[test_rows],
                position=position,
                cost_bps=cost_bps,
                periods_per_year=periods_per_year,
                positive=(y[test_rows] > 0) if spec.kind.is_classifier else None,
            )
            train_times = times[split.train_idx]
            folds.append(
                FoldResult(
                    fold=k,
                    n_train=int(train_rows.size),
                    n_test=int(test_rows.size),
                    train_start_ns=int(train_times[0]),
                    train_end_ns=int(train_times[-1]),
                    test_start_ns=int(times[split.test_idx[0]]),
                    test_end_ns=int(times[split.test_idx[-1]]),
                    train_times_ns=train_times,
                    metrics=fold_metrics,
                    notes=tuple(notes),
                )
            )
            piece = clean[test_rows].select(
                "ts",
                "symbol",
                prediction=pl.lit(pl.Series(signal, dtype=pl.Float64)),
                label=pl.col(label),
                forward_return=pl.col(outcome_column).cast(pl.Float64),
                position=pl.lit(pl.Series(position, dtype=pl.Float64)),
                fold=pl.lit(k, dtype=pl.Int32),
            )
            pieces.append(piece)

        predictions = pl.concat(pieces).sort("symbol", "ts")
        overall_ts = _ts_ns(predictions)
        overall = evaluate(
            predictions["prediction"].to_numpy(),
            predictions["forward_return"].to_numpy(),
            period=overall_ts,
            symbol=predictions["symbol"].to_numpy(),
            position=predictions["position"].to_numpy(),
            cost_bps=cost_bps,
            periods_per_year=periods_per_year,
            positive=(predictions["label"].to_numpy() > 0) if spec.kind.is_classifier else None,
        )
        model = spec.build()
        model.fit(x, y)
        in_sample = _signal(model, spec.kind, x)
        scale = float(np.std(in_sample))
    keep_columns = ["ts", "symbol", *feature_list, label]
    if forward_return is not None and forward_return != label:
        keep_columns.append(forward_return)
    return TrainingResult(
        spec=spec,
        features=feature_list,
        label=label,
        forward_return=forward_return,
        validation=validation,
        cost_bps=float(cost_bps),
        periods_per_year=float(periods_per_year),
        predictions=predictions,
        folds=tuple(folds),
        metrics=overall,
        model=model,
        position_scale=scale if math.isfinite(scale) else float("nan"),
        training_start_ns=int(times[0]),
        training_end_ns=int(times[-1]),
        n_rows=clean.height,
        dropped_rows=dropped,
        dropped_by_column=dropped_by_column,
        data_fingerprint=data_fingerprint(clean.select(keep_columns)),
    )


def _clean_frame(
    frame: pl.DataFrame,
    spec: ModelSpec,
    features: tuple[str, ...],
    label: str,
    forward_return: str | None,
    validation: WalkForwardConfig,
) -> tuple[pl.DataFrame, dict[str, int], int]:
    """Checked rows sorted by (symbol, ts) without null/NaN inputs, and what was dropped (why)."""
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"frame must be a polars DataFrame, got {type(frame).__name__}")
    if not isinstance(validation, WalkForwardConfig):
        raise ValueError(f"validation must be a WalkForwardConfig, got {type(validation).__name__}")
    if not features:
        raise ValueError("features must name at least one column")
    if len(set(features)) != len(features):
        raise ValueError(f"features repeat a column: {list(features)}")
    if label in features or (forward_return is not None and forward_return in features):
        raise ValueError(f"the label / forward return may not be a feature (features {list(features)})")
    if spec.kind.is_classifier and forward_return is None:
        raise ValueError(
            f"{spec.kind.value} needs forward_return: its scores (IC, hit rate, Sharpe) use the "
            f"realised return, not the class"
        )
    value_columns = [*features, label, *([forward_return] if forward_return else [])]
    needed = ["ts", "symbol", *value_columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing} (has {frame.columns})")
    ts_dtype = frame.schema["ts"]
    if not (isinstance(ts_dtype, pl.Datetime) or ts_dtype.is_integer()):
        raise ValueError(f"ts must be a datetime or integer ns, got {ts_dtype}")
    for name in value_columns:
        dtype = frame.schema[name]
        if not (dtype.is_numeric() or dtype == pl.Boolean):
            raise ValueError(f"column {name!r} must be numeric, got {dtype}")
    if frame.select(pl.col("ts").is_null().any() | pl.col("symbol").is_null().any()).item():
        raise ValueError("frame has rows with a null ts or symbol")
    if frame.select(pl.struct("symbol", "ts").is_duplicated().any()).item():
        raise ValueError("frame has duplicate (symbol, ts) rows")
    if "end_ts" in frame.columns:
        reach = frame.select(
            (_ns_expr("end_ts", frame.schema["end_ts"]) - _ns_expr("ts", ts_dtype)).max()
        ).item()
        if reach is not None and reach > validation.label_horizon_ns:
            raise ValueError(
                f"labels reach {reach} ns past their ts (end_ts) but validation.label_horizon_ns "
                f"is {validation.label_horizon_ns}: purging would leak test labels into training"
            )

    def bad(name: str) -> pl.Expr:
        column = pl.col(name)
        if frame.schema[name].is_float():
            return column.is_null() | column.is_nan()
        return column.is_null()

    dropped_by_column = {
        name: int(count)
        for name, count in frame.select(bad(name).sum().alias(name) for name in value_columns)
        .row(0, named=True)
        .items()
        if count
    }
    any_bad = pl.any_horizontal(bad(name) for name in value_columns)
    clean = frame.filter(~any_bad).sort("symbol", "ts")
    dropped = frame.height - clean.height
    if dropped:
        log.info(
            "training drops %d of %d rows with a null or NaN input (by column: %s)",
            dropped,
            frame.height,
            dropped_by_column,
        )
    if spec.kind.is_classifier:
        labels = clean[label].cast(pl.Float64)
        if not (labels.round(0) == labels).all():
            raise ValueError(f"classifier label {label!r} must hold integer classes")
        clean = clean.with_columns(pl.col(label).cast(pl.Int64))
    else:
        clean = clean.with_columns(pl.col(label).cast(pl.Float64))
    if clean.height == 0:
        raise ValueError(f"no row left after dropping {dropped} rows with null or NaN inputs")
    return clean, dropped_by_column, dropped


def _fit_fold(
    spec: ModelSpec, x: np.ndarray, y: np.ndarray, train_rows: np.ndarray, test_rows: np.ndarray
) -> tuple[np.ndarray, float | None, list[str]]:
    """Out-of-sample signal of one fold, the in-sample scale for sizing, and notes on gaps."""
    notes: list[str] = []
    if spec.kind.is_classifier and np.unique(y[train_rows]).size < 2:
        notes.append("training rows hold one class only: no model, predictions are NaN")
        return np.full(test_rows.size, np.nan), None, notes
    model = spec.build()
    model.fit(x[train_rows], y[train_rows])
    signal = _signal(model, spec.kind, x[test_rows])
    scale = float(np.std(_signal(model, spec.kind, x[train_rows])))
    if not (math.isfinite(scale) and scale > 0):
        notes.append("constant in-sample signal: positions are flat")
        return signal, None, notes
    return signal, scale, notes


def _check_classes(spec: ModelSpec, y: np.ndarray, where: str) -> None:
    """A classifier needs two classes to fit."""
    if spec.kind.is_classifier and np.unique(y).size < 2:
        raise ValueError(f"{spec.kind.value} cannot fit {where}: the label holds one class only")


def _signal(model: Any, kind: ModelKind, x: np.ndarray) -> np.ndarray:
    """Regressor output, or the expected class under the classifier's probabilities."""
    if kind.is_classifier:
        classes = np.asarray(model.classes_, dtype=np.float64)
        return np.asarray(model.predict_proba(x) @ classes, dtype=np.float64)
    return np.asarray(model.predict(x), dtype=np.float64)


def _ns_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """A ts column as int64 ns."""
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.epoch("ns")
    return pl.col(name).cast(pl.Int64)


def _ts_ns(frame: pl.DataFrame) -> np.ndarray:
    """The ``ts`` column as int64 ns."""
    return frame.select(_ns_expr("ts", frame.schema["ts"])).to_series().to_numpy().astype(np.int64)
