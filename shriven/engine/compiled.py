"""Compiled replay of a strategy that sends a market order on every bar: the per-event path in numba.

The event-driven :class:`~shriven.engine.engine.TradingEngine` runs any Python strategy and
spends some 60 us of interpreter time per order (OMS, journal, portfolio, risk bookkeeping).
Research replays that order on every bar need the same path without the interpreter, so this
module runs it as one numba loop over the same parts:

* the venues: each symbol's ``shriven.venue`` matching kernel (``advance``/``enqueue``), the
  very state arrays a :class:`~shriven.execution.simulated.SimulatedExchange` holds;
* the risk manager: ``shriven.risk._kernels.check_order`` and its ``on_*`` helpers over
  :meth:`RiskEngine.kernel_state` (the same checks the Python engine makes, in the same order);
* the OMS: orders as array rows (state, remaining, filled quantity); the portfolio: position,
  average cost, realised PnL, fees and cash per symbol, with ``Position.apply``'s arithmetic.

Each order carries latencies read from the cycle counter (``shriven.engine.cycles``): to its
request at the venue from the start of its wake-up (which first moves the venues through the
market data up to the bar's close) and from the delivery of the bars (the market event the
strategy reacts to), and the time of its risk check.

Wake-ups follow :class:`TradingEngine` exactly: at each bar close ``t`` every venue moves to
``t``, outcomes visible by ``t`` are applied in the engine's merge order (visible time,
exchange time, order id), then each bar closing by ``t`` marks its symbol and the strategy may
order; equity goes to the risk manager last. A test holds fills, denials and positions equal
to the event-driven engine's on the same data.

The strategy is the order-every-bar benchmark: buy ``quantity`` when flat or short, sell it
when long (``EveryBar`` in ``bench/bench_trading.py``). Venues need a latency above zero (a
zero-latency venue settles inside the wake-up, which this loop does not model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit
from numba.typed import List

from shriven.engine import cycles as _cycles_module
from shriven.engine.bars import BarSeries
from shriven.engine.cycles import cycles, ns_per_cycle
from shriven.execution.simulated import SimulatedExchange
from shriven.model import enums as _enums_module
from shriven.model.enums import RiskReason
from shriven.numba_cache import cache_depends_on
from shriven.portfolio import position as _position_module
from shriven.portfolio.position import FLAT_TOLERANCE
from shriven.risk import _kernels as rk
from shriven.risk.engine import RiskEngine
from shriven.venue import _kernels as vk

__all__ = ["ORDER_STATES", "CompiledReplay", "replay_every_bar"]

# The loop compiles in the risk and venue kernels and the cycle counter, and freezes constants
# of the enums and positions modules: its cache follows them all.
cache_depends_on(__file__, rk, vk, _cycles_module, _enums_module, _position_module)

#: Final order states in ``CompiledReplay.orders["state"]``.
ORDER_STATES = {0: "denied", 1: "submitted", 2: "accepted", 3: "partially_filled",
                4: "filled", 5: "canceled", 6: "rejected"}  # fmt: skip
_DENIED, _SUBMITTED, _ACCEPTED, _PARTIAL, _FILLED, _CANCELED, _REJECTED = range(7)

ORDER_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("symbol", np.int32),
        ("side", np.int8),
        ("state", np.int8),
        ("reason", np.int8),
        ("quantity", np.float64),
        ("filled", np.float64),
        # counter ticks to the order's request at the venue from the start of the wake-up
        # (before the venues move to its time) and from the delivery of the wake-up's bars
        # (venues at its time, outcomes applied), and around its risk check; -1 when denied
        ("wake_to_venue", np.int64),
        ("bar_to_venue", np.int64),
        ("risk_check", np.int64),
    ],
    align=True,
)
FILL_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("ts_local", np.int64),
        ("order", np.int64),
        ("symbol", np.int32),
        ("side", np.int8),
        ("liquidity", np.int8),
        ("price", np.float64),
        ("quantity", np.float64),
        ("fee", np.float64),
    ],
    align=True,
)

# status codes of the kernel
_OK = 0
_EVENTS_FULL = 1
_REQUESTS_FULL = 2
_LOG_FULL = 3

# float account of the kernel (``acct``)
_CASH, _FEES, _PEAK, _START, _DAILY_LIMIT, _MAX_DD, _LEVERAGE, _BREACH_STATE = range(8)


@dataclass(frozen=True)
class CompiledReplay:
    """What a compiled replay did: orders and fills (numpy records), the portfolio at the end."""

    symbols: tuple[str, ...]
    orders: np.ndarray
    fills: np.ndarray
    positions: dict[str, float]
    avg_costs: dict[str, float]
    realized_pnl: dict[str, float]
    fees: dict[str, float]
    cash: float
    wakeups: int
    bars: int
    #: ``orders`` latency columns are counter ticks: this many ns each.
    ns_per_cycle: float

    def latency_ns(self, column: str) -> np.ndarray:
        """``wake_to_venue``, ``bar_to_venue`` or ``risk_check`` of the submitted orders, in ns."""
        sent = self.orders["state"] != _DENIED
        return self.orders[column][sent].astype(np.float64) * self.ns_per_cycle

    @property
    def orders_submitted(self) -> int:
        """Orders that passed risk and went to a venue."""
        return int(np.count_nonzero(self.orders["state"] != _DENIED))

    def denials_by_reason(self) -> dict[str, int]:
        """Denied orders by ``RiskReason`` name."""
        reasons = self.orders["reason"][self.orders["state"] == _DENIED]
        values, counts = np.unique(reasons, return_counts=True)
        return {RiskReason(int(v)).name: int(c) for v, c in zip(values, counts, strict=True)}


@njit(cache=True, inline="always")
def _apply_fill(pos, avg, real, fees, acct, s, signed, price, fee):
    """``Position.apply`` and the portfolio's cash, for symbol ``s``."""
    old = pos[s]
    new = old + signed
    if abs(new) <= FLAT_TOLERANCE * max(abs(old), abs(signed)):
        new = 0.0
    if old == 0.0:
        avg[s] = price
    elif (old > 0.0) == (signed > 0.0):
        avg[s] = (old * avg[s] + signed * price) / new
    else:
        through = new == 0.0 or (new > 0.0) != (old > 0.0)
        closed = abs(old) if through else abs(signed)
        real[s] += (price - avg[s]) * (closed if old > 0.0 else -closed)
        if new == 0.0:
            avg[s] = np.nan
        elif through:
            avg[s] = price
    pos[s] = new
    fees[s] += fee
    acct[_FEES] += fee
    acct[_CASH] -= signed * price + fee


