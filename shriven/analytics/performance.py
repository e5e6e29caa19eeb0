"""Performance metrics over a returns array: vectorised numpy, conventions passed in, never guessed.

Inputs are 1-D arrays of simple per-period returns (0.01 = +1%) unless a function says
otherwise; timestamps, when given, are the equity curve's times (``len(returns) + 1`` points,
the start included) as ``datetime64`` or integer nanoseconds, strictly increasing. Every choice
on which libraries disagree comes from a :class:`~shriven.analytics.conventions.Conventions`
and is documented there. NaN or infinite inputs raise ``ValueError``; call :func:`drop_nan`
first to drop them on purpose.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, stats

from shriven.analytics.conventions import EQUITIES, Conventions, VarMethod

__all__ = [
    "Drawdown",
    "PerformanceSummary",
    "alpha",
    "annualized_volatility",
    "beta",
    "cagr",
    "cagr_by_time",
    "calmar_ratio",
    "conditional_value_at_risk",
    "cornish_fisher_z",
    "cumulative_return",
    "downside_deviation",
    "drawdowns",
    "drop_nan",
    "exposure",
    "hit_rate",
    "log_returns",
    "max_drawdown",
    "max_drawdown_duration",
    "profit_factor",
    "rolling_beta",
    "rolling_sharpe",
    "rolling_volatility",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "summary",
    "turnover",
    "underwater",
    "value_at_risk",
    "wealth_index",
    "weights_from_positions",
]

FloatArray = NDArray[np.float64]


# -- validation ---------------------------------------------------------------------------------


def _as_1d(values: ArrayLike, name: str, min_length: int = 1) -> FloatArray:
    """A finite float64 1-D copy, or a ValueError that names the problem."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric: {error}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size < min_length:
        raise ValueError(f"{name} needs at least {min_length} value(s), got {array.size}")
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN/infinite value(s) (first at index {first}); "
            "drop them explicitly with drop_nan() if that is intended"
        )
    return array


def _returns(returns: ArrayLike, min_length: int = 1) -> FloatArray:
    array = _as_1d(returns, "returns", min_length)
    if (array <= -1.0).any():
        raise ValueError("returns must be > -1 (a return of -100% or worse wipes the equity out)")
    return array


def _confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


def _window(window: int) -> int:
    if int(window) != window or window < 2:
        raise ValueError(f"window must be an integer >= 2, got {window}")
    return int(window)


