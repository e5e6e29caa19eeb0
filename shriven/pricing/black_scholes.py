"""European options: Black-Scholes-Merton (spot, continuous dividend yield q) and Black-76 (forward).

Conventions (all inputs in decimal units, time in years, continuous compounding):

=========  ===============================================================================
price      option value in the currency of spot / strike
delta      dV/dS (BSM) or dV/dF (Black-76)
gamma      d2V/dS2 (BSM) or d2V/dF2 (Black-76)
vega       dV/dsigma per 1.00 of volatility (divide by 100 for "per vol point")
theta      -dV/dT per year: the change of value as calendar time passes, everything else
           fixed (divide by 365 for a per-day figure); for Black-76 the forward is held fixed
rho        dV/dr per 1.00 of rate (divide by 100 for "per 1%"); BSM holds spot and q fixed,
           Black-76 holds the forward fixed, so its rho is -T * price
vanna      d2V/dS dsigma (BSM) or d2V/dF dsigma (Black-76), per 1.00 of volatility
volga      d2V/dsigma2 per 1.00 of volatility squared (also called vomma)
=========  ===============================================================================

With ``F = S exp((r - q) T)`` both models give the same price, and Black-76 greeks in F are
the BSM greeks in S rescaled by dS/dF.

When ``sigma * sqrt(T) == 0`` the outputs are the deterministic limits: the discounted
intrinsic value of the forward, delta a step (one half exactly at the strike), gamma, vega,
vanna and volga 0.

The vectorised functions (``black_scholes``, ``black76``, and the ``*_prices`` variants)
broadcast their inputs like numpy, never raise on a bad element and return NaN plus a
``Reason`` code for it: ``reason == OK`` exactly where every output is finite (valid inputs so
extreme that an output overflows, e.g. rate * expiry = 1e300, give ``OUT_OF_RANGE``). The scalar functions (``bsm_price``, ``bsm_greeks``, ``black76_price``,
``black76_greeks``) raise ``ValueError`` naming the reason.

Pricing the same book again and again (a risk refresh on every tick), pass ``out=GreeksBuffer(n)``
to ``black_scholes``/``black76``: the results are written into it instead of fresh arrays, which
saves the operating system zeroing 65 bytes of new memory per option (about a third of the cost
of the kernel itself). The returned arrays are views of the buffer, overwritten by its next use.

Without ``out`` the nine result arrays of a large book (from ``POOL_MIN_OPTIONS`` options) are
views of one 2 MB-aligned block (huge pages: few page faults), and the module keeps the blocks
of its last two such results: a later call reuses one whose arrays are all gone (no reference
to the block but the module's own), instead of faulting in and zeroing new memory. The result
arrays are then fresh in every observable way (no live array shares their memory); the cost is
that up to two blocks (65 bytes per option) stay allocated after their results are dropped,
until a call of another size replaces them or ``release_output_memory()`` frees them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from shriven.pricing import _kernels as _k
from shriven.pricing._inputs import broadcast_inputs
from shriven.pricing.reasons import raise_for

__all__ = [
    "Greeks",
    "GreeksBuffer",
    "OptionResult",
    "PriceResult",
    "black76",
    "black76_greeks",
    "black76_price",
    "black76_prices",
    "black_scholes",
    "black_scholes_prices",
    "bsm_greeks",
    "bsm_price",
    "release_output_memory",
]


@dataclass(frozen=True, slots=True)
class OptionResult:
    """Prices and greeks of an array of options (units in the module docstring).

    Every array has the broadcast shape of the inputs; ``reason`` holds ``Reason`` codes (int8)
    and the float arrays are NaN where ``reason != Reason.OK``.
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray
    vanna: np.ndarray
    volga: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True, slots=True)
class PriceResult:
    """Prices of an array of options, NaN where ``reason != Reason.OK``."""

    price: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and greeks of one option (units in the module docstring)."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float
    vanna: float
    volga: float


class GreeksBuffer:
    """Output memory for the prices and greeks of ``size`` options, reused across calls."""

    __slots__ = ("reason", "values")

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"GreeksBuffer: size must be >= 0, got {size}")
        self.values = np.empty((_k.N_GREEKS, size))
        self.reason = np.empty(size, dtype=np.int8)

    @property
    def size(self) -> int:
        """How many options the buffer holds."""
        return int(self.reason.shape[0])


