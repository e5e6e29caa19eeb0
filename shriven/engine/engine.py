"""The trading engine: strategies → risk → OMS (journal) → venue → fills → portfolio, on one clock.

One object, one loop, three modes. A backtest moves a :class:`~shriven.engine.clock.SimulatedClock`
through the replayed feed; paper and live trading call :meth:`TradingEngine.run_until` with the
wall clock. Everything per event is plain Python over O(1) state or numba inside the venue; the
Prefect flows only wrap whole sessions (see DESIGN.md, "Hot path and orchestration").

Order of work at each wake-up time ``t`` (a bar close, a quote sample, a timer or a signal):

1. the venue is advanced to ``t`` and its outcomes are applied (OMS → portfolio → risk → strategy);
2. the manual kill switch is read (one ``stat``);
3. bars closing at ``t`` mark the portfolio and the risk manager at the close, then go to
   strategies (an order's reference price is refreshed from the venue's touch when older than
   ``mark_max_age_ns``);
4. signals with ``ts <= t`` are handed to strategies, each journaled as consumed after the
   orders it caused (so a crash in between re-delivers it, and its deterministic order ids make
   the retry idempotent); then the gateway's commands (orders and cancels from the durable
   command log), each journaled as consumed the same way;
5. quote samples, execution algos (TWAP, VWAP, iceberg children) and due timers;
6. the new equity goes to the risk manager (daily loss, drawdown); a move to HALTED cancels every
   working order at once.

The ack point of an order is :meth:`OrderManager.submit` (journaled and fsync'd); only then is it
sent to the venue. The rest of a wake-up's records (venue outcomes, denials, consumed signals)
are written out at its end and synced in the background: a process crash loses none of them,
and what a power cut could lose, reconciliation with the venue and the idempotent order ids of
re-delivered signals restore.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from shriven.engine.bars import BarSeries, BarStream, SeriesBars
from shriven.engine.clock import Clock, SimulatedClock
from shriven.engine.commands import GATEWAY_STRATEGY, CommandKind, CommandLog
from shriven.engine.killswitch import KillSwitch
from shriven.engine.metrics import EngineMetrics
from shriven.execution.algos import TWAP, VWAP, Iceberg
from shriven.model.enums import (
    OrderEventKind,
    OrderState,
    OrderType,
    RiskReason,
    Side,
    TradingMode,
    TradingState,
)
from shriven.model.records import Fill, OrderEvent, OrderRequest, Quote, Signal
from shriven.observability.logs import correlation_scope
from shriven.strategy.base import Strategy

logger = logging.getLogger("shriven.engine")

__all__ = ["EngineConfig", "EngineStats", "TradingEngine"]

_LOT_TOLERANCE = 1e-9
#: Orders one target may send (fills, cancels and venue rejections re-work it) before giving up.
_MAX_TARGET_ORDERS = 20


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the engine runs: its account, mode and the cadence of what it hands to strategies.

    ``quote_interval_ns`` > 0 samples every symbol's top of book at that interval and calls
    ``on_quote`` when it changed (market makers); 0 sends no quotes. ``pnl_interval_ns`` is the
    spacing of the equity-curve samples. ``resubmit_missing``: after a restart, send working
    orders the venue does not know again (paper: the simulated venue restarts empty) instead of
    canceling them. ``signal_poll_ns``: the signal log is read at most this often (engine time);
    ``mark_max_age_ns``: an order's reference price is refreshed from the venue when older.
    ``settle_in_wake``: advance the venue again after strategies sent orders, so a zero-latency
    venue's answers land in the same wake-up (and journal commit); off when latency is > 0.
    """

    account: str = "paper"
    mode: TradingMode = TradingMode.PAPER
    quote_interval_ns: int = 0
    pnl_interval_ns: int = 60_000_000_000
    cancel_on_halt: bool = True
    resubmit_missing: bool = False
    signal_poll_ns: int = 1_000_000_000
    mark_max_age_ns: int = 1_000_000_000
    settle_in_wake: bool = True


@dataclass
class EngineStats:
    """Counts of what the engine did, for logs, artifacts and benchmarks."""

    wakeups: int = 0
    bars: int = 0
    quotes: int = 0
    signals: int = 0
    commands: int = 0
    orders_submitted: int = 0
    orders_denied: int = 0
    venue_events: int = 0
    fills: int = 0
    reconciliations: int = 0
    denials_by_reason: dict[str, int] = field(default_factory=dict)


