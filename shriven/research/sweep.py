"""Parameter sweeps of the EMA-cross strategy: a validated grid, one numba pass per parameter set.

A grid maps parameter names to lists of values; every combination is a parameter set, numbered
``set_id`` in :func:`expand_grid`'s order. The whole grid is checked before any work (unknown
names, empty lists, ``fast >= slow``, non-positive sizes: a ``ValueError`` naming the entry).

The bars of one or more symbols are merged in ``(ts, symbol)`` order and every set trades each
symbol as :class:`~shriven.strategy.momentum.Momentum` would, with one shared cash account; the
portfolio equity is sampled once per distinct ``ts`` (after every symbol's bar of that time).
Each set is computed alone by :func:`shriven.research._kernels.sweep_kernel` (``prange`` over
sets), so a row is bit-identical whether the grid is evaluated at once or in chunks
(:func:`evaluate_chunk`, the unit a Dask worker runs).

Metrics follow :mod:`shriven.analytics.conventions` and equal :mod:`shriven.analytics.performance`
on the same equity curve (tested): the kernel keeps streaming sums instead of the curve, because a
sweep of thousands of sets cannot afford one array per set. Sharpe is ``mean(r - rf_p) /
std(r - rf_p, ddof) * sqrt(ppy)`` (NaN with zero dispersion), the max drawdown a negative fraction
of the running peak, the total return ``final / starting - 1``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from shriven.analytics.conventions import EQUITIES, Conventions
from shriven.research import _kernels as k
from shriven.schemas import SWEEP_RESULTS

__all__ = [
    "PARAMETERS",
    "SWEEP_RESULTS",
    "Costs",
    "SweepBars",
    "evaluate_chunk",
    "expand_grid",
    "prepare_bars",
    "run_sweep",
    "validate_grid",
]

#: Parameter name -> (type, required) of the EMA-cross strategy (as MomentumParams).
PARAMETERS: Mapping[str, tuple[type, bool]] = {
    "fast": (int, True),
    "slow": (int, True),
    "quantity": (float, True),
    "allow_short": (bool, False),
}


@dataclass(frozen=True, kw_only=True)
class Costs:
    """Trading costs and account of a sweep: fees and slippage in bps of notional, a fixed spread."""

    #: Starting cash of the account (quote currency).
    starting_cash: float
    #: Fee in bps of each fill's notional (the venue's taker fee * 1e4).
    fee_bps: float = 0.0
    #: Extra price impact in bps of the close, against the trade's direction.
    slippage_bps: float = 0.0
    #: Full bid-ask spread in bps of the close, used where the bars carry no ``half_spread`` column.
    spread_bps: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.starting_cash) and self.starting_cash > 0):
            raise ValueError(f"starting_cash must be > 0, got {self.starting_cash}")
        for name in ("fee_bps", "slippage_bps", "spread_bps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of bps >= 0, got {value}")


@dataclass(frozen=True)
class SweepBars:
    """Bars of every symbol merged in ``(ts, symbol)`` order, as the kernel reads them."""

    symbols: tuple[str, ...]
    close: np.ndarray
    #: Half spread in price per bar; NaN where the bars gave none (the costs' spread applies).
    half_spread: np.ndarray
    symbol_index: np.ndarray
    #: True at the last bar of each distinct ts: the portfolio equity is sampled there.
    sample: np.ndarray

    def __len__(self) -> int:
        return int(self.close.size)


# -- grid -----------------------------------------------------------------------------------------


def _check_value(name: str, value: Any) -> Any:
    type_ = PARAMETERS[name][0]
    if type_ is bool:
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"grid entry {name}={value!r}: must be true or false")
        return bool(value)
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise ValueError(f"grid entry {name}={value!r}: must be a number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"grid entry {name}={value!r}: must be positive")
    if type_ is int:
        if int(value) != value:
            raise ValueError(f"grid entry {name}={value!r}: must be a whole number of bars")
        return int(value)
    return float(value)


def validate_grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The grid with typed values, or a ValueError naming the first bad entry (before any work)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("the sweep grid is empty: give lists for fast, slow and quantity")
    unknown = sorted(set(grid) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown grid parameter(s) {unknown}; known: {sorted(PARAMETERS)}")
    missing = sorted(n for n, (_, required) in PARAMETERS.items() if required and n not in grid)
    if missing:
        raise ValueError(f"grid misses required parameter(s) {missing}")
    typed: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise ValueError(f"grid entry {name}: expected a list of values, got {values!r}")
        if len(values) == 0:
            raise ValueError(f"grid entry {name}: empty list of values")
        checked = [_check_value(name, v) for v in values]
        if len(set(checked)) != len(checked):
            raise ValueError(f"grid entry {name}: duplicate values {list(values)}")
        typed[name] = checked
    bad = [(f, s) for f in typed["fast"] for s in typed["slow"] if f >= s]
    if bad:
        f, s = bad[0]
        raise ValueError(
            f"grid entry fast={f}, slow={s}: fast must be below slow "
            f"({len(bad)} such combination(s); give a grid where every fast < every slow)"
        )
    return typed


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every parameter set of a validated grid, numbered ``set_id`` in ``itertools.product`` order."""
    typed = validate_grid(grid)
    typed.setdefault("allow_short", [True])
    names = list(PARAMETERS)
    return [
        {"set_id": i, **dict(zip(names, combo, strict=True))}
        for i, combo in enumerate(itertools.product(*(typed[n] for n in names)))
    ]


