"""Numba kernels of the simulated venue (private; ``shriven.venue.simulated`` wraps them).

One instrument. Prices are integer ticks, sizes float base units. All state lives in arrays the
wrapper allocates, so every kernel can stop (buffer full) and resume where it stopped:

* ``feed``: ``FEED_DTYPE`` rows in exchange-time order (trades before book rows at equal time);
* two books on a dense tick window ``[base, base + n)``: the exchange's (``xq``/``xb``, at the
  matching engine's clock) and the strategy's view (``lq``/``lb``, ``feed_latency`` behind).
  ``q[s, i]`` is the size at tick ``base + i`` of side ``s`` (0 bid, 1 ask); ``b`` holds best
  bid index, best ask index, bid level count, ask level count;
* our resting orders, one row each in ``oi`` (int fields ``O_*``) and ``of`` (float fields
  ``F_*``), kept compact in arrival order; at most ``oi.shape[0]``;
* requests in flight to the exchange (``rq_i``/``rq_f``, a FIFO between ``S_RQ_HEAD`` and
  ``S_RQ_TAIL``): constant latency keeps them in arrival order;
* ``ev``: ``EVENT_DTYPE`` outcomes, ``st[S_N_EVENTS]`` of them;
* ``st`` (int state), ``acc`` (float account), ``par``/``fpar`` (int and float parameters).

The per-row and per-request helpers are ``inline="always"``: an ordinary call between njit
functions passes every array argument as a struct (with its reference count), which took some
40 % of the re-quoting loop (3.0 -> 5.2 M rows/s once inlined). The price is a cold compilation
of about a minute for ``advance`` + ``run_requote`` (``cache=True`` keeps it afterwards).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Feed row kinds. A book delta: ``qty`` is the level's size after it (0 removes the level).
FEED_BOOK = 1
#: A row of a full snapshot (not its first).
FEED_SNAPSHOT = 2
#: The first row of a snapshot message: the book is cleared, then the row applied.
FEED_SNAPSHOT_START = 3
#: A trade print at ``tick`` for ``qty``; ``side`` is the aggressor (1 buy, -1 sell, 0 unknown).
FEED_TRADE = 4

#: One feed row (book side 1 bid / -1 ask; trade side the aggressor).
FEED_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("tick", np.int64),
        ("qty", np.float64),
        ("kind", np.int8),
        ("side", np.int8),
    ],
    align=True,
)

#: One outcome: ``ts`` exchange time, ``ts_local`` when the strategy sees it; ``quantity`` is the
#: filled, accepted, canceled or modified-to size by ``kind`` (``shriven.book.orders.EventKind``);
#: ``reason`` a ``RejectReason`` on rejections, a ``CancelReason`` on cancels.
EVENT_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("ts_local", np.int64),
        ("order_id", np.int64),
        ("price", np.float64),
        ("quantity", np.float64),
        ("leaves_quantity", np.float64),
        ("fee", np.float64),
        ("kind", np.int8),
        ("side", np.int8),
        ("liquidity", np.int8),
        ("reason", np.int8),
    ],
    align=True,
)

# enum values (equal to shriven.book.orders; numba needs plain ints)
BUY = 1
SELL = 2
T_LIMIT = 1
T_MARKET = 2
T_IOC = 3
T_FOK = 4
T_POST_ONLY = 5
A_SUBMIT = 1
A_CANCEL = 2
A_MODIFY = 3
E_ACCEPTED = 1
E_REJECTED = 2
E_PARTIALLY_FILLED = 3
E_FILLED = 4
E_CANCELED = 5
E_MODIFIED = 6
E_CANCEL_REJECTED = 7
E_MODIFY_REJECTED = 8
L_MAKER = 1
L_TAKER = 2
R_POST_ONLY_WOULD_CROSS = 8
R_FOK_NOT_FILLABLE = 9
R_UNKNOWN_ORDER = 10
R_DUPLICATE_ORDER_ID = 11
R_BOOK_FULL = 14
C_REQUESTED = 1
C_IOC_REMAINDER = 2

#: Queue models (``VenueConfig.queue_model``).
QUEUE_RISK_AVERSE = 0
QUEUE_PROPORTIONAL = 1

#: Kernel status: done (reached the asked time / the end of the feed).
STATUS_OK = 0
#: The event buffer is full: drain or grow it, call again.
STATUS_EVENTS_FULL = 1
#: The request FIFO is full: grow it, call again.
STATUS_REQUESTS_FULL = 2

# int state
S_NOW = 0  #: the clock (ns): everything up to it has been processed
S_XCUR = 1  #: next feed row for the exchange book
S_LCUR = 2  #: next feed row for the strategy's view
S_RQ_HEAD = 3
S_RQ_TAIL = 4
S_N_EVENTS = 5
S_N_ORDERS = 6
S_XSNAP = 7  #: 1 while the exchange is inside a snapshot message (queues reconciled after it)
S_QUOTE_ID = 8  #: last order id used by the re-quoting loop (0: no quote yet)
S_MAKER_FILLS = 9
S_TAKER_FILLS = 10
N_STATE = 11
# float account
A_POSITION = 0
A_CASH = 1  #: cash from trades, fees excluded
A_FEES = 2  #: fees paid (negative: rebates received)
A_MAKER_QTY = 3
A_TAKER_QTY = 4
N_ACCOUNT = 5
# int parameters
P_BASE = 0
P_N = 1
P_FEED_LAT = 2
P_ORDER_LAT = 3
P_RESP_LAT = 4
P_QUEUE_MODEL = 5
P_FILLS_ONLY = 6  #: 1: only fills are written to the event buffer (fast paths)
N_PARAMS = 7
# float parameters
FP_UNITS = 0  #: tick size = FP_UNITS / FP_SCALE (exact decimal, so prices print exactly)
FP_SCALE = 1
FP_LOT = 2
FP_MAKER = 3
FP_TAKER = 4
N_FPARAMS = 5
# resting order fields
O_ID = 0
O_SIDE = 1
O_TICK = 2
O_TYPE = 3
N_OI = 4
F_LEAVES = 0
F_QUEUE = 1  #: displayed size ahead of the order in its level's queue
F_LEVEL = 2  #: the level's displayed size when the order last looked
F_TRADED = 3  #: traded at the order's price since the level's last update
N_OF = 4
# request fields
R_TS = 0  #: arrival time at the exchange
R_ACTION = 1
R_ID = 2
R_SIDE = 3
R_TYPE = 4
R_TICK = 5
R_REASON = 6  #: reject reason found at submission (0: valid)
N_RQ = 7

_BIG = np.int64(9_223_372_036_854_775_807)


def new_state() -> tuple[np.ndarray, np.ndarray]:
    """Fresh ``st`` and ``acc`` arrays."""
    return np.zeros(N_STATE, np.int64), np.zeros(N_ACCOUNT)


# -- books ----------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def clear_book(q, b):
    """Empty a book."""
    q[:, :] = 0.0
    b[0] = -1
    b[1] = q.shape[1]
    b[2] = 0
    b[3] = 0


@njit(cache=True, nogil=True, inline="always")
def _set_level(q, b, s, i, z):
    old = q[s, i]
    q[s, i] = z
    if s == 0:
        if old == 0.0:
            if z > 0.0:
                b[2] += 1
                if i > b[0]:
                    b[0] = i
        elif z == 0.0:
            b[2] -= 1
            if b[2] == 0:
                b[0] = -1
            elif i == b[0]:
                u = i - 1
                while q[0, u] == 0.0:
                    u -= 1
                b[0] = u
    else:
        if old == 0.0:
            if z > 0.0:
                b[3] += 1
                if i < b[1]:
                    b[1] = i
        elif z == 0.0:
            b[3] -= 1
            if b[3] == 0:
                b[1] = q.shape[1]
            elif i == b[1]:
                u = i + 1
                while q[1, u] == 0.0:
                    u += 1
                b[1] = u


@njit(cache=True, nogil=True, inline="always")
def _apply_book_row(feed, r, q, b, base):
    """Apply feed row ``r`` to a book if it is a book row; returns True if it was."""
    kind = feed[r].kind
    if kind == FEED_TRADE:
        return False
    if kind == FEED_SNAPSHOT_START:
        clear_book(q, b)
    z = feed[r].qty
    _set_level(q, b, 0 if feed[r].side == 1 else 1, feed[r].tick - base, z if z > 0.0 else 0.0)
    return True


@njit(cache=True, nogil=True, inline="always")
def _level(q, base, s, tick):
    i = tick - base
    if 0 <= i < q.shape[1]:
        return q[s, i]
    return 0.0


@njit(cache=True, nogil=True, inline="always")
def _px(fpar, tick):
    return (tick * fpar[FP_UNITS]) / fpar[FP_SCALE]


# -- events ---------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _emit(ev, st, par, ts, oid, kind, side, price, qty, leaves, fee, liq, reason):
    if par[P_FILLS_ONLY] and kind != E_FILLED and kind != E_PARTIALLY_FILLED:
        return
    e = ev[st[S_N_EVENTS]]
    e.ts = ts
    e.ts_local = ts + par[P_RESP_LAT]
    e.order_id = oid
    e.price = price
    e.quantity = qty
    e.leaves_quantity = leaves
    e.fee = fee
    e.kind = kind
    e.side = side
    e.liquidity = liq
    e.reason = reason
    st[S_N_EVENTS] += 1


@njit(cache=True, nogil=True, inline="always")
def _fill(ev, st, acc, par, fpar, ts, oid, side, tick, qty, leaves, liq):
    """Emit a fill of ``qty`` at ``tick``; returns the leaves after it."""
    price = _px(fpar, tick)
    rate = fpar[FP_MAKER] if liq == L_MAKER else fpar[FP_TAKER]
    fee = price * qty * rate
    leaves -= qty
    if leaves <= 1e-9 * fpar[FP_LOT]:
        leaves = 0.0
    kind = E_FILLED if leaves == 0.0 else E_PARTIALLY_FILLED
    _emit(ev, st, par, ts, oid, kind, side, price, qty, leaves, fee, liq, 0)
    sign = 1.0 if side == BUY else -1.0
    acc[A_POSITION] += sign * qty
    acc[A_CASH] -= sign * price * qty
    acc[A_FEES] += fee
    if liq == L_MAKER:
        acc[A_MAKER_QTY] += qty
        st[S_MAKER_FILLS] += 1
    else:
        acc[A_TAKER_QTY] += qty
        st[S_TAKER_FILLS] += 1
    return leaves


# -- resting orders -------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _remove(st, oi, of, k):
    n = st[S_N_ORDERS]
    for j in range(k, n - 1):
        for f in range(N_OI):
            oi[j, f] = oi[j + 1, f]
        for f in range(N_OF):
            of[j, f] = of[j + 1, f]
    st[S_N_ORDERS] = n - 1


@njit(cache=True, nogil=True, inline="always")
def _find(st, oi, oid):
    for k in range(st[S_N_ORDERS]):
        if oi[k, O_ID] == oid:
            return k
    return -1


@njit(cache=True, nogil=True, inline="always")
def _fill_resting(ev, st, acc, par, fpar, oi, of, k, ts, qty):
    """Maker fill of resting order ``k`` at its price; returns True if it left the book."""
    leaves = _fill(ev, st, acc, par, fpar, ts, oi[k, O_ID], oi[k, O_SIDE], oi[k, O_TICK],
                   qty, of[k, F_LEAVES], L_MAKER)  # fmt: skip
    of[k, F_LEAVES] = leaves
    if leaves == 0.0:
        _remove(st, oi, of, k)
        return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _on_trade(ev, st, acc, par, fpar, oi, of, ts, tick, z):
    """A trade print: advance the queues at its price, fill orders it reaches or trades through."""
    k = 0
    while k < st[S_N_ORDERS]:
        p = oi[k, O_TICK]
        buy = oi[k, O_SIDE] == BUY
        qty = 0.0
        if (buy and tick < p) or (not buy and tick > p):
            qty = of[k, F_LEAVES]
        elif tick == p:
            of[k, F_TRADED] += z
            ahead = of[k, F_QUEUE]
            if z > ahead:
                of[k, F_QUEUE] = 0.0
                qty = min(of[k, F_LEAVES], z - ahead)
            else:
                of[k, F_QUEUE] = ahead - z
        if qty > 0.0 and _fill_resting(ev, st, acc, par, fpar, oi, of, k, ts, qty):
            continue
        k += 1


@njit(cache=True, nogil=True, inline="always")
def _on_level(par, of, k, new):
    """The order's level now displays ``new``: net-of-trades decreases are cancels (the model)."""
    old = of[k, F_LEVEL]
    ahead = of[k, F_QUEUE]
    if new < old:
        traded = min(of[k, F_TRADED], old - new)
        canceled = old - new - traded
        rest = old - traded
        if canceled > 0.0 and par[P_QUEUE_MODEL] == QUEUE_PROPORTIONAL and rest > 0.0:
            ahead -= canceled * ahead / rest
    if ahead > new:
        ahead = new
    of[k, F_QUEUE] = ahead if ahead > 0.0 else 0.0
    of[k, F_LEVEL] = new
    of[k, F_TRADED] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _check_cross(ev, st, acc, par, fpar, xb, oi, of, ts):
    """Fill (maker, at their price) resting orders the opposite touch has reached or crossed."""
    base = par[P_BASE]
    k = 0
    while k < st[S_N_ORDERS]:
        p = oi[k, O_TICK]
        if oi[k, O_SIDE] == BUY:
            hit = xb[3] > 0 and base + xb[1] <= p
        else:
            hit = xb[2] > 0 and base + xb[0] >= p
        if hit:
            _fill_resting(ev, st, acc, par, fpar, oi, of, k, ts, of[k, F_LEAVES])
        else:
            k += 1


