"""The compiled risk check over arrays: for batch checks and for compiled event loops.

A compiled loop takes :meth:`RiskEngine.kernel_state` once and then calls, from its own njit
function, ``shriven.risk._kernels.check_order(lim, sym, acc, par, ist, ring, symbol, side,
order_type, quantity, price, ts, reduce_only) -> int`` per order and the ``on_mark``,
``on_position``, ``on_order_opened`` and ``on_order_reduced`` helpers as its state moves
(equity: write ``acc[A_BUYING_POWER]`` and the ``ist`` breach flags). :func:`check_batch` is
the same check from Python over an ``ORDER_DTYPE`` array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shriven.model.records import OrderRequest
from shriven.risk import _kernels as k
from shriven.risk._kernels import ORDER_DTYPE
from shriven.risk.engine import RiskKernelState

__all__ = ["ORDER_DTYPE", "check_batch", "orders_array"]


def orders_array(requests: Sequence[OrderRequest], symbols: Sequence[str]) -> np.ndarray:
    """Requests as an ``ORDER_DTYPE`` array (unknown symbol -1, market/missing price NaN)."""
    index = {s: i for i, s in enumerate(symbols)}
    out = np.zeros(len(requests), dtype=ORDER_DTYPE)
    for i, r in enumerate(requests):
        out[i] = (
            r.ts,
            r.quantity,
            math.nan if r.price is None else r.price,
            index.get(r.symbol, -1),
            int(r.side) if 0 <= int(r.side) <= 127 else 0,
            int(r.order_type) if 0 <= int(r.order_type) <= 127 else 0,
            1 if r.reduce_only else 0,
        )
    return out


def check_batch(state: RiskKernelState, orders: np.ndarray) -> np.ndarray:
    """Reasons (``RiskReason`` ints, int8) of ``orders`` checked in turn; passes enter the rate window.

    ``state`` is updated in place (the rate window), as :meth:`RiskEngine.check` updates itself.
    """
    if orders.dtype != ORDER_DTYPE:
        raise TypeError(f"orders must have ORDER_DTYPE, got {orders.dtype}")
    out = np.empty(orders.shape[0], dtype=np.int8)
    k.check_orders(state.lim, state.sym, state.acc, state.par, state.ist, state.ring, orders, out)
    return out
