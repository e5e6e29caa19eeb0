"""Numba kernels of the risk manager (private; ``shriven.risk.batch`` wraps them).

The same checks, in the same order and with the same float arithmetic, as
:meth:`shriven.risk.engine.RiskEngine.check` (a property test holds them equal), over arrays a
compiled event loop owns:

* ``lim[n_symbols, L_*]`` float64: per-instrument limits (``inf`` = off);
* ``sym[n_symbols, Y_*]`` float64: per-instrument state (reference 0.0 = none yet);
* ``acc[A_*]`` float64: account state; ``par[P_*]`` float64: account limits;
* ``ist[I_*]`` int64: trading state, working-order count, rate window head, count and newest
  time, breach flags;
* ``ring[max_orders_per_second]`` int64: the rate window, ``ts`` of the passing orders of the last
  second, a FIFO of ``ist[I_RING_COUNT]`` entries from ``ist[I_RING_HEAD]`` (wrapping).

A compiled loop calls :func:`check_order` per order (it counts a passing order in the rate
window, nothing else) and the ``on_*`` helpers to feed state. Reasons are ``RiskReason`` ints.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from shriven.model import enums as _enums_module
from shriven.model.enums import RiskReason
from shriven.numba_cache import cache_depends_on

# The kernels freeze the reason codes below when compiled: their caches follow the enums' file.
cache_depends_on(__file__, _enums_module)

#: ``lim`` columns: tick size, lot size, exchange min and max order quantity.
L_TICK = 0
L_LOT = 1
L_MIN_QTY = 2
L_MAX_QTY = 3
#: Our per-order quantity and notional limits, and the absolute position limit.
L_MAX_ORDER_QTY = 4
L_MAX_ORDER_NOTIONAL = 5
L_MAX_POSITION = 6
#: 1.0 when the symbol is restricted.
L_RESTRICTED = 7
N_LIM = 8

#: ``sym`` columns: reference price (0.0: none), position, working buy and sell quantity.
Y_REFERENCE = 0
Y_POSITION = 1
Y_WORKING_BUY = 2
Y_WORKING_SELL = 3
N_SYM = 4

#: ``acc``: gross exposure, net exposure, working-order notional, buying power (equity * leverage).
A_GROSS = 0
A_NET = 1
A_OPEN_NOTIONAL = 2
A_BUYING_POWER = 3
N_ACC = 4

#: ``par``: max gross, max net, price collar (+ ``COLLAR_SLACK``), max open orders, 1.0 when limit orders need a reference.
P_MAX_GROSS = 0
P_MAX_NET = 1
P_COLLAR = 2
P_MAX_OPEN_ORDERS = 3
P_LIMIT_NEEDS_REFERENCE = 4
N_PAR = 5

#: ``ist``: trading state (``TradingState``), working orders, the rate window's oldest entry,
#: breach flags (0/1), the rate window's entry count, the newest passing order's time; then what
#: :func:`check_packed` finds the rest by: the number of symbols and the bound ring's address and
#: length (:func:`bind_ring`).
I_STATE = 0
I_WORKING = 1
I_RING_HEAD = 2
I_DAILY_BREACHED = 3
I_DRAWDOWN_BREACHED = 4
I_RING_COUNT = 5
I_RING_LAST = 6
I_N_SYMBOLS = 7
I_RING_AT = 8
I_RING_N = 9
N_IST = 10

#: Time of no order: ``ist[I_RING_LAST]`` before the first pass.
RING_EMPTY = -(2**62)
WINDOW_NS = 1_000_000_000
#: Relative tolerance of the tick and lot tests: ``x / step`` is on the grid when its fractional
#: part ``f`` (exact in floats) has ``min(f, 1 - f) <= TOLERANCE * x / step``.
TOLERANCE = 1e-9
#: Added to the price collar: absorbs the rounding of ``price / reference - 1``.
COLLAR_SLACK = 1e-9
#: A reducing order may close the position up to this relative slack (float noise).
REDUCE_SLACK = 1.0 + 1e-9

BUY = 1
SELL = 2
LIMIT = 1
MARKET = 2
IOC = 3
FOK = 4
POST_ONLY = 5
ACTIVE = 0
REDUCING = 1
HALTED = 2

R_NONE = int(RiskReason.NONE)
R_HALTED = int(RiskReason.HALTED)
R_REDUCE_ONLY = int(RiskReason.REDUCE_ONLY)
R_RESTRICTED_SYMBOL = int(RiskReason.RESTRICTED_SYMBOL)
R_UNKNOWN_SYMBOL = int(RiskReason.UNKNOWN_SYMBOL)
R_BAD_SIDE = int(RiskReason.BAD_SIDE)
R_BAD_QUANTITY = int(RiskReason.BAD_QUANTITY)
R_BAD_PRICE = int(RiskReason.BAD_PRICE)
R_PRICE_NOT_ON_TICK = int(RiskReason.PRICE_NOT_ON_TICK)
R_QUANTITY_NOT_ON_LOT = int(RiskReason.QUANTITY_NOT_ON_LOT)
R_QUANTITY_BELOW_MIN = int(RiskReason.QUANTITY_BELOW_MIN)
R_QUANTITY_ABOVE_MAX = int(RiskReason.QUANTITY_ABOVE_MAX)
R_MAX_ORDER_QUANTITY = int(RiskReason.MAX_ORDER_QUANTITY)
R_MAX_ORDER_NOTIONAL = int(RiskReason.MAX_ORDER_NOTIONAL)
R_PRICE_COLLAR = int(RiskReason.PRICE_COLLAR)
R_NO_REFERENCE_PRICE = int(RiskReason.NO_REFERENCE_PRICE)
R_POSITION_LIMIT = int(RiskReason.POSITION_LIMIT)
R_GROSS_EXPOSURE = int(RiskReason.GROSS_EXPOSURE)
R_NET_EXPOSURE = int(RiskReason.NET_EXPOSURE)
R_ORDER_RATE = int(RiskReason.ORDER_RATE)
R_MAX_OPEN_ORDERS = int(RiskReason.MAX_OPEN_ORDERS)
R_DAILY_LOSS = int(RiskReason.DAILY_LOSS)
R_DRAWDOWN = int(RiskReason.DRAWDOWN)
R_BUYING_POWER = int(RiskReason.BUYING_POWER)
R_UNKNOWN_ORDER_TYPE = int(RiskReason.UNKNOWN_ORDER_TYPE)

#: Words (8 bytes) of the account block that starts a packed state: ``acc``, ``par``, ``ist``
#: (19 words, padded to whole cache lines: the ``lim`` rows start on one).
_HEADER_WORDS = 24


def packed_arrays(n_symbols: int) -> tuple[np.ndarray, ...]:
    """Zeroed ``lim``, ``sym``, ``acc``, ``par``, ``ist``: views into one page-aligned block.

    Why: a check reads one row of ``lim`` and ``sym`` and the three account arrays. Allocated
    apart, those are five allocations on as many pages, each a cache line (or two) of its own;
    packed, the account arrays share two cache lines, each ``lim`` row is one line and each
    ``sym`` row half of one, all on one page up to 41 symbols: fewer misses and TLB walks when
    the event loop's other work has evicted the risk state between two checks.
    """
    words = _HEADER_WORDS + n_symbols * (N_LIM + N_SYM)
    raw = np.zeros(words * 8 + 4096, np.uint8)
    start = -raw.ctypes.data % 4096
    block = raw[start : start + words * 8]
    f = block.view(np.float64)
    acc = f[0:N_ACC]
    par = f[N_ACC : N_ACC + N_PAR]
    ist = block[(N_ACC + N_PAR) * 8 : (N_ACC + N_PAR + N_IST) * 8].view(np.int64)
    lim = f[_HEADER_WORDS : _HEADER_WORDS + n_symbols * N_LIM].reshape(n_symbols, N_LIM)
    sym_at = _HEADER_WORDS + n_symbols * N_LIM
    sym = f[sym_at : sym_at + n_symbols * N_SYM].reshape(n_symbols, N_SYM)
    ist[I_N_SYMBOLS] = n_symbols
    return lim, sym, acc, par, ist


def bind_ring(ist: np.ndarray, ring: np.ndarray) -> None:
    """Record ``ring`` (the rate window) in a packed state's ``ist``, for :func:`check_packed`.

    The caller keeps ``ring`` alive as long as the block: ``ist`` holds its address only.
    """
    if ring.dtype != np.int64 or ring.ndim != 1 or not ring.flags.c_contiguous or not ring.size:
        raise ValueError("the rate window must be a non-empty C-contiguous int64 array")
    ist[I_RING_AT] = ring.ctypes.data
    ist[I_RING_N] = ring.shape[0]


#: One order for :func:`check_orders`: symbol is the instrument's index in the config, price NaN
#: for market orders, reduce_only 0/1.
ORDER_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("quantity", np.float64),
        ("price", np.float64),
        ("symbol", np.int32),
        ("side", np.int8),
        ("order_type", np.int8),
        ("reduce_only", np.int8),
    ],
    align=True,
)


@njit(cache=True, inline="always")
def check_order(lim, sym, acc, par, ist, ring, s, side, order_type, q, price, ts, reduce_only):
    """Reason (int) the order is denied, 0 when it passes; a pass is counted in ``ring``.

    The arrays are only used for their addresses (:func:`_address`) and the symbol bound: the
    checks read and write through :func:`_check_at`, so numba's reference-count pruning drops
    the ``NRT_incref``/``NRT_decref`` pairs that an inlined function taking arrays otherwise
    pays on every call: 12 calls, each a ``lock``-prefixed read-modify-write of the array's
    meminfo (a full barrier, and a cache miss of its own when that line is cold). The caller
    keeps the arrays alive for the call.
    """
    if s < 0 or s >= lim.shape[0]:
        return R_UNKNOWN_SYMBOL
    return _check_at(
        _address(lim) + s * (N_LIM * 8), _address(sym) + s * (N_SYM * 8), _address(acc),
        _address(par), _address(ist), _address(ring), ring.shape[0],
        side, order_type, q, price, ts, reduce_only,
    )  # fmt: skip


@njit(cache=True)
def check_packed(block_at, s, side, order_type, q, price, ts, reduce_only):
    """:func:`check_order` on a :func:`packed_arrays` block given by address (its ring bound).

    Why: ``RiskEngine.check`` calls this through its compiled entry point (:func:`packed_entry`)
    with scalars only. Through numba's dispatcher each array argument costs ~120 ns to unbox
    (six arrays: 850 ns a call, measured); the entry point skips the dispatch and takes no
    array, and the call costs ~60 ns. The block itself says how many symbols it holds and
    where its ring is (:func:`bind_ring`): eight arguments, not eleven (~40 ns less a call).
    """
    ist_at = block_at + (N_ACC + N_PAR) * 8
    n_symbols = _peek(ist_at, I_N_SYMBOLS)
    if s < 0 or s >= n_symbols:
        return R_UNKNOWN_SYMBOL
    return _check_at(
        block_at + (_HEADER_WORDS + s * N_LIM) * 8,
        block_at + (_HEADER_WORDS + n_symbols * N_LIM + s * N_SYM) * 8,
        block_at, block_at + N_ACC * 8, ist_at, _peek(ist_at, I_RING_AT),
        _peek(ist_at, I_RING_N), side, order_type, q, price, ts, reduce_only,
    )  # fmt: skip


#: The one signature of :func:`check_packed` (its entry point takes exactly these types).
CHECK_PACKED_SIGNATURE = types.int64(
    types.int64, types.int64, types.int64, types.int64, types.float64, types.float64,
    types.int64, types.boolean,
)  # fmt: skip


#: The one signature of :func:`count_in_window`'s entry point.
COUNT_IN_WINDOW_SIGNATURE = types.int64(types.int64, types.int64, types.int64, types.int64)


def packed_entry():
    """The compiled entry point of :func:`check_packed` (compiled, or loaded from the cache, once).

    It converts each argument to the signature's type the way ``int()``/``float()``/``bool()``
    would (``"2"`` becomes 2.0): callers pass values of exactly those types.
    """
    return _entry(check_packed, CHECK_PACKED_SIGNATURE)


def window_entry():
    """The compiled entry point of :func:`count_in_window` (as :func:`packed_entry`)."""
    return _entry(count_in_window, COUNT_IN_WINDOW_SIGNATURE)


def _entry(dispatcher, signature):
    if signature.args not in dispatcher.overloads:
        dispatcher.compile(signature)
    return dispatcher.overloads[signature.args].entry_point


@njit(cache=True, inline="always")
def _check_at(lim_at, sym_at, acc_at, par_at, ist_at, ring_at, ring_n, side, order_type, q, price, ts, reduce_only):
    """Checks 2-24 on the state at these addresses (one ``lim`` and ``sym`` row, the account).

    Every value checks 2-23 need is loaded first, all at once, and the checks run on scalars
    (:func:`_reason`): the loads are independent, so their cache misses overlap instead of
    waiting one behind another's branch. The rate window (:func:`_count_in_window`) comes last,
    as in ``RiskEngine.check``.
    """
    head = _peek(ist_at, I_RING_HEAD)
    count = _peek(ist_at, I_RING_COUNT)
    last = _peek(ist_at, I_RING_LAST)
    oldest = _peek(ring_at, head)  # loaded with the rest (stale when the window is empty)
    daily = _peek(ist_at, I_DAILY_BREACHED) != 0
    drawdown = _peek(ist_at, I_DRAWDOWN_BREACHED) != 0
    reason = _reason(
        side, order_type, q, price, reduce_only,
        _peekf(lim_at, L_TICK), _peekf(lim_at, L_LOT), _peekf(lim_at, L_MIN_QTY),
        _peekf(lim_at, L_MAX_QTY), _peekf(lim_at, L_MAX_ORDER_QTY),
        _peekf(lim_at, L_MAX_ORDER_NOTIONAL), _peekf(lim_at, L_MAX_POSITION),
        _peekf(lim_at, L_RESTRICTED),
        _peekf(sym_at, Y_REFERENCE), _peekf(sym_at, Y_POSITION), _peekf(sym_at, Y_WORKING_BUY),
        _peekf(sym_at, Y_WORKING_SELL),
        _peekf(acc_at, A_GROSS), _peekf(acc_at, A_NET), _peekf(acc_at, A_OPEN_NOTIONAL),
        _peekf(acc_at, A_BUYING_POWER),
        _peekf(par_at, P_MAX_GROSS), _peekf(par_at, P_MAX_NET), _peekf(par_at, P_COLLAR),
        _peekf(par_at, P_MAX_OPEN_ORDERS), _peekf(par_at, P_LIMIT_NEEDS_REFERENCE),
        _peek(ist_at, I_STATE), _peek(ist_at, I_WORKING),
        daily * R_DAILY_LOSS + (drawdown and not daily) * R_DRAWDOWN,
    )  # fmt: skip
    if reason == R_NONE:
        reason = _count_in_window(ist_at, ring_at, ring_n, ts, head, count, oldest, last)
    return reason


@njit(cache=True)
def count_in_window(ist_at, ring_at, ring_n, ts):
    """Check 24 alone, on the window at these addresses (``RiskEngine``'s ordered path)."""
    head = _peek(ist_at, I_RING_HEAD)
    return _count_in_window(
        ist_at, ring_at, ring_n, ts, head, _peek(ist_at, I_RING_COUNT), _peek(ring_at, head),
        _peek(ist_at, I_RING_LAST),
    )  # fmt: skip


@njit(cache=True, inline="always")
def _count_in_window(ist_at, ring_at, n, ts, head, count, oldest, last):
    """Check 24: ``ORDER_RATE`` when ``n`` passing orders lie in ``(ts - 1 s, ts]``, else count this one.

    ``head``, ``count``, ``oldest`` (``ring[head]``) and ``last`` (the newest pass's time) were
    loaded with the other checks' values. An order stamped before ``last`` counts at ``last``
    (as in ``RiskEngine._check_ordered``): the window's clock never goes back, so the orders
    come in time order and this FIFO answers as a ring of the last ``n`` passes would.

    Why a FIFO of the last second's orders and not a ring of the last ``n`` (whose oldest entry
    answers the same question, for orders in time order): the ring reads the slot written ``n``
    passes ago, so with a high limit every check walks a cold line through ``8 * n`` bytes
    (measured: limit 1 M, p99 170 ns in the compiled replay against 40 ns with the slot warm).
    The FIFO touches only the entries of the last second, which the last checks left in cache.
    """
    if ts < last:
        ts = last
    cutoff = ts - WINDOW_NS
    if count > 0 and oldest <= cutoff:
        while count > 0 and _peek(ring_at, head) <= cutoff:
            head += 1
            if head == n:
                head = 0
            count -= 1
        if count == 0:
            head = 0  # an empty window starts over at the front: a quiet second resets the walk
    if count < n:
        tail = head + count
        if tail >= n:
            tail -= n
        _poke(ring_at, tail, ts)
        count += 1
        reason = R_NONE
    else:
        reason = R_ORDER_RATE
    _poke(ist_at, I_RING_HEAD, head)
    _poke(ist_at, I_RING_COUNT, count)
    if reason == R_NONE:
        _poke(ist_at, I_RING_LAST, ts)
    return reason


@intrinsic
def _address(typingctx, array):  # noqa: ARG001 - numba's intrinsic signature
    """Data address (int64) of a C-contiguous float64 or int64 array; others do not type."""
    if not (
        isinstance(array, types.Array)
        and array.layout == "C"
        and array.dtype in (types.int64, types.float64)
    ):
        return None
    sig = types.int64(array)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.ptrtoint(data, context.get_value_type(types.int64))

    return sig, codegen


def _load(value_type: types.Type, ir_type: ir.Type):  # noqa: ANN202 - an intrinsic
    """An intrinsic ``(address, index)`` -> the ``value_type`` at ``address + 8 * index``."""

    @intrinsic
    def load(typingctx, address, index):  # noqa: ARG001 - numba's intrinsic signature
        sig = value_type(address, index)

        def codegen(context, builder, signature, args):
            i = context.cast(builder, args[1], signature.args[1], types.intp)
            ptr = builder.inttoptr(args[0], ir_type.as_pointer())
            return builder.load(builder.gep(ptr, [i]))

        return sig, codegen

    return load


#: The int64 (``_peek``) or float64 (``_peekf``) at ``address + 8 * index``.
_peek = _load(types.int64, ir.IntType(64))
_peekf = _load(types.float64, ir.DoubleType())


@intrinsic
def _poke(typingctx, address, index, value):  # noqa: ARG001 - numba's intrinsic signature
    """Store the int64 ``value`` at ``address + 8 * index``."""
    sig = types.void(address, index, value)

    def codegen(context, builder, signature, args):
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        builder.store(v, builder.gep(ptr, [i]))
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _reason(
    side, order_type, q, price, reduce_only,
    tick, lot, min_qty, max_qty, max_order_qty, max_order_notional, max_position, restricted,
    ref, p, working_buy, working_sell,
    gross, net, open_notional, buying_power,
    max_gross, max_net, collar, max_open, limit_needs_reference,
    state, n_working, breach,
):  # fmt: skip
    """Checks 2-23 of :func:`check_order` on the loaded values (scalars only: no refcounts)."""
    if side == BUY:
        buy = True
    elif side == SELL:
        buy = False
    else:
        return R_BAD_SIDE
    if order_type == LIMIT or order_type == IOC or order_type == FOK or order_type == POST_ONLY:
        market = False
    elif order_type == MARKET:
        market = True
    else:
        return R_UNKNOWN_ORDER_TYPE
    if not (q > 0.0 and q < np.inf):
        return R_BAD_QUANTITY
    if not market:
        if not (price > 0.0 and price < np.inf):
            return R_BAD_PRICE
        r = price / tick
        f = r - np.floor(r)
        if not (f <= TOLERANCE * r or 1.0 - f <= TOLERANCE * r):
            return R_PRICE_NOT_ON_TICK
    r = q / lot
    f = r - np.floor(r)
    if not (f <= TOLERANCE * r or 1.0 - f <= TOLERANCE * r):
        return R_QUANTITY_NOT_ON_LOT
    if q < min_qty:
        return R_QUANTITY_BELOW_MIN
    if q > max_qty:
        return R_QUANTITY_ABOVE_MAX
    if state == HALTED:
        return R_HALTED
    if restricted != 0.0:
        return R_RESTRICTED_SYMBOL
    if buy:
        working = working_buy
        reduces = p < 0.0 and working + q <= -p * REDUCE_SLACK
    else:
        working = working_sell
        reduces = p > 0.0 and working + q <= p * REDUCE_SLACK
    if not reduces:
        if state == REDUCING or reduce_only:
            return R_REDUCE_ONLY
        if breach != R_NONE:
            return breach
    if q > max_order_qty:
        return R_MAX_ORDER_QUANTITY
    if market:
        if ref == 0.0:
            return R_NO_REFERENCE_PRICE
        px = ref
    else:
        if ref == 0.0:
            if limit_needs_reference != 0.0:
                return R_NO_REFERENCE_PRICE
        elif abs(price / ref - 1.0) > collar:
            return R_PRICE_COLLAR
        px = price
    notional = q * px
    if notional > max_order_notional:
        return R_MAX_ORDER_NOTIONAL
    if not reduces:
        if buy:
            projected = p + working + q
            if projected > max_position:
                return R_POSITION_LIMIT
        else:
            projected = p - working - q
            if -projected > max_position:
                return R_POSITION_LIMIT
        if ref != 0.0:
            if gross + (abs(projected) - abs(p)) * ref > max_gross:
                return R_GROSS_EXPOSURE
            if abs(net + (projected - p) * ref) > max_net:
                return R_NET_EXPOSURE
        if gross + open_notional + notional > buying_power:
            return R_BUYING_POWER
    if n_working >= max_open:
        return R_MAX_OPEN_ORDERS
    return R_NONE


@njit(cache=True)
def check_orders(lim, sym, acc, par, ist, ring, orders, out):
    """Check ``orders`` (``ORDER_DTYPE``) in turn into ``out`` (int8 reasons)."""
    for i in range(orders.shape[0]):
        o = orders[i]
        out[i] = check_order(
            lim, sym, acc, par, ist, ring,
            o.symbol, o.side, o.order_type, o.quantity, o.price, o.ts, o.reduce_only != 0,
        )  # fmt: skip


@njit(cache=True, inline="always")
def on_mark(sym, acc, s, price):
    """New reference price of symbol ``s`` (not finite or <= 0: none)."""
    if not (price > 0.0 and price < np.inf):
        price = 0.0
    p = sym[s, Y_POSITION]
    old = sym[s, Y_REFERENCE]
    acc[A_GROSS] += abs(p) * price - abs(p) * old
    acc[A_NET] += p * price - p * old
    sym[s, Y_REFERENCE] = price


@njit(cache=True, inline="always")
def on_position(sym, acc, s, position):
    """New position of symbol ``s`` (signed base units)."""
    ref = sym[s, Y_REFERENCE]
    old = sym[s, Y_POSITION]
    acc[A_GROSS] += abs(position) * ref - abs(old) * ref
    acc[A_NET] += position * ref - old * ref
    sym[s, Y_POSITION] = position


@njit(cache=True, inline="always")
def on_order_opened(sym, acc, ist, s, side, q, value_price):
    """An order became working: ``value_price`` is its limit price (the reference for a market)."""
    sym[s, Y_WORKING_BUY if side == BUY else Y_WORKING_SELL] += q
    acc[A_OPEN_NOTIONAL] += q * value_price
    ist[I_WORKING] += 1


@njit(cache=True, inline="always")
def on_order_reduced(sym, acc, ist, s, side, q, value_price, closed):
    """``q`` of a working order filled or left; ``closed`` when the order stops working."""
    col = Y_WORKING_BUY if side == BUY else Y_WORKING_SELL
    sym[s, col] = max(0.0, sym[s, col] - q)
    acc[A_OPEN_NOTIONAL] = max(0.0, acc[A_OPEN_NOTIONAL] - q * value_price)
    if closed:
        ist[I_WORKING] = max(0, ist[I_WORKING] - 1)