@njit(cache=True, nogil=True)
def _end_snapshot(ev, st, acc, par, fpar, xq, xb, oi, of, ts):
    """After a snapshot message: every resting order looks at its level again."""
    st[S_XSNAP] = 0
    base = par[P_BASE]
    for k in range(st[S_N_ORDERS]):
        s = 0 if oi[k, O_SIDE] == BUY else 1
        _on_level(par, of, k, _level(xq, base, s, oi[k, O_TICK]))
    _check_cross(ev, st, acc, par, fpar, xb, oi, of, ts)


@njit(cache=True, nogil=True, inline="always")
def _exchange_row(feed, r, ev, st, acc, par, fpar, xq, xb, oi, of):
    row = feed[r]
    ts = row.ts
    kind = row.kind
    if kind == FEED_TRADE:
        if st[S_XSNAP]:
            _end_snapshot(ev, st, acc, par, fpar, xq, xb, oi, of, ts)
        if st[S_N_ORDERS]:
            _on_trade(ev, st, acc, par, fpar, oi, of, ts, row.tick, row.qty)
        return
    if kind == FEED_SNAPSHOT_START:
        st[S_XSNAP] = 1
    elif kind == FEED_BOOK and st[S_XSNAP]:
        _end_snapshot(ev, st, acc, par, fpar, xq, xb, oi, of, ts)
    _apply_book_row(feed, r, xq, xb, par[P_BASE])
    if st[S_XSNAP] == 0 and st[S_N_ORDERS]:
        s = 1 if row.side == 1 else 2
        for k in range(st[S_N_ORDERS]):
            if oi[k, O_SIDE] == s and oi[k, O_TICK] == row.tick:
                z = row.qty
                _on_level(par, of, k, z if z > 0.0 else 0.0)
        _check_cross(ev, st, acc, par, fpar, xb, oi, of, ts)


