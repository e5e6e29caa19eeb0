"""Chain analytics: implied volatility of each mid, greeks at it, and one SVI smile per expiry
with its butterfly and calendar no-arbitrage checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shriven.pricing.black_scholes import black_scholes
from shriven.pricing.chain import DAYS_PER_YEAR, NS_PER_DAY
from shriven.pricing.implied_vol import implied_volatility
from shriven.pricing.reasons import Reason
from shriven.pricing.svi import (
    SVIParams,
    calibrate_svi,
    svi_butterfly_density,
    svi_implied_vol,
    svi_total_variance,
)
from shriven.schemas import OPTION_ANALYTICS, OPTION_CHAIN, SVI_FITS, conform

#: Points of log-moneyness on which butterfly and calendar arbitrage are checked.
_CHECK_POINTS = 101
#: Tolerance of the checks (total variance units).
_ARBITRAGE_TOLERANCE = 1e-10


@dataclass(frozen=True)
class ChainAnalytics:
    """A priced chain (OPTION_ANALYTICS) and its fitted smiles (SVI_FITS)."""

    options: pa.Table
    smiles: pa.Table


def analyse_chain(chain: pa.Table, rate: float, dividend_yield: float) -> ChainAnalytics:
    """Implied volatilities, greeks and per-expiry SVI fits of an option chain (OPTION_CHAIN)."""
    chain = conform(chain, OPTION_CHAIN)
    ts = chain.column("ts").cast(pa.int64()).to_numpy()
    expiry = chain.column("expiry").cast(pa.int64()).to_numpy()
    spot = chain.column("underlying_price").to_numpy()
    strike = chain.column("strike").to_numpy()
    is_call = chain.column("is_call").to_numpy(zero_copy_only=False)
    mid = (chain.column("bid").to_numpy() + chain.column("ask").to_numpy()) / 2.0
    t = (expiry - ts) / (NS_PER_DAY * DAYS_PER_YEAR)
    forward = spot * np.exp((rate - dividend_yield) * t)
    k = np.log(strike / forward)
    solved = implied_volatility(mid, spot, strike, t, rate, dividend_yield, is_call)
    iv = solved.volatility
    greeks = black_scholes(spot, strike, t, rate, dividend_yield, iv, is_call)
    svi_iv = np.full(len(iv), np.nan)
    quoted = chain.column("bid").to_numpy() > 0
    smiles = _fit_smiles(chain, ts, expiry, t, k, iv, solved.reason, is_call, quoted, greeks.vega, svi_iv)
    ok = solved.reason == Reason.OK

    def masked(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=~ok | ~np.isfinite(values))

    options = chain.append_column("mid", pa.array(mid))
    for name, values in (("time_to_expiry", pa.array(t)), ("log_moneyness", pa.array(k)),
                         ("iv", masked(iv)), ("reason", pa.array(solved.reason.astype(np.int8))),
                         ("delta", masked(greeks.delta)), ("gamma", masked(greeks.gamma)),
                         ("vega", masked(greeks.vega)), ("theta", masked(greeks.theta)),
                         ("rho", masked(greeks.rho)),
                         ("svi_iv", pa.array(svi_iv, mask=~np.isfinite(svi_iv)))):
        options = options.append_column(name, values)
    return ChainAnalytics(conform(options, OPTION_ANALYTICS), smiles)


def _fit_smiles(
    chain: pa.Table,
    ts: np.ndarray,
    expiry: np.ndarray,
    t: np.ndarray,
    k: np.ndarray,
    iv: np.ndarray,
    reason: np.ndarray,
    is_call: np.ndarray,
    quoted: np.ndarray,
    vega: np.ndarray,
    svi_iv_out: np.ndarray,
) -> pa.Table:
    """One SVI fit per (symbol, expiry) on quoted out-of-the-money options, weighted by vega
    (a half-tick of noise moves a low-vega option's volatility most); fills ``svi_iv_out``."""
    symbols = chain.column("symbol").to_numpy(zero_copy_only=False)
    rows: list[dict] = []
    for symbol in sorted(set(symbols.tolist())):
        previous: SVIParams | None = None
        previous_t = 0.0
        for exp in np.unique(expiry[symbols == symbol]):
            group = (symbols == symbol) & (expiry == exp)
            # out-of-the-money side only: the liquid half, and no double counting of a strike
            use = group & quoted & (reason == Reason.OK) & np.isfinite(iv) & (is_call == (k >= 0))
            tt = float(t[group][0])
            if use.sum() < 5:
                continue
            params = calibrate_svi(k[use], iv[use] ** 2 * tt, weights=vega[use] / vega[use].max())
            fitted = svi_implied_vol(k[group], tt, params)
            svi_iv_out[group] = fitted
            grid = np.linspace(k[use].min(), k[use].max(), _CHECK_POINTS)
            butterfly_ok = bool((svi_butterfly_density(grid, params) >= -_ARBITRAGE_TOLERANCE).all())
            calendar_ok = previous is None or bool(
                (svi_total_variance(grid, params) - svi_total_variance(grid, previous) >= -_ARBITRAGE_TOLERANCE).all()
            )
            rmse = float(np.sqrt(np.mean((svi_implied_vol(k[use], tt, params) - iv[use]) ** 2)))
            rows.append({
                "ts": int(ts[group][0]), "symbol": symbol, "expiry": int(exp), "time_to_expiry": tt,
                "a": params.a, "b": params.b, "rho": params.rho, "m": params.m, "sigma": params.sigma,
                "points": int(use.sum()), "rmse_iv": rmse, "butterfly_ok": butterfly_ok,
                "calendar_ok": calendar_ok and tt > previous_t,
            })
            previous, previous_t = params, tt
    if not rows:
        return SVI_FITS.empty_table()
    table = pa.Table.from_pylist(rows)
    return conform(table.set_column(0, "ts", pc.cast(table.column("ts"), SVI_FITS.field("ts").type))
                   .set_column(2, "expiry", pc.cast(table.column("expiry"), SVI_FITS.field("expiry").type)), SVI_FITS)