#: Results of at least this many options use the recycled output blocks (module docstring);
#: below it (under 4 MB) the allocator's own free lists keep the memory in the process.
POOL_MIN_OPTIONS = 65_536
_HUGE_PAGE = 2 << 20
_BYTES_PER_OPTION = 8 * _k.N_GREEKS + 1
#: The recycled blocks (raw uint8 arrays), newest last; at most ``_POOL_SLOTS``.
_pool: list[np.ndarray] = []
_POOL_SLOTS = 2
_pool_lock = threading.Lock()
#: References to a block that no result holds: the pool list, the local name, the argument of
#: ``sys.getrefcount``.
_IDLE_REFS = 3
#: Recycling trusts reference counts, so only where a GIL makes them exact (not free-threaded).
_POOL_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()


def _block_arrays(raw: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    # The (N_GREEKS, n) float64 values and the n int8 reasons inside a block, from its first
    # 2 MB boundary (the block is allocated one huge page longer than needed).
    start = -raw.ctypes.data % _HUGE_PAGE
    values = raw[start : start + 8 * _k.N_GREEKS * n].view(np.float64).reshape(_k.N_GREEKS, n)
    reason = raw[start + 8 * _k.N_GREEKS * n : start + _BYTES_PER_OPTION * n].view(np.int8)
    return values, reason


def _take_idle_block(nbytes: int) -> np.ndarray | None:
    with _pool_lock:
        for i in range(len(_pool)):
            raw = _pool[i]
            if raw.shape[0] == nbytes and sys.getrefcount(raw) == _IDLE_REFS:
                # Newest last again: the block is in use until its result is dropped.
                _pool.append(_pool.pop(i))
                return raw
    return None


def _fresh_outputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Output arrays for ``n`` options that no live array shares (module docstring: reuse)."""
    if n < POOL_MIN_OPTIONS or not _POOL_ENABLED:
        buffer = GreeksBuffer(n)
        return buffer.values, buffer.reason
    nbytes = _BYTES_PER_OPTION * n + _HUGE_PAGE
    raw = _take_idle_block(nbytes)
    if raw is None:
        raw = np.empty(nbytes, dtype=np.uint8)
        with _pool_lock:
            _pool.append(raw)
            del _pool[:-_POOL_SLOTS]
    return _block_arrays(raw, n)


def release_output_memory() -> None:
    """Forget the recycled output blocks, so memory of dropped results goes back to the OS."""
    with _pool_lock:
        _pool.clear()


def _greeks(
    underlying: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    forward_model: bool,
    buffer: GreeksBuffer | None = None,
) -> OptionResult:
    shape, (u, k, t, r, q, v), c = broadcast_inputs(
        (underlying, strike, expiry, rate, carry, volatility), is_call
    )
    n = u.shape[0]
    if buffer is None:
        out, reason = _fresh_outputs(n)
    elif buffer.size != n:
        raise ValueError(f"out: a GreeksBuffer of {n} options is needed, got {buffer.size}")
    else:
        out, reason = buffer.values, buffer.reason
    _k.bs_greeks_kernel(u, k, t, r, q, v, c, forward_model, out, reason)
    # One reshape, then a view per row (``...`` keeps 0-d arrays 0-d arrays, not scalars).
    rows = out.reshape((_k.N_GREEKS, *shape))
    return OptionResult(
        price=rows[_k.G_PRICE, ...],
        delta=rows[_k.G_DELTA, ...],
        gamma=rows[_k.G_GAMMA, ...],
        vega=rows[_k.G_VEGA, ...],
        theta=rows[_k.G_THETA, ...],
        rho=rows[_k.G_RHO, ...],
        vanna=rows[_k.G_VANNA, ...],
        volga=rows[_k.G_VOLGA, ...],
        reason=reason.reshape(shape),
    )


def price_with_kernel(
    kernel: Callable[..., None], values: tuple[ArrayLike, ...], is_call: ArrayLike, *options: object
) -> PriceResult:
    """Broadcast the six inputs (underlying, strike, expiry, rate, carry, vol), run a price-only
    kernel ``kernel(u, k, t, r, q, v, is_call, *options, out, reason)`` and shape its result."""
    shape, (u, k, t, r, q, v), c = broadcast_inputs(values, is_call)
    out = np.empty(u.shape[0])
    reason = np.empty(u.shape[0], dtype=np.int8)
    kernel(u, k, t, r, q, v, c, *options, out, reason)
    return PriceResult(price=out.reshape(shape), reason=reason.reshape(shape))


def _prices(
    underlying: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    forward_model: bool,
) -> PriceResult:
    values = (underlying, strike, expiry, rate, carry, volatility)
    return price_with_kernel(_k.bs_price_kernel, values, is_call, forward_model)


def black_scholes(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    out: GreeksBuffer | None = None,
) -> OptionResult:
    """Black-Scholes-Merton prices and greeks, vectorised with numpy broadcasting.

    Parameters
    ----------
    spot, strike
        Spot price and strike, > 0.
    expiry
        Time to expiry in years, >= 0.
    rate, dividend_yield
        Continuously compounded risk-free rate and dividend (or foreign-rate) yield.
    volatility
        Black-Scholes volatility (annualised, decimal), >= 0.
    is_call
        True for calls, False for puts.
    out
        Optional ``GreeksBuffer`` of the broadcast size to write into (see the module docstring).
    """
    return _greeks(spot, strike, expiry, rate, dividend_yield, volatility, is_call, False, out)


def black_scholes_prices(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend_yield: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
) -> PriceResult:
    """Black-Scholes-Merton prices only (arguments as ``black_scholes``)."""
    return _prices(spot, strike, expiry, rate, dividend_yield, volatility, is_call, False)


def black76(
    forward: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
    out: GreeksBuffer | None = None,
) -> OptionResult:
    """Black-76 prices and greeks of options on a forward, discounted at ``rate``.

    Delta, gamma and vanna are with respect to the forward; rho holds the forward fixed.
    ``out`` as in ``black_scholes``.
    """
    return _greeks(forward, strike, expiry, rate, 0.0, volatility, is_call, True, out)


def black76_prices(
    forward: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    is_call: ArrayLike,
) -> PriceResult:
    """Black-76 prices only (arguments as ``black76``)."""
    return _prices(forward, strike, expiry, rate, 0.0, volatility, is_call, True)


def _scalar_greeks(result: OptionResult, what: str) -> Greeks:
    raise_for(int(result.reason[()]), what)
    return Greeks(
        price=float(result.price[()]),
        delta=float(result.delta[()]),
        gamma=float(result.gamma[()]),
        vega=float(result.vega[()]),
        theta=float(result.theta[()]),
        rho=float(result.rho[()]),
        vanna=float(result.vanna[()]),
        volga=float(result.volga[()]),
    )


def _check_scalar(values: tuple[object, ...], what: str) -> None:
    for value in values:
        if np.ndim(value) != 0:
            raise ValueError(f"{what}: scalar inputs expected, use the vectorised function")


def bsm_price(
    spot: float,
    strike: float,
    expiry: float,
    rate: float,
    dividend_yield: float,
    volatility: float,
    is_call: bool,
) -> float:
    """Black-Scholes-Merton price of one option; ``ValueError`` naming the reason if invalid."""
    args = (spot, strike, expiry, rate, dividend_yield, volatility, is_call)
    _check_scalar(args, "bsm_price")
    result = _prices(*args, forward_model=False)
    raise_for(int(result.reason[()]), "bsm_price")
    return float(result.price[()])


def bsm_greeks(
    spot: float,
    strike: float,
    expiry: float,
    rate: float,
    dividend_yield: float,
    volatility: float,
    is_call: bool,
) -> Greeks:
    """Black-Scholes-Merton price and greeks of one option; ``ValueError`` if invalid."""
    args = (spot, strike, expiry, rate, dividend_yield, volatility, is_call)
    _check_scalar(args, "bsm_greeks")
    return _scalar_greeks(_greeks(*args, forward_model=False), "bsm_greeks")


def black76_price(
    forward: float, strike: float, expiry: float, rate: float, volatility: float, is_call: bool
) -> float:
    """Black-76 price of one option; ``ValueError`` naming the reason if invalid."""
    args = (forward, strike, expiry, rate, volatility, is_call)
    _check_scalar(args, "black76_price")
    result = black76_prices(*args)
    raise_for(int(result.reason[()]), "black76_price")
    return float(result.price[()])


def black76_greeks(
    forward: float, strike: float, expiry: float, rate: float, volatility: float, is_call: bool
) -> Greeks:
    """Black-76 price and greeks of one option; ``ValueError`` naming the reason if invalid."""
    args = (forward, strike, expiry, rate, volatility, is_call)
    _check_scalar(args, "black76_greeks")
    return _scalar_greeks(black76(*args), "black76_greeks")
