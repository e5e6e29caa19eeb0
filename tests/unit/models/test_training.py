"""Walk-forward training: planted signal is found, noise is not, folds never peek, runs repeat."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

from models.labels import classify
from models.training import (
    ModelKind,
    ModelSpec,
    TrainingResult,
    WalkForwardConfig,
    data_fingerprint,
    train,
)

MINUTE = 60_000_000_000
FEATURES = ["alpha", "noise_a", "noise_b"]
VALIDATION = WalkForwardConfig(
    n_splits=4, test_size=40, expanding=True, label_horizon_ns=3 * MINUTE, embargo_ns=5 * MINUTE
)


def panel(n_times: int = 300, n_symbols: int = 6, seed: int = 7, strength: float = 0.4) -> pl.DataFrame:
    """Minute panel whose forward return loads on ``alpha`` (IC about ``strength``), plus noise."""
    rng = np.random.default_rng(seed)
    n = n_times * n_symbols
    alpha = rng.normal(size=n)
    fwd = 0.01 * (strength * alpha + math.sqrt(1 - strength**2) * rng.normal(size=n))
    return pl.DataFrame(
        {
            "ts": np.repeat(np.arange(n_times, dtype=np.int64) * MINUTE, n_symbols)
            + 1_700_000_000 * 10**9,
            "symbol": np.tile([f"S{i}" for i in range(n_symbols)], n_times),
            "alpha": alpha,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "fwd_return": fwd,
        }
    ).with_columns(label=classify(pl.col("fwd_return"), 0.002))


RIDGE = ModelSpec(ModelKind.RIDGE, {"alpha": 1.0})
HGB = ModelSpec("hgb_regressor", {"max_iter": 40, "max_depth": 3})


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return panel()


@pytest.fixture(autouse=True)
def one_native_thread():
    """Gradient boosting's OpenMP threads crawl when other processes share the two CPUs."""
    with threadpool_limits(limits=1):
        yield


def run(frame: pl.DataFrame, spec: ModelSpec = RIDGE, **kwargs) -> TrainingResult:
    options = {"features": FEATURES, "validation": VALIDATION, "periods_per_year": 525_600.0,
               "label": "fwd_return", "cost_bps": 1.0}
    options.update(kwargs)
    return train(frame, spec, **options)


@pytest.mark.parametrize("spec", [RIDGE, HGB], ids=["ridge", "hgb"])
def test_planted_signal_is_found_out_of_sample(frame: pl.DataFrame, spec: ModelSpec) -> None:
    result = run(frame, spec)
    assert result.metrics.ic > 0.25
    assert result.metrics.mean_period_rank_ic > 0.2
    assert result.metrics.hit_rate > 0.55
    assert all(fold.metrics.ic > 0.1 for fold in result.folds)
    assert result.predictions.columns[:4] == ["ts", "symbol", "prediction", "label"]
    assert result.predictions.height == VALIDATION.n_splits * VALIDATION.test_size * 6
    assert result.features == tuple(FEATURES)
    assert result.training_start_ns == frame["ts"].min()
    assert result.training_end_ns == frame["ts"].max()
    assert math.isnan(result.metrics.auc)
    assert result.metrics.reasons["auc"] == "not a classifier"


def test_shuffled_labels_give_no_skill(frame: pl.DataFrame) -> None:
    rng = np.random.default_rng(11)
    shuffled = frame.with_columns(
        pl.Series("fwd_return", rng.permutation(frame["fwd_return"].to_numpy()))
    )
    result = run(shuffled)
    assert abs(result.metrics.ic) < 0.08
    assert abs(result.metrics.mean_period_ic) < 0.08


def test_classifier_scores_auc_against_up_moves(frame: pl.DataFrame) -> None:
    spec = ModelSpec("logistic", {"C": 1.0})
    result = run(frame, spec, label="label", forward_return="fwd_return")
    assert result.metrics.auc > 0.6
    assert result.metrics.ic > 0.2
    assert result.predictions["label"].dtype == pl.Int64
    assert result.predictions["prediction"].is_between(-1.0, 1.0).all()


