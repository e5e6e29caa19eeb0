"""Arrival-order checks of validation in one pass (numba): duplicate trade ids and out-of-order times."""

from __future__ import annotations

import numpy as np
from numba import njit

_NONE = np.iinfo(np.int64).min


@njit(cache=True, nogil=True)
def ids_rise_per_symbol(codes: np.ndarray, n_codes: int, trade_id: np.ndarray, ok: np.ndarray) -> bool:
    """True when, among ok rows, each symbol's trade ids strictly rise: then no id repeats."""
    last = np.full(n_codes, _NONE, dtype=np.int64)
    seen = np.zeros(n_codes, dtype=np.bool_)
    for i in range(codes.shape[0]):
        if not ok[i]:
            continue
        c = codes[i]
        if seen[c] and trade_id[i] <= last[c]:
            return False
        seen[c] = True
        last[c] = trade_id[i]
    return True


@njit(cache=True, nogil=True)
def out_of_order(codes: np.ndarray, n_codes: int, ts: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Flags ok rows whose time is earlier than an earlier ok row's time of the same symbol."""
    n = codes.shape[0]
    flags = np.zeros(n, dtype=np.bool_)
    high = np.full(n_codes, _NONE, dtype=np.int64)
    seen = np.zeros(n_codes, dtype=np.bool_)
    for i in range(n):
        if not ok[i]:
            continue
        c = codes[i]
        if seen[c] and ts[i] < high[c]:
            flags[i] = True
            continue
        seen[c] = True
        if ts[i] > high[c]:
            high[c] = ts[i]
    return flags
