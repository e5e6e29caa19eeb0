"""Rebalance: the lake's bars to target weights to ``WEIGHT`` signals in the signal log.

Daily closes are the last close of each UTC date in ``bars_<interval>`` (``1d`` bars as they
are; ``1h``/``1m``/... bars resampled that way). ``lookback_days`` counts dates with bars (trading
days), so ``lookback_days`` returns need ``lookback_days + 1`` closes. A date on which any symbol
has no bar is left out of the returns and counted (``dropped_periods``), never filled in.

The optimiser's weights become one :class:`~shriven.model.records.Signal` per symbol with
``kind=WEIGHT``, ``source="rebalance:<method>"`` and ``model_version`` a 12-hex hash of the
parameters (the same parameters always give the same version, so a consumer can tell runs of
one configuration apart from another). A result that did not converge appends nothing.

``mean_variance`` and ``max_sharpe`` take the look-back's mean daily return as the expected
return (and ``risk_free`` as a daily rate): a plain historical estimate, noisy over short
windows; ``min_variance``, ``equal_risk_contribution`` and ``hierarchical_risk_parity`` need no
return forecast.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

from shriven.config import INTERVALS_NS
from shriven.lake.writer import Lake
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.optimize.covariance import CovarianceKind, LedoitWolfTarget, estimate_covariance
from shriven.optimize.optimizers import (
    Constraints,
    OptimisationResult,
    equal_risk_contribution,
    hierarchical_risk_parity,
    max_sharpe,
    mean_variance,
    min_variance,
)
from shriven.schemas import conform, dataset
from shriven.signals.log import MAX_ABS_WEIGHT, AppendResult, SignalLog

__all__ = [
    "METHODS",
    "CurrentPositions",
    "Method",
    "RebalanceParams",
    "RebalancePlan",
    "current_positions",
    "daily_closes",
    "daily_returns",
    "plan_rebalance",
    "append_plan",
    "signals_from_weights",
]

Method = Literal[
    "min_variance",
    "mean_variance",
    "max_sharpe",
    "equal_risk_contribution",
    "hierarchical_risk_parity",
]
METHODS: tuple[str, ...] = (
    "min_variance",
    "mean_variance",
    "max_sharpe",
    "equal_risk_contribution",
    "hierarchical_risk_parity",
)
#: Weights smaller than this in magnitude are written as 0 (solver round-off, not a position).
WEIGHT_EPSILON = 1e-10


@dataclass(frozen=True)
class RebalanceParams:
    """What a rebalance run optimises: method, look-back, covariance and constraints.

    Constraint fields mirror :class:`~shriven.optimize.optimizers.Constraints`; the turnover limit
    is measured from the current weights, which the run supplies (zero without positions).
    ``half_life`` (trading days) is for ``covariance="ewma"`` (default: a quarter of the window).
    """

    method: Method = "min_variance"
    lookback_days: int = 60
    covariance: CovarianceKind = "ledoit_wolf"
    shrinkage_target: LedoitWolfTarget = "constant_correlation"
    half_life: float | None = None
    interval: str = "1d"
    lower: float = 0.0
    upper: float = 1.0
    leverage: float | None = None
    budget: float = 1.0
    max_turnover: float | None = None
    risk_aversion: float = 1.0
    risk_free: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; known: {list(METHODS)}")
        if self.covariance not in ("sample", "ledoit_wolf", "ewma"):
            raise ValueError(
                f"unknown covariance {self.covariance!r}; known: sample, ledoit_wolf, ewma"
            )
        if self.interval not in INTERVALS_NS:
            raise ValueError(f"unknown bar interval {self.interval!r}; known: {list(INTERVALS_NS)}")
        if not isinstance(self.lookback_days, int) or self.lookback_days < 2:
            raise ValueError(f"lookback_days must be an int >= 2, got {self.lookback_days!r}")

    @property
    def source(self) -> str:
        """The signals' source: ``rebalance:<method>``."""
        return f"rebalance:{self.method}"

    @property
    def model_version(self) -> str:
        """A short, stable hash of all parameters (12 hex digits of sha256)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def constraints(self, previous_weights: Sequence[float] | None = None) -> Constraints:
        """The optimiser's constraints, turnover measured from ``previous_weights``."""
        previous = None
        if self.max_turnover is not None:
            previous = tuple(previous_weights) if previous_weights is not None else None
        return Constraints(
            lower=self.lower,
            upper=self.upper,
            leverage=self.leverage,
            budget=self.budget,
            max_turnover=self.max_turnover,
            previous_weights=previous,
        )


@dataclass(frozen=True)
class CurrentPositions:
    """The account's latest positions per symbol and their weights of equity (zeros when flat)."""

    symbols: tuple[str, ...]
    quantity: tuple[float, ...]
    market_value: tuple[float, ...]
    weights: tuple[float, ...]
    equity: float | None = None
    as_of_ns: int | None = None


