"""The conventions on which performance libraries disagree, chosen and encoded in one place.

Every metric in :mod:`shriven.analytics.performance` takes a :class:`Conventions`; nothing else
in the package hard-codes a periods-per-year, a risk-free rate, a ddof or a VaR flavour.

What is chosen here, and the alternative each choice rules out:

Periods per year (``periods_per_year``)
    Annualisation multiplies a per-period mean by ``ppy`` and a per-period standard deviation by
    ``sqrt(ppy)``. Equities trade about 252 days a year (:data:`EQUITIES`); crypto trades every
    day, 365 (:data:`CRYPTO`). For intraday bars use :func:`periods_per_year_for` (e.g. 1h bars:
    252 * 6.5 for a 6.5-hour equity session, 365 * 24 for crypto). Switching 252 -> 365 scales an
    annualised volatility and a Sharpe ratio by exactly ``sqrt(365 / 252)``.

Risk-free rate (``risk_free_rate``)
    Given per year, as a simple annual rate. It is converted to a per-period rate by
    geometric de-compounding, ``(1 + rf) ** (1 / ppy) - 1`` (``rf_conversion="compound"``), so
    that compounding the per-period rate for one year gives back ``rf``. The alternative some
    libraries use, ``rf / ppy`` (``rf_conversion="simple"``), is available but not the default;
    it overstates the per-period rate slightly (by about ``rf**2 / 2 / ppy``).

Standard deviation (``ddof``)
    Sample standard deviation, ``ddof = 1`` (divide by ``n - 1``), as pandas, empyrical and
    quantstats do; numpy's default is ``ddof = 0``. The same ddof is used for volatility, Sharpe,
    parametric VaR, beta's covariance (where it cancels) and rolling metrics.

Downside deviation (Sortino)
    ``sqrt(sum(min(r - target, 0) ** 2) / (n - downside_ddof))`` over *all* ``n`` periods (those
    above the target contribute zero), target ``sortino_target`` per period (default 0). This is
    Sortino and Price's lower partial moment of order 2, as empyrical computes it, so
    ``downside_ddof = 0`` by default: it is a second moment about the target, not a sample
    variance about the mean. (Some tools divide by the count of negative periods only; that is
    not supported.)

Value at risk (``var_method``, ``var_confidence``, ``quantile_method``)
    VaR and CVaR (expected shortfall) are reported as **positive loss numbers**: a 95% VaR of
    0.02 means "a loss of 2% or more happens 5% of the time". Three methods:

    * ``"historical"``: ``-quantile(r, 1 - c)`` with numpy's ``method=quantile_method``, default
      ``"linear"`` (R type 7 / Excel PERCENTILE.INC: interpolate between order statistics at
      ``h = (n - 1) * (1 - c)``). Historical CVaR is ``-mean(r[r <= quantile])``.
    * ``"parametric"``: normal, ``VaR = -(mean + z_{1-c} * std) = z_c * std - mean``;
      ``CVaR = std * pdf(z_c) / (1 - c) - mean``.
    * ``"cornish_fisher"``: the normal quantile corrected for sample skewness ``S`` and excess
      kurtosis ``K``, ``z_cf = z + (z**2 - 1) S / 6 + (z**3 - 3 z) K / 24 - (2 z**3 - 5 z) S**2 / 36``
      with ``z = z_{1-c}``; ``S`` and ``K`` are the biased (population) moment estimators
      (``scipy.stats.skew``/``kurtosis`` defaults). CVaR integrates ``z_cf`` over the tail. With
      ``S = K = 0`` it equals the parametric VaR.

Drawdown
    Measured on the wealth index ``w_0 = 1, w_t = prod(1 + r_1..r_t)``, so a loss in the first
    period is a drawdown. Reported as a **negative fraction** (``-0.2`` = 20% below the peak),
    as an underwater chart shows it. Duration runs from the peak to the recovery (the first
    point back at or above the peak), in periods and, given timestamps, in calendar time; a
    drawdown still open at the end lasts until the last point and is flagged unrecovered.

CAGR
    By periods: ``(1 + total) ** (ppy / n) - 1`` (``n`` returns). By calendar time:
    ``(1 + total) ** (1 / years) - 1`` with ``years = (t_last - t_first) / seconds_per_year``
    over the equity curve's timestamps, ``seconds_per_year = 365.25 days`` (a Julian year,
    whatever the asset's trading calendar).

Alpha
    Jensen's alpha per period, ``mean(r - rf) - beta * mean(b - rf)``, annualised arithmetically
    (``* ppy``). empyrical compounds it instead (``(1 + alpha) ** ppy - 1``).

Missing values
    A NaN or infinite return is an error (``ValueError``), never silently skipped: drop it
    explicitly with :func:`shriven.analytics.performance.drop_nan` first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "CRYPTO",
    "EQUITIES",
    "SECONDS_PER_YEAR",
    "Conventions",
    "RiskFreeConversion",
    "VarMethod",
    "periods_per_year_for",
]

#: A Julian year, the calendar-time unit of CAGR and durations.
SECONDS_PER_YEAR = 365.25 * 86_400.0
#: Trading days a year on an equity exchange.
EQUITY_TRADING_DAYS = 252
#: Hours in a regular US equity session.
EQUITY_SESSION_HOURS = 6.5
#: Days a year a crypto venue trades.
CRYPTO_DAYS = 365

VarMethod = Literal["historical", "parametric", "cornish_fisher"]
RiskFreeConversion = Literal["compound", "simple"]

_QUANTILE_METHODS = (
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
)


@dataclass(frozen=True, kw_only=True)
class Conventions:
    """Annualisation, risk-free, ddof and VaR choices, so two reports are comparable by construction."""

    #: Return periods in one year (252 equity days, 365 crypto days, or a per-bar count).
    periods_per_year: float = EQUITY_TRADING_DAYS
    #: Annual risk-free rate (0.04 = 4% a year), converted per period by ``rf_conversion``.
    risk_free_rate: float = 0.0
    #: ``"compound"``: ``(1 + rf) ** (1 / ppy) - 1``; ``"simple"``: ``rf / ppy``.
    rf_conversion: RiskFreeConversion = "compound"
    #: Delta degrees of freedom of every standard deviation (1 = sample).
    ddof: int = 1
    #: Per-period target return of the Sortino ratio's downside deviation.
    sortino_target: float = 0.0
    #: Delta degrees of freedom of the downside deviation (0 = Sortino and Price's definition).
    downside_ddof: int = 0
    #: VaR/CVaR flavour used by the summary.
    var_method: VarMethod = "historical"
    #: VaR/CVaR confidence level used by the summary (0.95 = the worst 5%).
    var_confidence: float = 0.95
    #: numpy quantile method of historical VaR ("linear" = R type 7).
    quantile_method: str = "linear"
    #: Calendar seconds in one year, for CAGR and durations by timestamps.
    seconds_per_year: float = SECONDS_PER_YEAR

    def __post_init__(self) -> None:
        if not (math.isfinite(self.periods_per_year) and self.periods_per_year > 0):
            raise ValueError(f"periods_per_year must be > 0, got {self.periods_per_year}")
        if not (math.isfinite(self.risk_free_rate) and self.risk_free_rate > -1.0):
            raise ValueError(
                f"risk_free_rate must be a finite annual rate > -1, got {self.risk_free_rate}"
            )
        if self.rf_conversion not in ("compound", "simple"):
            raise ValueError(
                f"rf_conversion must be 'compound' or 'simple', got {self.rf_conversion!r}"
            )
        if self.ddof not in (0, 1) or self.downside_ddof not in (0, 1):
            raise ValueError(
                f"ddof and downside_ddof must be 0 or 1, got {self.ddof}, {self.downside_ddof}"
            )
        if not math.isfinite(self.sortino_target):
            raise ValueError(f"sortino_target must be finite, got {self.sortino_target}")
        if self.var_method not in ("historical", "parametric", "cornish_fisher"):
            raise ValueError(
                f"var_method must be historical, parametric or cornish_fisher, got {self.var_method!r}"
            )
        if not 0.0 < self.var_confidence < 1.0:
            raise ValueError(f"var_confidence must be in (0, 1), got {self.var_confidence}")
        if self.quantile_method not in _QUANTILE_METHODS:
            raise ValueError(
                f"quantile_method must be a numpy quantile method, got {self.quantile_method!r}"
            )
        if not (math.isfinite(self.seconds_per_year) and self.seconds_per_year > 0):
            raise ValueError(f"seconds_per_year must be > 0, got {self.seconds_per_year}")

    @property
    def risk_free_per_period(self) -> float:
        """The annual risk-free rate as a per-period rate, by the chosen conversion."""
        if self.rf_conversion == "simple":
            return self.risk_free_rate / self.periods_per_year
        return (1.0 + self.risk_free_rate) ** (1.0 / self.periods_per_year) - 1.0

    def with_(self, **changes: object) -> Conventions:
        """A copy with some fields changed (validated again), for per-report overrides."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: Daily equity returns: 252 trading days a year, sample std, historical 95% VaR.