# -- requests -------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def enqueue(st, par, rq_i, rq_f, action, oid, side, otype, tick, qty, reason):
    """Send a request now; it reaches the exchange ``order_latency`` later. Returns a status."""
    tail = st[S_RQ_TAIL]
    if tail == rq_i.shape[0]:
        head = st[S_RQ_HEAD]
        if head == 0:
            return STATUS_REQUESTS_FULL
        for j in range(head, tail):
            for f in range(N_RQ):
                rq_i[j - head, f] = rq_i[j, f]
            rq_f[j - head] = rq_f[j]
        tail -= head
        st[S_RQ_HEAD] = 0
    rq_i[tail, R_TS] = st[S_NOW] + par[P_ORDER_LAT]
    rq_i[tail, R_ACTION] = action
    rq_i[tail, R_ID] = oid
    rq_i[tail, R_SIDE] = side
    rq_i[tail, R_TYPE] = otype
    rq_i[tail, R_TICK] = tick
    rq_i[tail, R_REASON] = reason
    rq_f[tail] = qty
    st[S_RQ_TAIL] = tail + 1
    return STATUS_OK


@njit(cache=True, nogil=True, inline="always")
def _crosses(par, xb, side, otype, tick):
    base = par[P_BASE]
    if side == BUY:
        return xb[3] > 0 and (otype == T_MARKET or base + xb[1] <= tick)
    return xb[2] > 0 and (otype == T_MARKET or base + xb[0] >= tick)