@njit(cache=True, inline="always")
def _close_working(rsym, racc, rist, remaining, value, orders, o):
    """``RiskEngine.order_closed``: what is left of order ``o`` stops working."""
    if remaining[o] < 0.0:
        return
    s = orders[o]["symbol"]
    rk.on_order_reduced(rsym, racc, rist, s, orders[o]["side"], remaining[o], value[o], True)
    remaining[o] = -1.0  # closed
    if rist[rk.I_WORKING] == 0:  # nothing working: drop accumulated float noise
        racc[rk.A_OPEN_NOTIONAL] = 0.0
        for i in range(rsym.shape[0]):
            rsym[i, rk.Y_WORKING_BUY] = 0.0
            rsym[i, rk.Y_WORKING_SELL] = 0.0


@njit(cache=True)
def _replay(
    feeds, evs, sts, accs, pars, fpars, xqs, xbs, lqs, lbs, ois, ofs, rq_is, rq_fs,
    delivered, venue_symbol, wake_ts, bar_start, bar_symbol, bar_close, end_ns,
    lim, rsym, racc, rpar, rist, ring, acct, quantity, timed,
    pos, avg, real, fees, marks, orders, remaining, value, fills, counts,
):  # fmt: skip
    """The replay loop (see the module docstring). ``counts``: orders, fills, wake-ups, bars."""
    nv = len(feeds)
    n_wakes = wake_ts.shape[0]
    for w in range(n_wakes + 1):
        t = wake_ts[w] if w < n_wakes else end_ns
        if w == n_wakes and n_wakes > 0 and end_ns <= wake_ts[n_wakes - 1]:
            break
        woke = cycles() if timed else 0
        counts[2] += 1
        for v in range(nv):
            st = sts[v]
            if t >= st[vk.S_NOW]:
                status = vk.advance(feeds[v], evs[v], st, accs[v], pars[v], fpars[v], xqs[v],
                                    xbs[v], lqs[v], lbs[v], ois[v], ofs[v], rq_is[v], rq_fs[v], t)  # fmt: skip
                if status != vk.STATUS_OK:
                    return _EVENTS_FULL
        # outcomes visible by t, merged across venues by (visible time, exchange time, order id)
        while True:
            best = -1
            for v in range(nv):
                d = delivered[v]
                if d < sts[v][vk.S_N_EVENTS]:
                    e = evs[v][d]
                    if e.ts_local <= t:
                        if best < 0:
                            best = v
                        else:
                            b = evs[best][delivered[best]]
                            if e.ts_local < b.ts_local or (
                                e.ts_local == b.ts_local
                                and (e.ts < b.ts or (e.ts == b.ts and e.order_id < b.order_id))
                            ):
                                best = v
            if best < 0:
                break
            e = evs[best][delivered[best]]
            delivered[best] += 1
            o = e.order_id - 1
            kind = e.kind
            if kind == vk.E_ACCEPTED:
                orders[o]["state"] = _ACCEPTED
            elif kind == vk.E_PARTIALLY_FILLED or kind == vk.E_FILLED:
                s = venue_symbol[best]
                q = e.quantity
                signed = q if orders[o]["side"] == rk.BUY else -q
                _apply_fill(pos, avg, real, fees, acct, s, signed, e.price, e.fee)
                orders[o]["filled"] += q
                orders[o]["state"] = _FILLED if kind == vk.E_FILLED else _PARTIAL
                nf = counts[1]
                if nf >= fills.shape[0]:
                    return _LOG_FULL
                f = fills[nf]
                f.ts = e.ts
                f.ts_local = e.ts_local
                f.order = e.order_id
                f.symbol = s
                f.side = orders[o]["side"]
                f.liquidity = e.liquidity
                f.price = e.price
                f.quantity = q
                f.fee = e.fee
                counts[1] = nf + 1
                # RiskEngine.order_filled, position_changed, then order_closed when terminal
                if remaining[o] >= 0.0:
                    r = min(q, remaining[o])
                    if r > 0.0:
                        remaining[o] -= r
                        rk.on_order_reduced(
                            rsym, racc, rist, s, orders[o]["side"], r, value[o], False
                        )
                        if remaining[o] <= orders[o]["quantity"] * rk.TOLERANCE:
                            _close_working(rsym, racc, rist, remaining, value, orders, o)
                rk.on_position(rsym, racc, s, pos[s])
                if kind == vk.E_FILLED:
                    _close_working(rsym, racc, rist, remaining, value, orders, o)
            elif kind == vk.E_CANCELED or kind == vk.E_REJECTED:
                orders[o]["state"] = _CANCELED if kind == vk.E_CANCELED else _REJECTED
                _close_working(rsym, racc, rist, remaining, value, orders, o)
        for v in range(nv):  # as SimulatedVenue.events: an emptied buffer starts over
            if delivered[v] == sts[v][vk.S_N_EVENTS]:
                sts[v][vk.S_N_EVENTS] = 0
                delivered[v] = 0
        # bars closing by t: mark, then the strategy orders
        if w < n_wakes:
            bars_ready = cycles() if timed else 0
            for j in range(bar_start[w], bar_start[w + 1]):
                counts[3] += 1
                s = bar_symbol[j]
                marks[s] = bar_close[j]
                rk.on_mark(rsym, racc, s, bar_close[j])
                side = rk.BUY if pos[s] <= 0.0 else rk.SELL
                n = counts[0]
                if n >= orders.shape[0]:
                    return _LOG_FULL
                orders[n]["ts"] = t
                orders[n]["symbol"] = s
                orders[n]["side"] = side
                orders[n]["quantity"] = quantity
                orders[n]["filled"] = 0.0
                counts[0] = n + 1
                c0 = cycles() if timed else 0
                reason = rk.check_order(lim, rsym, racc, rpar, rist, ring, s, side, rk.MARKET,
                                        quantity, np.nan, t, False)  # fmt: skip
                orders[n]["risk_check"] = cycles() - c0 if timed else 0
                orders[n]["wake_to_venue"] = -1
                orders[n]["bar_to_venue"] = -1
                if reason != rk.R_NONE:
                    orders[n]["state"] = _DENIED
                    orders[n]["reason"] = reason
                    remaining[n] = -1.0
                    continue
                orders[n]["state"] = _SUBMITTED
                orders[n]["reason"] = 0
                value[n] = rsym[s, rk.Y_REFERENCE]
                remaining[n] = quantity
                rk.on_order_opened(rsym, racc, rist, s, side, quantity, value[n])
                v = -1
                for i in range(nv):
                    if venue_symbol[i] == s:
                        v = i
                if v < 0:
                    return _LOG_FULL
                status = vk.enqueue(sts[v], pars[v], rq_is[v], rq_fs[v], vk.A_SUBMIT, n + 1,
                                    side, vk.T_MARKET, 0, quantity, 0)  # fmt: skip
                if status != vk.STATUS_OK:
                    return _REQUESTS_FULL
                sent = cycles() if timed else 0
                orders[n]["wake_to_venue"] = sent - woke
                orders[n]["bar_to_venue"] = sent - bars_ready
        # equity to the risk manager (RiskEngine.equity_changed)
        equity = acct[_CASH]
        for s in range(pos.shape[0]):
            if pos[s] != 0.0:
                equity += pos[s] * (marks[s] if marks[s] == marks[s] else avg[s])
        if equity > acct[_PEAK]:
            acct[_PEAK] = equity
        if acct[_LEVERAGE] < np.inf:
            racc[rk.A_BUYING_POWER] = equity * acct[_LEVERAGE]
        daily = (acct[_START] - equity) > acct[_DAILY_LIMIT]
        drawdown = (1.0 - equity / acct[_PEAK] if acct[_PEAK] > 0.0 else 0.0) > acct[_MAX_DD]
        new_breach = (daily and rist[rk.I_DAILY_BREACHED] == 0) or (
            drawdown and rist[rk.I_DRAWDOWN_BREACHED] == 0
        )
        rist[rk.I_DAILY_BREACHED] = 1 if daily else 0
        rist[rk.I_DRAWDOWN_BREACHED] = 1 if drawdown else 0
        if new_breach and acct[_BREACH_STATE] > rist[rk.I_STATE]:
            rist[rk.I_STATE] = np.int64(acct[_BREACH_STATE])
    return _OK


