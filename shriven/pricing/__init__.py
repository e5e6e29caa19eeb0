"""Options pricing: BSM and Black-76 with greeks, implied volatility, American options, SVI.

Vectorised functions take numpy arrays (broadcast like numpy), run numba kernels in parallel
and return frozen result objects whose ``reason`` array holds a ``Reason`` code per element (NaN
outputs where it is not ``OK``); scalar functions raise ``ValueError`` naming the reason.
"""

from shriven.pricing.american import (
    BinomialConvergence,
    american_price,
    barone_adesi_whaley,
    binomial_convergence,
    binomial_tree,
)
from shriven.pricing.black_scholes import (
    Greeks,
    GreeksBuffer,
    OptionResult,
    PriceResult,
    black76,
    black76_greeks,
    black76_price,
    black76_prices,
    black_scholes,
    black_scholes_prices,
    bsm_greeks,
    bsm_price,
    release_output_memory,
)
from shriven.pricing.implied_vol import (
    ImpliedVolResult,
    implied_vol,
    implied_vol_black76,
    implied_volatility,
    implied_volatility_black76,
)
from shriven.pricing.reasons import Reason
from shriven.pricing.svi import (
    SVIParams,
    calibrate_svi,
    svi_butterfly_density,
    svi_implied_vol,
    svi_total_variance,
)

__all__ = [
    "BinomialConvergence",
    "Greeks",
    "ImpliedVolResult",
    "GreeksBuffer",
    "OptionResult",
    "PriceResult",
    "Reason",
    "SVIParams",
    "american_price",
    "barone_adesi_whaley",
    "binomial_convergence",
    "binomial_tree",
    "black76",
    "black76_greeks",
    "black76_price",
    "black76_prices",
    "black_scholes",
    "black_scholes_prices",
    "bsm_greeks",
    "bsm_price",
    "calibrate_svi",
    "release_output_memory",
    "implied_vol",
    "implied_vol_black76",
    "implied_volatility",
    "implied_volatility_black76",
    "svi_butterfly_density",
    "svi_implied_vol",
    "svi_total_variance",
]
