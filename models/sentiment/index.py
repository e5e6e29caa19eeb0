"""A point-in-time sentiment index per symbol: scores of past texts, decayed by age, on a time grid.

For a grid time ``t`` and the texts of a symbol with ``ts_i <= t`` (never later ones), each text
weighs ``w_i = 2 ** (-(t - ts_i) / half_life)``:

- ``weight = sum_i w_i``: the decayed text count (how much is being said);
- ``index = sum_i w_i * score_i / (weight + prior_weight)``: the decayed mean score shrunk toward
  0 by ``prior_weight`` neutral pseudo-texts. It stays in [-1, 1], reads 0 before any text, fades
  back to 0 when a symbol goes quiet, and one fresh text of score 1 gives 0.5 (prior weight 1).
  ``prior_weight=0`` gives the plain decayed mean (null before any text).

The decayed sums are carried text to text (``S_k = S_{k-1} 2^(-(ts_k - ts_{k-1})/h) + s_k``) in a
numba kernel that walks texts and grid times together, so no weight is ever a huge power of two
and a year of texts costs one pass.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import polars as pl
import pyarrow as pa

from shriven.schemas import SENTIMENT_INDEX, conform

_NS_PER_SECOND = 1_000_000_000


def sentiment_index(
    scores: pl.DataFrame,
    grid: pl.DataFrame,
    *,
    half_life_s: float,
    prior_weight: float = 1.0,
) -> pl.DataFrame:
    """The decayed index of each grid row's symbol at its time, from texts published by then.

    Parameters
    ----------
    scores
        Scored texts: ``ts`` (datetime or int ns), ``symbol`` and ``score`` in [-1, 1] (one row
        per text and symbol, e.g. SENTIMENT_SCORES). Any order; a null or out-of-range score raises.
    grid
        ``ts`` and ``symbol`` to evaluate at, e.g. bar close times (:func:`regular_grid`).
    half_life_s
        Seconds after which a text's weight has halved; > 0.
    prior_weight
        Neutral pseudo-texts the mean is shrunk with; >= 0 (0: plain decayed mean).

    Returns
    -------
    pl.DataFrame
        The grid rows in SENTIMENT_INDEX columns (``ts`` as ns UTC), sorted by (symbol, ts).
    """
    if not (math.isfinite(half_life_s) and half_life_s > 0):
        raise ValueError(f"half_life_s must be a finite number > 0, got {half_life_s}")
    if not (math.isfinite(prior_weight) and prior_weight >= 0):
        raise ValueError(f"prior_weight must be a finite number >= 0, got {prior_weight}")
    for name, frame, needed in (
        ("scores", scores, ("ts", "symbol", "score")),
        ("grid", grid, ("ts", "symbol")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lack columns {missing}")
    if scores.get_column("ts").null_count():
        raise ValueError("scores have null ts")
    if grid.get_column("ts").null_count() or grid.get_column("symbol").null_count():
        raise ValueError("grid has null ts or symbol")
    text_ts = _ns(scores.get_column("ts"), "scores")
    grid_ts = _ns(grid.get_column("ts"), "grid")
    score = scores.get_column("score").cast(pl.Float64).fill_null(np.nan).to_numpy()
    bad = ~np.isfinite(score) | (np.abs(score) > 1.0)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} scores are null, NaN or outside [-1, 1]")

    names = sorted(
        set(grid.get_column("symbol").unique().to_list())
        | set(scores.get_column("symbol").drop_nulls().unique().to_list())
    )
    code = {s: i for i, s in enumerate(names)}
    text_code = np.array(
        [code.get(s, -1) if s is not None else -1 for s in scores.get_column("symbol").to_list()],
        np.int64,
    )
    grid_code = np.array([code[s] for s in grid.get_column("symbol").to_list()], np.int64)
    t_order = np.lexsort((text_ts, text_code))
    g_order = np.lexsort((grid_ts, grid_code))
    keep = text_code[t_order] >= 0
    t_order = t_order[keep]

    index, weight, count = _decayed_index(
        text_code[t_order],
        text_ts[t_order],
        score[t_order],
        grid_code[g_order],
        grid_ts[g_order],
        math.log(2.0) / (half_life_s * _NS_PER_SECOND),
        float(prior_weight),
    )
    table = pa.table(
        {
            "ts": pa.array(grid_ts[g_order], pa.int64()).cast(SENTIMENT_INDEX.field("ts").type),
            "symbol": pa.array([names[c] for c in grid_code[g_order]], pa.string()),
            "index": pa.array(index, pa.float64(), mask=np.isnan(index)),
            "weight": pa.array(weight, pa.float64()),
            "n_texts": pa.array(count, pa.int64()),
            "half_life_s": pa.array(np.full(index.size, float(half_life_s)), pa.float64()),
        }
    )
    return pl.from_arrow(conform(table, SENTIMENT_INDEX))  # type: ignore[return-value]


def regular_grid(
    start_ns: int, end_ns: int, every_ns: int, symbols: list[str] | tuple[str, ...]
) -> pl.DataFrame:
    """Every symbol at ``start_ns, start_ns + every_ns, ... <= end_ns``, for an index on a clock."""
    if every_ns <= 0:
        raise ValueError(f"every_ns must be > 0, got {every_ns}")
    times = np.arange(start_ns, end_ns + 1, every_ns, dtype=np.int64)
    return pl.DataFrame(
        {
            "ts": np.tile(times, len(symbols)),
            "symbol": np.repeat(np.array(list(symbols), dtype=object), times.size).tolist(),
        },
        schema={"ts": pl.Int64, "symbol": pl.String},
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))


def _ns(column: pl.Series, what: str) -> np.ndarray:
    """A ts column as int64 ns UTC."""
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone not in (None, "UTC"):
            column = column.dt.convert_time_zone("UTC")
        return column.dt.cast_time_unit("ns").dt.epoch("ns").to_numpy().astype(np.int64, copy=False)
    if dtype.is_integer():
        return column.cast(pl.Int64).to_numpy()
    raise ValueError(f"{what} column ts must be a datetime or integer ns, got {dtype}")


@numba.njit(cache=True)
def _decayed_index(t_code, t_ts, t_score, g_code, g_ts, rate, prior):  # pragma: no cover - numba
    """Merge-walk texts and grid rows, both sorted by (code, ts); texts with ts <= grid ts count."""
    n = g_code.size
    out_index = np.empty(n)
    out_weight = np.empty(n)
    out_count = np.zeros(n, np.int64)
    j = 0
    m = t_code.size
    cur = -1
    s = 0.0
    w = 0.0
    last = 0
    count = 0
    for i in range(n):
        code = g_code[i]
        if code != cur:
            cur = code
            s = 0.0
            w = 0.0
            count = 0
            while j < m and t_code[j] < code:
                j += 1
        while j < m and t_code[j] == code and t_ts[j] <= g_ts[i]:
            if count > 0:
                decay = math.exp(-rate * (t_ts[j] - last))
                s *= decay
                w *= decay
            s += t_score[j]
            w += 1.0
            last = t_ts[j]
            count += 1
            j += 1
        if count > 0:
            decay = math.exp(-rate * (g_ts[i] - last))
            ws = s * decay
            ww = w * decay
        else:
            ws = 0.0
            ww = 0.0
        out_weight[i] = ww
        out_count[i] = count
        denom = ww + prior
        out_index[i] = ws / denom if denom > 0 else np.nan
    return out_index, out_weight, out_count