class _Context:
    """The :class:`StrategyContext` one strategy sees (its orders, the shared book and portfolio)."""

    __slots__ = ("_engine", "_strategy", "symbols")

    def __init__(self, engine: TradingEngine, strategy: Strategy) -> None:
        self._engine = engine
        self._strategy = strategy
        self.symbols = strategy.symbols or engine.symbols

    @property
    def now(self) -> int:
        return self._engine.now

    def position(self, symbol: str) -> float:
        return self._engine.strategy_position(self._strategy.strategy_id, symbol)

    def open_quantity(self, symbol: str) -> float:
        return self._engine._open_quantity(self._strategy.strategy_id, symbol)

    def quote(self, symbol: str) -> Quote | None:
        return self._engine.quote(symbol)

    def equity(self) -> float:
        return self._engine.portfolio.equity

    def tick_size(self, symbol: str) -> float:
        return self._engine.instruments[symbol][0]

    def lot_size(self, symbol: str) -> float:
        return self._engine.instruments[symbol][1]

    def submit(
        self,
        symbol: str,
        side: Side,
        quantity: float,
        price: float | None = None,
        order_type: OrderType = OrderType.LIMIT,
        *,
        tag: str = "",
    ) -> str:
        return self._engine.submit(self._strategy, symbol, side, quantity, price, order_type, tag=tag)

    def cancel(self, client_order_id: str) -> None:
        self._engine.cancel(client_order_id)

    def cancel_all(self, symbol: str | None = None) -> None:
        self._engine.cancel_all(self._strategy.strategy_id, symbol)

    def target_position(self, symbol: str, target: float) -> None:
        self._engine.target_position(self._strategy, symbol, target)

    def set_timer(self, at_ns: int) -> None:
        self._engine.set_timer(self._strategy, at_ns)

    def execute(self, symbol: str, side: Side, quantity: float, algo: str, **params: object) -> str:
        return self._engine.execute(self._strategy, symbol, side, quantity, algo, **params)