def test_no_fold_trains_inside_its_purge_or_embargo_window(frame, monkeypatch) -> None:
    """Record the times each fitted model actually saw through a feature that is the time."""
    seen: list[np.ndarray] = []

    class Recorder:
        def fit(self, x: np.ndarray, y: np.ndarray) -> Recorder:
            seen.append(np.unique(x[:, 0]).astype(np.int64) * 10**9)
            return self

        def predict(self, x: np.ndarray) -> np.ndarray:
            return x[:, 1]

    monkeypatch.setattr(ModelSpec, "build", lambda self: Recorder())
    probed = frame.with_columns(probe=(pl.col("ts") // 10**9).cast(pl.Float64))
    result = run(probed, features=["probe", "alpha"])
    assert len(seen) == VALIDATION.n_splits + 1  # folds, then the final model on everything
    previous_ends: list[int] = []
    for fold, trained in zip(result.folds, seen, strict=False):
        np.testing.assert_array_equal(trained, fold.train_times_ns)
        assert trained.max() + VALIDATION.label_horizon_ns < fold.test_start_ns  # purged
        for end in previous_ends:  # embargoed after every earlier test block
            assert not ((trained > end) & (trained <= end + VALIDATION.embargo_ns)).any()
        test_ts = result.predictions.filter(pl.col("fold") == fold.fold)["ts"]
        assert test_ts.min() == fold.test_start_ns
        assert test_ts.max() == fold.test_end_ns
        previous_ends.append(fold.test_end_ns)
    assert previous_ends
    assert len(seen[-1]) == frame["ts"].n_unique()


def test_training_is_deterministic(frame: pl.DataFrame) -> None:
    first = run(frame, HGB)
    second = run(frame, HGB, max_threads=1)
    assert first.predictions.equals(second.predictions)
    assert first.data_fingerprint == second.data_fingerprint
    np.testing.assert_array_equal(first.predict(frame), second.predict(frame))


def test_null_rows_are_dropped_and_counted(frame: pl.DataFrame) -> None:
    holed = frame.with_columns(
        alpha=pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("alpha")),
        noise_a=pl.when(pl.int_range(pl.len()).is_in([5, 9])).then(float("nan")).otherwise(
            pl.col("noise_a")
        ),
        fwd_return=pl.when(pl.int_range(pl.len()) == 20).then(None).otherwise(pl.col("fwd_return")),
    )
    result = run(holed)
    assert result.dropped_rows == 3
    assert dict(result.dropped_by_column) == {"alpha": 1, "noise_a": 2, "fwd_return": 1}
    assert result.n_rows == frame.height - 3


def test_fingerprint_is_stable_and_sensitive(frame: pl.DataFrame) -> None:
    base = data_fingerprint(frame)
    assert data_fingerprint(frame.clone()) == base
    assert data_fingerprint(frame.sample(fraction=1.0, shuffle=True, seed=3)) == base
    assert data_fingerprint(pl.concat([frame[:100], frame[100:]], rechunk=False)) == base
    changed = frame.with_columns(
        alpha=pl.when(pl.int_range(pl.len()) == 123).then(pl.col("alpha") + 1e-12).otherwise(
            pl.col("alpha")
        )
    )
    assert data_fingerprint(changed) != base
    assert data_fingerprint(frame.rename({"noise_a": "noise_z"})) != base
    assert len(base) == 64
    result = run(frame)
    assert result.data_fingerprint == run(frame.reverse()).data_fingerprint


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("random_forest", {}, "unknown model kind"),
        ("ridge", {"alpah": 1.0}, "unknown parameters"),
        ("ridge", {"alpha": -1.0}, "bad parameters"),
        ("hgb_classifier", {"learning_rate": "fast"}, "bad parameters"),
        ("logistic", {"random_state": None}, "random_state"),
        ("ridge", {"alpha": float("nan")}, "JSON"),
    ],
)
def test_bad_specs_are_rejected_on_construction(kind: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec(kind, params)


def test_bad_inputs_are_rejected_before_any_fitting(frame, monkeypatch) -> None:
    def no_fitting(self: ModelSpec) -> None:
        raise AssertionError("a model was built before the inputs were checked")

    monkeypatch.setattr(ModelSpec, "build", no_fitting)
    with pytest.raises(ValueError, match="lacks columns"):
        run(frame, features=["alpha", "missing"])
    with pytest.raises(ValueError, match="needs forward_return"):
        run(frame, ModelSpec("logistic"), label="label")
    with pytest.raises(ValueError, match="purging would leak"):
        run(frame.with_columns(end_ts=pl.col("ts") + 10 * MINUTE))
    with pytest.raises(ValueError, match="too few"):
        run(frame, validation=WalkForwardConfig(n_splits=10, test_size=40, expanding=True))
    with pytest.raises(ValueError, match="duplicate"):
        run(pl.concat([frame, frame[:1]]))
    with pytest.raises(ValueError, match="periods_per_year"):
        run(frame, periods_per_year=0.0)
    with pytest.raises(ValueError, match="cost_bps"):
        run(frame, cost_bps=-1.0)
    with pytest.raises(ValueError, match="integer classes"):
        run(frame, ModelSpec("logistic"), label="noise_b", forward_return="fwd_return",
            features=["alpha"])


def test_datetime_ts_is_accepted(frame: pl.DataFrame) -> None:
    dated = frame.with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    result = run(dated)
    assert result.predictions["ts"].dtype == pl.Datetime("ns", "UTC")
    assert result.metrics.ic == pytest.approx(run(frame).metrics.ic)
