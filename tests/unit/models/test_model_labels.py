"""Labels: forward returns by hand, three-way classes."""

from __future__ import annotations

import math

import polars as pl
import pytest

from models.features import compute_features
from models.labels import classify, forward_returns

MINUTE = 60_000_000_000
T0 = 1_700_000_000 * 1_000_000_000


def _bars() -> pl.DataFrame:
    """Two symbols, scrambled, integer-ns open times."""
    rows = [
        (T0 + 2 * MINUTE, "A", 121.0),
        (T0, "B", 50.0),
        (T0 + 1 * MINUTE, "A", 110.0),
        (T0, "A", 100.0),
        (T0 + 3 * MINUTE, "A", 110.0),
        (T0 + 5 * MINUTE, "B", 40.0),  # a gap: horizons count bars
    ]
    return pl.DataFrame(rows, schema=["ts", "symbol", "close"], orient="row")


def test_forward_returns_by_hand() -> None:
    out = forward_returns(_bars(), 2)
    assert out.columns == ["symbol", "ts", "fwd_return", "end_ts"]
    assert out["symbol"].to_list() == ["A", "A", "A", "A", "B", "B"]
    assert out["ts"].to_list() == [T0 + k * MINUTE for k in (1, 2, 3, 4)] + [
        T0 + MINUTE,
        T0 + 6 * MINUTE,
    ]
    assert out["fwd_return"].to_list() == [
        pytest.approx(math.log(1.21)),
        pytest.approx(0.0, abs=1e-12),
        None,
        None,
        None,
        None,
    ]
    assert out["end_ts"].to_list() == [T0 + 3 * MINUTE, T0 + 4 * MINUTE, None, None, None, None]
    one = forward_returns(_bars(), 1)
    assert one.filter(pl.col("symbol") == "B")["fwd_return"].to_list() == [
        pytest.approx(math.log(0.8)),
        None,
    ]
    assert one.filter(pl.col("symbol") == "B")["end_ts"].to_list() == [T0 + 6 * MINUTE, None]


def test_labels_join_features_on_feature_time() -> None:
    bars = _bars().with_columns(volume=pl.lit(1.0), vwap=pl.col("close"), ofi=pl.lit(0.0))
    bars = bars.with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    features = compute_features(bars, horizons=(1,))
    labels = forward_returns(bars, 1)
    joined = features.join(labels, on=["symbol", "ts"], how="inner", validate="1:1")
    assert joined.height == bars.height
    # label at t is the next bar's feature return: same numbers, shifted
    a = joined.filter(pl.col("symbol") == "A")
    assert a["fwd_return"].to_list()[:-1] == pytest.approx(a["ret_1"].to_list()[1:])


@pytest.mark.parametrize("horizon", [0, -1, 1.0, True])
def test_bad_horizon(horizon: object) -> None:
    with pytest.raises(ValueError, match="horizon"):
        forward_returns(_bars(), horizon)  # type: ignore[arg-type]


def test_missing_column() -> None:
    with pytest.raises(ValueError, match=r"\['close'\]"):
        forward_returns(_bars().drop("close"), 1)


def test_classify_series_and_expr() -> None:
    values = pl.Series("fwd_return", [0.02, -0.02, 0.01, -0.01, 0.0, None, float("nan"), 0.0100001])
    out = classify(values, 0.01)
    assert out.name == "fwd_return"
    assert out.dtype == pl.Int8
    assert out.to_list() == [1, -1, 0, 0, 0, None, None, 1]
    frame = pl.DataFrame({"r": values})
    assert frame.select(classify(pl.col("r"), 0.01))["r"].to_list() == out.to_list()
    assert classify(pl.Series([0.0, 1e-9, -1e-9]), 0.0).to_list() == [0, 1, -1]


@pytest.mark.parametrize("threshold", [-0.1, float("nan"), "0.1"])
def test_classify_bad_threshold(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        classify(pl.Series([0.1]), threshold)  # type: ignore[arg-type]


def test_classify_rejects_other_types() -> None:
    with pytest.raises(ValueError, match="Series or Expr"):
        classify([0.1], 0.01)  # type: ignore[arg-type]