@njit(cache=True, nogil=True)
def _available(par, xq, xb, side, otype, tick):
    """Size the order could take at arrival (its limit respected)."""
    base = par[P_BASE]
    total = 0.0
    if side == BUY:
        if xb[3] > 0:
            for i in range(xb[1], xq.shape[1]):
                if otype != T_MARKET and base + i > tick:
                    break
                total += xq[1, i]
    elif xb[2] > 0:
        for i in range(xb[0], -1, -1):
            if otype != T_MARKET and base + i < tick:
                break
            total += xq[0, i]
    return total


@njit(cache=True, nogil=True, inline="always")
def _arrive(
    ev, st, acc, par, fpar, xq, xb, oi, of, ts, oid, side, otype, tick, qty, reason, modify
):
    """A new order (or a modified one re-entering) reaches the matching engine."""
    if not modify:
        if reason != 0:
            _emit(ev, st, par, ts, oid, E_REJECTED, side, _px(fpar, tick), qty, 0.0, 0.0, 0, reason)
            return
        if _find(st, oi, oid) >= 0:
            reason = R_DUPLICATE_ORDER_ID
        elif otype == T_POST_ONLY and _crosses(par, xb, side, otype, tick):
            reason = R_POST_ONLY_WOULD_CROSS
        elif otype == T_FOK and _available(par, xq, xb, side, otype, tick) < qty * (1.0 - 1e-12):
            reason = R_FOK_NOT_FILLABLE
        elif (otype == T_LIMIT or otype == T_POST_ONLY) and st[S_N_ORDERS] == oi.shape[0]:
            reason = R_BOOK_FULL
        if reason != 0:
            _emit(ev, st, par, ts, oid, E_REJECTED, side, _px(fpar, tick), qty, 0.0, 0.0, 0, reason)
            return
        _emit(ev, st, par, ts, oid, E_ACCEPTED, side, _px(fpar, tick), qty, qty, 0.0, 0, 0)
    leaves = qty
    base = par[P_BASE]
    if _crosses(par, xb, side, otype, tick):
        # walk the opposite side from its touch: asks upwards for a buy, bids downwards for a sell
        s = 1 if side == BUY else 0
        step = 1 if side == BUY else -1
        i = xb[1] if side == BUY else xb[0]
        while leaves > 0.0 and 0 <= i < xq.shape[1]:
            if otype != T_MARKET and (base + i - tick) * step > 0:
                break
            z = xq[s, i]
            if z > 0.0:
                leaves = _fill(ev, st, acc, par, fpar, ts, oid, side, base + i, min(leaves, z),
                               leaves, L_TAKER)  # fmt: skip
            i += step
    if leaves > 0.0:
        if otype == T_LIMIT or otype == T_POST_ONLY:
            k = st[S_N_ORDERS]
            oi[k, O_ID] = oid
            oi[k, O_SIDE] = side
            oi[k, O_TICK] = tick
            oi[k, O_TYPE] = otype
            ahead = _level(xq, base, 0 if side == BUY else 1, tick)
            of[k, F_LEAVES] = leaves
            of[k, F_QUEUE] = ahead
            of[k, F_LEVEL] = ahead
            of[k, F_TRADED] = 0.0
            st[S_N_ORDERS] = k + 1
        else:
            price = _px(fpar, tick) if otype != T_MARKET else 0.0
            _emit(
                ev, st, par, ts, oid, E_CANCELED, side, price, leaves, 0.0, 0.0, 0, C_IOC_REMAINDER
            )


