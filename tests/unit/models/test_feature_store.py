"""The feature store: look-back across days, idempotent writes, point-in-time sentiment, labels."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from models.feature_store import (
    BOOK_COLUMNS,
    BOOK_MAX_AGE_NS,
    SENTIMENT_COLUMNS,
    compute_day_features,
    feature_dates,
    join_book,
    latest_features,
    lookback_bars,
    materialise_features,
    read_features,
    training_frame,
)
from models.features import DEFAULT_HORIZONS, compute_features, feature_columns
from models.inference import weights_from_predictions
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.schemas import FEATURES, SENTIMENT_INDEX, conform
from shriven.testing.demo_lake import write_demo_lake

SYMBOLS = ("ACME", "BOLT", "CRUX")
MONDAY = date(2026, 1, 5)
DAYS = ("2026-01-05", "2026-01-06", "2026-01-07")
FEATURE_NAMES = list(feature_columns(DEFAULT_HORIZONS))


def demo_lake(root, minutes: int) -> Lake:
    write_demo_lake(str(root), SYMBOLS, MONDAY, minutes=minutes, days=3)
    return Lake(str(root))


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_schema_lists_the_feature_columns_and_the_sentiment_columns() -> None:
    assert FEATURES.names == [
        "ts", "symbol", "interval", *FEATURE_NAMES, *SENTIMENT_COLUMNS, *BOOK_COLUMNS
    ]  # fmt: skip
    assert lookback_bars() == 60


@pytest.mark.parametrize(("minutes", "lookback_dates"), [(120, DAYS[1:2]), (40, DAYS[:2])])
def test_first_rows_of_a_day_equal_one_continuous_computation(tmp_path, minutes, lookback_dates) -> None:
    lake = demo_lake(tmp_path, minutes)
    day, used = compute_day_features(lake, DAYS[2])
    assert used == lookback_dates
    continuous = compute_features(pl.from_arrow(lake.read("bars_1m")))
    expected = continuous.filter(pl.col("ts").dt.date() == date(2026, 1, 7))
    assert day.height == expected.height == minutes * len(SYMBOLS)
    assert_frame_equal(day.select("symbol", "ts", *FEATURE_NAMES), expected.select("symbol", "ts", *FEATURE_NAMES))
    first = day.group_by("symbol").agg(pl.all().sort_by("ts").first())
    # the warm-up is over at the day's first bar: the previous days' bars were used
    assert first["ret_60"].null_count() == 0
    assert first["volume_z"].null_count() == 0


def test_without_earlier_days_the_first_rows_stay_null(tmp_path) -> None:
    lake = demo_lake(tmp_path, 120)
    day, used = compute_day_features(lake, DAYS[0])
    assert used == ()
    assert day.sort("ts")["ret_60"][0] is None


def test_materialising_twice_replaces_the_date(tmp_path) -> None:
    lake = demo_lake(tmp_path, 90)
    first = materialise_features(lake, DAYS[1])
    files = lake.files("features")
    rows = read_features(lake)
    second = materialise_features(lake, DAYS[1])
    assert first == second
    assert first.rows == rows.height == 90 * len(SYMBOLS)
    assert lake.files("features") == files == [first.path]
    assert_frame_equal(read_features(lake), rows)
    assert feature_dates(lake) == [DAYS[1]]
    materialise_features(lake, DAYS[2])
    latest = latest_features(lake)
    assert latest["symbol"].to_list() == list(SYMBOLS)
    assert latest["ts"].dt.date().to_list() == [date(2026, 1, 7)] * 3
    assert (latest["ts"] == read_features(lake, [DAYS[2]])["ts"].max()).all()


def test_a_date_without_bars_writes_nothing(tmp_path) -> None:
    lake = demo_lake(tmp_path, 30)
    result = materialise_features(lake, "2026-01-09")
    assert result.rows == 0
    assert result.path is None
    assert lake.files("features") == []


def write_index(lake: Lake, rows: list[tuple[str, str, float | None, float]]) -> None:
    table = pa.table(
        {
            "ts": pa.array([ts(r[0]) for r in rows], pa.timestamp("ns", tz="UTC")),
            "symbol": [r[1] for r in rows],
            "index": pa.array([r[2] for r in rows], pa.float64()),
            "weight": [r[3] for r in rows],
            "n_texts": [1] * len(rows),
            "half_life_s": [3600.0] * len(rows),
        }
    )
    lake.write_window("sentiment_index", conform(table, SENTIMENT_INDEX), Window.days(MONDAY, 3))


def test_book_is_joined_as_of_the_feature_time_fresh_and_not_stale() -> None:
    minute = 60_000_000_000
    t0 = 1_767_600_000_000_000_000  # a round minute
    features = pl.DataFrame(
        {
            "ts": pl.Series([t0 + k * minute for k in (1, 2, 3, 9)], dtype=pl.Int64).cast(
                pl.Datetime("ns", "UTC")
            ),
            "symbol": ["ACME"] * 4,
            "x": [1.0, 2.0, 3.0, 4.0],
        }
    )
    book = pl.DataFrame(
        {
            "ts": pl.Series(
                [t0 + minute // 2, t0 + 2 * minute, t0 + 2 * minute + 1, t0 + 2 * minute + 2, t0 + 3 * minute],
                dtype=pl.Int64,
            ).cast(pl.Datetime("ns", "UTC")),
            "symbol": ["ACME", "ACME", "ACME", "ACME", "BOLT"],
            "mid": [100.0, 100.0, 100.0, 90.0, 50.0],
            "microprice": [100.02, 99.99, 100.5, 91.0, 50.0],
            "imbalance": [0.5, -0.25, 0.9, 0.1, 0.0],
            "stale": [False, False, True, False, False],
        }
    )
    out = join_book(features, book)
    assert out["x"].to_list() == [1.0, 2.0, 3.0, 4.0]
    # t0+1m: the sample at t0+30s; t0+2m: the one exactly at ts (those 1-2 ns later, never);
    # t0+3m: the one at t0+2m+2ns (the stale one before it is skipped, BOLT's is another symbol)
    assert out["microprice_dev"].to_list()[:3] == [
        np.log(100.02 / 100.0), np.log(99.99 / 100.0), np.log(91.0 / 90.0)
    ]  # fmt: skip
    assert out["book_imbalance"].to_list()[:3] == [0.5, -0.25, 0.1]
    # t0+9m: 7 minutes after the last sample, older than BOOK_MAX_AGE_NS
    assert 7 * minute > BOOK_MAX_AGE_NS
    assert out.row(3, named=True) | {"ts": None} == {
        "ts": None, "symbol": "ACME", "x": 4.0, "microprice_dev": 0.0, "book_imbalance": 0.0,
        "has_book": False,
    }  # fmt: skip
    assert out["has_book"].to_list() == [True, True, True, False]
    none = join_book(features, None)
    assert none["has_book"].to_list() == [False] * 4
    assert none["microprice_dev"].to_list() == [0.0] * 4


def test_sentiment_is_joined_as_of_the_feature_time_never_later(tmp_path) -> None:
    lake = demo_lake(tmp_path, 30)  # sessions 13:30-14:00, features stamped 13:31 .. 14:00
    write_index(
        lake,
        [
            ("2026-01-06T20:00:00+00:00", "ACME", -0.4, 2.0),  # the day before: carried over
            ("2026-01-07T13:40:00+00:00", "ACME", 0.25, 1.5),  # exactly at a feature time
            ("2026-01-07T13:50:30+00:00", "ACME", 0.75, 3.0),  # between bars
            ("2026-01-07T13:45:00+00:00", "BOLT", None, 0.0),  # a null index is no reading
            ("2026-01-07T13:35:00+00:00", "", 0.1, 1.0),  # market-wide
            ("2026-01-07T14:30:00+00:00", "CRUX", 0.9, 1.0),  # after every feature: unused
        ],
    )
    day, _ = compute_day_features(lake, DAYS[2])

    def at(symbol: str, clock: str) -> dict:
        row = day.filter((pl.col("symbol") == symbol) & (pl.col("ts") == ts(f"2026-01-07T{clock}+00:00")))
        assert row.height == 1
        return row.select(*SENTIMENT_COLUMNS).row(0, named=True)

    assert at("ACME", "13:31:00") == {"sentiment": -0.4, "sentiment_weight": 2.0, "market_sentiment": 0.0, "has_sentiment": True}
    assert at("ACME", "13:39:00")["sentiment"] == -0.4
    assert at("ACME", "13:40:00")["sentiment"] == 0.25
    assert at("ACME", "13:50:00")["sentiment"] == 0.25
    assert at("ACME", "13:51:00") == {"sentiment": 0.75, "sentiment_weight": 3.0, "market_sentiment": 0.1, "has_sentiment": True}
    assert at("BOLT", "13:34:00") == {"sentiment": 0.0, "sentiment_weight": 0.0, "market_sentiment": 0.0, "has_sentiment": False}
    assert at("BOLT", "13:50:00") == {"sentiment": 0.0, "sentiment_weight": 0.0, "market_sentiment": 0.1, "has_sentiment": False}
    crux = day.filter(pl.col("symbol") == "CRUX")
    assert not crux["has_sentiment"].any()
    assert (crux["sentiment"] == 0.0).all()
    # the join changes no bar feature
    lake_without = demo_lake(tmp_path / "plain", 30)
    plain, _ = compute_day_features(lake_without, DAYS[2])
    assert_frame_equal(day.select("symbol", "ts", *FEATURE_NAMES), plain.select("symbol", "ts", *FEATURE_NAMES))


def test_training_frame_labels_stop_at_the_close(tmp_path) -> None:
    lake = demo_lake(tmp_path, 60)
    for day in DAYS:
        materialise_features(lake, day)
    frame = training_frame(lake, DAYS, label_horizon=5)
    assert frame.label_horizon_ns == 5 * 60_000_000_000
    assert frame.feature_rows == frame.frame.height == 3 * 60 * len(SYMBOLS)
    # the last 5 bars of each day and symbol would reach into the next session
    assert frame.unlabelled_rows == 3 * 5 * len(SYMBOLS)
    labelled = frame.frame.drop_nulls("label")
    reach = (labelled["end_ts"] - labelled["ts"]).max()
    assert reach.total_seconds() == 300
    bars = pl.from_arrow(lake.read("bars_1m")).filter(pl.col("symbol") == "ACME").sort("ts")
    row = frame.frame.filter(pl.col("symbol") == "ACME").sort("ts").row(0, named=True)
    closes = bars["close"].to_numpy()
    assert row["label"] == pytest.approx(np.log(closes[5] / closes[0]))
    assert row["fwd_return_1"] == pytest.approx(np.log(closes[1] / closes[0]))
    classes = training_frame(lake, DAYS[:1], label_horizon=5, classify_threshold=0.0)
    assert set(classes.frame["label"].drop_nulls().to_list()) <= {-1, 0, 1}


def test_weights_are_the_clipped_scaled_signal() -> None:
    weights = weights_from_predictions(np.array([-3.0, -0.5, 0.0, 1.0, 4.0]), 2.0, 0.1)
    assert weights == pytest.approx([-0.1, -0.025, 0.0, 0.05, 0.1])
    assert (weights_from_predictions(np.array([1.0, -1.0]), 0.0) == 0).all()
    assert (weights_from_predictions(np.array([1.0]), None) == 0).all()
    with pytest.raises(ValueError, match="max_weight"):
        weights_from_predictions(np.array([1.0]), 1.0, 0.0)
