"""The pre-trade risk manager: every order passes :meth:`RiskEngine.check` before the OMS.

Checks, in this order; the first failure is the reason (``RiskReason``), ``NONE`` passes:

1. ``UNKNOWN_SYMBOL``: not in the config.
2. ``BAD_SIDE``: not BUY/SELL. 3. ``UNKNOWN_ORDER_TYPE``.
4. ``BAD_QUANTITY``: NaN, infinite or not positive.
5. ``BAD_PRICE``: a non-market order whose price is missing, NaN, infinite or not positive
   (a market order's price is ignored). 6. ``PRICE_NOT_ON_TICK``. 7. ``QUANTITY_NOT_ON_LOT``
   (relative tolerance 1e-9). 8. ``QUANTITY_BELOW_MIN``. 9. ``QUANTITY_ABOVE_MAX`` (exchange).
10. ``HALTED``: trading is halted. 11. ``RESTRICTED_SYMBOL``.
12. ``REDUCE_ONLY``: trading is REDUCING, or the order is ``reduce_only``, and the order does
    not *reduce*: a buy against a short (a sell against a long) whose quantity plus the working
    orders of its side does not exceed ``|position|`` (so it never crosses zero).
13. ``DAILY_LOSS`` / 14. ``DRAWDOWN``: the limit is breached right now and the order does not
    reduce (reached only when trading was set ACTIVE again during a breach).
15. ``MAX_ORDER_QUANTITY``.
16. ``NO_REFERENCE_PRICE``: no :meth:`mark` yet, for a market order, or for any order when the
    price collar or an exposure/leverage limit is on.
17. ``PRICE_COLLAR``: ``|limit / reference - 1| > price_collar + 1e-9`` (the slack absorbs the
    rounding of the division, so a price exactly at the collar passes; market orders pass).
18. ``MAX_ORDER_NOTIONAL``: quantity times the limit price (the reference for a market order).
19-22. Exposure limits, skipped by an order that reduces (a breached limit never blocks its own
    cure). ``POSITION_LIMIT``: worst case ``position + working buys + order`` (a buy) or
    ``position - working sells - order`` (a sell) beyond ``max_position``. ``GROSS_EXPOSURE``
    and ``NET_EXPOSURE``: the account's with this symbol's position replaced by that worst case,
    at the reference. ``BUYING_POWER``: gross exposure + working-order notional + the order's
    notional above ``equity * max_leverage`` (no equity reported yet: equity 0).
23. ``MAX_OPEN_ORDERS``: working orders already at the limit.
24. ``ORDER_RATE``: ``max_orders_per_second`` passing orders already have ``ts`` in
    ``(request.ts - 1 s, request.ts]``. Last, so that only an order that passes is counted.
    An order stamped before the last passing order counts at that order's time: the window's
    clock does not go back.

``check`` never raises on a bad order (wrong types included) and changes no state but the rate
window; a denial calls the listener with a DENIED event. The engine feeds positions, marks,
working orders and equity through the O(1) ``mark``/``order_*``/``position_changed``/
``equity_changed`` methods.

``check`` runs the compiled check (``shriven.risk._kernels``) on the engine's own copy of the
state in the kernel's packed arrays, which those methods write through; a denial, or an order
whose fields are not exactly ``float``/``int``/``None``, goes through ``_check_ordered``, the same
checks in Python (a property test holds the two equal), which also names the denial's values.
Measured (``bench/bench_risk.py``): p50 430 ns a call against 640 ns for the Python checks, about
the cost of a plain function checking six limits.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from shriven.model.enums import OrderType, RiskReason, Side, TradingState
from shriven.model.records import OrderRequest
from shriven.risk import _kernels as k
from shriven.risk.config import RiskConfig
from shriven.risk.events import RiskEvent, RiskEventKind

__all__ = ["CHECK_ORDER", "RiskEngine", "RiskKernelState"]

_INF = math.inf
_TOL = k.TOLERANCE
_SLACK = k.REDUCE_SLACK
_WINDOW = k.WINDOW_NS

#: The checks in the order they run (the first failure is the reason).
CHECK_ORDER: tuple[RiskReason, ...] = (
    RiskReason.UNKNOWN_SYMBOL,
    RiskReason.BAD_SIDE,
    RiskReason.UNKNOWN_ORDER_TYPE,
    RiskReason.BAD_QUANTITY,
    RiskReason.BAD_PRICE,
    RiskReason.PRICE_NOT_ON_TICK,
    RiskReason.QUANTITY_NOT_ON_LOT,
    RiskReason.QUANTITY_BELOW_MIN,
    RiskReason.QUANTITY_ABOVE_MAX,
    RiskReason.HALTED,
    RiskReason.RESTRICTED_SYMBOL,
    RiskReason.REDUCE_ONLY,
    RiskReason.DAILY_LOSS,
    RiskReason.DRAWDOWN,
    RiskReason.MAX_ORDER_QUANTITY,
    RiskReason.NO_REFERENCE_PRICE,
    RiskReason.PRICE_COLLAR,
    RiskReason.MAX_ORDER_NOTIONAL,
    RiskReason.POSITION_LIMIT,
    RiskReason.GROSS_EXPOSURE,
    RiskReason.NET_EXPOSURE,
    RiskReason.BUYING_POWER,
    RiskReason.MAX_OPEN_ORDERS,
    RiskReason.ORDER_RATE,
)

# Cached members: no enum lookup on the hot path.
_NONE = RiskReason.NONE
_R = RiskReason
_ACTIVE = TradingState.ACTIVE
_REDUCING = TradingState.REDUCING
_HALTED = TradingState.HALTED
_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_NAN = math.nan
_float = float
_int = int
#: Side and order type as the kernel's codes; a dict lookup accepts exactly what the ordered
#: path's ``==`` tests accept (the members, their ints, ``True``, ``1.0``...), anything else is
#: a KeyError (the ordered path then names the reason).
_SIDE_CODE = {Side.BUY: k.BUY, Side.SELL: k.SELL}
_TYPE_CODE = {
    OrderType.LIMIT: k.LIMIT,
    OrderType.MARKET: k.MARKET,
    OrderType.IOC: k.IOC,
    OrderType.FOK: k.FOK,
    OrderType.POST_ONLY: k.POST_ONLY,
}
_BREACH_STATES = {"halted": _HALTED, "reducing": _REDUCING}


class _Slot:
    """One instrument: its limits (read-only) and the state the engine feeds."""

    __slots__ = (
        "index",
        "symbol",
        "tick",
        "lot",
        "min_quantity",
        "max_quantity",
        "max_order_quantity",
        "max_order_notional",
        "max_position",
        "restricted",
        "reference",
        "position",
        "working_buy",
        "working_sell",
        "at",
    )

    def __init__(self, index: int, limits: Any, restricted: bool) -> None:
        self.index = index
        self.symbol = limits.symbol
        self.tick = float(limits.tick_size)
        self.lot = float(limits.lot_size)
        self.min_quantity = float(limits.min_quantity)
        self.max_quantity = float(limits.max_quantity)
        self.max_order_quantity = float(limits.max_order_quantity)
        self.max_order_notional = float(limits.max_order_notional)
        self.max_position = float(limits.max_position)
        self.restricted = restricted
        self.reference = 0.0
        self.position = 0.0
        self.working_buy = 0.0
        self.working_sell = 0.0
        #: This row's first word in the engine's flat ``sym`` view.
        self.at = index * k.N_SYM


class _Working:
    """A working order: what it adds to working quantity and open notional."""

    __slots__ = ("slot", "buy", "quantity", "remaining", "value_price")

    def __init__(self, slot: _Slot, buy: bool, quantity: float, value_price: float) -> None:
        self.slot = slot
        self.buy = buy
        self.quantity = quantity
        self.remaining = quantity
        self.value_price = value_price


class RiskKernelState(msgspec.Struct, frozen=True, kw_only=True):
    """The engine's state as the arrays of ``shriven.risk._kernels`` (see its docstring)."""

    symbols: tuple[str, ...]
    lim: np.ndarray
    sym: np.ndarray
    acc: np.ndarray
    par: np.ndarray
    ist: np.ndarray
    ring: np.ndarray


