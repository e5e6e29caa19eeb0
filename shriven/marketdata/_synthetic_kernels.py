"""Numba kernels of the synthetic exchange: GARCH factor paths and the per-symbol L2 book/trade loop.

Private: ``shriven.marketdata.synthetic`` draws the random inputs with numpy, validates and
preallocates, and calls these. Prices are integer ticks and sizes integer lots here; the caller
converts to quote currency and base units at the output.

Book model (one symbol, one session): each side holds exactly ``n_levels`` levels on contiguous
ticks from its touch (bid ``B, B-1, ...``; ask ``A, A+1, ...``; ``A - B >= 1``), so a side's
state is its touch price plus a size per level. Per event the kernel emits rows into preallocated
structured output arrays (``TRADE_DTYPE``, ``BOOK_DTYPE``):

- at the open and every ``snapshot_every_s`` seconds: a full snapshot (all rows share one seq);
- at every second boundary: re-centre on the fair price (removals first, then additions, so the
  book is never crossed after any single delta);
- per trade event: a marketable order fills at the touch in force, at most its touch size per
  fill; a depleted touch is removed (size 0), the next level becomes the touch and a new far level
  is added, all at the fill's timestamp; the remainder sweeps up to ``max_sweep_levels`` levels,
  one nanosecond apart;
- per book event: a size add/partial cancel on a random level, or a touch improvement inside a
  spread wider than the target (removing the far level to keep the depth).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Book side code of a bid level (equals ``shriven.schemas.BOOK_BID``).
SIDE_BID = 1
#: Book side code of an ask level (equals ``shriven.schemas.BOOK_ASK``).
SIDE_ASK = -1
#: Trade aggressor code: buyer lifted the offer (equals ``shriven.schemas.SIDE_BUY``).
AGGRESSOR_BUY = 1
#: Trade aggressor code: seller hit the bid (equals ``shriven.schemas.SIDE_SELL``).
AGGRESSOR_SELL = -1

#: Kernel status: the whole session was simulated.
STATUS_OK = 0
#: Kernel status: the book output buffer was too small; grow it and rerun (the run is deterministic).
STATUS_BOOK_FULL = 1
#: Kernel status: the trade output buffer was too small; grow it and rerun.
STATUS_TRADES_FULL = 2

NS_PER_SECOND = 1_000_000_000

#: One trade print (integer ticks and lots).
TRADE_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("trade_id", np.int64),
        ("price_ticks", np.int64),
        ("lots", np.int64),
        ("side", np.int8),
    ],
    align=True,
)
#: One L2 book row (integer ticks and lots); snapshot rows share their seq.
BOOK_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("seq", np.int64),
        ("price_ticks", np.int64),
        ("lots", np.int64),
        ("side", np.int8),
        ("is_snapshot", np.bool_),
    ],
    align=True,
)

# splitmix64 constants (the kernel's own generator for draws whose count depends on the path)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0

#: Touch-size target grows by this fraction per level away from the touch.
_DEPTH_SLOPE = 0.35
#: Lognormal sigma of a new level's size around its target.
_LEVEL_SIZE_SIGMA = 0.8
#: Geometric parameter picking the level of a random add/cancel (0 = the touch).
_LEVEL_PICK_P = 0.3
#: Probability that a book event improves the touch when the spread exceeds its target.
_IMPROVE_PROB = 0.6
#: Maximum buy probability skew from order-flow pressure toward the fair price.
_PRESSURE_SKEW = 0.4


@njit(cache=True, nogil=True, inline="always")
def _next_uniform(state):
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return (z >> _S11) * _INV_2_53


@njit(cache=True, nogil=True, inline="always")
def _next_normal(state):
    u1 = _next_uniform(state)
    u2 = _next_uniform(state)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True, inline="always")
def _level_target(depth_lots, level):
    return depth_lots * (1.0 + _DEPTH_SLOPE * level)


@njit(cache=True, nogil=True)
def _draw_level_lots(state, depth_lots, level):
    x = _level_target(depth_lots, level) * math.exp(_LEVEL_SIZE_SIGMA * _next_normal(state))
    lots = np.int64(x + 0.5)
    return lots if lots > 0 else np.int64(1)


@njit(cache=True, nogil=True)
def garch_path(
    eps, eta, alpha, beta, regime_phi, regime_sigma, impulse, n_burn, out_shock, out_var
):
    """Unit-variance shocks from GARCH(1,1) times a slow log-normal volatility regime.

    ``h' = (1-a-b) + a h eps^2 + b h + impulse`` is the GARCH variance (mean 1); the regime is
    ``m = exp(s x - s^2 / 2)`` with ``x`` a unit AR(1) (``x' = phi x + sqrt(1 - phi^2) eta``), also
    mean 1 and independent of ``h``. ``eps`` and ``eta`` hold ``n_burn + n`` standard normals; the
    first ``n_burn`` steps only warm the state up. Writes ``z = sqrt(m h) eps`` and ``m h`` of the
    last ``n`` steps.
    """
    omega = 1.0 - alpha - beta
    shrink = math.sqrt(1.0 - regime_phi * regime_phi)
    half_var = 0.5 * regime_sigma * regime_sigma
    h = 1.0
    x = eta[0]
    for k in range(eps.size):
        e2 = eps[k] * eps[k]
        t = k - n_burn
        if t >= 0:
            var = h * math.exp(regime_sigma * x - half_var)
            out_shock[t] = math.sqrt(var) * eps[k]
            out_var[t] = var
            h = omega + alpha * h * e2 + beta * h + impulse[t]
        else:
            h = omega + alpha * h * e2 + beta * h
        if k + 1 < eta.size:
            x = regime_phi * x + shrink * eta[k + 1]


@njit(cache=True, nogil=True, inline="always")
def _emit(book, nb, ts, seq, side, px, lots, snap):
    row = book[nb]
    row.ts = ts
    row.seq = seq
    row.side = side
    row.price_ticks = px
    row.lots = lots
    row.is_snapshot = snap


@njit(cache=True, nogil=True)
def _snapshot(book, nb, seq, ts, bid, bid_sz, ask, ask_sz, n_levels):
    for j in range(n_levels):
        _emit(book, nb, ts, seq, SIDE_BID, bid - j, bid_sz[j], True)
        nb += 1
    for j in range(n_levels):
        _emit(book, nb, ts, seq, SIDE_ASK, ask + j, ask_sz[j], True)
        nb += 1
    return nb


@njit(cache=True, nogil=True)
def _recentre(
    book, nb, seq, ts, bid, bid_sz, ask, ask_sz, new_bid, new_ask, n_levels, tmp, state, depth_lots
):
    """Move both sides to touches ``new_bid < new_ask``; returns ``(nb, seq)``. Removals go first."""
    # removals: old bid prices outside [new_bid - L + 1, new_bid], old asks outside [new_ask, new_ask + L - 1]
    for j in range(n_levels):
        px = bid - j
        if px > new_bid or px <= new_bid - n_levels:
            _emit(book, nb, ts, seq, SIDE_BID, px, 0, False)
            nb += 1
            seq += 1
    for j in range(n_levels):
        px = ask + j
        if px < new_ask or px >= new_ask + n_levels:
            _emit(book, nb, ts, seq, SIDE_ASK, px, 0, False)
            nb += 1
            seq += 1
    # additions: keep the sizes of prices present before, draw the new ones
    for j in range(n_levels):
        old = bid - (new_bid - j)
        if 0 <= old < n_levels:
            tmp[j] = bid_sz[old]
        else:
            tmp[j] = _draw_level_lots(state, depth_lots, j)
            _emit(book, nb, ts, seq, SIDE_BID, new_bid - j, tmp[j], False)
            nb += 1
            seq += 1
    for j in range(n_levels):
        bid_sz[j] = tmp[j]
    for j in range(n_levels):
        old = (new_ask + j) - ask
        if 0 <= old < n_levels:
            tmp[j] = ask_sz[old]
        else:
            tmp[j] = _draw_level_lots(state, depth_lots, j)
            _emit(book, nb, ts, seq, SIDE_ASK, new_ask + j, tmp[j], False)
            nb += 1
            seq += 1
    for j in range(n_levels):
        ask_sz[j] = tmp[j]
    return nb, seq


@njit(cache=True, nogil=True)
def simulate_symbol_day(
    fair_ticks,
    spread_ticks,
    event_count,
    event_offset_ns,
    event_is_trade,
    trade_lots,
    trade_side_u,
    n_levels,
    snapshot_every_s,
    depth_lots,
    max_sweep_levels,
    min_bid_ticks,
    seed,
    session_open_ns,
    id_base,
    trades,
    book,
):
    """Simulate one symbol's session; returns ``(n_trades, n_book, status)``.

    Inputs, all per second ``t`` of the session unless noted: ``fair_ticks[t]`` fair price in ticks
    at the boundary opening second ``t`` (length ``n + 1``), ``spread_ticks[t]`` target spread,
    ``event_count[t]`` number of events in the second; per event (flattened in time order):
    ``event_offset_ns`` offset in its second (spaced at least ``max_sweep_levels`` ns apart),
    ``event_is_trade``; per trade event: ``trade_lots`` order size, ``trade_side_u`` a uniform
    deciding the aggressor. ``seed`` seeds the kernel's own generator (new level sizes, book events).
    Trade ids and seqs count from ``id_base``. A fill that would push the bid below
    ``min_bid_ticks`` (deepest level) is refused so prices stay positive.
    """
    n_sec = spread_ticks.size
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed)
    bid_sz = np.empty(n_levels, np.int64)
    ask_sz = np.empty(n_levels, np.int64)
    tmp = np.empty(n_levels, np.int64)
    nt = 0
    nb = 0
    seq = id_base
    trade_cap = trades.size
    book_cap = book.size

    # opening book around the fair price
    s0 = spread_ticks[0]
    bid = np.int64(math.floor(fair_ticks[0] - 0.5 * s0 + 0.5))
    ask = bid + s0
    for j in range(n_levels):
        bid_sz[j] = _draw_level_lots(state, depth_lots, j)
        ask_sz[j] = _draw_level_lots(state, depth_lots, j)

    ev = 0
    tr = 0
    for t in range(n_sec):
        n_ev = event_count[t]
        need = 6 * n_levels + n_ev * (2 * max_sweep_levels + 2)
        if nb + need > book_cap:
            return nt, nb, STATUS_BOOK_FULL
        if nt + n_ev * max_sweep_levels > trade_cap:
            return nt, nb, STATUS_TRADES_FULL
        sec_ns = session_open_ns + t * NS_PER_SECOND
        s = spread_ticks[t]
        if t > 0:
            # smallest move of the quotes that puts the fair price inside a target-width spread
            f = fair_ticks[t]
            lo = np.int64(math.ceil(f - s))
            hi = np.int64(math.floor(f))
            new_bid = min(max(bid, lo), hi)
            if new_bid - n_levels + 1 < min_bid_ticks:
                new_bid = min_bid_ticks + n_levels - 1
            if new_bid != bid or ask - bid != s:
                nb, seq = _recentre(
                    book,
                    nb,
                    seq,
                    sec_ns,
                    bid,
                    bid_sz,
                    ask,
                    ask_sz,
                    new_bid,
                    new_bid + s,
                    n_levels,
                    tmp,
                    state,
                    depth_lots,
                )
                bid = new_bid
                ask = new_bid + s
        if t % snapshot_every_s == 0:
            nb = _snapshot(book, nb, seq, sec_ns, bid, bid_sz, ask, ask_sz, n_levels)
            seq += 1
        fair_next = fair_ticks[t + 1]
        for _ in range(n_ev):
            ts = sec_ns + event_offset_ns[ev]
            if event_is_trade[ev]:
                spread = ask - bid
                pressure = (fair_next - 0.5 * (ask + bid)) / max(0.5 * spread, 1.0)
                p_buy = 0.5 + _PRESSURE_SKEW * math.tanh(pressure)
                remaining = trade_lots[tr]
                if trade_side_u[tr] < p_buy:
                    for k in range(max_sweep_levels):
                        fill = min(remaining, ask_sz[0])
                        tk = trades[nt]
                        tk.ts = ts + k
                        tk.trade_id = id_base + nt
                        tk.price_ticks = ask
                        tk.lots = fill
                        tk.side = AGGRESSOR_BUY
                        nt += 1
                        ask_sz[0] -= fill
                        remaining -= fill
                        _emit(book, nb, ts + k, seq, SIDE_ASK, ask, ask_sz[0], False)
                        nb += 1
                        seq += 1
                        if ask_sz[0] > 0:
                            break
                        for j in range(n_levels - 1):
                            ask_sz[j] = ask_sz[j + 1]
                        ask += 1
                        ask_sz[n_levels - 1] = _draw_level_lots(state, depth_lots, n_levels - 1)
                        _emit(
                            book,
                            nb,
                            ts + k,
                            seq,
                            SIDE_ASK,
                            ask + n_levels - 1,
                            ask_sz[n_levels - 1],
                            False,
                        )
                        nb += 1
                        seq += 1
                        if remaining == 0:
                            break
                else:
                    for k in range(max_sweep_levels):
                        can_deplete = bid - n_levels >= min_bid_ticks
                        fill = min(remaining, bid_sz[0] if can_deplete else bid_sz[0] - 1)
                        if fill <= 0:
                            break
                        tk = trades[nt]
                        tk.ts = ts + k
                        tk.trade_id = id_base + nt
                        tk.price_ticks = bid
                        tk.lots = fill
                        tk.side = AGGRESSOR_SELL
                        nt += 1
                        bid_sz[0] -= fill
                        remaining -= fill
                        _emit(book, nb, ts + k, seq, SIDE_BID, bid, bid_sz[0], False)
                        nb += 1
                        seq += 1
                        if bid_sz[0] > 0:
                            break
                        for j in range(n_levels - 1):
                            bid_sz[j] = bid_sz[j + 1]
                        bid -= 1
                        bid_sz[n_levels - 1] = _draw_level_lots(state, depth_lots, n_levels - 1)
                        _emit(
                            book,
                            nb,
                            ts + k,
                            seq,
                            SIDE_BID,
                            bid - n_levels + 1,
                            bid_sz[n_levels - 1],
                            False,
                        )
                        nb += 1
                        seq += 1
                        if remaining == 0:
                            break
                tr += 1
            else:
                is_bid = _next_uniform(state) < 0.5
                if ask - bid > s and _next_uniform(state) < _IMPROVE_PROB:
                    # a new best level inside the spread; the far level leaves to keep the depth
                    new_lots = _draw_level_lots(state, depth_lots, 0)
                    if is_bid:
                        _emit(book, nb, ts, seq, SIDE_BID, bid - n_levels + 1, 0, False)
                        nb += 1
                        seq += 1
                        for j in range(n_levels - 1, 0, -1):
                            bid_sz[j] = bid_sz[j - 1]
                        bid += 1
                        bid_sz[0] = new_lots
                        _emit(book, nb, ts, seq, SIDE_BID, bid, new_lots, False)
                    else:
                        _emit(book, nb, ts, seq, SIDE_ASK, ask + n_levels - 1, 0, False)
                        nb += 1
                        seq += 1
                        for j in range(n_levels - 1, 0, -1):
                            ask_sz[j] = ask_sz[j - 1]
                        ask -= 1
                        ask_sz[0] = new_lots
                        _emit(book, nb, ts, seq, SIDE_ASK, ask, new_lots, False)
                    nb += 1
                    seq += 1
                else:
                    level = np.int64(
                        math.log(1.0 - _next_uniform(state)) / math.log(1.0 - _LEVEL_PICK_P)
                    )
                    if level >= n_levels:
                        level = n_levels - 1
                    size = bid_sz[level] if is_bid else ask_sz[level]
                    target = _level_target(depth_lots, level)
                    step = np.int64(target * 0.25 * -math.log(1.0 - _next_uniform(state)) + 0.5)
                    step = max(step, np.int64(1))
                    if _next_uniform(state) * (target + size) < target or size == 1:
                        size += step
                    else:
                        size = max(size - step, np.int64(1))
                    if is_bid:
                        bid_sz[level] = size
                        _emit(book, nb, ts, seq, SIDE_BID, bid - level, size, False)
                    else:
                        ask_sz[level] = size
                        _emit(book, nb, ts, seq, SIDE_ASK, ask + level, size, False)
                    nb += 1
                    seq += 1
            ev += 1
    return nt, nb, STATUS_OK