@njit(cache=True, nogil=True, inline="always")
def _request(ev, st, acc, par, fpar, xq, xb, oi, of, rq_i, rq_f, r):
    ts = rq_i[r, R_TS]
    action = rq_i[r, R_ACTION]
    oid = rq_i[r, R_ID]
    tick = rq_i[r, R_TICK]
    qty = rq_f[r]
    reason = rq_i[r, R_REASON]
    if st[S_XSNAP]:
        _end_snapshot(ev, st, acc, par, fpar, xq, xb, oi, of, ts)
    if action == A_SUBMIT:
        _arrive(ev, st, acc, par, fpar, xq, xb, oi, of, ts, oid, rq_i[r, R_SIDE], rq_i[r, R_TYPE],
                tick, qty, reason, False)  # fmt: skip
        return
    if action == A_CANCEL:
        _cancel(ev, st, par, fpar, oi, of, ts, oid)
        return
    _modify(ev, st, acc, par, fpar, xq, xb, oi, of, ts, oid, tick, qty, reason)


@njit(cache=True, nogil=True, inline="always")
def _cancel(ev, st, par, fpar, oi, of, ts, oid):
    k = _find(st, oi, oid)
    if k < 0:
        _emit(ev, st, par, ts, oid, E_CANCEL_REJECTED, 0, 0.0, 0.0, 0.0, 0.0, 0, R_UNKNOWN_ORDER)
    else:
        _emit(ev, st, par, ts, oid, E_CANCELED, oi[k, O_SIDE], _px(fpar, oi[k, O_TICK]),
              of[k, F_LEAVES], 0.0, 0.0, 0, C_REQUESTED)  # fmt: skip
        _remove(st, oi, of, k)