class RiskEngine:
    """Pre-trade checks against configured limits and the state the trading engine feeds in."""

    __slots__ = (
        "_breach_state",
        "_breached",
        "_buying_power",
        "_acc",
        "_block_at",
        "_check_packed",
        "_index",
        "_count_in_window",
        "_ist_at",
        "_collar",
        "_config",
        "_daily_breached",
        "_daily_loss_limit",
        "_drawdown_breached",
        "_equity",
        "_gross",
        "_limit_needs_reference",
        "_listener",
        "_max_drawdown",
        "_max_gross",
        "_max_leverage",
        "_max_net",
        "_max_open",
        "_n_working",
        "_net",
        "_open_notional",
        "_orders",
        "_peak",
        "_ist",
        "_lim",
        "_n_symbols",
        "_par",
        "_rate_max",
        "_ring",
        "_ring_at",
        "_sym",
        "_symf",
        "_slot_list",
        "_slots",
        "_start_equity",
        "_state",
        "_state_code",
    )

    def __init__(
        self, config: RiskConfig, *, listener: Callable[[RiskEvent], None] | None = None
    ) -> None:
        limits = config.limits
        restricted = frozenset(limits.restricted)
        self._config = config
        self._listener = listener
        self._slot_list = [
            _Slot(i, inst, inst.symbol in restricted) for i, inst in enumerate(config.instruments)
        ]
        self._slots = {s.symbol: s for s in self._slot_list}
        self._max_gross = float(limits.max_gross_exposure)
        self._max_net = float(limits.max_net_exposure)
        self._max_open = limits.max_open_orders
        self._collar = float(limits.price_collar) + k.COLLAR_SLACK
        self._daily_loss_limit = float(limits.daily_loss_limit)
        self._max_drawdown = float(limits.max_drawdown)
        self._max_leverage = float(limits.max_leverage)
        self._breach_state = _BREACH_STATES[limits.breach_state]
        self._limit_needs_reference = (
            limits.price_collar < _INF
            or self._max_gross < _INF
            or self._max_net < _INF
            or self._max_leverage < _INF
        )
        self._state = _ACTIVE
        self._state_code = 0
        self._orders: dict[str, _Working] = {}
        self._gross = 0.0
        self._net = 0.0
        self._open_notional = 0.0
        self._equity = 0.0
        self._peak = -_INF
        self._start_equity: float | None = None
        self._buying_power = _INF if self._max_leverage == _INF else 0.0
        self._daily_breached = False
        self._drawdown_breached = False
        self._breached = False
        self._n_working = 0
        self._rate_max = limits.max_orders_per_second
        # The state the checks read, as the kernel's arrays (see ``_kernels``): ``check`` runs
        # the compiled check on them. The Python attributes above stay the engine's own record;
        # every change to a value the kernel reads is written through to its word here.
        n = len(self._slot_list)
        self._n_symbols = n
        self._lim, self._sym, self._acc, self._par, self._ist = k.packed_arrays(n)
        self._symf = self._sym.reshape(-1)  # a view: one flat index per write
        for slot in self._slot_list:
            self._lim[slot.index] = (
                slot.tick,
                slot.lot,
                slot.min_quantity,
                slot.max_quantity,
                slot.max_order_quantity,
                slot.max_order_notional,
                slot.max_position,
                1.0 if slot.restricted else 0.0,
            )
        self._par[:] = (
            self._max_gross,
            self._max_net,
            self._collar,
            float(self._max_open),
            1.0 if self._limit_needs_reference else 0.0,
        )
        self._acc[k.A_BUYING_POWER] = self._buying_power
        self._ist[k.I_RING_LAST] = k.RING_EMPTY
        #: Check 24's window: a FIFO of the last second's passing times (``_kernels``). Written,
        #: not calloc'd: a page first touched inside a check would be a page fault there.
        self._ring = np.full(self._rate_max, 0, np.int64)
        k.bind_ring(self._ist, self._ring)
        self._block_at = self._acc.ctypes.data
        self._index = {slot.symbol: slot.index for slot in self._slot_list}
        self._ring_at = self._ring.ctypes.data
        self._check_packed = k.packed_entry()
        self._count_in_window = k.window_entry()
        self._ist_at = self._ist.ctypes.data

    # ------------------------------------------------------------------ the check

    def check(self, request: OrderRequest) -> RiskReason:
        """First check the order fails (module docstring order), ``RiskReason.NONE`` if none."""
        # The compiled check, called through its entry point with exactly the types of its
        # signature; anything else (an int quantity, a str price...) goes the ordered way, which
        # also names a denial's values for the listener.
        try:
            q = request.quantity
            price = request.price
            ts = request.ts
            if type(q) is _float and type(ts) is _int and (type(price) is _float or price is None):
                reason = self._check_packed(
                    self._block_at,
                    self._index[request.symbol],
                    _SIDE_CODE[request.side],
                    _TYPE_CODE[request.order_type],
                    q,
                    _NAN if price is None else price,
                    ts,
                    request.reduce_only,
                )
                if reason == 0:
                    return _NONE
        except Exception:
            pass
        return self._check_ordered(request)

    def _check_ordered(self, request: OrderRequest) -> RiskReason:
        """Every check in the documented order (the fast path's fallback; the kernel's twin)."""
        try:
            s = self._slots.get(request.symbol)
            if s is None:
                return self._deny(_R.UNKNOWN_SYMBOL, request)
            side = request.side
            if side is _BUY or side is _SELL:
                buy = side is _BUY
            elif side == 1 or side == 2:
                buy = side == 1
            else:
                return self._deny(_R.BAD_SIDE, request)
            ot = request.order_type
            if ot is _LIMIT:
                market = False
            elif ot is _MARKET or ot == 2:
                market = True
            elif ot == 1 or ot == 3 or ot == 4 or ot == 5:
                market = False
            else:
                return self._deny(_R.UNKNOWN_ORDER_TYPE, request)
            q = request.quantity
            if not 0.0 < q < _INF:
                return self._deny(_R.BAD_QUANTITY, request)
            price = request.price
            if not market:
                if price is None or not 0.0 < price < _INF:
                    return self._deny(_R.BAD_PRICE, request)
                r = price / s.tick
                f = r % 1.0
                if not (f <= _TOL * r or 1.0 - f <= _TOL * r):
                    return self._deny(_R.PRICE_NOT_ON_TICK, request, price, s.tick)
            r = q / s.lot
            f = r % 1.0
            if not (f <= _TOL * r or 1.0 - f <= _TOL * r):
                return self._deny(_R.QUANTITY_NOT_ON_LOT, request, q, s.lot)
            if q < s.min_quantity:
                return self._deny(_R.QUANTITY_BELOW_MIN, request, q, s.min_quantity)
            if q > s.max_quantity:
                return self._deny(_R.QUANTITY_ABOVE_MAX, request, q, s.max_quantity)
            state = self._state_code
            if state == 2:
                return self._deny(_R.HALTED, request)
            if s.restricted:
                return self._deny(_R.RESTRICTED_SYMBOL, request)
            p = s.position
            if buy:
                working = s.working_buy
                reduces = p < 0.0 and working + q <= -p * _SLACK
            else:
                working = s.working_sell
                reduces = p > 0.0 and working + q <= p * _SLACK
            if not reduces:
                if state == 1 or request.reduce_only:
                    return self._deny(_R.REDUCE_ONLY, request, working + q, abs(p))
                if self._breached:
                    if self._daily_breached:
                        return self._deny(_R.DAILY_LOSS, request)
                    return self._deny(_R.DRAWDOWN, request)
            if q > s.max_order_quantity:
                return self._deny(_R.MAX_ORDER_QUANTITY, request, q, s.max_order_quantity)
            ref = s.reference
            if market:
                if ref == 0.0:
                    return self._deny(_R.NO_REFERENCE_PRICE, request)
                px = ref
            else:
                if ref == 0.0:
                    if self._limit_needs_reference:
                        return self._deny(_R.NO_REFERENCE_PRICE, request)
                else:
                    d = price / ref - 1.0
                    if d > self._collar or -d > self._collar:
                        return self._deny(_R.PRICE_COLLAR, request, d, self._collar)
                px = price
            notional = q * px
            if notional > s.max_order_notional:
                return self._deny(_R.MAX_ORDER_NOTIONAL, request, notional, s.max_order_notional)
            if not reduces:
                if buy:
                    projected = p + working + q
                    if projected > s.max_position:
                        return self._deny(_R.POSITION_LIMIT, request, projected, s.max_position)
                else:
                    projected = p - working - q
                    if -projected > s.max_position:
                        return self._deny(_R.POSITION_LIMIT, request, projected, s.max_position)
                gross = self._gross
                if ref != 0.0:
                    after = (
                        gross
                        + (
                            (projected if projected >= 0.0 else -projected)
                            - (p if p >= 0.0 else -p)
                        )
                        * ref
                    )
                    if after > self._max_gross:
                        return self._deny(_R.GROSS_EXPOSURE, request, after, self._max_gross)
                    after = self._net + (projected - p) * ref
                    if after > self._max_net or -after > self._max_net:
                        return self._deny(_R.NET_EXPOSURE, request, after, self._max_net)
                used = gross + self._open_notional + notional
                if used > self._buying_power:
                    return self._deny(_R.BUYING_POWER, request, used, self._buying_power)
            if self._n_working >= self._max_open:
                return self._deny(_R.MAX_OPEN_ORDERS, request, self._n_working, self._max_open)
            ts = operator.index(request.ts)
            if self._count_in_window(self._ist_at, self._ring_at, self._rate_max, ts):
                return self._deny(_R.ORDER_RATE, request, self._rate_max, self._rate_max)
            return _NONE
        except Exception:
            clean = _sanitized(request)
            if clean is None:
                raise
            return self._check_ordered(clean)

    def _deny(
        self,
        reason: RiskReason,
        request: OrderRequest,
        value: float = math.nan,
        limit: float = math.nan,
    ) -> RiskReason:
        if self._listener is not None:
            detail = (
                f"{_side_name(request.side)} {request.quantity} @ {request.price}"
                f" ({_type_name(request.order_type)})"
            )
            if value == value:
                detail += f"; value {value:.10g} limit {limit:.10g}"
            self._emit(
                RiskEventKind.DENIED,
                reason,
                request.ts,
                symbol=str(request.symbol),
                client_order_id=str(request.client_order_id),
                detail=detail,
            )
        return reason

    # ------------------------------------------------------------------ state fed in

    @property
    def state(self) -> TradingState:
        """What trading may do now (ACTIVE, REDUCING or HALTED)."""
        return self._state

    @property
    def working_orders(self) -> int:
        """Orders opened and not yet closed (they count against ``max_open_orders``)."""
        return len(self._orders)

    @property
    def config(self) -> RiskConfig:
        """The configuration the engine was built from."""
        return self._config

    def mark(self, symbol: str, price: float) -> None:
        """New reference price (valuation, collar); not finite or <= 0 clears it (denies safely)."""
        s = self._slots.get(symbol)
        if s is None:
            return
        if not 0.0 < price < _INF:
            price = 0.0
        p = s.position
        old = s.reference
        self._gross += abs(p) * price - abs(p) * old
        self._net += p * price - p * old
        s.reference = price
        self._symf[s.at + k.Y_REFERENCE] = price
        self._write_exposure()

    def position_changed(self, symbol: str, position: float) -> None:
        """New signed position of a configured symbol (others are ignored)."""
        s = self._slots.get(symbol)
        if s is None:
            return
        if not math.isfinite(position):
            raise ValueError(f"position of {symbol} must be finite, got {position!r}")
        ref = s.reference
        old = s.position
        self._gross += abs(position) * ref - abs(old) * ref
        self._net += position * ref - old * ref
        s.position = position
        self._symf[s.at + k.Y_POSITION] = position
        self._write_exposure()

    def order_opened(self, request: OrderRequest) -> None:
        """An order the OMS submitted: it now counts as working (repeats and unknowns ignored)."""
        s = self._slots.get(request.symbol)
        if s is None or request.client_order_id in self._orders:
            return
        buy = request.side == 1
        q = float(request.quantity)
        if request.order_type == 2 or request.price is None:
            value_price = s.reference
        else:
            value_price = float(request.price)
        self._orders[request.client_order_id] = _Working(s, buy, q, value_price)
        self._n_working += 1
        self._ist[k.I_WORKING] = self._n_working
        if buy:
            s.working_buy += q
            self._symf[s.at + k.Y_WORKING_BUY] = s.working_buy
        else:
            s.working_sell += q
            self._symf[s.at + k.Y_WORKING_SELL] = s.working_sell
        self._open_notional += q * value_price
        self._acc[k.A_OPEN_NOTIONAL] = self._open_notional

    def order_filled(self, client_order_id: str, quantity: float) -> None:
        """Part of a working order filled: less is working (the position comes separately)."""
        w = self._orders.get(client_order_id)
        if w is None:
            return
        q = min(float(quantity), w.remaining)
        if not q > 0.0:
            return
        w.remaining -= q
        self._reduce_working(w, q)
        if w.remaining <= w.quantity * _TOL:
            self._close(client_order_id, w)

    def order_closed(self, client_order_id: str) -> None:
        """A working order was filled, canceled, rejected or expired: no longer working."""
        w = self._orders.get(client_order_id)
        if w is not None:
            self._close(client_order_id, w)

    def _reduce_working(self, w: _Working, q: float) -> None:
        s = w.slot
        if w.buy:
            s.working_buy = max(0.0, s.working_buy - q)
            self._symf[s.at + k.Y_WORKING_BUY] = s.working_buy
        else:
            s.working_sell = max(0.0, s.working_sell - q)
            self._symf[s.at + k.Y_WORKING_SELL] = s.working_sell
        self._open_notional = max(0.0, self._open_notional - q * w.value_price)
        self._acc[k.A_OPEN_NOTIONAL] = self._open_notional

    def _close(self, client_order_id: str, w: _Working) -> None:
        self._reduce_working(w, w.remaining)
        w.remaining = 0.0
        del self._orders[client_order_id]
        self._n_working -= 1
        self._ist[k.I_WORKING] = self._n_working
        if not self._orders:  # nothing working: drop accumulated float noise
            self._open_notional = 0.0
            self._acc[k.A_OPEN_NOTIONAL] = 0.0
            for s in self._slot_list:
                s.working_buy = 0.0
                s.working_sell = 0.0
            self._sym[:, k.Y_WORKING_BUY] = 0.0
            self._sym[:, k.Y_WORKING_SELL] = 0.0

    def start_day(self, equity: float, ts: int) -> None:
        """Start a trading day: ``equity`` is the new daily-loss baseline."""
        self._start_equity = float(equity)
        self.equity_changed(equity, ts)

    def equity_changed(self, equity: float, ts: int) -> None:
        """New account equity: buying power, and the daily-loss and drawdown breach checks.

        A breach (the condition turning true) emits one BREACH event and moves trading to
        ``breach_state`` unless it is already stricter; it stays there until :meth:`set_state`.
        """
        equity = float(equity)
        if not math.isfinite(equity):
            raise ValueError(f"equity must be finite, got {equity!r}")
        self._equity = equity
        if equity > self._peak:
            self._peak = equity
        if self._max_leverage < _INF:
            self._buying_power = equity * self._max_leverage
            self._acc[k.A_BUYING_POWER] = self._buying_power
        start = self._start_equity
        loss = 0.0 if start is None else start - equity
        daily = loss > self._daily_loss_limit
        drawdown = self._drawdown()
        dd = drawdown > self._max_drawdown
        breaches = []
        if daily and not self._daily_breached:
            breaches.append(
                (_R.DAILY_LOSS, f"loss {loss:.10g} limit {self._daily_loss_limit:.10g}")
            )
        if dd and not self._drawdown_breached:
            breaches.append(
                (_R.DRAWDOWN, f"drawdown {drawdown:.10g} limit {self._max_drawdown:.10g}")
            )
        self._daily_breached = daily
        self._drawdown_breached = dd
        self._breached = daily or dd
        self._ist[k.I_DAILY_BREACHED] = int(daily)
        self._ist[k.I_DRAWDOWN_BREACHED] = int(dd)
        for reason, detail in breaches:
            self._emit(RiskEventKind.BREACH, reason, ts, detail=f"{detail}; equity {equity:.10g}")
        if breaches and self._breach_state > self._state:
            self._change_state(self._breach_state, breaches[0][0].name.lower(), ts)

    def _drawdown(self) -> float:
        peak = self._peak
        return 1.0 - self._equity / peak if peak > 0.0 else 0.0

    def set_state(self, state: TradingState, reason: str, ts: int) -> None:
        """Move to ``state`` (an operator, the engine); a STATE_CHANGE event when it changes."""
        state = TradingState(state)
        if state != self._state:
            self._change_state(state, reason, ts)

    def kill(self, reason: str, ts: int) -> None:
        """The kill switch: HALTED, recorded as one KILL_SWITCH event (the engine then cancels)."""
        self._set(_HALTED)
        self._emit(RiskEventKind.KILL_SWITCH, reason, ts)

    def _change_state(self, state: TradingState, reason: str, ts: int) -> None:
        self._set(state)
        self._emit(RiskEventKind.STATE_CHANGE, reason, ts)

    def _set(self, state: TradingState) -> None:
        self._state = state
        self._state_code = int(state)
        self._ist[k.I_STATE] = self._state_code

    def _write_exposure(self) -> None:
        """Gross and net exposure to the kernel's words (after a mark or a position)."""
        acc = self._acc
        acc[k.A_GROSS] = self._gross
        acc[k.A_NET] = self._net

    def _emit(
        self,
        kind: RiskEventKind,
        reason: RiskReason | str,
        ts: int,
        *,
        symbol: str = "",
        client_order_id: str = "",
        detail: str = "",
    ) -> None:
        if self._listener is None:
            return
        ts = ts if isinstance(ts, int) else 0
        self._listener(
            RiskEvent(
                ts=ts,
                kind=kind,
                reason=reason,
                symbol=symbol,
                client_order_id=client_order_id,
                trading_state=self._state,
                detail=detail,
            )
        )

    # ------------------------------------------------------------------ read-outs

    def usage(self) -> dict[str, float]:
        """Limit usage as fractions of the limits (0 when a limit is off), for dashboards."""
        start = self._start_equity
        loss = 0.0 if start is None else max(0.0, start - self._equity)
        recent = self._orders_in_last_second()
        buying_power = self._buying_power
        used = self._gross + self._open_notional
        return {
            "gross_exposure": _fraction(self._gross, self._max_gross),
            "net_exposure": _fraction(abs(self._net), self._max_net),
            "open_orders": _fraction(len(self._orders), self._max_open),
            "order_rate": _fraction(recent, self._rate_max),
            "daily_loss": _fraction(loss, self._daily_loss_limit),
            "drawdown": _fraction(max(0.0, self._drawdown()), self._max_drawdown),
            "buying_power": (
                0.0 if buying_power == _INF else (used / buying_power if buying_power > 0 else _INF)
            ),
        }

    def exposure(self) -> dict[str, float]:
        """Gross and net exposure, working-order notional and equity (quote currency)."""
        return {
            "gross": self._gross,
            "net": self._net,
            "open_notional": self._open_notional,
            "equity": self._equity,
        }

    def symbol_index(self, symbol: str) -> int:
        """Index of ``symbol`` in the kernel arrays (-1: unknown)."""
        s = self._slots.get(symbol)
        return -1 if s is None else s.index

    def _orders_in_last_second(self) -> int:
        """Passing orders in the second before the newest one (the window may hold older ones
        until the next check moves it)."""
        ist = self._ist
        count = int(ist[k.I_RING_COUNT])
        if count == 0:
            return 0
        positions = (int(ist[k.I_RING_HEAD]) + np.arange(count)) % self._rate_max
        return int(np.count_nonzero(self._ring[positions] > ist[k.I_RING_LAST] - _WINDOW))

    def kernel_state(self) -> RiskKernelState:
        """A copy of the state as the kernel's arrays, for a compiled event loop to own."""
        lim, sym, acc, par, ist = k.packed_arrays(self._n_symbols)  # one block: see there
        lim[...] = self._lim
        sym[...] = self._sym
        acc[...] = self._acc
        par[...] = self._par
        ist[...] = self._ist
        ring = self._ring.copy()  # written: no page faults inside the loop
        k.bind_ring(ist, ring)
        return RiskKernelState(
            symbols=tuple(s.symbol for s in self._slot_list),
            lim=lim,
            sym=sym,
            acc=acc,
            par=par,
            ist=ist,
            ring=ring,
        )