def _grid_arrays(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, ...]:
    ids, fasts, slows, quantities, shorts = [], [], [], [], []
    for row in rows:
        extra = set(row) - set(PARAMETERS) - {"set_id"}
        if extra or "set_id" not in row:
            raise ValueError(f"grid row {dict(row)}: needs set_id and only {sorted(PARAMETERS)}")
        fast = _check_value("fast", row["fast"])
        slow = _check_value("slow", row["slow"])
        if fast >= slow:
            raise ValueError(
                f"grid row set_id={row['set_id']}: fast={fast} must be below slow={slow}"
            )
        ids.append(int(row["set_id"]))
        fasts.append(fast)
        slows.append(slow)
        quantities.append(_check_value("quantity", row["quantity"]))
        shorts.append(_check_value("allow_short", row.get("allow_short", True)))
    return (
        np.array(ids, np.int64), np.array(fasts, np.int64), np.array(slows, np.int64),
        np.array(quantities, np.float64), np.array(shorts, np.bool_),
    )  # fmt: skip


# -- bars -----------------------------------------------------------------------------------------


def prepare_bars(bars: pl.DataFrame | pa.Table | SweepBars) -> SweepBars:
    """Merge ``ts``, ``symbol``, ``close`` (and optional ``half_spread``) columns for the kernel."""
    if isinstance(bars, SweepBars):
        return bars
    frame = bars if isinstance(bars, pl.DataFrame) else pl.from_arrow(bars)
    assert isinstance(frame, pl.DataFrame)
    missing = {"ts", "symbol", "close"} - set(frame.columns)
    if missing:
        raise ValueError(f"bars miss column(s) {sorted(missing)}")
    if frame.height == 0:
        raise ValueError("bars are empty")
    frame = frame.with_columns(pl.col("ts").cast(pl.Int64), pl.col("symbol").cast(pl.String))
    if "half_spread" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias("half_spread"))
    frame = frame.select(
        "ts", "symbol", pl.col("close").cast(pl.Float64), pl.col("half_spread").cast(pl.Float64)
    )
    frame = frame.sort("ts", "symbol", maintain_order=True)
    if frame.select(pl.struct("ts", "symbol").is_duplicated().any()).item():
        raise ValueError("bars hold duplicate (ts, symbol) rows")
    close = frame["close"].to_numpy().astype(np.float64)
    if not np.isfinite(close).all() or (close <= 0).any():
        raise ValueError("bars' close must be finite and > 0")
    half = frame["half_spread"].to_numpy().astype(np.float64)  # null -> NaN
    if (half < 0).any():
        raise ValueError("bars' half_spread must be >= 0")
    symbols = tuple(sorted(frame["symbol"].unique().to_list()))
    index = frame["symbol"].replace_strict(
        list(symbols), list(range(len(symbols))), return_dtype=pl.Int64
    )
    ts = frame["ts"].to_numpy()
    sample = np.ones(ts.size, np.bool_)
    sample[:-1] = ts[1:] != ts[:-1]
    return SweepBars(symbols, np.ascontiguousarray(close), half, index.to_numpy(), sample)