def _timestamps_ns(timestamps: ArrayLike, length: int) -> NDArray[np.int64]:
    """Timestamps as int64 ns since the epoch, checked for length and strict increase."""
    array = np.asarray(timestamps)
    if array.ndim != 1:
        raise ValueError(f"timestamps must be 1-D, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.datetime64):
        if np.isnat(array).any():
            raise ValueError("timestamps contain NaT")
        ns = array.astype("datetime64[ns]").astype(np.int64)
    elif np.issubdtype(array.dtype, np.integer):
        ns = array.astype(np.int64)
    else:
        raise ValueError(f"timestamps must be datetime64 or integer ns, got dtype {array.dtype}")
    if ns.size != length:
        raise ValueError(
            f"timestamps must be the equity curve's times: {length} expected "
            f"(len(returns) + 1), got {ns.size}"
        )
    if ns.size > 1 and (np.diff(ns) <= 0).any():
        raise ValueError("timestamps must be strictly increasing")
    return ns


def drop_nan(returns: ArrayLike, *aligned: ArrayLike) -> tuple[FloatArray, ...]:
    """Drop periods whose return is NaN (and the same rows of aligned arrays), as an explicit choice."""
    array = np.asarray(returns, dtype=np.float64)
    keep = ~np.isnan(array)
    out: list[FloatArray] = [array[keep]]
    for other in aligned:
        other_array = np.asarray(other)
        if other_array.shape[0] != array.shape[0]:
            raise ValueError(
                f"aligned array has {other_array.shape[0]} rows, returns {array.shape[0]}"
            )
        out.append(other_array[keep])
    return tuple(out)


# -- returns and growth -------------------------------------------------------------------------


def simple_returns(equity: ArrayLike) -> FloatArray:
    """Per-period simple returns ``e_t / e_{t-1} - 1`` of an equity curve (one fewer than points)."""
    curve = _as_1d(equity, "equity", 2)
    if (curve <= 0).any():
        raise ValueError("equity must be > 0 at every point to have returns")
    return curve[1:] / curve[:-1] - 1.0


def log_returns(equity: ArrayLike) -> FloatArray:
    """Per-period log returns ``ln(e_t / e_{t-1})``: additive over time, for models and aggregation."""
    curve = _as_1d(equity, "equity", 2)
    if (curve <= 0).any():
        raise ValueError("equity must be > 0 at every point to have log returns")
    return np.diff(np.log(curve))


def wealth_index(returns: ArrayLike) -> FloatArray:
    """Growth of 1 unit: ``[1, (1 + r1), (1 + r1)(1 + r2), ...]`` (length ``n + 1``)."""
    r = _returns(returns)
    return np.concatenate(([1.0], np.cumprod(1.0 + r)))


def cumulative_return(returns: ArrayLike) -> float:
    """Total compounded return ``prod(1 + r) - 1`` over the whole sample."""
    r = _returns(returns)
    return float(np.exp(np.log1p(r).sum()) - 1.0)


def cagr(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Compound annual growth by period count: ``(1 + total) ** (ppy / n) - 1``."""
    r = _returns(returns)
    return float(np.exp(np.log1p(r).sum() * conventions.periods_per_year / r.size) - 1.0)


def cagr_by_time(
    returns: ArrayLike, timestamps: ArrayLike, conventions: Conventions = EQUITIES
) -> float:
    """Compound annual growth by calendar time between the first and last equity timestamp."""
    r = _returns(returns)
    ns = _timestamps_ns(timestamps, r.size + 1)
    years = (ns[-1] - ns[0]) / 1e9 / conventions.seconds_per_year
    return float(np.exp(np.log1p(r).sum() / years) - 1.0)


# -- risk-adjusted ratios -----------------------------------------------------------------------


def annualized_volatility(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Standard deviation (``conventions.ddof``) times ``sqrt(ppy)``: the yearly dispersion."""
    r = _returns(returns, conventions.ddof + 1)
    return float(np.std(r, ddof=conventions.ddof) * math.sqrt(conventions.periods_per_year))


def sharpe_ratio(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Annualised ``mean(r - rf_p) / std(r - rf_p) * sqrt(ppy)``; NaN when the std is zero."""
    r = _returns(returns, conventions.ddof + 1)
    excess = r - conventions.risk_free_per_period
    sigma = float(np.std(excess, ddof=conventions.ddof))
    if sigma == 0.0:
        return math.nan
    return float(excess.mean() / sigma * math.sqrt(conventions.periods_per_year))


def downside_deviation(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Per-period ``sqrt(sum(min(r - target, 0)^2) / (n - downside_ddof))`` (not annualised)."""
    r = _returns(returns, conventions.downside_ddof + 1)
    shortfall = np.minimum(r - conventions.sortino_target, 0.0)
    return float(math.sqrt(np.sum(shortfall**2) / (r.size - conventions.downside_ddof)))


def sortino_ratio(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Annualised ``mean(r - target) / downside_deviation * sqrt(ppy)``; NaN without a loss below target."""
    r = _returns(returns, conventions.downside_ddof + 1)
    deviation = downside_deviation(r, conventions)
    if deviation == 0.0:
        return math.nan
    excess = float(np.mean(r - conventions.sortino_target))
    return excess / deviation * math.sqrt(conventions.periods_per_year)


def calmar_ratio(returns: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """CAGR (by periods) over the absolute max drawdown; NaN when there is no drawdown."""
    depth = max_drawdown(returns)
    if depth == 0.0:
        return math.nan
    return cagr(returns, conventions) / abs(depth)


# -- drawdowns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawdown:
    """One peak-to-recovery episode on the wealth index (indices are equity points 0..n)."""

    #: Index of the peak the episode falls from.
    peak_index: int
    #: Index of the lowest point.
    trough_index: int
    #: First index back at or above the peak; None while unrecovered.
    recovery_index: int | None
    #: Depth at the trough, a negative fraction of the peak.
    depth: float
    #: Periods from peak to recovery, or to the last point when unrecovered.
    duration_periods: int
    #: Calendar time of the same span; None without timestamps.
    duration: dt.timedelta | None

    @property
    def recovered(self) -> bool:
        """Whether the equity got back to the peak within the sample."""
        return self.recovery_index is not None


def underwater(returns: ArrayLike) -> FloatArray:
    """Drawdown at every equity point, ``w / running_max(w) - 1`` (<= 0, length ``n + 1``)."""
    wealth = wealth_index(returns)
    return wealth / np.maximum.accumulate(wealth) - 1.0


def max_drawdown(returns: ArrayLike) -> float:
    """Deepest fall from a running peak, as a negative fraction (0 if equity never fell)."""
    return float(underwater(returns).min())


def drawdowns(returns: ArrayLike, timestamps: ArrayLike | None = None) -> list[Drawdown]:
    """Every drawdown episode in time order, with depth and peak-to-recovery duration."""
    r = _returns(returns)
    depth = underwater(r)
    ns = None if timestamps is None else _timestamps_ns(timestamps, r.size + 1)
    below = depth < 0.0
    edges = np.diff(np.concatenate(([False], below, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)  # first point under water
    ends = np.flatnonzero(edges == -1)  # first point back at the peak (may be n + 1: never)
    episodes = []
    last = r.size
    for start, end in zip(starts, ends, strict=True):
        peak = int(start - 1)
        recovery = int(end) if end <= last else None
        stop = recovery if recovery is not None else last
        trough = int(start + np.argmin(depth[start:end]))
        span = None
        if ns is not None:
            span = dt.timedelta(microseconds=float(ns[stop] - ns[peak]) / 1_000.0)
        episodes.append(Drawdown(peak, trough, recovery, float(depth[trough]), stop - peak, span))
    return episodes


def max_drawdown_duration(
    returns: ArrayLike, timestamps: ArrayLike | None = None
) -> Drawdown | None:
    """The longest episode by periods (peak to recovery, or to the end if open); None if no drawdown."""
    episodes = drawdowns(returns, timestamps)
    if not episodes:
        return None
    return max(episodes, key=lambda e: e.duration_periods)


# -- value at risk ------------------------------------------------------------------------------


def cornish_fisher_z(z: float, skew: float, excess_kurtosis: float) -> float:
    """The normal quantile ``z`` adjusted for skewness and excess kurtosis (Cornish-Fisher, 4th order)."""
    return (
        z
        + (z**2 - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * excess_kurtosis / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
    )


def _moments(r: FloatArray, conventions: Conventions) -> tuple[float, float]:
    return float(r.mean()), float(np.std(r, ddof=conventions.ddof))


def _shape(r: FloatArray) -> tuple[float, float]:
    if np.ptp(r) == 0.0:
        return 0.0, 0.0
    return float(stats.skew(r)), float(stats.kurtosis(r))


def value_at_risk(
    returns: ArrayLike,
    confidence: float | None = None,
    method: VarMethod | None = None,
    conventions: Conventions = EQUITIES,
) -> float:
    """One-period VaR at ``confidence`` as a positive loss (method and level default to the conventions)."""
    c = _confidence(conventions.var_confidence if confidence is None else confidence)
    how = conventions.var_method if method is None else method
    r = _returns(returns, 2 if how != "historical" else 1)
    if how == "historical":
        return float(-np.quantile(r, 1.0 - c, method=conventions.quantile_method))
    mean, sigma = _moments(r, conventions)
    z = float(stats.norm.ppf(1.0 - c))
    if how == "parametric":
        return -(mean + z * sigma)
    if how == "cornish_fisher":
        skew, kurt = _shape(r)
        return -(mean + cornish_fisher_z(z, skew, kurt) * sigma)
    raise ValueError(f"method must be historical, parametric or cornish_fisher, got {how!r}")


def conditional_value_at_risk(
    returns: ArrayLike,
    confidence: float | None = None,
    method: VarMethod | None = None,
    conventions: Conventions = EQUITIES,
) -> float:
    """Expected shortfall (mean loss beyond VaR) at ``confidence``, as a positive loss."""
    c = _confidence(conventions.var_confidence if confidence is None else confidence)
    how = conventions.var_method if method is None else method
    r = _returns(returns, 2 if how != "historical" else 1)
    tail = 1.0 - c
    if how == "historical":
        cutoff = float(np.quantile(r, tail, method=conventions.quantile_method))
        # An interpolated quantile that lands on an order statistic may miss it by an ulp.
        slack = 1e-12 * max(1.0, float(np.abs(r).max()))
        return float(-r[r <= cutoff + slack].mean())
    mean, sigma = _moments(r, conventions)
    if how == "parametric":
        return sigma * float(stats.norm.pdf(stats.norm.ppf(c))) / tail - mean
    if how == "cornish_fisher":
        skew, kurt = _shape(r)
        integral, _ = integrate.quad(
            lambda u: cornish_fisher_z(float(stats.norm.ppf(u)), skew, kurt), 0.0, tail, limit=200
        )
        return -(mean + sigma * integral / tail)
    raise ValueError(f"method must be historical, parametric or cornish_fisher, got {how!r}")


# -- benchmark-relative -------------------------------------------------------------------------


def _paired(returns: ArrayLike, benchmark: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r = _returns(returns, 2)
    b = _as_1d(benchmark, "benchmark", 2)
    if b.size != r.size:
        raise ValueError(f"benchmark has {b.size} returns, returns has {r.size}: align them first")
    return r, b


def beta(returns: ArrayLike, benchmark: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """``cov(r, b) / var(b)``: the benchmark exposure; NaN when the benchmark never moves."""
    r, b = _paired(returns, benchmark)
    var_b = float(np.var(b, ddof=conventions.ddof))
    if var_b == 0.0:
        return math.nan
    cov = float(np.cov(r, b, ddof=conventions.ddof)[0, 1])
    return cov / var_b


def alpha(returns: ArrayLike, benchmark: ArrayLike, conventions: Conventions = EQUITIES) -> float:
    """Jensen's alpha ``mean(r - rf) - beta * mean(b - rf)``, annualised arithmetically (``* ppy``)."""
    r, b = _paired(returns, benchmark)
    rf = conventions.risk_free_per_period
    per_period = float(np.mean(r - rf) - beta(r, b, conventions) * np.mean(b - rf))
    return per_period * conventions.periods_per_year


# -- trading statistics -------------------------------------------------------------------------


def hit_rate(returns: ArrayLike) -> float:
    """Share of non-flat periods with a positive return; NaN when every period is flat."""
    r = _returns(returns)
    active = r != 0.0
    if not active.any():
        return math.nan
    return float((r > 0.0).sum() / active.sum())


def profit_factor(returns: ArrayLike) -> float:
    """Sum of gains over the absolute sum of losses; inf with gains and no loss, NaN with neither."""
    values = _as_1d(returns, "returns")
    gains = float(values[values > 0].sum())
    losses = float(-values[values < 0].sum())
    if losses == 0.0:
        return math.inf if gains > 0 else math.nan
    return gains / losses


def _matrix(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty (periods x assets) array, got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN/infinite values; fill or drop them explicitly")
    return array


def weights_from_positions(
    quantities: ArrayLike, prices: ArrayLike, equity: ArrayLike
) -> FloatArray:
    """Weights ``quantity * price / equity`` per period and asset, from positions and marks."""
    q = _matrix(quantities, "quantities")
    p = _matrix(prices, "prices")
    if q.shape != p.shape:
        raise ValueError(f"quantities {q.shape} and prices {p.shape} must have the same shape")
    e = _as_1d(equity, "equity")
    if e.size != q.shape[0]:
        raise ValueError(f"equity has {e.size} points, positions {q.shape[0]} periods")
    if (e <= 0).any():
        raise ValueError("equity must be > 0 to turn positions into weights")
    return q * p / e[:, None]


def turnover(weights: ArrayLike, initial: ArrayLike | None = None) -> FloatArray:
    """Traded fraction of equity per period, ``sum_i |w_t,i - w_t-1,i|`` (two-sided; from ``initial``, default cash)."""
    w = _matrix(weights, "weights")
    start = np.zeros(w.shape[1]) if initial is None else _as_1d(initial, "initial")
    if start.size != w.shape[1]:
        raise ValueError(f"initial has {start.size} weights, weights {w.shape[1]} assets")
    return np.abs(np.diff(w, axis=0, prepend=start[None, :])).sum(axis=1)


def exposure(
    quantities: ArrayLike, prices: ArrayLike, equity: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Gross ``sum |q * p|`` and net ``sum q * p`` per period; as fractions of equity when it is given."""
    q = _matrix(quantities, "quantities")
    p = _matrix(prices, "prices")
    if q.shape != p.shape:
        raise ValueError(f"quantities {q.shape} and prices {p.shape} must have the same shape")
    value = q * p
    if equity is not None:
        value = weights_from_positions(q, p, equity)
    return np.abs(value).sum(axis=1), value.sum(axis=1)


# -- rolling (point-in-time: the value at t uses returns up to and including t only) ---------------


def _rolled(r: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    out = np.full(r.size, np.nan)
    if r.size < window:
        return out, np.empty((0, window))
    return out, sliding_window_view(r, window)


def rolling_volatility(
    returns: ArrayLike, window: int, conventions: Conventions = EQUITIES
) -> FloatArray:
    """Annualised volatility of the last ``window`` returns at each t; NaN before the first full window."""
    r = _returns(returns)
    window = _window(window)
    out, view = _rolled(r, window)
    if view.size:
        out[window - 1 :] = view.std(axis=1, ddof=conventions.ddof) * math.sqrt(
            conventions.periods_per_year
        )
    return out


def rolling_sharpe(
    returns: ArrayLike, window: int, conventions: Conventions = EQUITIES
) -> FloatArray:
    """Annualised Sharpe of the last ``window`` returns at each t; NaN before a full window or at zero std."""
    r = _returns(returns)
    window = _window(window)
    out, view = _rolled(r - conventions.risk_free_per_period, window)
    if view.size:
        sigma = view.std(axis=1, ddof=conventions.ddof)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = view.mean(axis=1) / sigma * math.sqrt(conventions.periods_per_year)
        out[window - 1 :] = np.where(sigma > 0, ratio, np.nan)
    return out


def rolling_beta(
    returns: ArrayLike, benchmark: ArrayLike, window: int, conventions: Conventions = EQUITIES
) -> FloatArray:
    """Beta to the benchmark over the last ``window`` periods at each t (ddof cancels); NaN before a full window."""
    r, b = _paired(returns, benchmark)
    w = _window(window)
    out, rv = _rolled(r, w)
    if rv.size:
        bv = sliding_window_view(b, w)
        rc = rv - rv.mean(axis=1, keepdims=True)
        bc = bv - bv.mean(axis=1, keepdims=True)
        cov = (rc * bc).sum(axis=1)
        var = (bc * bc).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[w - 1 :] = np.where(var > 0, cov / var, np.nan)
    return out


# -- summary ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerformanceSummary:
    """The headline metrics of one return series, under one set of conventions."""

    periods: int
    total_return: float
    cagr: float
    cagr_by_time: float | None
    annualized_volatility: float
    sharpe_ratio: float
    sortino_ratio: float
    calmar_ratio: float
    max_drawdown: float
    max_drawdown_duration_periods: int
    max_drawdown_duration_days: float | None
    max_drawdown_recovered: bool
    value_at_risk: float
    conditional_value_at_risk: float
    hit_rate: float
    profit_factor: float
    best_period: float
    worst_period: float
    beta: float | None
    alpha: float | None
    conventions: Conventions

    def as_dict(self) -> dict[str, Any]:
        """Plain metrics (conventions flattened under ``conventions.``), for tables and artifacts."""
        data = asdict(self)
        conventions: Mapping[str, Any] = data.pop("conventions")
        data.update({f"conventions.{k}": v for k, v in conventions.items()})
        return data


def summary(
    *,
    equity: ArrayLike | None = None,
    returns: ArrayLike | None = None,
    conventions: Conventions = EQUITIES,
    benchmark: ArrayLike | None = None,
    timestamps: ArrayLike | None = None,
) -> PerformanceSummary:
    """Every headline metric of an equity curve or a returns series (give exactly one)."""
    if (equity is None) == (returns is None):
        raise ValueError("give exactly one of equity= or returns=")
    r = simple_returns(equity) if equity is not None else _returns(returns)  # type: ignore[arg-type]
    if r.size < 2:
        raise ValueError(f"summary needs at least 2 returns, got {r.size}")
    longest = max_drawdown_duration(r, timestamps)
    by_time = None if timestamps is None else cagr_by_time(r, timestamps, conventions)
    days = None
    if longest is not None and longest.duration is not None:
        days = longest.duration.total_seconds() / 86_400.0
    return PerformanceSummary(
        periods=int(r.size),
        total_return=cumulative_return(r),
        cagr=cagr(r, conventions),
        cagr_by_time=by_time,
        annualized_volatility=annualized_volatility(r, conventions),
        sharpe_ratio=sharpe_ratio(r, conventions),
        sortino_ratio=sortino_ratio(r, conventions),
        calmar_ratio=calmar_ratio(r, conventions),
        max_drawdown=max_drawdown(r),
        max_drawdown_duration_periods=0 if longest is None else longest.duration_periods,
        max_drawdown_duration_days=days,
        max_drawdown_recovered=True if longest is None else longest.recovered,
        value_at_risk=value_at_risk(r, conventions=conventions),
        conditional_value_at_risk=conditional_value_at_risk(r, conventions=conventions),
        hit_rate=hit_rate(r),
        profit_factor=profit_factor(r),
        best_period=float(r.max()),
        worst_period=float(r.min()),
        beta=None if benchmark is None else beta(r, benchmark, conventions),
        alpha=None if benchmark is None else alpha(r, benchmark, conventions),
        conventions=conventions,
    )
