"""Numba kernels of the L2 book: a tick-indexed window of levels with a sparse overflow for far prices.

Private: ``shriven.book.l2`` converts prices to integer ticks, validates, preallocates and calls
these. Prices are integer ticks here and sizes float64 (0 removes a level).

Data structure (after hftbacktest's ``ROIVectorMarketDepth``): per side, a dense float64 array
``qty[side, tick - base]`` over a window of ``width`` ticks that follows the touch. Setting a
level inside the window is one store; the best price is kept incrementally (a new level is
compared, a removed best scans away from the touch, bounded by the farthest level ever written on
that side). Levels outside the window go to a small unsorted overflow per side (``o_tick``,
``o_qty``; linear search), so a far price never fails or grows the window. When the touch leaves
the middle half of the window the window is re-centred on it (O(width), rare). Trade-off: O(1)
updates and cache-local depth scans near the touch, against ``2 * width * 8`` bytes per book
(64 kB at the default 4096 ticks) and linear cost for the (normally empty) overflow.

Alternatives weighed: a sorted array of levels per side (binary search + memmove, O(depth) per
update near the touch, no window to maintain) and a hash map per side (any price, but the best
after a removal needs a scan of the map; hftbacktest's ``HashMapMarketDepth``). The window wins
where events cluster within a few ticks of the touch, as they do on every venue and in the
synthetic exchange; the overflow keeps the rare far price correct instead of fast.

The row loop (``_run``) holds the hot state in locals and writes it back to the state vector only
around the rare paths (snapshots, seq issues, re-centring, overflow, invalid rows, sampling):
kept in the vector, every store to the level arrays forces its fields to be reloaded (they may
alias), which measured 8x slower.

All mutable state lives in arrays (``st`` int64 vector indexed by the ``_`` constants below,
``qty``, ``o_tick``, ``o_qty``, ``issues``), so a kernel can stop at a row with a status (a buffer
is full), let the caller grow the buffer, and resume at that row with nothing applied twice.

Message rules (mirrored by ``shriven.book.reference``): consecutive rows with the same
``(seq, is_snapshot)`` form one message. When a new message starts, the previous one is closed
(crossed check). A snapshot message clears the book and the stale flag. A delta message checks its
seq against the last one: a jump of more than 1 is a gap (issue, book stale until the next
snapshot), a step back a regression (issue, stale); a delta before any snapshot is reported once
(the book starts stale). Crossed (best bid >= best ask) is reported when a closed message leaves
the book crossed and the previous one did not.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Issue kind: seq jumped by more than 1 between delta messages; detail = number of missing seqs.
ISSUE_SEQ_GAP = 1
#: Issue kind: seq went backwards; detail = how far back.
ISSUE_SEQ_REGRESSION = 2
#: Issue kind: best bid >= best ask after a message; detail = best bid - best ask in ticks (>= 0).
ISSUE_CROSSED = 3
#: Issue kind: deltas before any snapshot (reported once per book); detail = 0.
ISSUE_NO_SNAPSHOT = 4
#: Issue kind: a row with a side other than 1/-1 or a negative or NaN size, skipped; detail = side.
ISSUE_INVALID_ROW = 5

#: Kernel status: every row was applied.
STATUS_OK = 0
#: Kernel status: the overflow of a side is full; grow to ``st[S_NEED]`` and resume at the row.
STATUS_OVERFLOW_FULL = 1
#: Kernel status: the issue buffer is full; grow it and resume at the row.
STATUS_ISSUES_FULL = 2

#: One reported problem of a book.
ISSUE_DTYPE = np.dtype(
    [("ts", np.int64), ("seq", np.int64), ("detail", np.int64), ("kind", np.int8)], align=True
)

#: Side index of bids in ``qty``, ``o_tick``, ``o_qty`` and the per-side state slots.
BID = 0
#: Side index of asks.
ASK = 1

# state vector slots (int64); per-side slots are ``slot + side``
#: First tick of the window.
S_BASE = 0
#: Window width in ticks (a power of two is not required).
S_WIDTH = 1
#: Best bid / best ask tick (``NO_BID`` / ``NO_ASK`` when the side is empty).
S_BEST = 2
#: Farthest tick from the touch that may hold a window level (bid: lowest, ask: highest).
S_BOUND = 4
#: Number of levels of the side (window and overflow).
S_COUNT = 6
#: Number of overflow levels of the side.
S_NOVER = 8
#: Seq of the last applied row (valid when ``S_HAS_SEQ``).
S_LAST_SEQ = 10
#: Timestamp (ns) of the last applied row.
S_LAST_TS = 11
#: 1 once a row was seen.
S_HAS_SEQ = 12
#: ``(seq, is_snapshot)`` of the open message.
S_GROUP_SEQ = 13
S_GROUP_SNAP = 14
#: 1 once a snapshot was applied.
S_SYNCED = 15
#: 1 while the book is stale (no snapshot yet, or a gap since the last one).
S_STALE = 16
#: 1 while the book is crossed (after the last closed message).
S_CROSSED = 17
#: Number of issues written.
S_N_ISSUES = 18
#: Overflow capacity asked for with ``STATUS_OVERFLOW_FULL``.
S_NEED = 19
#: Replay: next sample time (grid mode) and number of output rows written.
S_NEXT_SAMPLE = 20
S_N_OUT = 21
#: Length of the state vector.
STATE_LEN = 22

#: Sentinel best bid of an empty side (below any tick).
NO_BID = -(2**62)
#: Sentinel best ask of an empty side (above any tick).
NO_ASK = 2**62

# replay output: rows of the float matrix (per-level blocks of ``depth`` rows come first)
#: Float output rows after the four level blocks (bid px, bid sz, ask px, ask sz).
OUT_MID = 0
OUT_MICRO = 1
OUT_SPREAD = 2
OUT_IMBALANCE = 3
OUT_DEPTH_IMBALANCE = 4
#: Number of float rows besides the level blocks.
OUT_N_SCALARS = 5


def new_state(width: int) -> np.ndarray:
    """A fresh, empty state vector for a window of ``width`` ticks."""
    st = np.zeros(STATE_LEN, np.int64)
    st[S_WIDTH] = width
    st[S_BEST + BID] = NO_BID
    st[S_BEST + ASK] = NO_ASK
    st[S_BOUND + BID] = NO_ASK
    st[S_BOUND + ASK] = NO_BID
    st[S_STALE] = 1
    return st


@njit(cache=True, nogil=True, inline="always")
def _better(s, a, b):
    """True when tick ``a`` is closer to the touch than ``b`` on side ``s``."""
    return a > b if s == BID else a < b


@njit(cache=True, nogil=True, inline="always")
def _window_range(st, s):
    """Inclusive tick range of the window that may hold levels of side ``s`` (empty when lo > hi)."""
    base = st[S_BASE]
    top = base + st[S_WIDTH] - 1
    if s == BID:
        return max(st[S_BOUND + BID], base), min(st[S_BEST + BID], top)
    return max(st[S_BEST + ASK], base), min(st[S_BOUND + ASK], top)


@njit(cache=True, nogil=True)
def _overflow_best_n(o_tick, s, n_over):
    best = NO_BID if s == BID else NO_ASK
    for j in range(n_over):
        if _better(s, o_tick[s, j], best):
            best = o_tick[s, j]
    return best


#: Output rows buffered row-major before they are written to the column-major output.
_TILE = 256


@njit(cache=True, nogil=True)
def _next_best(st, qty, o_tick, s, removed):
    """Best tick of side ``s`` after its best level ``removed`` left (all others are worse)."""
    base = st[S_BASE]
    top = base + st[S_WIDTH] - 1
    best = NO_BID if s == BID else NO_ASK
    if s == BID:
        lo = max(st[S_BOUND + BID], base)
        for t in range(min(removed - 1, top), lo - 1, -1):
            if qty[BID, t - base] > 0.0:
                best = t
                break
    else:
        hi = min(st[S_BOUND + ASK], top)
        for t in range(max(removed + 1, base), hi + 1):
            if qty[ASK, t - base] > 0.0:
                best = t
                break
    if st[S_NOVER + s] > 0:
        ob = _overflow_best_n(o_tick, s, st[S_NOVER + s])
        if _better(s, ob, best):
            best = ob
    return best


@njit(cache=True, nogil=True)
def _clear(st, qty):
    """Remove every level (the window is zeroed only where levels may be)."""
    base = st[S_BASE]
    for s in range(2):
        if st[S_COUNT + s] - st[S_NOVER + s] > 0:
            lo, hi = _window_range(st, s)
            for t in range(lo, hi + 1):
                qty[s, t - base] = 0.0
        st[S_COUNT + s] = 0
        st[S_NOVER + s] = 0
    st[S_BEST + BID] = NO_BID
    st[S_BEST + ASK] = NO_ASK
    st[S_BOUND + BID] = NO_ASK
    st[S_BOUND + ASK] = NO_BID


@njit(cache=True, nogil=True)
def _set_level(st, qty, o_tick, o_qty, s, tick, size):
    """Set side ``s``'s level at ``tick`` to ``size`` (0 removes); overflow room was checked."""
    width = st[S_WIDTH]
    if size > 0.0 and st[S_COUNT + BID] + st[S_COUNT + ASK] == 0:
        st[S_BASE] = tick - width // 2  # empty book: centre the window on its first level
    base = st[S_BASE]
    idx = tick - base
    in_window = 0 <= idx < width
    if in_window:
        old = qty[s, idx]
        qty[s, idx] = size
    else:
        n_over = st[S_NOVER + s]
        j = 0
        while j < n_over and o_tick[s, j] != tick:
            j += 1
        old = o_qty[s, j] if j < n_over else 0.0
        if size > 0.0:
            o_tick[s, j] = tick
            o_qty[s, j] = size
            if j == n_over:
                st[S_NOVER + s] = n_over + 1
        elif j < n_over:
            o_tick[s, j] = o_tick[s, n_over - 1]
            o_qty[s, j] = o_qty[s, n_over - 1]
            st[S_NOVER + s] = n_over - 1
    if old == 0.0:
        if size > 0.0:
            st[S_COUNT + s] += 1
            if _better(s, tick, st[S_BEST + s]):
                st[S_BEST + s] = tick
            if in_window and _better(s, st[S_BOUND + s], tick):
                st[S_BOUND + s] = tick
    elif size == 0.0:
        st[S_COUNT + s] -= 1
        if st[S_COUNT + s] == 0:
            st[S_BEST + s] = NO_BID if s == BID else NO_ASK
            st[S_BOUND + s] = NO_ASK if s == BID else NO_BID
        elif tick == st[S_BEST + s]:
            st[S_BEST + s] = _next_best(st, qty, o_tick, s, tick)


