"""A synthetic option chain tied to the synthetic underlying: smiles from SVI, quotes on a tick.

Each underlying's chain is quoted at the session close of a day, around that day's close. The
at-the-money volatility is the symbol's configured volatility, lifted for short expiries and by
the day's move; the smile is raw SVI with the configured skew (rho), so the analytics have a
known truth to recover. Quotes are the model price widened by a spread and rounded to 0.01.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from shriven.config import Settings
from shriven.pricing.black_scholes import black_scholes_prices
from shriven.pricing.svi import SVIParams, svi_implied_vol
from shriven.schemas import OPTION_CHAIN, TIMESTAMP

NS_PER_DAY = 86_400_000_000_000
#: Year fraction convention of the whole options layer (ACT/365).
DAYS_PER_YEAR = 365.0
#: Option price tick.
PRICE_TICK = 0.01
#: SVI sigma (smile curvature width in log-moneyness) of the synthetic smiles.
_SMILE_WIDTH = 0.15


def strike_step(spot: float) -> float:
    """Listed strike spacing for an underlying price (0.5 below 50, 1 below 200, else 5)."""
    return 0.5 if spot < 50 else (1.0 if spot < 200 else 5.0)


def true_smile(atm_vol: float, expiry_years: float, skew: float) -> SVIParams:
    """The synthetic raw-SVI smile of one expiry: total variance atm_vol^2 T at the money."""
    b = 0.5 * atm_vol * math.sqrt(expiry_years)
    a = atm_vol**2 * expiry_years - b * _SMILE_WIDTH
    return SVIParams(a=a, b=b, rho=skew, m=0.0, sigma=_SMILE_WIDTH)


def synthetic_chain(closes: pa.Table, settings: Settings) -> pa.Table:
    """Option quotes (OPTION_CHAIN) for each row of daily bars (``bars_1d``: ts, symbol, open, close)."""
    cfg = settings.options
    close_s = settings.synthetic.session_bounds_s()[1]
    columns: dict[str, list] = {name: [] for name in OPTION_CHAIN.names}
    for row in closes.select(["ts", "symbol", "open", "close"]).to_pylist():
        spot = float(row["close"])
        quote_ns = int(pa.scalar(row["ts"], TIMESTAMP).value) // NS_PER_DAY * NS_PER_DAY + close_s * 1_000_000_000
        symbol_vol = settings.symbol(row["symbol"]).volatility
        day_move = abs(math.log(spot / float(row["open"])))
        step = strike_step(spot)
        strikes = np.unique(
            np.round(np.linspace(cfg.moneyness_low, cfg.moneyness_high, cfg.strikes_per_expiry) * spot / step) * step
        )
        for days in cfg.expiries_days:
            t = days / DAYS_PER_YEAR
            atm = symbol_vol * (1.0 + 0.15 * math.exp(-t / 0.1)) * (1.0 + 2.0 * day_move)
            forward = spot * math.exp((cfg.rate - cfg.dividend_yield) * t)
            vols = svi_implied_vol(np.log(strikes / forward), t, true_smile(atm, t, cfg.skew))
            for is_call in (True, False):
                prices = black_scholes_prices(spot, strikes, t, cfg.rate, cfg.dividend_yield, vols, is_call).price
                half = np.maximum(0.5 * PRICE_TICK, 0.01 * prices)
                bid = np.maximum(np.floor((prices - half) / PRICE_TICK), 0.0) * PRICE_TICK
                ask = np.maximum(np.ceil((prices + half) / PRICE_TICK), 1.0) * PRICE_TICK
                n = len(strikes)
                columns["ts"] += [quote_ns] * n
                columns["symbol"] += [row["symbol"]] * n
                columns["expiry"] += [quote_ns + days * NS_PER_DAY] * n
                columns["strike"] += strikes.tolist()
                columns["is_call"] += [is_call] * n
                columns["bid"] += np.round(bid, 2).tolist()
                columns["ask"] += np.round(ask, 2).tolist()
                columns["underlying_price"] += [spot] * n
    return pa.table(
        {name: pa.array(values, type=OPTION_CHAIN.field(name).type) for name, values in columns.items()},
        schema=OPTION_CHAIN,
    )
