"""Sentiment index: point-in-time (no look-ahead), hand-checked decay, grid and input handling."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models.sentiment.index import regular_grid, sentiment_index
from shriven.schemas import SENTIMENT_INDEX, conform

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _scores(rows: list[tuple[int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [T0 + t * S for t, _, _ in rows],
            "symbol": [s for _, s, _ in rows],
            "score": [x for *_, x in rows],
        },
        schema={"ts": pl.Int64, "symbol": pl.String, "score": pl.Float64},
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))


def _random_scores(seed: int, n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "ts": T0 + rng.integers(0, 3600 * S, n),
            "symbol": rng.choice(["ACME", "BOLT", "CRUX", ""], n).tolist(),
            "score": rng.uniform(-1, 1, n),
        }
    )


def test_decay_matches_a_hand_computed_value() -> None:
    # ACME: +1 at 0 s, -0.5 at 60 s, +0.8 at 90 s; half-life 60 s; evaluated at 120 s
    scores = _scores([(0, "ACME", 1.0), (60, "ACME", -0.5), (90, "ACME", 0.8), (30, "BOLT", -1.0)])
    grid = pl.DataFrame({"ts": [T0 + 120 * S], "symbol": ["ACME"]})
    out = sentiment_index(scores, grid, half_life_s=60.0)
    w = [2 ** (-120 / 60), 2 ** (-60 / 60), 2 ** (-30 / 60)]  # 0.25, 0.5, 0.7071
    weighted = 1.0 * w[0] - 0.5 * w[1] + 0.8 * w[2]
    assert out["weight"][0] == pytest.approx(sum(w), rel=1e-12)
    assert out["index"][0] == pytest.approx(weighted / (sum(w) + 1.0), rel=1e-12)
    assert out["index"][0] == pytest.approx(0.565685 / 2.457107, abs=1e-6)  # = 0.230224
    assert out["n_texts"][0] == 3
    mean = sentiment_index(scores, grid, half_life_s=60.0, prior_weight=0.0)
    assert mean["index"][0] == pytest.approx(weighted / sum(w), rel=1e-12)


def test_a_single_fresh_text_reads_half_its_score_and_halves_per_half_life() -> None:
    scores = _scores([(0, "ACME", 1.0)])
    grid = regular_grid(T0, T0 + 200 * S, 100 * S, ["ACME"])
    out = sentiment_index(scores, grid, half_life_s=100.0, prior_weight=0.0)
    assert out["index"].to_list() == pytest.approx([1.0, 1.0, 1.0])  # plain mean: no fading
    assert out["weight"].to_list() == pytest.approx([1.0, 0.5, 0.25])
    shrunk = sentiment_index(scores, grid, half_life_s=100.0)
    assert shrunk["index"].to_list() == pytest.approx([0.5, 0.5 / 1.5, 0.25 / 1.25])


@pytest.mark.parametrize("seed", range(3))
def test_no_look_ahead_changing_later_texts_leaves_earlier_values_unchanged(seed: int) -> None:
    scores = _random_scores(seed)
    cut = T0 + 1800 * S
    grid = regular_grid(T0, T0 + 3600 * S, 60 * S, ["ACME", "BOLT", "CRUX", "", "DYNA"])
    base = sentiment_index(scores, grid, half_life_s=300.0)
    rng = np.random.default_rng(100 + seed)
    later = pl.col("ts") > cut
    changed = pl.concat(
        [
            scores.with_columns(
                pl.when(later).then(-pl.col("score")).otherwise(pl.col("score")).alias("score")
            ),
            pl.DataFrame(
                {
                    "ts": cut + rng.integers(1, 1800 * S, 50),
                    "symbol": ["ACME"] * 50,
                    "score": rng.uniform(-1, 1, 50),
                }
            ),
        ]
    ).filter(~(later & (pl.col("symbol") == "BOLT")))  # and drop some later texts
    moved = sentiment_index(
        changed.sample(fraction=1.0, shuffle=True, seed=seed), grid, half_life_s=300.0
    )
    up_to_cut = pl.col("ts").dt.epoch("ns") <= cut
    assert_frame_equal(base.filter(up_to_cut), moved.filter(up_to_cut))
    assert not base.filter(~up_to_cut).equals(moved.filter(~up_to_cut))


def test_text_at_the_grid_time_counts_and_one_nanosecond_later_does_not() -> None:
    grid = pl.DataFrame({"ts": [T0], "symbol": ["ACME"]})
    at = sentiment_index(_scores([(0, "ACME", 1.0)]), grid, half_life_s=10.0)
    after = sentiment_index(
        pl.DataFrame({"ts": [T0 + 1], "symbol": ["ACME"], "score": [1.0]}), grid, half_life_s=10.0
    )
    assert at["n_texts"][0] == 1
    assert at["index"][0] == pytest.approx(0.5)
    assert after["n_texts"][0] == 0
    assert after["index"][0] == 0.0


def test_matches_a_brute_force_sum_on_random_texts() -> None:
    scores = _random_scores(7)
    grid = regular_grid(T0, T0 + 3600 * S, 300 * S, ["ACME", "", "ZZZZ"])
    out = sentiment_index(scores, grid, half_life_s=600.0, prior_weight=2.0)
    ts = scores["ts"].to_numpy()
    out = out.with_columns(t=pl.col("ts").dt.epoch("ns"))
    for row in out.iter_rows(named=True):
        t = row["t"]
        mine = (scores["symbol"].to_numpy() == row["symbol"]) & (ts <= t)
        w = np.exp2(-(t - ts[mine]) / (600.0 * S))
        assert row["n_texts"] == mine.sum()
        assert row["weight"] == pytest.approx(w.sum(), rel=1e-9, abs=1e-12)
        expected = (w * scores["score"].to_numpy()[mine]).sum() / (w.sum() + 2.0)
        assert row["index"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_output_follows_the_schema_and_is_sorted() -> None:
    out = sentiment_index(
        _random_scores(1),
        regular_grid(T0, T0 + 600 * S, 60 * S, ["BOLT", "ACME"]),
        half_life_s=60.0,
    )
    assert out.columns == SENTIMENT_INDEX.names
    assert conform(out.to_arrow(), SENTIMENT_INDEX).schema.equals(
        SENTIMENT_INDEX, check_metadata=True
    )
    assert out["symbol"].to_list() == ["ACME"] * 11 + ["BOLT"] * 11
    assert set(out["half_life_s"]) == {60.0}
    assert out["index"].is_between(-1, 1).all()


def test_a_year_of_texts_does_not_overflow() -> None:
    n = 2000
    scores = pl.DataFrame(
        {
            "ts": T0 + np.linspace(0, 365 * 86400 * S, n).astype(np.int64),
            "symbol": "ACME",
            "score": 1.0,
        }
    )
    grid = pl.DataFrame({"ts": [T0 + 365 * 86400 * S], "symbol": ["ACME"]})
    out = sentiment_index(scores, grid, half_life_s=60.0)
    assert math.isfinite(out["index"][0])
    assert 0.0 < out["index"][0] <= 1.0


@pytest.mark.parametrize(
    ("scores", "kwargs", "match"),
    [
        (
            pl.DataFrame({"ts": [T0], "symbol": ["A"], "score": [1.5]}),
            {"half_life_s": 1.0},
            "outside",
        ),
        (
            pl.DataFrame(
                {"ts": [T0], "symbol": ["A"], "score": [None]},
                schema_overrides={"score": pl.Float64},
            ),
            {"half_life_s": 1.0},
            "null",
        ),
        (
            pl.DataFrame({"ts": [T0], "symbol": ["A"], "score": [0.1]}),
            {"half_life_s": 0.0},
            "half_life",
        ),
        (
            pl.DataFrame({"ts": [T0], "symbol": ["A"], "score": [0.1]}),
            {"half_life_s": 1.0, "prior_weight": -1.0},
            "prior",
        ),
        (pl.DataFrame({"ts": [T0], "symbol": ["A"]}), {"half_life_s": 1.0}, "score"),
        (
            pl.DataFrame({"ts": ["x"], "symbol": ["A"], "score": [0.1]}),
            {"half_life_s": 1.0},
            "datetime",
        ),
    ],
)
def test_bad_input_raises(scores: pl.DataFrame, kwargs: dict, match: str) -> None:
    grid = pl.DataFrame({"ts": [T0], "symbol": ["A"]})
    with pytest.raises(ValueError, match=match):
        sentiment_index(scores, grid, **kwargs)