@njit(cache=True, nogil=True)
def _recentre(st, qty, o_tick, o_qty, scratch, new_base):
    """Move the window to start at ``new_base``; False (and ``st[S_NEED]``) if an overflow is too small."""
    base = st[S_BASE]
    width = st[S_WIDTH]
    cap = o_tick.shape[1]
    for s in range(2):
        if st[S_COUNT + s] - st[S_NOVER + s] == 0:
            continue
        lo, hi = _window_range(st, s)
        leave = 0
        for t in range(lo, hi + 1):
            if qty[s, t - base] > 0.0 and not (new_base <= t < new_base + width):
                leave += 1
        if st[S_NOVER + s] + leave > cap:
            st[S_NEED] = st[S_NOVER + s] + leave
            return False
    for s in range(2):
        bound = NO_ASK if s == BID else NO_BID
        if st[S_COUNT + s] - st[S_NOVER + s] > 0:
            lo, hi = _window_range(st, s)
            for t in range(lo, hi + 1):
                scratch[t - lo] = qty[s, t - base]
                qty[s, t - base] = 0.0
            for t in range(lo, hi + 1):
                v = scratch[t - lo]
                if v > 0.0:
                    if new_base <= t < new_base + width:
                        qty[s, t - new_base] = v
                        if _better(s, bound, t):
                            bound = t
                    else:
                        n = st[S_NOVER + s]
                        o_tick[s, n] = t
                        o_qty[s, n] = v
                        st[S_NOVER + s] = n + 1
        j = 0
        while j < st[S_NOVER + s]:
            t = o_tick[s, j]
            if new_base <= t < new_base + width:
                qty[s, t - new_base] = o_qty[s, j]
                if _better(s, bound, t):
                    bound = t
                last = st[S_NOVER + s] - 1
                o_tick[s, j] = o_tick[s, last]
                o_qty[s, j] = o_qty[s, last]
                st[S_NOVER + s] = last
            else:
                j += 1
        st[S_BOUND + s] = bound
    st[S_BASE] = new_base
    return True