def _wake_schedule(
    bars: Mapping[str, BarSeries],
    order: list[str],
    index: dict[str, int],
    start_ns: int,
    end_ns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bar closes in ``(start_ns, end_ns]`` grouped by wake-up, symbols in ``order`` within one."""
    ends, syms, closes, rank = [], [], [], []
    for r, sym in enumerate(order):
        series = bars[sym]
        end = series.ts + series.interval_ns
        keep = (end > start_ns) & (end <= end_ns)
        ends.append(end[keep])
        closes.append(series.close[keep])
        syms.append(np.full(int(keep.sum()), index[sym], np.int64))
        rank.append(np.full(int(keep.sum()), r, np.int64))
    end = np.concatenate(ends) if ends else np.empty(0, np.int64)
    sym = np.concatenate(syms) if syms else np.empty(0, np.int64)
    close = np.concatenate(closes) if closes else np.empty(0)
    rnk = np.concatenate(rank) if rank else np.empty(0, np.int64)
    by = np.lexsort((end, rnk, end))  # wake-up, then symbol order, then time (as SeriesBars.closed)
    end, sym, close = end[by].astype(np.int64), sym[by], close[by].astype(np.float64)
    wake, first = np.unique(end, return_index=True)
    start = np.append(first, end.size).astype(np.int64)
    return wake.astype(np.int64), start, sym, close


def replay_every_bar(
    exchange: SimulatedExchange,
    bars: Mapping[str, BarSeries],
    risk: RiskEngine,
    *,
    starting_cash: float,
    quantity: float,
    start_ns: int,
    end_ns: int,
    timed: bool = True,
) -> CompiledReplay:
    """Replay ``(start_ns, end_ns]``: a market order of ``quantity`` on every bar (see the module).

    ``exchange`` (fresh: at ``start_ns``, nothing sent) and ``risk`` (after ``start_day``) are
    the objects the event-driven engine would use; the exchange's venue state moves forward.
    ``timed=False`` skips the cycle-counter reads (each fenced: ~20 ns) and leaves the latency
    columns 0, for throughput.
    """
    if not math.isfinite(quantity) or quantity <= 0.0:
        raise ValueError(f"quantity must be a positive number, got {quantity!r}")
    if end_ns < start_ns:
        raise ValueError(f"end_ns {end_ns} is before start_ns {start_ns}")
    venues = [exchange.venues[sym] for sym in exchange.venues]
    for v in venues:
        if v.round_trip_latency_ns <= 0:
            raise ValueError("a zero-latency venue settles inside the wake-up: not modelled here")
        if not v.is_idle:
            raise ValueError("the exchange must be fresh: requests in flight or orders resting")
    state = risk.kernel_state()
    index = {sym: i for i, sym in enumerate(state.symbols)}
    symbols = [s for s in bars if s in index and s in exchange.venues]
    wake, bar_start, bar_symbol, bar_close = _wake_schedule(bars, symbols, index, start_ns, end_ns)
    venue_symbol = np.array([index.get(sym, -1) for sym in exchange.venues], np.int64)
    for v in venues:  # the kernel cannot grow buffers: room for every order and its outcomes
        v.reserve(
            events=4 * max(1, len(bar_symbol)) + 1024, requests=2 * max(1, len(bar_symbol)) + 16
        )
    arrays = [v.kernel_arrays() for v in venues]

    def typed(position: int) -> List:
        out = List()
        for a in arrays:
            out.append(a[position])
        return out

    delivered = np.array([v.delivered for v in venues], np.int64)
    n_sym = len(state.symbols)
    limits = risk.config.limits
    equity0 = float(starting_cash)
    acct = np.array(
        [starting_cash, 0.0, equity0, equity0, float(limits.daily_loss_limit),
         float(limits.max_drawdown), float(limits.max_leverage),
         float({"halted": rk.HALTED, "reducing": rk.REDUCING}[limits.breach_state])]
    )  # fmt: skip
    pos, avg = np.zeros(n_sym), np.full(n_sym, np.nan)
    real, fees, marks = np.zeros(n_sym), np.zeros(n_sym), np.full(n_sym, np.nan)
    n_orders = len(bar_symbol)
    orders = np.zeros(n_orders, ORDER_DTYPE)
    remaining, value = np.full(n_orders, -1.0), np.zeros(n_orders)
    fills = np.zeros(4 * n_orders + 16, FILL_DTYPE)
    counts = np.zeros(4, np.int64)
    status = _replay(
        *(typed(i) for i in range(14)), delivered, venue_symbol, wake, bar_start, bar_symbol,
        bar_close, int(end_ns), state.lim, state.sym, state.acc, state.par, state.ist, state.ring,
        acct, float(quantity), bool(timed), pos, avg, real, fees, marks, orders, remaining, value, fills, counts,
    )  # fmt: skip
    if status != _OK:
        raise RuntimeError(f"compiled replay stopped with status {status} (a buffer too small)")
    for v, d in zip(venues, delivered, strict=True):
        v.delivered = int(d)
    names = state.symbols
    return CompiledReplay(
        symbols=names,
        orders=orders[: counts[0]].copy(),
        fills=fills[: counts[1]].copy(),
        positions={names[i]: float(pos[i]) for i in range(n_sym)},
        avg_costs={names[i]: float(avg[i]) for i in range(n_sym)},
        realized_pnl={names[i]: float(real[i]) for i in range(n_sym)},
        fees={names[i]: float(fees[i]) for i in range(n_sym)},
        cash=float(acct[_CASH]),
        wakeups=int(counts[2]),
        bars=int(counts[3]),
        ns_per_cycle=ns_per_cycle(),
    )