@dataclass(frozen=True, eq=False)
class RebalancePlan:
    """The outcome before appending: the returns used, the optimiser's result and the signals."""

    status: str
    params: RebalanceParams
    symbols: tuple[str, ...]
    dates: tuple[str, ...] = ()
    observations: int = 0
    dropped_periods: int = 0
    result: OptimisationResult | None = None
    signals: tuple[Signal, ...] = ()
    message: str = ""
    current: CurrentPositions | None = field(default=None, repr=False)

    def weights(self) -> dict[str, float]:
        """Target weight per symbol (empty without a result)."""
        if self.result is None:
            return {}
        return {s: float(w) for s, w in zip(self.symbols, self.result.weights, strict=True)}


# ----------------------------------------------------------------------------------- reading
def bar_dates(lake: Lake, interval: str) -> list[str]:
    """UTC dates (ISO) with bars of ``interval``, ascending."""
    out = set()
    for directory in lake.partition_dirs(f"bars_{interval}"):
        for segment in directory.rstrip("/").split("/"):
            if segment.startswith("date="):
                out.add(segment.removeprefix("date="))
    return sorted(out)


def daily_closes(
    lake: Lake,
    interval: str,
    days: int,
    symbols: Sequence[str] | None = None,
    *,
    end_date: str | None = None,
) -> pl.DataFrame:
    """Wide frame ``date, <symbol>...`` of each date's last close over the newest ``days`` dates.

    ``end_date`` (ISO, inclusive) ignores later dates, for reproducible back-dated runs.
    """
    dates = bar_dates(lake, interval)
    if end_date is not None:
        dates = [d for d in dates if d <= end_date]
    dates = dates[-days:]
    if not dates:
        return pl.DataFrame({"date": pl.Series([], dtype=pl.Utf8)})
    bars = pl.from_arrow(
        lake.read(f"bars_{interval}", dates=dates, symbols=list(symbols) if symbols else None)
    )
    assert isinstance(bars, pl.DataFrame)
    if bars.height == 0:
        return pl.DataFrame({"date": pl.Series([], dtype=pl.Utf8)})
    closes = (
        bars.select("ts", "symbol", "close")
        .with_columns(date=pl.col("ts").dt.convert_time_zone("UTC").dt.date().cast(pl.Utf8))
        .sort("symbol", "ts")
        .group_by("date", "symbol", maintain_order=True)
        .agg(pl.col("close").last())
    )
    wide = closes.pivot(on="symbol", index="date", values="close").sort("date")
    wanted = list(symbols) if symbols else sorted(c for c in wide.columns if c != "date")
    for s in wanted:
        if s not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(s))
    return wide.select("date", *wanted)