@njit(cache=True, nogil=True)
def _precheck(st, qty, o_tick, o_qty, scratch, issues, side, tick, size):
    """Room checks and window re-centring before a row; returns a status (nothing applied on failure)."""
    if st[S_N_ISSUES] + 3 > issues.size:
        return STATUS_ISSUES_FULL
    width = st[S_WIDTH]
    base = st[S_BASE]
    if st[S_COUNT + BID] > 0:
        ref = st[S_BEST + BID]
    elif st[S_COUNT + ASK] > 0:
        ref = st[S_BEST + ASK]
    else:
        return STATUS_OK  # empty book: the next level centres the window
    quarter = width // 4
    if ref < base + quarter or ref >= base + width - quarter:
        if not _recentre(st, qty, o_tick, o_qty, scratch, ref - width // 2):
            return STATUS_OVERFLOW_FULL
        base = st[S_BASE]
    if size > 0.0 and not (0 <= tick - base < width) and (side == 1 or side == -1):
        s = BID if side == 1 else ASK
        if st[S_NOVER + s] >= o_tick.shape[1]:
            st[S_NEED] = st[S_NOVER + s] + 1
            return STATUS_OVERFLOW_FULL
    return STATUS_OK


@njit(cache=True, nogil=True, inline="always")
def _issue(st, issues, ts, seq, kind, detail):
    n = st[S_N_ISSUES]
    rec = issues[n]
    rec.ts = ts
    rec.seq = seq
    rec.kind = kind
    rec.detail = detail
    st[S_N_ISSUES] = n + 1


@njit(cache=True, nogil=True)
def _open_message(st, qty, issues, ts, seq, snap):
    """Start a message: a snapshot clears the book; a delta checks its seq."""
    if snap:
        _clear(st, qty)
        st[S_STALE] = 0
        st[S_SYNCED] = 1
    else:
        if st[S_SYNCED] == 0 and st[S_HAS_SEQ] == 0:
            _issue(st, issues, ts, seq, ISSUE_NO_SNAPSHOT, 0)
        elif st[S_HAS_SEQ] == 1:
            last = st[S_LAST_SEQ]
            if seq > last + 1:
                _issue(st, issues, ts, seq, ISSUE_SEQ_GAP, seq - last - 1)
                st[S_STALE] = 1
            elif seq < last:
                _issue(st, issues, ts, seq, ISSUE_SEQ_REGRESSION, last - seq)
                st[S_STALE] = 1
    st[S_GROUP_SEQ] = seq
    st[S_GROUP_SNAP] = 1 if snap else 0
    st[S_HAS_SEQ] = 1


@njit(cache=True, nogil=True, inline="always")
def _depth_window(st, qty, s, n, out_tick, out_qty, k):
    """Append side ``s``'s window levels, best first, after ``k`` written ones; returns the count."""
    base = st[S_BASE]
    lo, hi = _window_range(st, s)
    if s == BID:
        for t in range(hi, lo - 1, -1):
            if k == n:
                break
            v = qty[BID, t - base]
            if v > 0.0:
                out_tick[k] = t
                out_qty[k] = v
                k += 1
    else:
        for t in range(lo, hi + 1):
            if k == n:
                break
            v = qty[ASK, t - base]
            if v > 0.0:
                out_tick[k] = t
                out_qty[k] = v
                k += 1
    return k


@njit(cache=True, nogil=True)
def _depth_with_overflow(st, qty, o_tick, o_qty, s, n, out_tick, out_qty):
    """``depth_side`` when the side has overflow levels: merge them (sorted) around the window."""
    base = st[S_BASE]
    top = base + st[S_WIDTH] - 1
    n_over = st[S_NOVER + s]
    order = np.argsort(o_tick[s, :n_over])
    if s == BID:
        order = order[::-1].copy()
    k = 0
    p = 0
    # overflow levels better than the whole window come first
    while p < n_over and k < n:
        t = o_tick[s, order[p]]
        if (s == BID and t <= top) or (s == ASK and t >= base):
            break
        out_tick[k] = t
        out_qty[k] = o_qty[s, order[p]]
        k += 1
        p += 1
    if st[S_COUNT + s] > n_over:
        k = _depth_window(st, qty, s, n, out_tick, out_qty, k)
    while p < n_over and k < n:
        out_tick[k] = o_tick[s, order[p]]
        out_qty[k] = o_qty[s, order[p]]
        k += 1
        p += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def depth_side(st, qty, o_tick, o_qty, s, n, out_tick, out_qty):
    """Write side ``s``'s best ``n`` levels (best first) to ``out_tick``/``out_qty``; returns how many."""
    if st[S_COUNT + s] == 0 or n <= 0:
        return 0
    if st[S_NOVER + s] > 0:
        return _depth_with_overflow(st, qty, o_tick, o_qty, s, n, out_tick, out_qty)
    return _depth_window(st, qty, s, n, out_tick, out_qty, 0)


@njit(cache=True, nogil=True, inline="always")
def _emit(st, qty, o_tick, o_qty, out_i, tile, q, ts, depth, units, scale, lvl_tick, lvl_qty):
    """Write output row ``st[S_N_OUT]``: ts, seq, stale to ``out_i``; levels and figures to ``tile[q]``."""
    r = st[S_N_OUT]
    out_i[0, r] = ts
    out_i[1, r] = st[S_LAST_SEQ]
    out_i[2, r] = st[S_STALE]
    nan = np.nan
    b = a = nan
    bs = az = 0.0
    sum_b = sum_a = 0.0
    for s in range(2):
        k = depth_side(st, qty, o_tick, o_qty, s, depth, lvl_tick, lvl_qty)
        px_row = (2 * s) * depth
        sz_row = px_row + depth
        total = 0.0
        for j in range(depth):
            if j < k:
                tile[q, px_row + j] = (lvl_tick[j] * units) / scale
                tile[q, sz_row + j] = lvl_qty[j]
                total += lvl_qty[j]
            else:
                tile[q, px_row + j] = nan
                tile[q, sz_row + j] = nan
        if s == BID:
            sum_b = total
            if k > 0:
                b = (lvl_tick[0] * units) / scale
                bs = lvl_qty[0]
        else:
            sum_a = total
            if k > 0:
                a = (lvl_tick[0] * units) / scale
                az = lvl_qty[0]
    row = 4 * depth
    if st[S_COUNT + BID] > 0 and st[S_COUNT + ASK] > 0:
        tile[q, row + OUT_MID] = 0.5 * (b + a)
        tile[q, row + OUT_MICRO] = (b * az + a * bs) / (bs + az)
        tile[q, row + OUT_SPREAD] = a - b
    else:
        tile[q, row + OUT_MID] = nan
        tile[q, row + OUT_MICRO] = nan
        tile[q, row + OUT_SPREAD] = nan
    tile[q, row + OUT_IMBALANCE] = (bs - az) / (bs + az) if bs + az > 0.0 else nan
    total = sum_b + sum_a
    tile[q, row + OUT_DEPTH_IMBALANCE] = (sum_b - sum_a) / total if total > 0.0 else nan
    st[S_N_OUT] = r + 1


@njit(cache=True, nogil=True, inline="always")
def _load(st):
    return (
        st[S_BASE], st[S_BEST + BID], st[S_BEST + ASK], st[S_BOUND + BID], st[S_BOUND + ASK],
        st[S_COUNT + BID], st[S_COUNT + ASK], st[S_NOVER + BID], st[S_NOVER + ASK],
        st[S_LAST_SEQ], st[S_LAST_TS], st[S_HAS_SEQ], st[S_GROUP_SEQ], st[S_GROUP_SNAP],
        st[S_CROSSED], st[S_N_ISSUES],
    )  # fmt: skip


@njit(cache=True, nogil=True, inline="always")
def _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq,
           last_ts, has_seq, group_seq, group_snap, crossed, n_issues):  # fmt: skip
    st[S_BASE] = base
    st[S_BEST + BID] = best_b
    st[S_BEST + ASK] = best_a
    st[S_BOUND + BID] = bound_b
    st[S_BOUND + ASK] = bound_a
    st[S_COUNT + BID] = cnt_b
    st[S_COUNT + ASK] = cnt_a
    st[S_NOVER + BID] = over_b
    st[S_NOVER + ASK] = over_a
    st[S_LAST_SEQ] = last_seq
    st[S_LAST_TS] = last_ts
    st[S_HAS_SEQ] = has_seq
    st[S_GROUP_SEQ] = group_seq
    st[S_GROUP_SNAP] = group_snap
    st[S_CROSSED] = crossed
    st[S_N_ISSUES] = n_issues


