"""Out-of-sample scores of a trading signal: IC, hit rate, AUC and the Sharpe ratio after costs.

Conventions, shared by every function here:

* Inputs are 1-D arrays of equal length; a pair with a NaN (or a null turned NaN) in either
  array is left out, and the number kept is what ``n`` reports.
* A score that cannot be computed (too few pairs, zero variance, one class only) is ``NaN``,
  never an exception: one empty walk-forward fold must not sink a training run.
  :func:`evaluate` says *why* in :attr:`MetricSet.reasons`.
* Correlations are Pearson on values or Spearman on average-tie ranks.
* The Sharpe ratio is ``mean / std * sqrt(periods_per_year)`` of per-period net PnL with
  ``std`` at ``ddof=1`` and **no risk-free rate** (the PnL is already excess: positions are
  funded, cash earns nothing). Costs are ``cost_bps * 1e-4 * |Δposition|`` per row, the first
  row of a symbol trading from flat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import polars as pl
from scipy.stats import rankdata

#: Pairs needed for a correlation (and, per class, for an AUC).
MIN_PAIRS = 2


class CorrelationMethod(StrEnum):
    """How an information coefficient correlates prediction and outcome."""

    PEARSON = "pearson"
    SPEARMAN = "spearman"


@dataclass(frozen=True)
class MetricSet:
    """Scores of one set of out-of-sample predictions; ``reasons`` explains every NaN.

    ``turnover`` is the mean ``|Δposition|`` per row (first row of a symbol from flat).
    """

    n: int
    ic: float
    rank_ic: float
    mean_period_ic: float
    mean_period_rank_ic: float
    hit_rate: float
    auc: float
    sharpe: float
    turnover: float
    reasons: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready mapping (NaN becomes None) for metadata files and catalogs."""
        out: dict[str, object] = {}
        for name in ("n", "ic", "rank_ic", "mean_period_ic", "mean_period_rank_ic", "hit_rate",
                     "auc", "sharpe", "turnover"):
            value = getattr(self, name)
            out[name] = None if isinstance(value, float) and math.isnan(value) else value
        out["reasons"] = dict(self.reasons)
        return out


def information_coefficient(
    prediction: np.ndarray,
    outcome: np.ndarray,
    *,
    method: CorrelationMethod | str = CorrelationMethod.PEARSON,
) -> float:
    """Correlation of predictions with realised outcomes over all rows: the signal's overall skill."""
    p, y = _paired(prediction, outcome)
    return _correlation(p, y, CorrelationMethod(method))


def period_ic(
    prediction: np.ndarray,
    outcome: np.ndarray,
    period: np.ndarray,
    *,
    method: CorrelationMethod | str = CorrelationMethod.PEARSON,
) -> pl.DataFrame:
    """Cross-sectional IC per period (columns ``period``, ``ic``, ``n``): skill at ranking symbols.

    A period with fewer than two pairs or no spread is NaN. Sorted by period.
    """
    method = CorrelationMethod(method)
    p = _as_float("prediction", prediction)
    y = _as_float("outcome", outcome)
    periods = np.asarray(period)
    if periods.shape != p.shape or p.shape != y.shape:
        raise ValueError(
            f"prediction, outcome and period must have one length, got {p.shape}, {y.shape}, "
            f"{periods.shape}"
        )
    keep = ~(np.isnan(p) | np.isnan(y))
    frame = pl.DataFrame({"period": periods[keep], "p": p[keep], "y": y[keep]})
    if method is CorrelationMethod.SPEARMAN:
        frame = frame.with_columns(
            pl.col("p").rank("average").over("period").cast(pl.Float64),
            pl.col("y").rank("average").over("period").cast(pl.Float64),
        )
    return (
        frame.group_by("period")
        .agg(
            p_sd=pl.col("p").std(),
            y_sd=pl.col("y").std(),
            raw=pl.corr("p", "y"),
            n=pl.len().cast(pl.Int64),
        )
        .select(
            "period",
            ic=pl.when((pl.col("n") >= MIN_PAIRS) & (pl.col("p_sd") > 0) & (pl.col("y_sd") > 0))
            .then(pl.col("raw").cast(pl.Float64))
            .otherwise(float("nan"))
            .fill_null(float("nan")),
            n="n",
        )
        .sort("period")
    )


def mean_period_ic(
    prediction: np.ndarray,
    outcome: np.ndarray,
    period: np.ndarray,
    *,
    method: CorrelationMethod | str = CorrelationMethod.PEARSON,
) -> float:
    """Mean of the per-period cross-sectional ICs that are defined (NaN when none is)."""
    ics = period_ic(prediction, outcome, period, method=method)["ic"].to_numpy()
    ics = ics[~np.isnan(ics)]
    return float(ics.mean()) if ics.size else float("nan")