def _fraction(value: float, limit: float) -> float:
    return 0.0 if limit == _INF else value / limit


def _side_name(side: object) -> str:
    return {1: "buy", 2: "sell"}.get(side, repr(side)) if isinstance(side, int) else repr(side)


def _type_name(order_type: object) -> str:
    if isinstance(order_type, int) and 1 <= order_type <= 5:
        return ("limit", "market", "ioc", "fok", "post_only")[order_type - 1]
    return repr(order_type)


def _number(value: object) -> float:
    """A float for int and float values; NaN (a bad value) for anything else, strings included."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def _code(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return -1


def _sanitized(request: object) -> OrderRequest | None:
    """A copy whose fields have the declared types (bad ones made invalid), None if already so."""
    symbol = getattr(request, "symbol", "")
    price = getattr(request, "price", None)
    ts = getattr(request, "ts", 0)
    clean = OrderRequest(
        client_order_id=str(getattr(request, "client_order_id", "")),
        symbol=symbol if isinstance(symbol, str) else "",
        side=_code(getattr(request, "side", -1)),  # type: ignore[arg-type]
        quantity=_number(getattr(request, "quantity", math.nan)),
        order_type=_code(getattr(request, "order_type", -1)),  # type: ignore[arg-type]
        price=None if price is None else _number(price),
        reduce_only=bool(getattr(request, "reduce_only", False) is True),
        ts=ts if isinstance(ts, int) and not isinstance(ts, bool) and abs(ts) < 2**62 else 0,
    )
    fields = (
        "client_order_id",
        "symbol",
        "side",
        "quantity",
        "order_type",
        "price",
        "reduce_only",
        "ts",
    )
    if isinstance(request, OrderRequest) and all(
        _same(getattr(request, f), getattr(clean, f)) for f in fields
    ):
        return None
    return clean


def _same(a: object, b: object) -> bool:
    return a is b or (type(a) is type(b) and (a == b or (a != a and b != b)))