# -- evaluation -----------------------------------------------------------------------------------


def evaluate_chunk(
    bars: pl.DataFrame | pa.Table | SweepBars,
    grid_rows: Sequence[Mapping[str, Any]],
    costs: Costs,
    *,
    conventions: Conventions = EQUITIES,
) -> pa.Table:
    """:data:`SWEEP_RESULTS` rows of some parameter sets (rows of :func:`expand_grid`), in their order.

    ``conventions.periods_per_year`` must count the bars' timestamps (e.g.
    ``periods_per_year_for("1m", "crypto")``).
    """
    prepared = prepare_bars(bars)
    ids, fasts, slows, quantities, shorts = _grid_arrays(grid_rows)
    half = prepared.half_spread
    fixed = prepared.close * (costs.spread_bps / 2e4)
    half = np.where(np.isnan(half), fixed, half)
    out = np.zeros((ids.size, k.N_SWEEP_FIELDS))
    if ids.size:
        k.sweep_kernel(
            prepared.close, half, prepared.symbol_index, prepared.sample, len(prepared.symbols),
            fasts, slows, quantities, shorts, costs.fee_bps / 1e4, costs.slippage_bps / 1e4,
            float(costs.starting_cash), conventions.risk_free_per_period, out,
        )  # fmt: skip
    periods = out[:, k.S_PERIODS]
    dof = periods - conventions.ddof
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(np.where(dof > 0, out[:, k.S_M2] / dof, np.nan))
        sharpe = np.where(
            sigma > 0, out[:, k.S_MEAN] / sigma * math.sqrt(conventions.periods_per_year), np.nan
        )
    final = out[:, k.S_FINAL_EQUITY]
    columns = {
        "set_id": ids, "fast": fasts, "slow": slows, "quantity": quantities, "allow_short": shorts,
        "total_return": final / costs.starting_cash - 1.0, "sharpe_ratio": sharpe,
        "max_drawdown": out[:, k.S_MAX_DRAWDOWN], "trades": out[:, k.S_TRADES].astype(np.int64),
        "fees": out[:, k.S_FEES], "turnover": out[:, k.S_TURNOVER], "final_equity": final,
        "periods": periods.astype(np.int64),
    }  # fmt: skip
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], f.type) for f in SWEEP_RESULTS], schema=SWEEP_RESULTS
    )


def run_sweep(
    bars: pl.DataFrame | pa.Table | SweepBars,
    grid: Mapping[str, Sequence[Any]],
    costs: Costs,
    *,
    conventions: Conventions = EQUITIES,
    chunk_size: int | None = None,
) -> pa.Table:
    """Validate ``grid``, then evaluate every set (in chunks of ``chunk_size`` sets if given)."""
    rows = expand_grid(grid)
    if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size <= 0):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    prepared = prepare_bars(bars)
    size = len(rows) if chunk_size is None else int(chunk_size)
    tables = [
        evaluate_chunk(prepared, rows[i : i + size], costs, conventions=conventions)
        for i in range(0, len(rows), size)
    ]
    return pa.concat_tables(tables)