@njit(cache=True, nogil=True)
def _modify(ev, st, acc, par, fpar, xq, xb, oi, of, ts, oid, tick, qty, reason):
    """New price and new open quantity of a resting order."""
    k = _find(st, oi, oid)
    # modify: new price and new open quantity
    price = _px(fpar, tick)
    if k < 0 or reason != 0:
        _emit(ev, st, par, ts, oid, E_MODIFY_REJECTED, 0, price, qty, 0.0, 0.0, 0,
              R_UNKNOWN_ORDER if k < 0 else reason)  # fmt: skip
        return
    side = oi[k, O_SIDE]
    otype = oi[k, O_TYPE]
    if tick == oi[k, O_TICK] and qty <= of[k, F_LEAVES]:
        of[k, F_LEAVES] = qty
        _emit(ev, st, par, ts, oid, E_MODIFIED, side, price, qty, qty, 0.0, 0, 0)
        return
    if otype == T_POST_ONLY and _crosses(par, xb, side, otype, tick):
        _emit(ev, st, par, ts, oid, E_MODIFY_REJECTED, side, price, qty, of[k, F_LEAVES], 0.0, 0,
              R_POST_ONLY_WOULD_CROSS)  # fmt: skip
        return
    _remove(st, oi, of, k)
    _emit(ev, st, par, ts, oid, E_MODIFIED, side, price, qty, qty, 0.0, 0, 0)
    _arrive(ev, st, acc, par, fpar, xq, xb, oi, of, ts, oid, side, otype, tick, qty, 0, True)