class TradingEngine:
    """The event loop of the trading path (see the module docstring for the order of work).

    Parameters are the engine's collaborators, built by :mod:`shriven.engine.wiring` (or a test):
    ``venue`` is any ``ExecutionVenue`` (a router over simulated exchanges, a ccxt venue),
    ``risk`` a ``RiskEngine``, ``oms`` an ``OrderManager`` (possibly recovered from its journal),
    ``portfolio`` a ``Portfolio``, ``instruments`` maps symbol → (tick size, lot size), ``bars``
    the bar series the strategies get, ``signals`` the signal log (or None), ``pnl`` a
    ``PnlRecorder``.
    """

    def __init__(
        self,
        config: EngineConfig,
        *,
        clock: Clock,
        venue,
        risk,
        oms,
        portfolio,
        strategies: Sequence[Strategy],
        instruments: Mapping[str, tuple[float, float]],
        bars: BarStream | Mapping[str, BarSeries] | None = None,
        signals=None,
        pnl=None,
        kill_switch: KillSwitch | None = None,
        market_events: Callable[[int], int] | None = None,
        commands: CommandLog | None = None,
        metrics: EngineMetrics | None = None,
    ) -> None:
        ids = [s.strategy_id for s in strategies]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate strategy ids: {sorted(ids)}")
        self.config = config
        self.clock = clock
        self.venue = venue
        self.risk = risk
        self.oms = oms
        self.portfolio = portfolio
        self.instruments = dict(instruments)
        self.symbols = tuple(self.instruments)
        for s in strategies:
            unknown = set(s.symbols) - set(self.symbols)
            if unknown:
                raise ValueError(f"strategy {s.strategy_id} trades unknown symbols {sorted(unknown)}")
        self.strategies = list(strategies)
        self._contexts = {s.strategy_id: _Context(self, s) for s in strategies}
        self._by_symbol: dict[str, list[Strategy]] = {sym: [] for sym in self.symbols}
        for s in strategies:
            for sym in s.symbols or self.symbols:
                self._by_symbol[sym].append(s)
        self._by_id = {s.strategy_id: s for s in strategies}
        # quote samples only when a strategy listens (each sample is a venue call per symbol)
        listens = any(type(s).on_quote is not Strategy.on_quote for s in strategies)
        self._quote_interval = config.quote_interval_ns if listens else 0
        self.bars: BarStream = _bar_stream(bars or {}, None)
        self.signals = signals
        self.pnl = pnl
        self.kill_switch = kill_switch
        self.commands = commands
        self.metrics = metrics
        self._wake_started_ns = 0
        self._market_events = market_events
        self._timers: list[tuple[int, int, str]] = []
        self._timer_seq = 0
        self._quotes: dict[str, Quote] = {}
        self._marked_at: dict[str, int] = {}
        self._next_quote = 0
        self._now = clock.now()
        self._seq = 0
        self._session = _base36(time.time_ns() // 1_000_000)
        self._signal_context: int | None = None
        self._signal_orders: dict[tuple[str, str], int] = {}
        self._pending_signals: list[Signal] = []
        self._next_signal_poll = -(2**62)
        self._kill_on = False
        self._halt_seen = False
        self._started = False
        self._deferred: list[tuple[Strategy, OrderEvent]] = []
        self._breaker_states: dict[str, str] = {}
        self._sent_this_wake = False
        self._resubmitted: set[str] = set()
        self._targets: dict[tuple[str, str], list] = {}
        self._algos: dict[str, list] = {}
        #: Every algo parent this session (fills of a finished algo's last children still reach it).
        self._algo_workers: dict[str, object] = {}
        self._child_parent: dict[str, str] = {}
        self._in_callback = False
        #: Fills the portfolio already holds (restored from a snapshot): not booked again at start.
        self.booked_trade_ids: set[str] = set()
        #: (strategy id, symbol) -> the strategy's own position; the portfolio holds the account's.
        self.strategy_positions: dict[tuple[str, str], float] = {}
        self.stats = EngineStats()

    # -- sessions ---------------------------------------------------------------------------------

    def load_session(
        self,
        venue,
        bars: BarStream | Mapping[str, BarSeries],
        *,
        start_ns: int | None = None,
        market_events: Callable[[int], int] | None = None,
    ) -> None:
        """Trade a new session (a backtest day, a paper restart): its venue, bars and event counter.

        Bars that closed before ``start_ns`` are skipped (a restart does not trade stale bars).
        """
        self.venue = venue
        start = self._now if start_ns is None else start_ns
        self.bars = _bar_stream(bars, start)
        self._market_events = market_events
        self._quotes.clear()
        if self._started:
            self._reconcile(start)

    def unload_session(self) -> None:
        """Drop the session's venue and bars (a backtest frees a day before loading the next)."""
        self.venue = NoVenue()
        self.bars = SeriesBars({})
        self._market_events = None
        self._quotes.clear()

    def end_session(self, reason: str = "SESSION_END") -> int:
        """Expire every working order (day orders end with their session); returns how many.

        Targets still being worked end with the session too (the next session starts flat of
        intentions; a new signal sets new ones).
        """
        self._targets.clear()
        self._algos.clear()
        expired = 0
        for order in list(self.oms.open_orders()):
            cid = order.request.client_order_id
            event = OrderEvent(
                ts=self._now, client_order_id=cid, kind=OrderEventKind.EXPIRED,
                symbol=order.request.symbol, reason=reason,
            )  # fmt: skip
            self._on_venue_event(event)
            expired += 1
        return expired

    # -- time -------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """Engine time (ns) of the work being done."""
        return self._now

    @property
    def kill_switch_on(self) -> bool:
        """Whether the manual kill switch was on at the last wake-up."""
        return self._kill_on

    def next_wakeup(self) -> int | None:
        """The next time something is due: a bar close, a quote sample, a timer (None: nothing)."""
        candidates = []
        close = self.bars.next_close()
        if close is not None:
            candidates.append(close)
        if self._timers:
            candidates.append(self._timers[0][0])
        if self._quote_interval and self._next_quote:
            candidates.append(self._next_quote)
        return min(candidates) if candidates else None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Rebuild portfolio and risk state from the OMS, reconcile with the venue, start strategies."""
        if self._started:
            return
        self._started = True
        now = self.clock.now()
        self._now = now
        for fill in self.oms.fills:
            if fill.trade_id not in self.booked_trade_ids:  # a restored portfolio holds these
                self.portfolio.apply_fill(fill)
                self._book_strategy_fill(fill)
        for sym in self.symbols:
            self.risk.position_changed(sym, self.portfolio.position(sym))
        self.reconcile()
        for order in self.oms.open_orders():
            self.risk.order_opened(msgspec.structs.replace(order.request, quantity=order.leaves_quantity))
        switch = self.kill_switch.read() if self.kill_switch is not None else None
        if switch is not None and switch.on:
            self._apply_kill_switch(True, switch.reason)
        self.risk.start_day(self.portfolio.equity, now)
        if self._quote_interval:
            self._next_quote = _ceil_to(now + 1, self._quote_interval)
        self._in_callback = True
        try:
            for s in self.strategies:
                s.on_start(self._contexts[s.strategy_id])
        finally:
            self._in_callback = False
        self._flush_deferred()

    def reconcile(self) -> dict[str, object]:
        """Check the journal's working orders and the account's positions against the venue now.

        Runs at start, at every new session, and when a venue comes back after its circuit
        breaker opened (a disconnect): what the venue lost is resubmitted or canceled (see
        ``_reconcile``); position differences are reported (and logged), never "fixed" blindly.
        """
        self._reconcile(self._now)
        breaks = {}
        try:
            at_venue = self.venue.positions()
        except Exception as exc:  # a venue that cannot answer is reconciled next time
            logger.warning("positions not reconciled: the venue failed with %s", type(exc).__name__)
            at_venue = None
        if at_venue is not None and self.config.mode == TradingMode.LIVE:
            for sym in self.symbols:
                ours, theirs = self.portfolio.position(sym), float(at_venue.get(sym, 0.0))
                if abs(ours - theirs) > 1e-9 * max(1.0, abs(ours)):
                    breaks[sym] = (ours, theirs)
                    logger.warning("position break on %s: ours %g, the venue's %g", sym, ours, theirs)
        self.stats.reconciliations += 1
        return {"position_breaks": breaks, "open_orders": len(self.oms.open_orders())}

    def _watch_breakers(self) -> None:
        """Reconcile when a venue's breaker closes again after it had opened (it was unreachable)."""
        breakers = getattr(self.venue, "breakers", None)
        if not breakers:
            return
        for name, breaker in breakers.items():
            state = breaker.state.value
            before = self._breaker_states.get(name, "closed")
            self._breaker_states[name] = state
            if before != "closed" and state == "closed":
                logger.info("venue %s is reachable again: reconciling", name)
                self.reconcile()

    def _reconcile(self, now: int) -> None:
        """Bring orders the journal says are working but the venue does not know back in line.

        With ``resubmit_missing`` (paper: the simulated venue restarts empty) an acknowledged
        order is sent again, with the same client id, for what it has left; otherwise (a real
        venue that has lost or finished it) it is canceled as ``RECONCILED_MISSING``. An order
        waiting for its cancel is canceled either way.
        """
        at_venue = {o.client_order_id for o in self.venue.open_orders()}
        for order in list(self.oms.open_orders()):
            cid = order.request.client_order_id
            if cid in at_venue:
                continue
            leaves = order.leaves_quantity
            if self.config.resubmit_missing and order.state != OrderState.PENDING_CANCEL and leaves > 0:
                request = msgspec.structs.replace(
                    order.request, quantity=leaves,
                    price=None if order.request.price is None else order.price, ts=now,
                )  # fmt: skip
                self._resubmitted.add(cid)
                self.venue.submit(request)
                logger.info("order %s resubmitted to the venue after a restart (%g left)", cid, leaves)
                continue
            event = OrderEvent(
                ts=now, client_order_id=cid, kind=OrderEventKind.CANCELED,
                symbol=order.request.symbol, reason="RECONCILED_MISSING",
            )  # fmt: skip
            self.oms.apply(event)
            logger.warning("order %s was working in the journal but not at the venue: canceled", cid)

    def stop(self) -> None:
        """Call every strategy's ``on_stop`` and take a last PnL sample."""
        self._in_callback = True
        try:
            for s in self.strategies:
                s.on_stop(self._contexts[s.strategy_id])
        finally:
            self._in_callback = False
        self._flush_deferred()
        self._drain()
        self._sample_pnl(self._now, force=True)
        self.oms.flush(wait=True)

    def run_until(self, end_ns: int) -> None:
        """Process every wake-up time up to and including ``end_ns``, then move the venue to it."""
        if not self._started:
            self.start()
        while True:
            t = self.next_wakeup()
            if t is None or t > end_ns:
                break
            self._wake(t)
        if end_ns > self._now:
            self._wake(end_ns)

    def run(self) -> None:
        """Backtest: run to the last scheduled wake-up and stop."""
        self.start()
        while (t := self.next_wakeup()) is not None:
            self._wake(t)
        self.stop()

    # -- one wake-up ------------------------------------------------------------------------------

    def _wake(self, t: int) -> None:
        if self.metrics is not None:
            self._wake_started_ns = time.perf_counter_ns()
        self._in_callback = True
        try:
            self._wake_inner(t)
        finally:
            self._in_callback = False
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        while self._deferred:
            strategy, event = self._deferred.pop(0)
            strategy.on_order_event(self._contexts[strategy.strategy_id], event)

    def _wake_inner(self, t: int) -> None:
        self._now = t
        if isinstance(self.clock, SimulatedClock) and t > self.clock.now():
            self.clock.set(t)  # a backtest's clock follows the engine; a test's may run ahead
        self.stats.wakeups += 1
        self.venue.advance_to(t)
        self._drain()
        self._watch_breakers()
        if self.kill_switch is not None:
            ks = self.kill_switch.read()
            if ks.on != self._kill_on:
                self._apply_kill_switch(ks.on, ks.reason)
        self._deliver_bars(t)
        self._flush_deferred()
        if self.signals is not None:
            self._deliver_signals(t)
        self._flush_deferred()
        if self.commands is not None:
            self._deliver_commands(t)
        if self._algos:
            self._run_algos()
            self._flush_deferred()
        if self._quote_interval and self._next_quote and self._next_quote <= t:
            self._deliver_quotes(t)
            self._next_quote = _ceil_to(t + 1, self._quote_interval)
        while self._timers and self._timers[0][0] <= t:
            _, _, sid = heapq.heappop(self._timers)
            s = self._by_id[sid]
            s.on_timer(self._contexts[sid], t)
        self._flush_deferred()
        if self._sent_this_wake and self.config.settle_in_wake:
            # requests sent now reach a zero-latency venue now: their outcomes join this commit
            self._sent_this_wake = False
            self.venue.advance_to(t)
        self._drain()
        self.risk.equity_changed(self.portfolio.equity, t)
        self._check_halt()
        self._sample_pnl(t)
        self.oms.flush()  # the wake-up's venue outcomes and consumed signals: durable soon

    def _drain(self) -> None:
        for event in self.venue.poll():
            self._on_venue_event(event)

    def _on_venue_event(self, event: OrderEvent) -> None:
        self.stats.venue_events += 1
        if event.kind == OrderEventKind.ACCEPTED and event.client_order_id in self._resubmitted:
            self._resubmitted.discard(event.client_order_id)
            order = self.oms.get(event.client_order_id)
            if order is not None and order.state != OrderState.SUBMITTED:
                return  # the venue acknowledges a resubmission of an order we already had accepted
        fill = self.oms.apply(event)
        order = self.oms.get(event.client_order_id)
        if order is None:
            return
        strategy = self._by_id.get(order.request.strategy_id)
        if self._child_parent:
            self._algo_child_event(order, fill)
        if self.metrics is not None:
            if fill is not None:
                self.metrics.fills.inc(fill.symbol)
            elif event.kind == OrderEventKind.REJECTED:
                self.metrics.rejects.inc(f"VENUE_{event.reason or 'REJECTED'}")
        if fill is not None:
            self.stats.fills += 1
            self.portfolio.apply_fill(fill)
            self._book_strategy_fill(fill)
            self.risk.order_filled(fill.client_order_id, fill.quantity)
            self.risk.position_changed(fill.symbol, self.portfolio.position(fill.symbol))
            if order.is_terminal:
                self.risk.order_closed(order.request.client_order_id)
            if strategy is not None:
                strategy.on_fill(self._contexts[strategy.strategy_id], fill)
                if order.is_terminal and self._targets:
                    self._work_target(strategy, order.request.symbol)
            return
        if order.is_terminal:
            self.risk.order_closed(order.request.client_order_id)
        if strategy is not None:
            strategy.on_order_event(self._contexts[strategy.strategy_id], event)
            if order.is_terminal and self._targets:
                self._work_target(strategy, order.request.symbol)

    def _deliver_bars(self, t: int) -> None:
        for bar in self.bars.closed(t):
            sym = bar.symbol
            if sym not in self._by_symbol:
                continue
            self.stats.bars += 1
            self.portfolio.mark(sym, bar.close, bar.end_ts)
            self.risk.mark(sym, bar.close)
            self._marked_at[sym] = bar.end_ts
            for s in self._by_symbol[sym]:
                s.on_bar(self._contexts[s.strategy_id], bar)

    def _refresh_mark(self, symbol: str) -> None:
        """Reference price from the venue's touch before a risk check, if the last is older than
        ``mark_max_age_ns``: risk values an order at the market, not at a stale bar."""
        if self._now - self._marked_at.get(symbol, -(2**62)) <= self.config.mark_max_age_ns:
            return
        q = self.venue.quote(symbol)
        if q is not None:
            mid = q.mid
            if math.isfinite(mid):
                self.portfolio.mark(symbol, mid, self._now)
                self.risk.mark(symbol, mid)
                self._marked_at[symbol] = self._now

    def _deliver_quotes(self, t: int) -> None:
        for sym in self.symbols:
            q = self.venue.quote(sym)
            if q is None:
                continue
            last = self._quotes.get(sym)
            self._quotes[sym] = q
            if last is not None and last.bid == q.bid and last.ask == q.ask and last.bid_size == q.bid_size and last.ask_size == q.ask_size:
                continue
            self.stats.quotes += 1
            mid = q.mid
            if math.isfinite(mid):
                self.portfolio.mark(sym, mid, t)
                self.risk.mark(sym, mid)
                self._marked_at[sym] = t
            for s in self._by_symbol[sym]:
                s.on_quote(self._contexts[s.strategy_id], q)

    def _deliver_signals(self, t: int) -> None:
        pending = self._pending_signals
        if t >= self._next_signal_poll and (not pending or pending[-1].ts <= t):
            # the log is read at most once per signal_poll_ns of engine time (a read lists files)
            self._next_signal_poll = t + self.config.signal_poll_ns
            pending.extend(self.signals.read_after(max(self.oms.last_signal_offset, pending[-1].offset if pending else -1)))
        done = 0
        for sig in pending:
            if sig.ts > t:
                break
            done += 1
            self.stats.signals += 1
            self._signal_context = sig.offset
            self._signal_orders.clear()
            try:
                if sig.symbol in self._by_symbol:
                    for s in self._by_symbol[sig.symbol]:
                        s.on_signal(self._contexts[s.strategy_id], sig)
                else:
                    logger.warning("signal %d for unknown symbol %r ignored", sig.offset, sig.symbol)
            finally:
                self._signal_context = None
            self.oms.signal_consumed(sig.offset, t)
        del pending[:done]

    def _deliver_commands(self, t: int) -> None:
        """Act once on each gateway command logged after the last one the journal says was done."""
        for command in self.commands.read_after(self.oms.last_command_offset):
            self.stats.commands += 1
            # the gateway's correlation id follows the order into the engine's log lines
            with correlation_scope(command.correlation_id or None):
                logger.info(
                    "command %d from %s: %s %s", command.offset, command.principal, command.kind.value,
                    command.client_order_id,
                )  # fmt: skip
                if command.kind == CommandKind.CANCEL_ORDER:
                    self.cancel(command.client_order_id)
                else:
                    request = OrderRequest(
                        client_order_id=command.client_order_id, symbol=command.symbol,
                        side=command.side, quantity=command.quantity, order_type=command.order_type,
                        price=command.price, strategy_id=GATEWAY_STRATEGY, ts=t,
                    )  # fmt: skip
                    if command.symbol in self.instruments:
                        self.submit_request(request)
                    else:
                        self._deny_unknown_symbol(request)
            self.oms.command_consumed(command.offset, t)

    def _deny_unknown_symbol(self, request: OrderRequest) -> None:
        _, created = self.oms.create(request)
        if created:
            name = RiskReason.UNKNOWN_SYMBOL.name
            self.stats.orders_denied += 1
            self.stats.denials_by_reason[name] = self.stats.denials_by_reason.get(name, 0) + 1
            if self.metrics is not None:
                self.metrics.rejects.inc(name)
            self.oms.deny(request.client_order_id, name, self._now)

    def _sample_pnl(self, t: int, force: bool = False) -> None:
        if self.pnl is None:
            return
        if force:
            self.pnl.record(t)
        else:
            self.pnl.on_time(t)

    # -- risk state -------------------------------------------------------------------------------

    def _apply_kill_switch(self, on: bool, reason: str) -> None:
        self._kill_on = on
        if on:
            self.risk.kill(reason or "manual kill switch", self._now)
        else:
            self.risk.set_state(TradingState.ACTIVE, "kill switch off", self._now)
        self._check_halt()

    def _check_halt(self) -> None:
        halted = self.risk.state == TradingState.HALTED
        if halted and not self._halt_seen and self.config.cancel_on_halt:
            for order in self.oms.open_orders():
                self.cancel(order.request.client_order_id)
        self._halt_seen = halted

    # -- orders -----------------------------------------------------------------------------------

    def _next_id(self, strategy_id: str, symbol: str) -> str:
        """Orders caused by a signal get ids from (signal offset, strategy, symbol, k): a signal
        re-delivered after a crash re-creates the same ids, which the OMS answers idempotently."""
        if self._signal_context is not None:
            key = (strategy_id, symbol)
            k = self._signal_orders.get(key, 0) + 1
            self._signal_orders[key] = k
            return f"{strategy_id}-s{self._signal_context}-{symbol}-{k}"
        self._seq += 1
        return f"{strategy_id}-{self._session}-{self._seq}"

    def submit(
        self,
        strategy: Strategy,
        symbol: str,
        side: Side,
        quantity: float,
        price: float | None = None,
        order_type: OrderType = OrderType.LIMIT,
        *,
        tag: str = "",
        client_order_id: str | None = None,
    ) -> str:
        """Risk-check, journal and send one order; returns its client order id (DENIED never raises)."""
        cid = client_order_id or self._next_id(strategy.strategy_id, symbol)
        request = OrderRequest(
            client_order_id=cid, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
            price=price, strategy_id=strategy.strategy_id, ts=self._now,
            signal_offset=self._signal_context,
        )  # fmt: skip
        return self.submit_request(request)

    def submit_request(self, request: OrderRequest) -> str:
        """Risk-check, journal (the ack point) and send an order request."""
        order, created = self.oms.create(request)
        cid = request.client_order_id
        if not created:
            return cid  # idempotent: a retry of a known order does nothing
        self._refresh_mark(request.symbol)
        metrics = self.metrics
        if metrics is None:
            reason = self.risk.check(request)
        else:
            t0 = time.perf_counter_ns()
            reason = self.risk.check(request)
            metrics.risk_check.observe_ns(time.perf_counter_ns() - t0)
        if reason != RiskReason.NONE:
            self.stats.orders_denied += 1
            name = reason.name
            if metrics is not None:
                metrics.rejects.inc(name)
            self.stats.denials_by_reason[name] = self.stats.denials_by_reason.get(name, 0) + 1
            self.oms.deny(cid, name, self._now)
            strategy = self._by_id.get(request.strategy_id)
            if strategy is not None:
                event = OrderEvent(
                    ts=self._now, client_order_id=cid, kind=OrderEventKind.DENIED,
                    symbol=request.symbol, reason=name,
                )  # fmt: skip
                # Delivered after the callback that sent the order returns: the strategy must
                # know the order's id before it hears of it.
                self._deferred.append((strategy, event))
                if not self._in_callback:
                    self._flush_deferred()
            return cid
        self.oms.submit(cid, self.venue.name, self._now)
        self.risk.order_opened(request)
        self.stats.orders_submitted += 1
        self._sent_this_wake = True
        self.venue.submit(request)
        if metrics is not None:
            metrics.tick_to_order.observe_ns(time.perf_counter_ns() - self._wake_started_ns)
            metrics.orders.inc(request.strategy_id or "-")
        return cid

    def cancel(self, client_order_id: str) -> None:
        """Ask the venue to cancel a working order (no-op for unknown or finished orders)."""
        if self.oms.request_cancel(client_order_id, self._now) is not None:
            self.venue.cancel(client_order_id)

    def cancel_all(self, strategy_id: str | None = None, symbol: str | None = None) -> None:
        """Cancel the working orders of a strategy (all strategies when None), of a symbol."""
        for order in self.oms.open_orders(symbol):
            if strategy_id is None or order.request.strategy_id == strategy_id:
                self.cancel(order.request.client_order_id)

    def _open_quantity(self, strategy_id: str, symbol: str) -> float:
        total = 0.0
        for order in self.oms.open_orders(symbol):
            if order.request.strategy_id == strategy_id:
                leaves = order.leaves_quantity
                total += leaves if order.request.side == Side.BUY else -leaves
        return total

    def target_position(self, strategy: Strategy, symbol: str, target: float) -> None:
        """Trade towards a signed position at market, lot-rounded toward zero.

        While one of the strategy's orders on the symbol is working the gap is unknown (a cancel
        can lose the race to a fill), so those trading away from the target are canceled and the
        target is worked again when they finish. Orders of a signal's target keep its offset in
        their ids, so re-delivering the signal after a crash re-creates the same ids.
        """
        self._targets[(strategy.strategy_id, symbol)] = [target, self._signal_context, 0]
        self._work_target(strategy, symbol)

    def _work_target(self, strategy: Strategy, symbol: str) -> None:
        key = (strategy.strategy_id, symbol)
        entry = self._targets.get(key)
        if entry is None:
            return
        target, offset, sent = entry
        position = self.strategy_position(strategy.strategy_id, symbol)
        working = [o for o in self.oms.open_orders(symbol) if o.request.strategy_id == strategy.strategy_id]
        if working:
            signed = [o.leaves_quantity if o.request.side == Side.BUY else -o.leaves_quantity for o in working]
            overshoot = (target - position - sum(signed)) * sum(signed) < 0
            for order, leaves in zip(working, signed, strict=True):
                if overshoot or (target - position) * leaves < 0:
                    self.cancel(order.request.client_order_id)
            return
        lot = self.instruments[symbol][1]
        gap = target - position
        lots = math.floor(abs(gap) / lot + _LOT_TOLERANCE)
        if lots <= 0:
            del self._targets[key]
            return
        entry[2] = sent + 1
        cid = None if offset is None else f"{strategy.strategy_id}-s{offset}-{symbol}-{sent + 1}"
        side = Side.BUY if gap > 0 else Side.SELL
        saved, self._signal_context = self._signal_context, offset
        try:
            cid = self.submit(strategy, symbol, side, lots * lot, None, OrderType.MARKET, client_order_id=cid)
        finally:
            self._signal_context = saved
        order = self.oms.get(cid)
        if order is None or order.state == OrderState.DENIED or sent + 1 >= _MAX_TARGET_ORDERS:
            # denied, or the venue keeps refusing: stop (the strategy heard why); no retry loop
            del self._targets[key]

    def execute(
        self,
        strategy: Strategy,
        symbol: str,
        side: Side,
        quantity: float,
        algo: str,
        *,
        price: float | None = None,
        duration_ns: int = 600_000_000_000,
        slices: int = 10,
        participation: float = 0.1,
        display_quantity: float | None = None,
    ) -> str:
        """Start an execution algo for a parent order; its children are worked at each wake-up."""
        if symbol not in self.instruments:
            raise ValueError(f"unknown symbol {symbol!r}")
        self._seq += 1
        parent_id = f"{strategy.strategy_id}-{algo}-{self._session}-{self._seq}"
        order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        parent = OrderRequest(
            client_order_id=parent_id, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
            price=price, strategy_id=strategy.strategy_id, ts=self._now,
        )  # fmt: skip
        lot = self.instruments[symbol][1]
        start, end = self._now, self._now + int(duration_ns)
        if algo == "twap":
            worker = TWAP(parent, start, end, slices, lot_size=lot)
        elif algo == "vwap":
            worker = VWAP(parent, participation, start, end, lot_size=lot)
        elif algo == "iceberg":
            worker = Iceberg(parent, display_quantity or quantity, lot_size=lot)
        else:
            raise ValueError(f"unknown execution algo {algo!r}; known: twap, vwap, iceberg")
        self._algos[parent_id] = [worker, strategy, symbol, self._now]
        self._algo_workers[parent_id] = worker
        self._run_algo(parent_id)
        return parent_id

    def _run_algos(self) -> None:
        for parent_id in list(self._algos):
            self._run_algo(parent_id)

    def _run_algo(self, parent_id: str) -> None:
        run = self._algos[parent_id]
        worker, strategy, symbol, since = run
        volume = self._traded_volume(symbol, since, self._now)
        run[3] = self._now
        for child in worker.on_time(self._now, self.quote(symbol), volume):
            self._child_parent[child.client_order_id] = parent_id
            self.submit_request(msgspec.structs.replace(child, ts=self._now))
        if worker.done:
            del self._algos[parent_id]

    def _traded_volume(self, symbol: str, start: int, end: int) -> float:
        """Market volume of the bars that closed in ``(start, end]``."""
        return self.bars.traded_volume(symbol, start, end) if end > start else 0.0

    def _algo_child_event(self, order, fill: Fill | None) -> None:
        parent_id = self._child_parent.get(order.request.client_order_id)
        if parent_id is None:
            return
        worker = self._algo_workers.get(parent_id)
        if worker is None:
            return
        if fill is not None:
            worker.on_fill(fill.client_order_id, fill.quantity)
        elif order.is_terminal and hasattr(worker, "on_canceled"):
            worker.on_canceled(order.request.client_order_id, order.leaves_quantity)

    def set_timer(self, strategy: Strategy, at_ns: int) -> None:
        """Wake ``strategy.on_timer`` at ``at_ns``."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (int(at_ns), self._timer_seq, strategy.strategy_id))

    # -- what strategies read -----------------------------------------------------------------------

    def strategy_position(self, strategy_id: str, symbol: str) -> float:
        """A strategy's own position (its fills): several strategies may trade one symbol."""
        return self.strategy_positions.get((strategy_id, symbol), 0.0)

    def _book_strategy_fill(self, fill: Fill) -> None:
        key = (fill.strategy_id, fill.symbol)
        self.strategy_positions[key] = self.strategy_positions.get(key, 0.0) + fill.signed_quantity

    def quote(self, symbol: str) -> Quote | None:
        """Top of book of ``symbol`` as the venue shows it now."""
        return self.venue.quote(symbol)

    def market_events(self) -> int:
        """Market data rows the venue has processed so far (for throughput figures)."""
        return self._market_events(self._now) if self._market_events is not None else 0


class NoVenue:
    """The venue between sessions: knows nothing, accepts nothing."""

    name = "none"

    def open_orders(self) -> list:
        return []

    def poll(self) -> list:
        return []

    def advance_to(self, ts: int) -> None:
        pass

    def quote(self, symbol: str) -> None:
        return None

    def positions(self) -> dict[str, float]:
        return {}

    def submit(self, request: OrderRequest) -> None:
        raise RuntimeError("no trading session loaded")

    def cancel(self, client_order_id: str) -> None:
        pass


def _bar_stream(bars: BarStream | Mapping[str, BarSeries], start: int | None) -> BarStream:
    if isinstance(bars, Mapping):
        return SeriesBars(bars, start)
    return bars


def _ceil_to(t: int, step: int) -> int:
    return -(-t // step) * step


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def feed_event_counter(feeds: Iterable[np.ndarray]) -> Callable[[int], int]:
    """A function giving how many feed rows have times ``<= t`` (market events processed by then)."""
    times = [f["ts"] for f in feeds]

    def count(t: int) -> int:
        return int(sum(int(np.searchsorted(ts, t, "right")) for ts in times))

    return count