@njit(cache=True, nogil=True)
def _flush(st, out_f, tile, tile_n):
    """Write the ``tile_n`` buffered rows (the last ones emitted) to their output columns."""
    r0 = st[S_N_OUT] - tile_n
    for j in range(out_f.shape[0]):
        for q in range(tile_n):
            out_f[j, r0 + q] = tile[q, j]


@njit(cache=True, nogil=True)
def _finish(st, out_f, tile, tile_n, next_sample):
    """Before returning: flush the buffered rows and keep the next sample time."""
    _flush(st, out_f, tile, tile_n)
    st[S_NEXT_SAMPLE] = next_sample


@njit(cache=True, nogil=True, inline="always")
def _tile_step(st, out_f, tile, tile_n):
    """Count an emitted row (``_emit`` advanced ``st[S_N_OUT]``); flush a full tile."""
    tile_n += 1
    if tile_n == tile.shape[0]:
        _flush(st, out_f, tile, tile_n)
        return 0
    return tile_n


@njit(cache=True, nogil=True)
def _run(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap, start,
         sample, every_ns, last_sample, depth, units, scale, out_i, out_f):  # fmt: skip
    """The row loop of ``apply_rows`` (``sample`` False) and ``replay_rows`` (True).

    Hot state is held in locals (the state vector would be reloaded after every store to the
    level arrays, which may alias it) and written back around the rare paths, which work on the
    state vector: snapshots, seq issues, re-centring, overflow levels, invalid rows, sampling.
    """
    n = ts.size
    width = st[S_WIDTH]
    quarter = width // 4
    issue_cap = issues.size
    lvl_tick = np.empty(max(depth, 1), np.int64)
    lvl_qty = np.empty(max(depth, 1))
    tile = np.empty((_TILE if sample else 0, out_f.shape[0]))
    tile_n = 0
    next_sample = st[S_NEXT_SAMPLE]
    (base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq, last_ts,
     has_seq, group_seq, group_snap, crossed, n_issues) = _load(st)  # fmt: skip
    for i in range(start, n):
        t = tick[i]
        z = size[i]
        sd = side[i]
        sq = seq[i]
        sn = 1 if snap[i] else 0
        valid = (sd == 1 or sd == -1) and z >= 0.0
        # 1. room and window (nothing changes the book if this stops the run)
        if n_issues + 3 > issue_cap:
            _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a,
                   last_seq, last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
            _finish(st, out_f, tile, tile_n, next_sample)
            return i, STATUS_ISSUES_FULL
        if cnt_b > 0:
            ref = best_b
        elif cnt_a > 0:
            ref = best_a
        else:
            ref = base + 2 * quarter
        outside = not (0 <= t - base < width)
        if (
            ref < base + quarter
            or ref >= base + width - quarter
            or (outside and valid and z > 0.0 and cnt_b + cnt_a > 0)
        ):
            _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a,
                   last_seq, last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
            status = _precheck(st, qty, o_tick, o_qty, scratch, issues, sd, t, z)
            if status != STATUS_OK:
                _finish(st, out_f, tile, tile_n, next_sample)
                return i, status
            (base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq,
             last_ts, has_seq, group_seq, group_snap, crossed, n_issues) = _load(st)  # fmt: skip
        # 2. message boundary: close the last one, sample, open this one
        if has_seq == 0 or sq != group_seq or sn != group_snap:
            if has_seq == 1:
                now = cnt_b > 0 and cnt_a > 0 and best_b >= best_a
                if now and crossed == 0:
                    rec = issues[n_issues]
                    rec.ts = last_ts
                    rec.seq = last_seq
                    rec.kind = ISSUE_CROSSED
                    rec.detail = best_b - best_a
                    n_issues += 1
                crossed = 1 if now else 0
            if sample and (
                (every_ns == 0 and has_seq == 1)
                or (every_ns > 0 and next_sample < ts[i] and next_sample <= last_sample)
            ):
                _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a,
                       last_seq, last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
                if every_ns == 0:
                    _emit(st, qty, o_tick, o_qty, out_i, tile, tile_n, last_ts, depth, units,
                          scale, lvl_tick, lvl_qty)  # fmt: skip
                    tile_n = _tile_step(st, out_f, tile, tile_n)
                else:
                    while next_sample < ts[i] and next_sample <= last_sample:
                        _emit(st, qty, o_tick, o_qty, out_i, tile, tile_n, next_sample, depth,
                              units, scale, lvl_tick, lvl_qty)  # fmt: skip
                        tile_n = _tile_step(st, out_f, tile, tile_n)
                        next_sample += every_ns
            if sn == 0 and has_seq == 1 and last_seq <= sq <= last_seq + 1:
                group_seq = sq
                group_snap = 0
            else:
                _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a,
                       last_seq, last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
                _open_message(st, qty, issues, ts[i], sq, snap[i])
                (base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq,
                 last_ts, has_seq, group_seq, group_snap, crossed, n_issues) = _load(st)  # fmt: skip
        # 3. the level
        idx = t - base
        if valid and 0 <= idx < width and not (z > 0.0 and cnt_b + cnt_a == 0):
            if sd == 1:
                old = qty[BID, idx]
                qty[BID, idx] = z
                if old == 0.0:
                    if z > 0.0:
                        cnt_b += 1
                        if t > best_b:
                            best_b = t
                        if t < bound_b:
                            bound_b = t
                elif z == 0.0:
                    cnt_b -= 1
                    if cnt_b == 0:
                        best_b = NO_BID
                        bound_b = NO_ASK
                    elif t == best_b:
                        nb = NO_BID
                        for u in range(t - 1, max(bound_b, base) - 1, -1):
                            if qty[BID, u - base] > 0.0:
                                nb = u
                                break
                        if over_b > 0:
                            ob = _overflow_best_n(o_tick, BID, over_b)
                            if ob > nb:
                                nb = ob
                        best_b = nb
            else:
                old = qty[ASK, idx]
                qty[ASK, idx] = z
                if old == 0.0:
                    if z > 0.0:
                        cnt_a += 1
                        if t < best_a:
                            best_a = t
                        if t > bound_a:
                            bound_a = t
                elif z == 0.0:
                    cnt_a -= 1
                    if cnt_a == 0:
                        best_a = NO_ASK
                        bound_a = NO_BID
                    elif t == best_a:
                        na = NO_ASK
                        for u in range(t + 1, min(bound_a, base + width - 1) + 1):
                            if qty[ASK, u - base] > 0.0:
                                na = u
                                break
                        if over_a > 0:
                            oa = _overflow_best_n(o_tick, ASK, over_a)
                            if oa < na:
                                na = oa
                        best_a = na
        else:
            _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a,
                   last_seq, last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
            if valid:
                _set_level(st, qty, o_tick, o_qty, BID if sd == 1 else ASK, t, z)
            else:
                _issue(st, issues, ts[i], sq, ISSUE_INVALID_ROW, sd)
            (base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq,
             last_ts, has_seq, group_seq, group_snap, crossed, n_issues) = _load(st)  # fmt: skip
        last_seq = sq
        last_ts = ts[i]
    if has_seq == 1:
        now = cnt_b > 0 and cnt_a > 0 and best_b >= best_a
        if now and crossed == 0:
            rec = issues[n_issues]
            rec.ts = last_ts
            rec.seq = last_seq
            rec.kind = ISSUE_CROSSED
            rec.detail = best_b - best_a
            n_issues += 1
        crossed = 1 if now else 0
    _store(st, base, best_b, best_a, bound_b, bound_a, cnt_b, cnt_a, over_b, over_a, last_seq,
           last_ts, has_seq, group_seq, group_snap, crossed, n_issues)  # fmt: skip
    if sample and has_seq == 1:
        if every_ns == 0:
            _emit(st, qty, o_tick, o_qty, out_i, tile, tile_n, last_ts, depth, units, scale,
                  lvl_tick, lvl_qty)  # fmt: skip
            tile_n = _tile_step(st, out_f, tile, tile_n)
        else:
            while next_sample <= last_sample:
                _emit(st, qty, o_tick, o_qty, out_i, tile, tile_n, next_sample, depth, units,
                      scale, lvl_tick, lvl_qty)  # fmt: skip
                tile_n = _tile_step(st, out_f, tile, tile_n)
                next_sample += every_ns
    _finish(st, out_f, tile, tile_n, next_sample)
    return n, STATUS_OK