# -- the clock ------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def advance(feed, ev, st, acc, par, fpar, xq, xb, lq, lb, oi, of, rq_i, rq_f, until):
    """Process everything up to time ``until`` (ns); returns a status (resume after a full buffer).

    The exchange applies feed rows with ``ts <= until`` and requests arriving by ``until`` in
    time order, a feed row first when both share a time. The strategy's view applies the rows
    with ``ts + feed_latency <= until``.
    """
    n = feed.size
    cap = ev.size
    while True:
        x = st[S_XCUR]
        xt = feed[x].ts if x < n else _BIG
        head = st[S_RQ_HEAD]
        rt = rq_i[head, R_TS] if head < st[S_RQ_TAIL] else _BIG
        if xt <= rt:
            if xt > until:
                break
            if st[S_N_EVENTS] + st[S_N_ORDERS] + 1 > cap:
                return STATUS_EVENTS_FULL
            _exchange_row(feed, x, ev, st, acc, par, fpar, xq, xb, oi, of)
            st[S_XCUR] = x + 1
        else:
            if rt > until:
                break
            if st[S_N_EVENTS] + st[S_N_ORDERS] + xb[2] + xb[3] + 4 > cap:
                return STATUS_EVENTS_FULL
            _request(ev, st, acc, par, fpar, xq, xb, oi, of, rq_i, rq_f, head)
            st[S_RQ_HEAD] = head + 1
    lat = par[P_FEED_LAT]
    base = par[P_BASE]
    r = st[S_LCUR]
    while r < n and feed[r].ts + lat <= until:
        _apply_book_row(feed, r, lq, lb, base)
        r += 1
    st[S_LCUR] = r
    if until > st[S_NOW]:
        st[S_NOW] = until
    return STATUS_OK


@njit(cache=True, nogil=True)
def run_requote(feed, ev, st, acc, par, fpar, xq, xb, lq, lb, oi, of, rq_i, rq_f, side, qty):
    """The benchmark strategy: after every feed time the strategy sees, cancel its quote and send a
    new LIMIT at its own touch (the best bid for a buy, the best ask for a sell).

    Order ids count up from ``st[S_QUOTE_ID] + 1``. Returns a status; call again after a full
    buffer. Set ``par[P_FILLS_ONLY]`` to keep only fills.
    """
    n = feed.size
    lat = par[P_FEED_LAT]
    base = par[P_BASE]
    while st[S_LCUR] < n:
        t = feed[st[S_LCUR]].ts + lat
        if t < st[S_NOW]:
            t = st[S_NOW]
        status = advance(feed, ev, st, acc, par, fpar, xq, xb, lq, lb, oi, of, rq_i, rq_f, t)
        if status != STATUS_OK:
            return status
        if side == BUY:
            if lb[2] == 0:
                continue
            tick = base + lb[0]
        else:
            if lb[3] == 0:
                continue
            tick = base + lb[1]
        if rq_i.shape[0] - st[S_RQ_TAIL] + st[S_RQ_HEAD] < 2:
            return STATUS_REQUESTS_FULL
        oid = st[S_QUOTE_ID]
        if oid > 0:
            enqueue(st, par, rq_i, rq_f, A_CANCEL, oid, 0, 0, 0, 0.0, 0)
        enqueue(st, par, rq_i, rq_f, A_SUBMIT, oid + 1, side, T_LIMIT, tick, qty, 0)
        st[S_QUOTE_ID] = oid + 1
    return STATUS_OK
