"""Point-in-time features over bars of many symbols, as one vectorised polars pass.

A feature row is stamped with the bar's **close** time (open ``ts`` + ``interval_ns``): the
instant every input of the row is known. Every window looks backwards only (the current bar and
earlier bars of the same symbol) and cross-sectional ranks compare symbols at the same close time,
so no row depends on a later bar. Warm-up rows are null, never back-filled.

Horizons and windows count **bars of the symbol** (rows), not clock intervals: the aggregator
emits bars only for windows with trades, so across a gap (or overnight) a horizon spans more time.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import polars as pl

#: Bar columns the features read.
REQUIRED_COLUMNS: tuple[str, ...] = ("ts", "symbol", "close", "volume", "vwap", "ofi")

DEFAULT_HORIZONS: tuple[int, ...] = (1, 5, 15, 60)
DEFAULT_INTERVAL_NS = 60_000_000_000


def feature_columns(horizons: Sequence[int] = DEFAULT_HORIZONS) -> tuple[str, ...]:
    """Names of the feature columns for these horizons, in output order (callers select by them)."""
    hs = _check_horizons(horizons)
    return (
        *(f"ret_{h}" for h in hs),
        "rolling_vol",
        "volume_z",
        "ofi_mean",
        "rsi",
        "vwap_dev",
        "rank_ret_short",
        "rank_ret_long",
    )


def compute_features(
    bars: pl.DataFrame | pl.LazyFrame,
    *,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    vol_window: int = 30,
    z_window: int = 60,
    rsi_window: int = 14,
    interval_ns: int | float = DEFAULT_INTERVAL_NS,
) -> pl.DataFrame:
    """Features per (symbol, bar close time), known at that time, so models never see the future.

    Parameters
    ----------
    bars
        Bars in the ``BARS`` schema (at least ``REQUIRED_COLUMNS``), any order, one interval.
    horizons
        Bars back for the log returns ``ret_<h>``; the longest also feeds ``rank_ret_long``.
    vol_window
        Bars in the rolling windows of ``rolling_vol`` (std of 1-bar log returns, ddof 1) and
        ``ofi_mean`` (volume-weighted mean of ``ofi``).
    z_window
        Bars in the rolling mean and std (ddof 1) of ``volume_z``.
    rsi_window
        Bars in ``rsi``: 100 * sum of up-moves / sum of absolute moves of close (simple, Cutler).
    interval_ns
        Bar length; the output ``ts`` is the bar's open ``ts`` plus it.

    Returns
    -------
    pl.DataFrame
        ``symbol``, ``ts`` (close time, same dtype as the input ``ts``) and
        ``feature_columns(horizons)``, sorted by (symbol, ts). ``vwap_dev`` is ``ln(close/vwap)``;
        ``rank_ret_short`` / ``rank_ret_long`` are the average-tie percentile ranks in [0, 1] of
        ``ret_1`` / ``ret_<max(horizons)>`` among symbols with a value at the same ``ts``
        (0.5 when only one has). Undefined values (warm-up, zero variance, zero volume) are null.
    """
    hs = _check_horizons(horizons)
    vol_window = _check_window("vol_window", vol_window)
    z_window = _check_window("z_window", z_window)
    rsi_window = _check_window("rsi_window", rsi_window)
    frame, close_time = _prepared(bars, REQUIRED_COLUMNS, interval_ns, "features")
    # a price <= 0 gives null, not -inf or NaN
    log_close = pl.when(pl.col("close") > 0).then(pl.col("close").log())
    move = pl.when(pl.col("close") > 0).then(pl.col("close")).diff()
    returns = {f"ret_{h}": (log_close - log_close.shift(h)).over("symbol") for h in {1, *hs}}
    longest = f"ret_{max(hs)}"
    volume_sum = pl.col("volume").rolling_sum(vol_window)
    up = move.clip(lower_bound=0.0).rolling_sum(rsi_window)
    absolute = move.abs().rolling_sum(rsi_window)
    volume_std = pl.col("volume").rolling_std(z_window)

    out = (
        frame.lazy()
        .with_columns(**returns)
        .with_columns(pl.col(name).fill_nan(None) for name in returns)
        .with_columns(
            rolling_vol=pl.col("ret_1").rolling_std(vol_window).over("symbol"),
            volume_z=pl.when(volume_std > 0)
            .then((pl.col("volume") - pl.col("volume").rolling_mean(z_window)) / volume_std)
            .over("symbol"),
            ofi_mean=pl.when(volume_sum > 0)
            .then((pl.col("ofi") * pl.col("volume")).rolling_sum(vol_window) / volume_sum)
            .over("symbol"),
            rsi=pl.when(absolute > 0).then((100.0 * up / absolute).clip(0.0, 100.0)).over("symbol"),
            vwap_dev=pl.when((pl.col("close") > 0) & (pl.col("vwap") > 0)).then(
                (pl.col("close") / pl.col("vwap")).log()
            ),
            rank_ret_short=_cross_sectional_rank("ret_1"),
            rank_ret_long=_cross_sectional_rank(longest),
            ts=close_time,
        )
        .select("symbol", "ts", *feature_columns(hs))
        .with_columns(pl.col(feature_columns(hs)).fill_nan(None))
        .collect()
    )
    return out


def _prepared(
    bars: pl.DataFrame | pl.LazyFrame,
    required: tuple[str, ...],
    interval_ns: int | float,
    purpose: str,
) -> tuple[pl.DataFrame, pl.Expr]:
    """Checked bars sorted by (symbol, ts), and the close-time expression, shared with the labels."""
    step = _check_interval(interval_ns)
    lazy = bars.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in required if c not in schema]
    if missing:
        raise ValueError(
            f"bars lack columns {missing} needed for {purpose} (need {list(required)})"
        )
    ts_dtype = schema["ts"]
    if isinstance(ts_dtype, pl.Datetime):
        close_time = pl.col("ts") + pl.duration(nanoseconds=step)
    elif ts_dtype.is_integer():
        close_time = pl.col("ts") + step
    else:
        raise ValueError(f"bars column ts must be a datetime or integer ns, got {ts_dtype}")
    values = [c for c in required if c not in ("ts", "symbol")]
    frame = (
        lazy.select(required)
        .with_columns(pl.col(values).cast(pl.Float64))
        .sort("symbol", "ts")
        .collect()
    )
    _check_unique(frame)
    return frame, close_time


def _cross_sectional_rank(column: str) -> pl.Expr:
    """Percentile rank in [0, 1] across symbols at one time; comparisons at one instant leak nothing."""
    rank = pl.col(column).rank("average").over("ts")
    count = pl.col(column).count().over("ts")
    return (
        pl.when(pl.col(column).is_null())
        .then(None)
        .when(count == 1)
        .then(0.5)
        .otherwise((rank - 1.0) / (count - 1.0))
    )


def _check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    """Sorted unique positive horizons; a bad one would silently make nonsense columns."""
    hs = tuple(horizons)
    if not hs or any(
        isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in hs
    ):
        raise ValueError(f"horizons must be non-empty positive ints, got {horizons!r}")
    return tuple(sorted({int(h) for h in hs}))


def _check_window(name: str, window: int) -> int:
    """Reject windows too short for a (ddof 1) statistic."""
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 2:
        raise ValueError(f"{name} must be an int >= 2, got {window!r}")
    return int(window)


def _check_interval(interval_ns: int | float) -> int:
    """A positive whole number of nanoseconds (60e9 arrives as a float)."""
    if isinstance(interval_ns, bool) or not isinstance(interval_ns, numbers.Real):
        raise ValueError(f"interval_ns must be a number, got {interval_ns!r}")
    if interval_ns <= 0 or int(interval_ns) != interval_ns:
        raise ValueError(f"interval_ns must be a positive whole number of ns, got {interval_ns!r}")
    return int(interval_ns)


def _check_unique(frame: pl.DataFrame) -> None:
    """Null keys or duplicate bars would make every bar-counted window ambiguous (frame is sorted)."""
    if frame.select(pl.col("ts").is_null().any() | pl.col("symbol").is_null().any()).item():
        raise ValueError("bars have null ts or symbol")
    same = (pl.col("ts") == pl.col("ts").shift(1)) & (pl.col("symbol") == pl.col("symbol").shift(1))
    if frame.select(same.any()).item():
        raise ValueError("bars have duplicate (symbol, ts) rows")


#: Feature columns at the default horizons (1, 5, 15, 60).
FEATURE_COLUMNS: tuple[str, ...] = feature_columns(DEFAULT_HORIZONS)
