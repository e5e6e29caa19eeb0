"""ML and sentiment data for the dashboard tests: a tiny registered model, ML signals, sentiment.

What the ``train_model``, ``ml_inference`` and ``sentiment`` flows leave behind, written small:
two versions of one model (v1 production, v2 staging), ML targets in the signal log, a sentiment
index per symbol on a grid and a few scored headlines with their news rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from models.registry import ModelRegistry
from models.training import ModelSpec, WalkForwardConfig, train
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.schemas import NEWS, SENTIMENT_INDEX, SENTIMENT_SCORES, conform
from shriven.signals.log import SignalLog

MODEL = "dash_ridge"
DAY = date(2026, 1, 5)
MINUTE = 60 * 10**9
#: ML weight targets appended under ``ml:<MODEL>`` (symbol, weight).
ML_TARGETS = (("ACME", 0.02), ("BOLT", -0.01))
SENTIMENT_SYMBOLS = ("ACME", "BOLT", "")
#: Each symbol's index is ``scale * tanh`` of the grid position, so the lines differ.
INDEX_SCALE = {"ACME": 0.9, "BOLT": -0.7, "": 0.3}
#: Index grid points per symbol (one a minute).
GRID_POINTS = 30
HEADLINES = (
    ("ACME", "ACME beats estimates and lifts guidance", "positive", 0.8),
    ("BOLT", "BOLT recalls a product line", "negative", -0.7),
    ("", "Markets steady ahead of the rate decision", "neutral", 0.05),
)


@dataclass(frozen=True)
class MlLake:
    """What :func:`write_ml_lake` wrote, for assertions."""

    data_dir: Path
    versions: tuple[int, ...]


def _clock() -> datetime:
    return datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _training_frame(seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n_times, n_symbols = 80, 3
    n = n_times * n_symbols
    alpha = rng.normal(size=n)
    return pl.DataFrame(
        {
            "ts": np.repeat(np.arange(n_times, dtype=np.int64) * MINUTE, n_symbols),
            "symbol": np.tile([f"S{i}" for i in range(n_symbols)], n_times),
            "alpha": alpha,
            "noise": rng.normal(size=n),
            "fwd_return": 0.004 * alpha + 0.01 * rng.normal(size=n),
        }
    )


def write_ml_lake(data_dir: Path, lake_root: str) -> MlLake:
    """Register two versions of a tiny ridge model and write ML signals and sentiment rows."""
    result = train(
        _training_frame(),
        ModelSpec("ridge"),
        features=["alpha", "noise"],
        validation=WalkForwardConfig(
            n_splits=2, test_size=20, expanding=True, label_horizon_ns=MINUTE
        ),
        periods_per_year=525_600.0,
        label="fwd_return",
        max_threads=1,
    )
    registry = ModelRegistry(data_dir, clock=_clock, code_version=lambda: "dashboard-test")
    versions = (registry.register(result, MODEL), registry.register(result, MODEL))
    registry.promote(MODEL, versions[0])
    registry.promote(MODEL, versions[1], alias="staging")

    start = day_start_ns(DAY) + 14 * 3_600 * 10**9
    SignalLog(lake_root, symbols=[s for s, _ in ML_TARGETS]).append(
        [
            Signal(
                ts=start, symbol=symbol, target=weight, kind=TargetKind.WEIGHT,
                source=f"ml:{MODEL}", model_version=f"{MODEL}@{versions[0]}",
            )  # fmt: skip
            for symbol, weight in ML_TARGETS
        ],
        source=f"ml:{MODEL}",
        now_ns=start + 1,
    )

    lake = Lake(lake_root)
    window = Window.days(DAY)
    grid = [start + i * MINUTE for i in range(GRID_POINTS)]
    index = pa.table(
        {
            "ts": pa.array([t for _ in SENTIMENT_SYMBOLS for t in grid], pa.timestamp("ns", "UTC")),
            "symbol": [s for s in SENTIMENT_SYMBOLS for _ in grid],
            "index": [
                float(np.tanh((i - GRID_POINTS / 2) / 10)) * INDEX_SCALE[s]
                for s in SENTIMENT_SYMBOLS
                for i in range(GRID_POINTS)
            ],
            "weight": [1.0 + i / 10 for _ in SENTIMENT_SYMBOLS for i in range(GRID_POINTS)],
            "n_texts": [i + 1 for _ in SENTIMENT_SYMBOLS for i in range(GRID_POINTS)],
            "half_life_s": [3_600.0] * (GRID_POINTS * len(SENTIMENT_SYMBOLS)),
        }
    )
    lake.write_window("sentiment_index", conform(index, SENTIMENT_INDEX), window)

    times = pa.array([start + i * 5 * MINUTE for i in range(len(HEADLINES))], pa.timestamp("ns", "UTC"))
    ids = [f"text-{i}" for i in range(len(HEADLINES))]
    news = pa.table(
        {
            "ts": times,
            "text_id": ids,
            "source": ["synthetic:test"] * len(HEADLINES),
            "symbol": [h[0] for h in HEADLINES],
            "text": [h[1] for h in HEADLINES],
        }
    )
    lake.write_window("news", conform(news, NEWS), window)
    probabilities = {"positive": (0.05, 0.15, 0.8), "negative": (0.75, 0.2, 0.05), "neutral": (0.1, 0.8, 0.1)}
    scores = pa.table(
        {
            "ts": times,
            "text_id": ids,
            "symbol": [h[0] for h in HEADLINES],
            "source": ["synthetic:test"] * len(HEADLINES),
            "label": [h[2] for h in HEADLINES],
            "p_negative": [probabilities[h[2]][0] for h in HEADLINES],
            "p_neutral": [probabilities[h[2]][1] for h in HEADLINES],
            "p_positive": [probabilities[h[2]][2] for h in HEADLINES],
            "score": [h[3] for h in HEADLINES],
            "model": ["test-sentiment"] * len(HEADLINES),
            "model_version": ["1"] * len(HEADLINES),
        }
    )
    lake.write_window("sentiment_scores", conform(scores, SENTIMENT_SCORES), window)
    return MlLake(data_dir, versions)