EQUITIES = Conventions(periods_per_year=EQUITY_TRADING_DAYS)
#: Daily crypto returns: 365 days a year, otherwise as :data:`EQUITIES`.
CRYPTO = Conventions(periods_per_year=CRYPTO_DAYS)

_INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}


def periods_per_year_for(interval: str, market: Literal["equities", "crypto"]) -> float:
    """Bars of ``interval`` (e.g. ``"1m"``, ``"1h"``, ``"1d"``) in one year of the market's trading time."""
    if not interval or interval[-1] not in _INTERVAL_SECONDS or not interval[:-1].isdigit():
        raise ValueError(f"interval must look like 1s, 5m, 1h, 1d or 1w, got {interval!r}")
    seconds = int(interval[:-1]) * _INTERVAL_SECONDS[interval[-1]]
    if seconds <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    if market == "crypto":
        return CRYPTO_DAYS * 86_400.0 / seconds
    if market == "equities":
        if interval[-1] == "w":
            return EQUITY_TRADING_DAYS / (5.0 * int(interval[:-1]))
        if interval[-1] == "d":
            return EQUITY_TRADING_DAYS / float(int(interval[:-1]))
        return EQUITY_TRADING_DAYS * EQUITY_SESSION_HOURS * 3_600.0 / seconds
    raise ValueError(f"market must be 'equities' or 'crypto', got {market!r}")