def daily_returns(closes: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Simple returns between consecutive dates, and how many were dropped for a missing close.

    A return needs both closes; a date on which any symbol's return is missing is dropped as a
    whole (the optimisers need aligned periods), and counted.
    """
    assets = [c for c in closes.columns if c != "date"]
    if closes.height < 2 or not assets:
        return closes.head(0), 0
    returns = closes.select(
        "date", *[(pl.col(s) / pl.col(s).shift(1) - 1.0).alias(s) for s in assets]
    ).slice(1)
    complete = returns.drop_nulls().filter(
        pl.all_horizontal([pl.col(s).is_finite() for s in assets])
    )
    return complete, returns.height - complete.height


def current_positions(lake: Lake, account: str, symbols: Sequence[str]) -> CurrentPositions:
    """The newest positions snapshot of ``account`` per symbol, as weights of equity.

    Equity is the newest ``pnl`` row of the account; without one, the gross market value (so
    weights are fractions of exposure). Symbols without a position, or a lake without positions,
    weigh zero.
    """
    n = len(symbols)
    zeros = CurrentPositions(tuple(symbols), (0.0,) * n, (0.0,) * n, (0.0,) * n)
    positions = _account_table(lake, "positions", account)
    if positions is None or positions.height == 0:
        return zeros
    latest = positions.sort("ts").group_by("symbol", maintain_order=True).last()
    by_symbol = {r["symbol"]: r for r in latest.iter_rows(named=True)}
    quantity = tuple(float(by_symbol[s]["quantity"]) if s in by_symbol else 0.0 for s in symbols)
    value = tuple(
        float(by_symbol[s]["market_value"] or 0.0) if s in by_symbol else 0.0 for s in symbols
    )
    as_of = positions["ts"].dt.epoch("ns").max()
    pnl = _account_table(lake, "pnl", account)
    equity: float | None = None
    if pnl is not None and pnl.height:
        equity = float(pnl.sort("ts")["equity"][-1])
    denominator = equity if equity else sum(abs(v) for v in value)
    weights = tuple(v / denominator if denominator else 0.0 for v in value)
    as_of_ns = int(as_of) if as_of is not None else None  # type: ignore[arg-type]
    return CurrentPositions(tuple(symbols), quantity, value, weights, equity, as_of_ns)


def _account_table(lake: Lake, name: str, account: str) -> pl.DataFrame | None:
    """Rows of one account's dataset from its newest date (hive columns are not in the files)."""
    by_date: dict[str, list[str]] = {}
    for directory in lake.partition_dirs(name):
        segments = directory.rstrip("/").split("/")
        if f"account={account}" not in segments:
            continue
        day = next((s.removeprefix("date=") for s in segments if s.startswith("date=")), "")
        by_date.setdefault(day, []).append(directory)
    if not by_date:
        return None
    files = [f for d in by_date[max(by_date)] for f in lake.partition_files(d)]
    if not files:
        return None
    schema = dataset(name).schema
    table = pl.from_arrow(conform(pa.concat_tables([lake.read_file(f) for f in files]), schema))
    assert isinstance(table, pl.DataFrame)
    return table


# ---------------------------------------------------------------------------------- planning
def optimise(
    returns: pl.DataFrame | np.ndarray, params: RebalanceParams, previous: Sequence[float]
) -> OptimisationResult:
    """Covariance and optimiser of ``params`` over a wide returns frame (``date`` is ignored)."""
    frame = (
        returns.drop("date")
        if isinstance(returns, pl.DataFrame) and "date" in returns.columns
        else returns
    )
    matrix = frame.to_numpy() if isinstance(frame, pl.DataFrame) else np.asarray(frame)
    cov = estimate_covariance(
        matrix, params.covariance, target=params.shrinkage_target, half_life=params.half_life
    )
    constraints = params.constraints(previous)
    if params.method == "min_variance":
        return min_variance(cov, constraints)
    if params.method == "mean_variance":
        return mean_variance(matrix.mean(axis=0), cov, params.risk_aversion, constraints)
    if params.method == "max_sharpe":
        return max_sharpe(matrix.mean(axis=0), cov, params.risk_free, constraints)
    if params.method == "equal_risk_contribution":
        return equal_risk_contribution(cov, constraints)
    return hierarchical_risk_parity(cov, constraints=constraints)


def signals_from_weights(
    symbols: Sequence[str], weights: Sequence[float], params: RebalanceParams, ts: int
) -> list[Signal]:
    """One ``WEIGHT`` signal per symbol, stamped ``ts`` (round-off below 1e-10 written as 0)."""
    version = params.model_version
    return [
        Signal(
            ts=ts,
            symbol=s,
            target=0.0 if abs(float(w)) < WEIGHT_EPSILON else float(w),
            kind=TargetKind.WEIGHT,
            source=params.source,
            model_version=version,
        )
        for s, w in zip(symbols, weights, strict=True)
    ]


def plan_rebalance(
    lake: Lake,
    params: RebalanceParams,
    symbols: Sequence[str],
    *,
    now_ns: int,
    account: str = "paper",
    end_date: str | None = None,
) -> RebalancePlan:
    """Read closes, optimise and build the signals (stamped ``now_ns``); nothing is written.

    Status: ``ok``; ``no_bars`` (fewer than two complete returns); ``not_converged`` (the
    optimiser's message is kept, no signals); ``out_of_range`` (a weight the signal log would
    quarantine, beyond ``MAX_ABS_WEIGHT``).
    """
    symbols = tuple(symbols)
    if not symbols:
        raise ValueError("no symbols to rebalance")
    closes = daily_closes(
        lake, params.interval, params.lookback_days + 1, symbols, end_date=end_date
    )
    returns, dropped = daily_returns(closes)
    current = current_positions(lake, account, symbols)
    base = {"params": params, "symbols": symbols, "dropped_periods": dropped, "current": current}
    dates = tuple(returns["date"].to_list()) if returns.height else ()
    if returns.height < 2:
        return RebalancePlan(
            status="no_bars",
            dates=dates,
            observations=returns.height,
            message=(
                f"{returns.height} complete daily returns in bars_{params.interval} "
                f"({closes.height} dates, {dropped} dropped for a missing close); need 2"
            ),
            **base,  # type: ignore[arg-type]
        )
    result = optimise(returns, params, current.weights)
    if not result.converged:
        return RebalancePlan(
            status="not_converged",
            dates=dates,
            observations=returns.height,
            result=result,
            message=result.message,
            **base,  # type: ignore[arg-type]
        )
    if np.any(np.abs(result.weights) > MAX_ABS_WEIGHT):
        return RebalancePlan(
            status="out_of_range",
            dates=dates,
            observations=returns.height,
            result=result,
            message=f"a weight is beyond +-{MAX_ABS_WEIGHT}: tighten the bounds or leverage",
            **base,  # type: ignore[arg-type]
        )
    signals = signals_from_weights(symbols, result.weights, params, now_ns)
    return RebalancePlan(
        status="ok",
        dates=dates,
        observations=returns.height,
        result=result,
        signals=tuple(signals),
        message=result.message,
        **base,  # type: ignore[arg-type]
    )


def append_plan(log: SignalLog, plan: RebalancePlan, *, now_ns: int) -> AppendResult | None:
    """Append the plan's signals to the log (None when it has none)."""
    if not plan.signals:
        return None
    return log.append(list(plan.signals), source=plan.params.source, now_ns=now_ns)
