"""Numba kernels of the L3 matching engine (private; see ``matching.py`` for the public API).

Layout, all preallocated by the wrapper, as few arrays as possible (each array argument costs
dispatch time on the single-operation path):

* a price ladder over the instrument's price band, one row per tick: ``levels[level, LV_HEAD]``,
  ``levels[level, LV_TAIL]`` (first and last order slot of the level's FIFO, -1 when empty) and
  ``levels[level, LV_QTY]`` (open quantity). A level holds orders of one side only, since the
  book is never crossed after matching, so bids and asks share the ladder;
* an order table ``orders[slot, field]`` (one 64-byte row per order: id, owner, side, level,
  leaves, prev, next, flags); ``prev``/``next`` link the orders of a level into an intrusive
  doubly-linked FIFO, and ``next`` chains the free slots;
* an order-id -> slot hash map ``table[bucket] = (order_id, slot)`` (slot -1 = empty; open
  addressing, linear probing, backward-shift deletion, so no tombstones);
* ``state``: the instrument parameters (``P_*``) and the book scalars (``S_*``: best bid and ask
  level, free-list head, resting orders per side).

Events are written to a preallocated ``EVENT_DTYPE`` array. Before each operation the kernel
checks that the worst case of that operation (3 events + 2 per resting order) fits, and returns
early otherwise so that the wrapper can grow the buffer and resume at that operation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The kernels keep call arguments packed a few per line (one per line would triple them).
# fmt: off

#: Order row field: order id.
O_ID = 0
#: Order row field: owner id (self-trade prevention key).
O_OWNER = 1
#: Order row field: side (1 buy, 2 sell).
O_SIDE = 2
#: Order row field: ladder level index.
O_LEVEL = 3
#: Order row field: open (leaves) quantity.
O_LEAVES = 4
#: Order row field: previous slot in the level FIFO (-1 = head).
O_PREV = 5
#: Order row field: next slot in the level FIFO (-1 = tail), or next free slot.
O_NEXT = 6
#: Order row field: flags (``FLAG_POST_ONLY``).
O_FLAGS = 7
#: Number of order row fields.
N_ORDER_FIELDS = 8

#: Order flag: the order may only add liquidity (also on modify).
FLAG_POST_ONLY = 1

#: Level row field: first order slot of the FIFO (-1 = empty level).
LV_HEAD = 0
#: Level row field: last order slot of the FIFO (-1 = empty level).
LV_TAIL = 1
#: Level row field: open quantity at the level.
LV_QTY = 2
#: Number of level row fields (padded to 32 bytes: two levels per cache line).
N_LEVEL_FIELDS = 4

#: State slot: level index of the best bid (-1 when there is no bid).
S_BEST_BID = 16
#: State slot: level index of the best ask (n_levels when there is no ask).
S_BEST_ASK = 17
#: State slot: head of the free order-slot list (-1 when full).
S_FREE = 18
#: State slot: number of resting bids.
S_N_BID = 19
#: State slot: number of resting asks.
S_N_ASK = 20
#: Length of the ``state`` array (parameters first, then the book scalars).
N_STATE = 21

#: Parameter slot: tick size.
P_TICK = 0
#: Parameter slot: lot size.
P_LOT = 1
#: Parameter slot: minimum order size.
P_MIN_SIZE = 2
#: Parameter slot: maximum order size.
P_MAX_SIZE = 3
#: Parameter slot: lowest price of the band.
P_MIN_PRICE = 4
#: Parameter slot: highest price of the band.
P_MAX_PRICE = 5
#: Parameter slot: number of ladder levels.
P_N_LEVELS = 6
#: Parameter slot: hash table mask (capacity - 1).
P_HASH_MASK = 7
#: Parameter slot: log2 of the hash table capacity.
P_HASH_SHIFT = 8

# enum values (mirrors of shriven.book.orders, as compile-time constants)
BUY = 1
SELL = 2
LIMIT = 1
MARKET = 2
IOC = 3
FOK = 4
POST_ONLY = 5
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
L_NONE = 0
L_MAKER = 1
L_TAKER = 2
R_NONE = 0
R_BAD_PRICE_TICK = 1
R_BAD_SIZE_LOT = 2
R_SIZE_BELOW_MIN = 3
R_SIZE_ABOVE_MAX = 4
R_NON_POSITIVE_PRICE = 5
R_NON_POSITIVE_SIZE = 6
R_UNKNOWN_SIDE = 7
R_POST_ONLY_WOULD_CROSS = 8
R_FOK_NOT_FILLABLE = 9
R_UNKNOWN_ORDER = 10
R_DUPLICATE_ORDER_ID = 11
R_UNKNOWN_ORDER_TYPE = 12
R_PRICE_OUT_OF_BAND = 13
R_BOOK_FULL = 14
R_UNKNOWN_ACTION = 15
C_REQUESTED = 1
C_IOC_REMAINDER = 2
C_SELF_TRADE_PREVENTION = 3

# --- order-id -> slot hash map -----------------------------------------------------------------


@njit(cache=True, inline="always")
def _home(key, mask, shift):
    # Low bits kept, higher bits folded in: ids issued in sequence (the common case) land in
    # consecutive buckets, so live orders stay in a few cache lines; strided ids still spread.
    return (key ^ (key >> shift) ^ (key >> (2 * shift))) & mask


@njit(cache=True, inline="always")
def _hash_find(table, mask, shift, key):
    i = _home(key, mask, shift)
    while True:
        s = table[i, 1]
        if s < 0:
            return -1
        if table[i, 0] == key:
            return s
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def _hash_insert(table, mask, shift, key, slot):
    i = _home(key, mask, shift)
    while table[i, 1] >= 0:
        i = (i + 1) & mask
    table[i, 0] = key
    table[i, 1] = slot


@njit(cache=True)
def _hash_delete(table, mask, shift, key):
    i = _home(key, mask, shift)
    while table[i, 0] != key or table[i, 1] < 0:
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if table[j, 1] < 0:
            break
        k = _home(table[j, 0], mask, shift)
        # keep entry j where it is if its home lies cyclically in (i, j]
        if i <= j:
            if i < k <= j:
                continue
        elif k > i or k <= j:
            continue
        table[i, 0] = table[j, 0]
        table[i, 1] = table[j, 1]
        i = j
    table[i, 1] = -1


# --- events ------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _emit(events, n, op, kind, order_id, counterparty, price, qty, leaves, side, liq, reason):
    e = events[n]
    e.operation_index = op
    e.order_id = order_id
    e.counterparty_order_id = counterparty
    e.price = price
    e.quantity = qty
    e.leaves_quantity = leaves
    e.kind = kind
    e.side = side
    e.liquidity = liq
    e.reason = reason
    return n + 1


# --- levels ------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _append(orders, levels, slot, level):
    tail = levels[level, LV_TAIL]
    orders[slot, O_LEVEL] = level
    orders[slot, O_PREV] = tail
    orders[slot, O_NEXT] = -1
    if tail < 0:
        levels[level, LV_HEAD] = slot
    else:
        orders[tail, O_NEXT] = slot
    levels[level, LV_TAIL] = slot
    levels[level, LV_QTY] += orders[slot, O_LEAVES]


@njit(cache=True, inline="always")
def _unlink(orders, levels, slot):
    level = orders[slot, O_LEVEL]
    prev = orders[slot, O_PREV]
    nxt = orders[slot, O_NEXT]
    if prev < 0:
        levels[level, LV_HEAD] = nxt
    else:
        orders[prev, O_NEXT] = nxt
    if nxt < 0:
        levels[level, LV_TAIL] = prev
    else:
        orders[nxt, O_PREV] = prev
    levels[level, LV_QTY] -= orders[slot, O_LEAVES]


@njit(cache=True, inline="always")
def _fix_best(levels, state, side, n_levels):
    """Move the best level of ``side`` off empty levels after orders left it."""
    if side == BUY:
        if state[S_N_BID] == 0:
            state[S_BEST_BID] = -1
        else:
            b = state[S_BEST_BID]
            while levels[b, LV_HEAD] < 0:
                b -= 1
            state[S_BEST_BID] = b
    else:
        if state[S_N_ASK] == 0:
            state[S_BEST_ASK] = n_levels
        else:
            a = state[S_BEST_ASK]
            while levels[a, LV_HEAD] < 0:
                a += 1
            state[S_BEST_ASK] = a


@njit(cache=True, inline="always")
def _rest(orders, levels, state, slot, side, level):
    """Append a live order's slot at the back of ``level`` and update the side's best."""
    _append(orders, levels, slot, level)
    if side == BUY:
        state[S_N_BID] += 1
        if level > state[S_BEST_BID]:
            state[S_BEST_BID] = level
    else:
        state[S_N_ASK] += 1
        if level < state[S_BEST_ASK]:
            state[S_BEST_ASK] = level


@njit(cache=True, inline="always")
def _remove(orders, levels, state, slot, n_levels):
    """Take a resting order out of its level (the slot stays allocated)."""
    _unlink(orders, levels, slot)
    if orders[slot, O_SIDE] == BUY:
        state[S_N_BID] -= 1
    else:
        state[S_N_ASK] -= 1
    _fix_best(levels, state, orders[slot, O_SIDE], n_levels)


@njit(cache=True, inline="always")
def _free(orders, table, mask, shift, state, slot):
    _hash_delete(table, mask, shift, orders[slot, O_ID])
    orders[slot, O_NEXT] = state[S_FREE]
    state[S_FREE] = slot


# --- matching ----------------------------------------------------------------------------------


@njit(cache=True)
def _fillable(orders, levels, state, side, owner, limit_level, qty):
    """Whether ``qty`` can trade at once up to ``limit_level``, not counting own orders."""
    total = 0
    if side == BUY:
        level = state[S_BEST_ASK]
        end = min(limit_level, state[P_N_LEVELS] - 1)
        while level <= end and total < qty:
            s = levels[level, LV_HEAD]
            while s >= 0 and total < qty:
                if orders[s, O_OWNER] != owner:
                    total += orders[s, O_LEAVES]
                s = orders[s, O_NEXT]
            level += 1
    else:
        level = state[S_BEST_BID]
        end = max(limit_level, 0)
        while level >= end and total < qty:
            s = levels[level, LV_HEAD]
            while s >= 0 and total < qty:
                if orders[s, O_OWNER] != owner:
                    total += orders[s, O_LEAVES]
                s = orders[s, O_NEXT]
            level -= 1
    return total >= qty


@njit(cache=True)
def _match(orders, levels, table, state, events, n, op, order_id, owner, side, limit_level, qty):
    """Trade an incoming (taker) order against the opposite side; return (leaves, n_events).

    Price-time priority: best level first, FIFO inside a level. A resting order of the same
    owner is canceled (self-trade prevention, cancel-resting policy) and matching goes on.
    """
    tick = state[P_TICK]
    min_price = state[P_MIN_PRICE]
    n_levels = state[P_N_LEVELS]
    mask = state[P_HASH_MASK]
    shift = state[P_HASH_SHIFT]
    if side == BUY:
        maker_side = SELL
        n_key = S_N_ASK
    else:
        maker_side = BUY
        n_key = S_N_BID
    while qty > 0 and state[n_key] > 0:
        if side == BUY:
            level = state[S_BEST_ASK]
            if level > limit_level:
                break
        else:
            level = state[S_BEST_BID]
            if level < limit_level:
                break
        price = min_price + level * tick
        s = levels[level, LV_HEAD]
        while s >= 0 and qty > 0:
            nxt = orders[s, O_NEXT]
            maker_id = orders[s, O_ID]
            maker_leaves = orders[s, O_LEAVES]
            if orders[s, O_OWNER] == owner:
                n = _emit(events, n, op, E_CANCELED, maker_id, 0, price, maker_leaves, 0,
                    maker_side, L_NONE, C_SELF_TRADE_PREVENTION)
                levels[level, LV_QTY] -= maker_leaves
                state[n_key] -= 1
                _free(orders, table, mask, shift, state, s)
                s = nxt
                continue
            fill = qty if qty < maker_leaves else maker_leaves
            qty -= fill
            maker_leaves -= fill
            levels[level, LV_QTY] -= fill
            n = _emit(events, n, op, E_FILLED if qty == 0 else E_PARTIALLY_FILLED, order_id,
                maker_id, price, fill, qty, side, L_TAKER, R_NONE)
            n = _emit(events, n, op, E_FILLED if maker_leaves == 0 else E_PARTIALLY_FILLED,
                maker_id, order_id, price, fill, maker_leaves, maker_side, L_MAKER, R_NONE)
            if maker_leaves == 0:
                state[n_key] -= 1
                _free(orders, table, mask, shift, state, s)
                s = nxt
            else:
                orders[s, O_LEAVES] = maker_leaves
        # s is the new head of the level (-1 when the level was swept)
        levels[level, LV_HEAD] = s
        if s < 0:
            levels[level, LV_TAIL] = -1
            _fix_best(levels, state, maker_side, n_levels)
        else:
            orders[s, O_PREV] = -1
    return qty, n


# --- operations --------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _check_size(state, qty):
    if qty <= 0:
        return R_NON_POSITIVE_SIZE
    if qty % state[P_LOT] != 0:
        return R_BAD_SIZE_LOT
    if qty < state[P_MIN_SIZE]:
        return R_SIZE_BELOW_MIN
    if qty > state[P_MAX_SIZE]:
        return R_SIZE_ABOVE_MAX
    return R_NONE


@njit(cache=True, inline="always")
def _check_price(state, price):
    if price <= 0:
        return R_NON_POSITIVE_PRICE
    if price % state[P_TICK] != 0:
        return R_BAD_PRICE_TICK
    if price < state[P_MIN_PRICE] or price > state[P_MAX_PRICE]:
        return R_PRICE_OUT_OF_BAND
    return R_NONE


@njit(cache=True, inline="always")
def _crosses(state, side, level):
    if side == BUY:
        return state[S_N_ASK] > 0 and level >= state[S_BEST_ASK]
    return state[S_N_BID] > 0 and level <= state[S_BEST_BID]


@njit(cache=True)
def _submit(orders, levels, table, state, events, n, op, order_id, owner, side, order_type, price,
        qty):
    reason = R_NONE
    if side != BUY and side != SELL:
        reason = R_UNKNOWN_SIDE
    elif order_type < LIMIT or order_type > POST_ONLY:
        reason = R_UNKNOWN_ORDER_TYPE
    else:
        reason = _check_size(state, qty)
        if reason == R_NONE and order_type != MARKET:
            reason = _check_price(state, price)
    mask = state[P_HASH_MASK]
    shift = state[P_HASH_SHIFT]
    if reason == R_NONE and _hash_find(table, mask, shift, order_id) >= 0:
        reason = R_DUPLICATE_ORDER_ID
    level = 0
    if reason == R_NONE:
        if order_type == MARKET:
            level = state[P_N_LEVELS] - 1 if side == BUY else 0
            price = 0
        else:
            level = (price - state[P_MIN_PRICE]) // state[P_TICK]
        if order_type == POST_ONLY and _crosses(state, side, level):
            reason = R_POST_ONLY_WOULD_CROSS
        elif order_type == FOK and not _fillable(orders, levels, state, side, owner, level, qty):
            reason = R_FOK_NOT_FILLABLE
        elif (order_type == LIMIT or order_type == POST_ONLY) and state[S_FREE] < 0:
            reason = R_BOOK_FULL
    if reason != R_NONE:
        return _emit(events, n, op, E_REJECTED, order_id, 0, price, qty, 0, side, L_NONE, reason)
    n = _emit(events, n, op, E_ACCEPTED, order_id, 0, price, qty, qty, side, L_NONE, R_NONE)
    leaves = qty
    if order_type != POST_ONLY:
        leaves, n = _match(orders, levels, table, state, events, n, op, order_id, owner, side,
            level, qty)
    if leaves > 0:
        if order_type == LIMIT or order_type == POST_ONLY:
            slot = state[S_FREE]
            state[S_FREE] = orders[slot, O_NEXT]
            orders[slot, O_ID] = order_id
            orders[slot, O_OWNER] = owner
            orders[slot, O_SIDE] = side
            orders[slot, O_LEAVES] = leaves
            orders[slot, O_FLAGS] = FLAG_POST_ONLY if order_type == POST_ONLY else 0
            _hash_insert(table, mask, shift, order_id, slot)
            _rest(orders, levels, state, slot, side, level)
        else:
            n = _emit(events, n, op, E_CANCELED, order_id, 0, price, leaves, 0, side, L_NONE,
                C_IOC_REMAINDER)
    return n


@njit(cache=True)
def _cancel(orders, levels, table, state, events, n, op, order_id):
    mask = state[P_HASH_MASK]
    shift = state[P_HASH_SHIFT]
    slot = _hash_find(table, mask, shift, order_id)
    if slot < 0:
        return _emit(events, n, op, E_CANCEL_REJECTED, order_id, 0, 0, 0, 0, 0, L_NONE,
            R_UNKNOWN_ORDER)
    side = orders[slot, O_SIDE]
    leaves = orders[slot, O_LEAVES]
    price = state[P_MIN_PRICE] + orders[slot, O_LEVEL] * state[P_TICK]
    _remove(orders, levels, state, slot, state[P_N_LEVELS])
    _free(orders, table, mask, shift, state, slot)
    return _emit(events, n, op, E_CANCELED, order_id, 0, price, leaves, 0, side, L_NONE,
        C_REQUESTED)


@njit(cache=True)
def _modify(orders, levels, table, state, events, n, op, order_id, price, qty):
    mask = state[P_HASH_MASK]
    shift = state[P_HASH_SHIFT]
    slot = _hash_find(table, mask, shift, order_id)
    reason = R_NONE
    if slot < 0:
        reason = R_UNKNOWN_ORDER
    else:
        reason = _check_size(state, qty)
        if reason == R_NONE:
            reason = _check_price(state, price)
    level = 0
    side = 0
    if reason == R_NONE:
        level = (price - state[P_MIN_PRICE]) // state[P_TICK]
        side = orders[slot, O_SIDE]
        if level != orders[slot, O_LEVEL] and orders[slot, O_FLAGS] & FLAG_POST_ONLY:
            if _crosses(state, side, level):
                reason = R_POST_ONLY_WOULD_CROSS
    if reason != R_NONE:
        return _emit(events, n, op, E_MODIFY_REJECTED, order_id, 0, price, qty, 0, 0, L_NONE,
            reason)
    leaves = orders[slot, O_LEAVES]
    n = _emit(events, n, op, E_MODIFIED, order_id, 0, price, qty, qty, side, L_NONE, R_NONE)
    if level == orders[slot, O_LEVEL] and qty <= leaves:
        # same price, not larger: keeps its place in the queue
        orders[slot, O_LEAVES] = qty
        levels[level, LV_QTY] -= leaves - qty
        return n
    _remove(orders, levels, state, slot, state[P_N_LEVELS])
    owner = orders[slot, O_OWNER]
    leaves, n = _match(orders, levels, table, state, events, n, op, order_id, owner, side, level,
        qty)
    if leaves > 0:
        orders[slot, O_LEAVES] = leaves
        _rest(orders, levels, state, slot, side, level)
    else:
        _free(orders, table, mask, shift, state, slot)
    return n


@njit(cache=True)
def process_operations(operations, start, orders, levels, table, state, events, n):
    """Apply ``operations[start:]`` in order, writing events from ``events[n]`` on.

    Returns ``(next_operation, n_events)``; ``next_operation < len(operations)`` means the event
    buffer might not hold the next operation's events: grow it and call again from there.
    """
    capacity = events.shape[0]
    i = start
    while i < operations.shape[0]:
        if n + 3 + 2 * (state[S_N_BID] + state[S_N_ASK]) > capacity:
            return i, n
        o = operations[i]
        action = o.action
        if action == A_SUBMIT:
            n = _submit(orders, levels, table, state, events, n, i, o.order_id, o.owner_id,
                np.int64(o.side), np.int64(o.order_type), o.price, o.quantity)
        elif action == A_CANCEL:
            n = _cancel(orders, levels, table, state, events, n, i, o.order_id)
        elif action == A_MODIFY:
            n = _modify(orders, levels, table, state, events, n, i, o.order_id, o.price,
                o.quantity)
        else:
            n = _emit(events, n, i, E_REJECTED, o.order_id, 0, o.price, o.quantity, 0,
                np.int64(o.side), L_NONE, R_UNKNOWN_ACTION)
        i += 1
    return i, n


@njit(cache=True)
def snapshot(orders, levels, state):
    """Resting orders in priority order: bids best-first, then asks best-first.

    Returns an int64 matrix with rows (order_id, owner_id, side, price, leaves_quantity).
    """
    total = state[S_N_BID] + state[S_N_ASK]
    out = np.empty((total, 5), dtype=np.int64)
    k = 0
    tick = state[P_TICK]
    min_price = state[P_MIN_PRICE]
    if state[S_N_BID] > 0:
        level = state[S_BEST_BID]
        while k < state[S_N_BID]:
            s = levels[level, LV_HEAD]
            while s >= 0:
                out[k, 0] = orders[s, O_ID]
                out[k, 1] = orders[s, O_OWNER]
                out[k, 2] = BUY
                out[k, 3] = min_price + level * tick
                out[k, 4] = orders[s, O_LEAVES]
                k += 1
                s = orders[s, O_NEXT]
            level -= 1
    if state[S_N_ASK] > 0:
        level = state[S_BEST_ASK]
        while k < total:
            s = levels[level, LV_HEAD]
            while s >= 0:
                out[k, 0] = orders[s, O_ID]
                out[k, 1] = orders[s, O_OWNER]
                out[k, 2] = SELL
                out[k, 3] = min_price + level * tick
                out[k, 4] = orders[s, O_LEAVES]
                k += 1
                s = orders[s, O_NEXT]
            level += 1
    return out[:k]
