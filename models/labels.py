"""Labels: forward log returns per symbol stamped at feature time, and their three-way classes.

``ts`` here is the same close time ``models.features.compute_features`` stamps, so features and
labels join on (symbol, ts). ``end_ts`` says when each label becomes known: purging in
``models.validation`` must cover ``end_ts - ts``.
"""

from __future__ import annotations

import numbers
from typing import overload

import polars as pl

from models.features import DEFAULT_INTERVAL_NS, _prepared

#: Bar columns the labels read.
REQUIRED_COLUMNS: tuple[str, ...] = ("ts", "symbol", "close")


def forward_returns(
    bars: pl.DataFrame | pl.LazyFrame,
    horizon: int,
    *,
    interval_ns: int | float = DEFAULT_INTERVAL_NS,
) -> pl.DataFrame:
    """Log return from this bar's close to the close ``horizon`` bars later: the target to predict.

    Returns ``symbol``, ``ts`` (bar close time = feature time, same dtype as the input ``ts``),
    ``fwd_return = ln(close[t + horizon] / close[t])`` within the symbol (null for the last
    ``horizon`` bars) and ``end_ts`` (close time of bar ``t + horizon``, null with it), sorted by
    (symbol, ts). ``horizon`` counts bars of the symbol, not clock intervals.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    horizon = int(horizon)
    frame, close_time = _prepared(bars, REQUIRED_COLUMNS, interval_ns, "labels")
    # a price <= 0 gives null, not -inf or NaN
    log_close = pl.when(pl.col("close") > 0).then(pl.col("close").log())
    return (
        frame.lazy()
        .with_columns(ts=close_time)
        .with_columns(
            fwd_return=(log_close.shift(-horizon) - log_close).over("symbol").fill_nan(None),
            end_ts=pl.col("ts").shift(-horizon).over("symbol"),
        )
        .select("symbol", "ts", "fwd_return", "end_ts")
        .collect()
    )


@overload
def classify(fwd_return: pl.Series, threshold: float) -> pl.Series: ...
@overload
def classify(fwd_return: pl.Expr, threshold: float) -> pl.Expr: ...
def classify(fwd_return: pl.Series | pl.Expr, threshold: float) -> pl.Series | pl.Expr:
    """Map returns to 1 (> threshold), -1 (< -threshold), else 0, Int8; null stays null (no label)."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not threshold >= 0:
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
    if not isinstance(fwd_return, pl.Series | pl.Expr):
        raise ValueError(
            f"fwd_return must be a polars Series or Expr, got {type(fwd_return).__name__}"
        )
    value = fwd_return if isinstance(fwd_return, pl.Expr) else pl.lit(fwd_return)
    value = value.cast(pl.Float64).fill_nan(None)
    # written from ``value`` (not when/then) so the result keeps the input's name
    expr = (value > threshold).cast(pl.Int8) - (value < -threshold).cast(pl.Int8)
    if isinstance(fwd_return, pl.Expr):
        return expr
    return pl.select(expr.alias(fwd_return.name)).to_series()
