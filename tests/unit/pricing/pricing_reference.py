"""Arbitrary-precision (mpmath, 50 digits) reference formulas for the pricing tests."""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50


def bsm(spot, strike, expiry, rate, dividend_yield, vol, is_call):
    """Black-Scholes-Merton price and greeks (units as ``shriven.pricing.black_scholes``)."""
    s, k, t, r, q, v = (mp.mpf(float(a)) for a in (spot, strike, expiry, rate, dividend_yield, vol))
    w = 1 if is_call else -1
    sqt = mp.sqrt(t)
    d1 = (mp.log(s / k) + (r - q + v * v / 2) * t) / (v * sqt)
    d2 = d1 - v * sqt
    df = mp.exp(-r * t)
    dq = mp.exp(-q * t)
    big_n = mp.ncdf
    pdf = mp.npdf(d1)
    price = w * (s * dq * big_n(w * d1) - k * df * big_n(w * d2))
    vega = s * dq * pdf * sqt
    return {
        "price": price,
        "delta": w * dq * big_n(w * d1),
        "gamma": dq * pdf / (s * v * sqt),
        "vega": vega,
        "theta": -s * dq * pdf * v / (2 * sqt)
        - w * r * k * df * big_n(w * d2)
        + w * q * s * dq * big_n(w * d1),
        "rho": w * k * t * df * big_n(w * d2),
        "vanna": -dq * pdf * d2 / v,
        "volga": vega * d1 * d2 / v,
    }


def black76(forward, strike, expiry, rate, vol, is_call):
    """Black-76 price and greeks (delta in F, rho with F fixed)."""
    f, k, t, r, v = (mp.mpf(float(a)) for a in (forward, strike, expiry, rate, vol))
    w = 1 if is_call else -1
    sqt = mp.sqrt(t)
    d1 = (mp.log(f / k) + v * v * t / 2) / (v * sqt)
    d2 = d1 - v * sqt
    df = mp.exp(-r * t)
    pdf = mp.npdf(d1)
    price = w * df * (f * mp.ncdf(w * d1) - k * mp.ncdf(w * d2))
    vega = df * f * pdf * sqt
    return {
        "price": price,
        "delta": w * df * mp.ncdf(w * d1),
        "gamma": df * pdf / (f * v * sqt),
        "vega": vega,
        "theta": -df * f * pdf * v / (2 * sqt) + r * price,
        "rho": -t * price,
        "vanna": -df * pdf * d2 / v,
        "volga": vega * d1 * d2 / v,
    }
