"""Features: no look-ahead, hand-checked values, input handling."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models.features import FEATURE_COLUMNS, REQUIRED_COLUMNS, compute_features, feature_columns
from shriven.schemas import BARS

MINUTE = 60_000_000_000
T0 = 1_700_000_000 * 1_000_000_000  # an arbitrary minute boundary


def synthetic_bars(
    seed: int, n: int = 300, symbols: tuple[str, ...] = ("AAA", "BBB", "CCC", "DDD")
) -> pl.DataFrame:
    """Random-walk 1m bars in the BARS schema, with some missing bars per symbol."""
    rng = np.random.default_rng(seed)
    frames = []
    for symbol in symbols:
        keep = np.sort(rng.choice(n, size=int(n * 0.9), replace=False))
        m = keep.size
        close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, m)))
        close[rng.random(m) < 0.05] = close[0]  # some flat moves and ties
        open_ = close * np.exp(rng.normal(0, 0.001, m))
        volume = rng.gamma(2.0, 50.0, m)
        volume[rng.random(m) < 0.03] = 0.0
        buy = volume * rng.random(m)
        ofi = np.where(volume > 0, (2 * buy - volume) / np.where(volume > 0, volume, 1.0), 0.0)
        vwap = (open_ + close) / 2
        frames.append(
            pl.DataFrame(
                {
                    "ts": pl.Series(T0 + keep.astype(np.int64) * MINUTE).cast(
                        pl.Datetime("ns", "UTC")
                    ),
                    "symbol": [symbol] * m,
                    "open": open_,
                    "high": np.maximum(open_, close) * 1.001,
                    "low": np.minimum(open_, close) * 0.999,
                    "close": close,
                    "volume": volume,
                    "notional": volume * vwap,
                    "vwap": vwap,
                    "trades": rng.integers(1, 50, m),
                    "buy_volume": buy,
                    "sell_volume": volume - buy,
                    "realized_vol": rng.random(m) * 0.01,
                    "ofi": ofi,
                }
            )
        )
    return pl.concat(frames)


def perturb_after(bars: pl.DataFrame, cut: int, seed: int) -> pl.DataFrame:
    """Change every bar opening at or after ``cut`` (values, and which bars exist) and append later bars."""
    rng = np.random.default_rng(seed)
    ts_ns = bars["ts"].dt.epoch("ns")
    early = bars.filter(ts_ns < cut)
    late = bars.filter(ts_ns >= cut)
    late = late.filter(pl.Series(rng.random(late.height) < 0.7))  # remove some later bars
    m = late.height
    late = late.with_columns(
        close=pl.Series(rng.uniform(1, 1000, m)),
        vwap=pl.Series(rng.uniform(1, 1000, m)),
        volume=pl.Series(rng.uniform(0, 1e6, m)),
        ofi=pl.Series(rng.uniform(-1, 1, m)),
    )
    last = int(ts_ns.max())
    extra = (
        bars.group_by("symbol")
        .agg(pl.all().last())
        .with_columns(
            ts=pl.lit(last + 7 * MINUTE).cast(pl.Int64).cast(pl.Datetime("ns", "UTC")),
            close=pl.lit(5.0),
        )
        .select(bars.columns)
    )
    extra2 = extra.head(1).with_columns(symbol=pl.lit("NEW"))  # a symbol that appears only later
    return pl.concat([late, extra, early, extra2]).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_look_ahead(seed: int) -> None:
    bars = synthetic_bars(seed)
    base = compute_features(bars, horizons=(1, 3, 20), vol_window=10, z_window=15, rsi_window=5)
    rng = np.random.default_rng(100 + seed)
    cut_bar = int(rng.integers(40, 250))
    cut = T0 + cut_bar * MINUTE  # bars opening at >= cut change; they close at >= cut + 1 minute
    changed = compute_features(
        perturb_after(bars, cut, seed),
        horizons=(1, 3, 20),
        vol_window=10,
        z_window=15,
        rsi_window=5,
    )
    known = pl.col("ts").dt.epoch("ns") <= cut  # feature time T: everything closed by then
    before = base.filter(known)
    after = changed.filter(known)
    assert before.height > 0
    assert before["rank_ret_long"].null_count() < before.height  # the check covers real values
    assert_frame_equal(before, after, check_exact=True)
    # and the perturbation really did change later features
    assert not base.filter(~known).equals(changed.filter(~known))


def test_columns_and_shape() -> None:
    bars = synthetic_bars(3, n=80)
    out = compute_features(bars)
    assert out.columns == ["symbol", "ts", *FEATURE_COLUMNS]
    assert FEATURE_COLUMNS == feature_columns((1, 5, 15, 60))
    assert out.height == bars.height
    assert out.schema["ts"] == pl.Datetime("ns", "UTC")
    assert out.select(pl.col(FEATURE_COLUMNS).is_nan().any()).row(0) == (False,) * len(
        FEATURE_COLUMNS
    )
    ranks = out.select(pl.col("rank_ret_short", "rank_ret_long")).drop_nulls()
    assert ranks.height > 0
    assert min(ranks.min().row(0)) >= 0.0
    assert max(ranks.max().row(0)) <= 1.0
    rsi = out["rsi"].drop_nulls()
    assert rsi.min() >= 0.0
    assert rsi.max() <= 100.0


def test_accepts_lazy_frame_and_bars_schema() -> None:
    bars = synthetic_bars(4, n=50)
    eager = compute_features(bars)
    assert_frame_equal(compute_features(bars.lazy()), eager)
    conformed = pl.from_arrow(bars.select(BARS.names).to_arrow().cast(BARS))
    assert_frame_equal(compute_features(conformed), eager)


def _tiny() -> pl.DataFrame:
    """Two symbols, four 1m bars each, in scrambled order, integer-ns ts."""
    rows = [
        # ts, symbol, close, volume, vwap, ofi
        (T0 + 2 * MINUTE, "A", 121.0, 30.0, 110.0, 0.0),
        (T0, "B", 50.0, 10.0, 50.0, 1.0),
        (T0 + 1 * MINUTE, "A", 110.0, 20.0, 110.0, -1.0),
        (T0 + 3 * MINUTE, "B", 40.0, 10.0, 40.0, 0.0),
        (T0, "A", 100.0, 10.0, 100.0, 1.0),
        (T0 + 3 * MINUTE, "A", 110.0, 40.0, 115.0, 0.5),
        (T0 + 2 * MINUTE, "B", 50.0, 10.0, 50.0, 0.0),
        (T0 + 1 * MINUTE, "B", 55.0, 10.0, 55.0, -0.5),
    ]
    return pl.DataFrame(
        rows, schema=["ts", "symbol", "close", "volume", "vwap", "ofi"], orient="row"
    )


def test_hand_computed_values_from_unsorted_input() -> None:
    out = compute_features(_tiny(), horizons=(1, 2), vol_window=2, z_window=3, rsi_window=2)
    a = out.filter(pl.col("symbol") == "A")
    b = out.filter(pl.col("symbol") == "B")
    assert out["symbol"].to_list() == ["A"] * 4 + ["B"] * 4
    assert a["ts"].to_list() == [
        T0 + k * MINUTE for k in (1, 2, 3, 4)
    ]  # close times, ints stay ints
    ln = math.log
    approx = pytest.approx
    assert a["ret_1"].to_list() == [None, approx(ln(1.1)), approx(ln(1.1)), approx(ln(110 / 121))]
    assert a["ret_2"].to_list() == [None, None, approx(ln(1.21)), approx(ln(1.0), abs=1e-12)]
    # rolling std (ddof 1) of the last two 1-bar returns
    r = [ln(1.1), ln(1.1), ln(110 / 121)]
    assert a["rolling_vol"].to_list() == [
        None,
        None,
        approx(0.0, abs=1e-12),
        approx(np.std(r[1:], ddof=1)),
    ]
    # volume z over three bars: (30 - 20) / 10 and (40 - 30) / 10
    assert a["volume_z"].to_list() == [None, None, approx(1.0), approx(1.0)]
    # volume-weighted ofi over two bars: (10*1 + 20*-1) / 30, (20*-1 + 30*0) / 50, (30*0 + 40*0.5) / 70
    assert a["ofi_mean"].to_list() == [None, approx(-10 / 30), approx(-20 / 50), approx(20 / 70)]
    # rsi over two moves: +10 +11 -> 100; +11 -11 -> 50
    assert a["rsi"].to_list() == [None, None, approx(100.0), approx(50.0)]
    assert a["vwap_dev"].to_list() == [
        approx(0.0),
        approx(0.0),
        approx(ln(1.1)),
        approx(ln(110 / 115)),
    ]
    # B: 50 55 50 40: constant volume -> z undefined (null), not inf
    assert b["volume_z"].to_list() == [None, None, None, None]
    assert b["rsi"].to_list() == [None, None, approx(50.0), approx(0.0, abs=1e-9)]
    # cross-sectional ranks of ret_1 at each close time: two symbols -> 0 and 1 (ties -> 0.5)
    assert a["rank_ret_short"].to_list() == [None, 0.0, 1.0, 1.0]
    assert b["rank_ret_short"].to_list() == [None, 1.0, 0.0, 0.0]
    # ret_2 exists for both only at the last two times
    assert a["rank_ret_long"].to_list() == [None, None, 1.0, 1.0]
    assert b["rank_ret_long"].to_list() == [None, None, 0.0, 0.0]


def test_rank_with_three_symbols_ties_and_a_lone_value() -> None:
    rows = []
    for symbol, closes in (
        ("A", [100.0, 110.0, 100.0]),
        ("B", [100.0, 110.0]),
        ("C", [100.0, 90.0, 100.0]),
    ):
        for k, c in enumerate(closes):
            rows.append((T0 + k * MINUTE, symbol, c, 1.0, c, 0.0))
    rows.append((T0 + 5 * MINUTE, "D", 10.0, 1.0, 10.0, 0.0))
    rows.append((T0 + 6 * MINUTE, "D", 11.0, 1.0, 11.0, 0.0))
    bars = pl.DataFrame(
        rows, schema=["ts", "symbol", "close", "volume", "vwap", "ofi"], orient="row"
    )
    out = compute_features(bars, horizons=(1,)).sort("ts", "symbol")
    second = out.filter(pl.col("ts") == T0 + 2 * MINUTE)
    assert second["symbol"].to_list() == ["A", "B", "C"]
    assert second["rank_ret_short"].to_list() == [0.75, 0.75, 0.0]  # average rank of a tie
    lone = out.filter(pl.col("ts") == T0 + 7 * MINUTE)
    assert lone["rank_ret_short"].to_list() == [0.5]


def test_datetime_ts_shifted_by_interval() -> None:
    bars = _tiny().with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    out = compute_features(bars, horizons=(1,), interval_ns=300e9)
    assert out.schema["ts"] == pl.Datetime("ns", "UTC")
    assert out["ts"].dt.epoch("ns").to_list()[0] == T0 + 300_000_000_000


def test_missing_columns_named() -> None:
    bars = _tiny().drop("vwap", "ofi")
    with pytest.raises(ValueError, match=r"\['vwap', 'ofi'\]"):
        compute_features(bars)
    assert set(REQUIRED_COLUMNS) <= set(BARS.names)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizons": ()}, "horizons"),
        ({"horizons": (0, 5)}, "horizons"),
        ({"vol_window": 1}, "vol_window"),
        ({"z_window": 0}, "z_window"),
        ({"rsi_window": 2.5}, "rsi_window"),
        ({"interval_ns": 0}, "interval_ns"),
        ({"interval_ns": 1.5}, "interval_ns"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_features(_tiny(), **kwargs)


def test_duplicate_bars_rejected() -> None:
    bars = _tiny()
    with pytest.raises(ValueError, match="duplicate"):
        compute_features(pl.concat([bars, bars.head(1)]))


def test_bad_prices_give_nulls_not_infinities() -> None:
    bars = _tiny().with_columns(
        close=pl.when(pl.col("ts") == T0 + MINUTE).then(0.0).otherwise(pl.col("close")),
        vwap=pl.when(pl.col("ts") == T0 + 2 * MINUTE).then(0.0).otherwise(pl.col("vwap")),
    )
    out = compute_features(bars, horizons=(1, 2), vol_window=2, z_window=3, rsi_window=2)
    values = out.select(pl.col(feature_columns((1, 2))))
    assert not values.select(pl.all().is_infinite().any()).row(0).count(True)
    a = out.filter(pl.col("symbol") == "A")
    assert a["ret_1"].to_list()[1:3] == [None, None]  # the bar with close 0 and the one after it
    assert a["vwap_dev"].to_list()[1:3] == [None, None]  # close 0, then vwap 0
    assert a["rsi"].to_list()[1:4] == [None, None, None]  # windows holding the bad move


def test_null_keys_rejected() -> None:
    bars = _tiny().with_columns(
        symbol=pl.when(pl.col("close") == 40.0).then(None).otherwise(pl.col("symbol"))
    )
    with pytest.raises(ValueError, match="null ts or symbol"):
        compute_features(bars)