def hit_rate(prediction: np.ndarray, outcome: np.ndarray) -> float:
    """Share of bets whose sign matches the outcome's: how often the signal is right when it speaks.

    Rows with a **zero prediction are ignored** (no position, no bet). A zero outcome under a
    non-zero prediction counts as a miss (the bet earned nothing). NaN when no bet is left.
    """
    p, y = _paired(prediction, outcome)
    bets = p != 0
    if not bets.any():
        return float("nan")
    return float(np.mean(np.sign(p[bets]) == np.sign(y[bets])))


def auc(score: np.ndarray, positive: np.ndarray) -> tuple[float, str | None]:
    """Rank AUC (Mann-Whitney, average ties) of scores against a boolean class, with a NaN's reason.

    Returns ``(value, None)``, or ``(nan, reason)`` when a class is missing (a one-class fold):
    the AUC is undefined there, not 0.5.
    """
    s = _as_float("score", score)
    labels = np.asarray(positive)
    if labels.shape != s.shape:
        raise ValueError(f"score and positive must have one length, got {s.shape}, {labels.shape}")
    if labels.dtype.kind == "f":
        keep = ~(np.isnan(s) | np.isnan(labels))
    else:
        keep = ~np.isnan(s)
    s = s[keep]
    labels = labels[keep].astype(bool)
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan"), f"one class only ({n_pos} positive, {n_neg} negative)"
    ranks = rankdata(s, method="average")
    value = (ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return float(value), None


def positions_from_predictions(
    prediction: np.ndarray, *, scale: float, limit: float = 1.0
) -> np.ndarray:
    """Position ``clip(prediction / scale, -limit, limit)``: bigger conviction, bigger bet, capped.

    ``scale`` should be known before the predictions are (e.g. the std of in-sample predictions),
    so sizing leaks nothing. NaN predictions give a flat position.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if not (math.isfinite(limit) and limit > 0):
        raise ValueError(f"limit must be a finite number > 0, got {limit!r}")
    p = _as_float("prediction", prediction)
    return np.nan_to_num(np.clip(p / scale, -limit, limit), nan=0.0)


def net_pnl(
    position: np.ndarray,
    forward_return: np.ndarray,
    *,
    cost_bps: float,
    symbol: np.ndarray | None = None,
) -> np.ndarray:
    """Per-row PnL ``position * forward_return - cost_bps * 1e-4 * |Δposition|``: what the signal earns.

    Rows must be in time order within each symbol; ``Δposition`` is taken within the symbol and
    the first row of each symbol trades from flat. A NaN return earns nothing (costs still apply).
    """
    if not (math.isfinite(cost_bps) and cost_bps >= 0):
        raise ValueError(f"cost_bps must be a finite number >= 0, got {cost_bps!r}")
    pos = np.nan_to_num(_as_float("position", position), nan=0.0)
    ret = _as_float("forward_return", forward_return)
    if pos.shape != ret.shape:
        raise ValueError(f"position and forward_return must have one length, got {pos.shape}, {ret.shape}")
    trade = _trade_sizes(pos, symbol)
    return pos * np.nan_to_num(ret, nan=0.0) - cost_bps * 1e-4 * trade


def sharpe_ratio(pnl: np.ndarray, *, periods_per_year: float) -> float:
    """Annualised Sharpe ``mean / std(ddof=1) * sqrt(periods_per_year)``, no risk-free rate."""
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be a finite number > 0, got {periods_per_year!r}")
    x = _as_float("pnl", pnl)
    x = x[~np.isnan(x)]
    if x.size < MIN_PAIRS:
        return float("nan")
    sd = float(x.std(ddof=1))
    if not sd > 0:
        return float("nan")
    return float(x.mean() / sd * math.sqrt(periods_per_year))


def signal_sharpe(
    position: np.ndarray,
    forward_return: np.ndarray,
    *,
    cost_bps: float,
    periods_per_year: float,
    period: np.ndarray | None = None,
    symbol: np.ndarray | None = None,
) -> float:
    """Sharpe of the signal after costs: the number that says whether it is worth trading.

    With ``period`` (and ``symbol``), rows are a panel sorted by (symbol, period): row PnL is
    averaged over the symbols of each period (equal capital per symbol) before the Sharpe.
    ``forward_return`` must span one period; with longer (overlapping) labels the PnL double
    counts and the ratio is inflated.
    """
    pnl = net_pnl(position, forward_return, cost_bps=cost_bps, symbol=symbol)
    if period is not None:
        periods = np.asarray(period)
        if periods.shape != pnl.shape:
            raise ValueError(f"period must have the length of position, got {periods.shape}")
        pnl = (
            pl.DataFrame({"period": periods, "pnl": pnl})
            .group_by("period")
            .agg(pl.col("pnl").mean())
            .sort("period")["pnl"]
            .to_numpy()
        )
    return sharpe_ratio(pnl, periods_per_year=periods_per_year)


def evaluate(
    prediction: np.ndarray,
    outcome: np.ndarray,
    *,
    period: np.ndarray,
    symbol: np.ndarray,
    position: np.ndarray,
    cost_bps: float,
    periods_per_year: float,
    positive: np.ndarray | None = None,
) -> MetricSet:
    """Every score of one set of predictions at once, with the reason for each NaN.

    Rows must be sorted by (symbol, period). ``outcome`` is the realised forward return;
    ``positive`` (classifiers only) is the boolean class the AUC scores against.
    """
    p = _as_float("prediction", prediction)
    y = _as_float("outcome", outcome)
    reasons: dict[str, str] = {}
    n = int((~(np.isnan(p) | np.isnan(y))).sum())
    ic = information_coefficient(p, y)
    rank_ic = information_coefficient(p, y, method=CorrelationMethod.SPEARMAN)
    if math.isnan(ic):
        reasons["ic"] = reasons["rank_ic"] = f"fewer than {MIN_PAIRS} pairs or no spread ({n} pairs)"
    period_mean = mean_period_ic(p, y, period)
    period_rank_mean = mean_period_ic(p, y, period, method=CorrelationMethod.SPEARMAN)
    if math.isnan(period_mean):
        reasons["mean_period_ic"] = reasons["mean_period_rank_ic"] = (
            "no period has two symbols with spread in prediction and outcome"
        )
    hits = hit_rate(p, y)
    if math.isnan(hits):
        reasons["hit_rate"] = "no non-zero prediction"
    if positive is None:
        auc_value, why = float("nan"), "not a classifier"
    else:
        auc_value, why = auc(p, positive)
    if why is not None:
        reasons["auc"] = why
    sharpe = signal_sharpe(
        position, y, cost_bps=cost_bps, periods_per_year=periods_per_year, period=period, symbol=symbol
    )
    if math.isnan(sharpe):
        reasons["sharpe"] = "fewer than two periods or constant PnL"
    pos = np.nan_to_num(_as_float("position", position), nan=0.0)
    turnover = float(_trade_sizes(pos, symbol).mean()) if pos.size else float("nan")
    return MetricSet(
        n=n,
        ic=ic,
        rank_ic=rank_ic,
        mean_period_ic=period_mean,
        mean_period_rank_ic=period_rank_mean,
        hit_rate=hits,
        auc=auc_value,
        sharpe=sharpe,
        turnover=turnover,
        reasons=reasons,
    )


def _trade_sizes(position: np.ndarray, symbol: np.ndarray | None) -> np.ndarray:
    """``|Δposition|`` per row within each symbol, the first row of a symbol trading from flat."""
    previous = np.concatenate([[0.0], position[:-1]])
    if symbol is not None:
        sym = np.asarray(symbol)
        if sym.shape != position.shape:
            raise ValueError(f"symbol must have the length of position, got {sym.shape}")
        first = np.ones(position.shape, dtype=bool)
        first[1:] = sym[1:] != sym[:-1]
        previous[first] = 0.0
    return np.abs(position - previous)


def _as_float(name: str, values: np.ndarray) -> np.ndarray:
    """A 1-D float64 copy; nulls of object arrays become NaN."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype == object:
        array = np.array([np.nan if v is None else v for v in array], dtype=np.float64)
    return array.astype(np.float64)


def _paired(prediction: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays without the rows where either is NaN."""
    p = _as_float("prediction", prediction)
    y = _as_float("outcome", outcome)
    if p.shape != y.shape:
        raise ValueError(f"prediction and outcome must have one length, got {p.shape}, {y.shape}")
    keep = ~(np.isnan(p) | np.isnan(y))
    return p[keep], y[keep]


def _correlation(p: np.ndarray, y: np.ndarray, method: CorrelationMethod) -> float:
    """Pearson (of ranks, for Spearman); NaN with too few pairs or no spread."""
    if p.size < MIN_PAIRS:
        return float("nan")
    if method is CorrelationMethod.SPEARMAN:
        p = rankdata(p, method="average")
        y = rankdata(y, method="average")
    pc = p - p.mean()
    yc = y - y.mean()
    denominator = math.sqrt(float(pc @ pc) * float(yc @ yc))
    if not denominator > 0:
        return float("nan")
    return float(np.clip((pc @ yc) / denominator, -1.0, 1.0))