@njit(cache=True, nogil=True)
def apply_rows(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap, start):
    """Apply rows ``start:`` in order; returns ``(next_row, status)``; the last message is closed."""
    return _run(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap, start,
                False, 0, 0, 0, 1, 1, np.empty((3, 0), np.int64), np.empty((1, 0)))  # fmt: skip


@njit(cache=True, nogil=True)
def replay_rows(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap, start,
                every_ns, last_sample, depth, units, scale, out_i, out_f):  # fmt: skip
    """Replay one symbol's rows ``start:``, sampling into ``out_i``/``out_f``; returns ``(next_row, status)``.

    ``every_ns == 0``: one output row after every message (ts and seq of its last row). Otherwise
    a row at each grid time ``st[S_NEXT_SAMPLE] + k * every_ns <= last_sample``, holding the book
    after every message that started at or before it. Rows go to column ``st[S_N_OUT]`` onwards;
    the caller sets ``st[S_NEXT_SAMPLE]`` to the first grid time.
    """
    return _run(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap, start,
                True, every_ns, last_sample, depth, units, scale, out_i, out_f)  # fmt: skip


@njit(cache=True, nogil=True)
def apply_one(st, qty, o_tick, o_qty, scratch, issues, ts, seq, side, tick, size, snap):
    """``apply_rows`` for one row given as scalars (the per-event path); returns the status."""
    ts_a = np.empty(1, np.int64)
    seq_a = np.empty(1, np.int64)
    side_a = np.empty(1, np.int8)
    tick_a = np.empty(1, np.int64)
    size_a = np.empty(1)
    snap_a = np.empty(1, np.bool_)
    ts_a[0] = ts
    seq_a[0] = seq
    side_a[0] = side
    tick_a[0] = tick
    size_a[0] = size
    snap_a[0] = snap
    _, status = apply_rows(
        st, qty, o_tick, o_qty, scratch, issues, ts_a, seq_a, side_a, tick_a, size_a, snap_a, 0
    )
    return status
