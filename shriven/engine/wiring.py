"""One wiring place per mode: settings → the engine with its venue, risk, OMS, portfolio, strategies.

Backtest and paper differ only in what is wired here: the feed (the lake, one day at a time, vs
the synthetic exchange's live session), the clock (simulated vs wall), the account
(``backtest-<run id>`` vs ``paper``) and whether the journal fsyncs. The engine is the same.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shriven.config import INTERVALS_NS, Settings
from shriven.engine.bars import BarSeries, bars_from_feed
from shriven.engine.clock import Clock, ScaledWallClock, SimulatedClock, WallClock
from shriven.engine.commands import CommandLog, commands_path
from shriven.engine.engine import EngineConfig, NoVenue, TradingEngine, feed_event_counter
from shriven.engine.killswitch import KillSwitch
from shriven.engine.metrics import EngineMetrics
from shriven.engine.status import STATUS_FILE, engine_status, write_status
from shriven.execution.router import Router
from shriven.execution.simulated import SimulatedExchange
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.model.enums import TradingMode
from shriven.observability.health import EXECUTION_COMPONENT
from shriven.observability.logs import register_secret
from shriven.observability.metrics import METRICS_DIR_NAME, write_snapshot
from shriven.oms.journal import Journal
from shriven.oms.manager import OrderManager
from shriven.portfolio.portfolio import PnlRecorder, Portfolio
from shriven.portfolio.snapshot import load_snapshot, restore, save_snapshot, snapshot
from shriven.risk.config import InstrumentLimits, RiskConfig
from shriven.risk.engine import RiskEngine
from shriven.risk.events import RiskEvent, risk_events_table
from shriven.schemas import conform, dataset
from shriven.signals.log import SignalLog
from shriven.strategy.base import Strategy
from shriven.strategy.config import load_strategies
from shriven.venue.config import InstrumentRules, VenueConfig
from shriven.venue.simulated import VenueFeed

logger = logging.getLogger("shriven.engine")
__all__ = [
    "BacktestResult",
    "TradingSession",
    "open_live_session",
    "TradingStack",
    "build_stack",
    "open_paper_session",
    "run_backtest",
    "strategies_from_settings",
]


def strategies_from_settings(settings: Settings, path: str | None = None) -> list[Strategy]:
    """The strategies file named by ``path``, ``[trading] strategies`` or the packaged example."""
    chosen = path or settings.trading.strategies
    if chosen:
        if not Path(chosen).is_file():
            raise FileNotFoundError(f"strategies file {chosen} does not exist")
        return load_strategies(Path(chosen).read_text())
    return load_strategies(resources.files("shriven").joinpath("strategies.example.toml").read_text())


def _traded_symbols(settings: Settings, strategies: Sequence[Strategy]) -> list[str]:
    """The symbols the strategies trade, in universe order (all when one trades everything)."""
    if not strategies or any(not s.symbols for s in strategies):
        return list(settings.universe)
    wanted = {sym for s in strategies for sym in s.symbols}
    return [sym for sym in settings.universe if sym in wanted]


def _rules(settings: Settings, symbol: str) -> InstrumentRules:
    """The venue's tick and lot rules of a universe symbol."""
    cfg = settings.symbol(symbol)
    return InstrumentRules(symbol=symbol, tick_size=cfg.tick_size, lot_size=cfg.lot_size)


def _instruments(settings: Settings, symbols: Sequence[str]) -> dict[str, tuple[float, float]]:
    return {s: (settings.symbol(s).tick_size, settings.symbol(s).lot_size) for s in symbols}


def _risk_config(settings: Settings, symbols: Sequence[str], prices: Mapping[str, float]) -> RiskConfig:
    """Account limits from settings; per-instrument quantity limits from notionals at ``prices``."""
    t = settings.trading
    limits = []
    for sym in symbols:
        cfg = settings.symbol(sym)
        price = prices.get(sym, cfg.price)
        lot = cfg.lot_size
        max_pos = max(lot, math.floor(t.max_position_notional / price / lot) * lot)
        limits.append(
            InstrumentLimits(
                symbol=sym, tick_size=cfg.tick_size, lot_size=lot, min_quantity=lot,
                max_order_notional=t.max_order_notional, max_position=max_pos,
            )  # fmt: skip
        )
    return RiskConfig(limits=t.risk, instruments=tuple(limits))


def _router(settings: Settings, feeds: Mapping[str, VenueFeed], clock: Clock, start_ns: int | None) -> Router:
    rules = tuple(_rules(settings, s) for s in feeds)
    exchanges = []
    for v in settings.trading.venues:
        config = VenueConfig(
            instruments=rules, feed_latency_ns=v.feed_latency_us * 1000,
            order_latency_ns=v.order_latency_us * 1000, maker_fee=v.maker_fee,
            taker_fee=v.taker_fee, queue_model=v.queue_model,
        )  # fmt: skip
        exchanges.append(SimulatedExchange(v.name, config, feeds, start_ns=start_ns))
    fees = {v.name: (v.maker_fee, v.taker_fee) for v in settings.trading.venues}
    return Router(exchanges, fees=fees, clock_s=lambda: clock.now() / 1e9)


def _first_prices(feeds: Mapping[str, VenueFeed]) -> dict[str, float]:
    from shriven.venue._kernels import FEED_TRADE

    out = {}
    for sym, feed in feeds.items():
        trades = feed.rows[feed.rows["kind"] == FEED_TRADE]
        if trades.size:
            out[sym] = float(trades["tick"][0]) * feed.tick_size
    return out


@dataclass
class TradingStack:
    """The engine and the collaborators a mode keeps across sessions."""

    engine: TradingEngine
    oms: OrderManager
    portfolio: Portfolio
    risk: RiskEngine
    pnl: PnlRecorder
    risk_events: list[RiskEvent]
    account: str
    journal_path: Path

    def tables(self, ts: int, window: Window | None = None) -> dict[str, pa.Table]:
        """Orders, fills, positions, pnl and risk events as lake tables (rows inside ``window``)."""
        tables = {
            "orders": self.oms.orders_table(),
            "fills": self.oms.fills_table(),
            "positions": self.portfolio.positions_table(ts),
            "pnl": self.pnl.table(),
            "risk_events": risk_events_table(self.risk_events),
        }
        if window is not None:
            tables = {name: _inside(t, window) for name, t in tables.items()}
        return tables

    def write(self, lake: Lake, window: Window, ts: int) -> dict[str, int]:
        """Merge the account's rows of ``window`` into the lake; returns rows per dataset.

        Rows already there are kept unless a new row has the same key (an order's latest
        state wins): a restarted or compacted engine no longer holds what it wrote before.
        """
        counts = {}
        for name, table in self.tables(ts, window).items():
            merged = _merge(_existing(lake, name, window, self.account), table, _KEYS[name])
            lake.write_window(name, merged, window, partition={"account": self.account})
            counts[name] = merged.num_rows
        return counts

    def compact(self, lake: Lake, window: Window, ts: int) -> int:
        """Checkpoint, save the portfolio, then compact the OMS journal; returns its new size.

        Order matters: the lake holds every order and fill before the journal forgets the
        finished ones, and the portfolio snapshot names the fills it holds, so a crash between
        any two steps neither loses nor double-books a fill.
        """
        self.write(lake, window, ts)
        booked = [f.trade_id for f in self.oms.fills]
        save_snapshot(self.portfolio_path, snapshot(self.portfolio, booked, self.engine.strategy_positions))
        self.oms.compact()
        return self.oms.journal.size

    @property
    def portfolio_path(self) -> Path:
        """The portfolio snapshot beside the journal."""
        return self.journal_path.with_name("portfolio.json")


#: What identifies a row of each trading dataset when checkpoints are merged.
_KEYS = {
    "orders": ("client_order_id",),
    "fills": ("trade_id", "client_order_id"),
    "positions": ("ts", "symbol"),
    "pnl": ("ts",),
    "risk_events": ("ts", "kind", "client_order_id", "reason", "symbol"),
}


def _existing(lake: Lake, name: str, window: Window, account: str) -> pa.Table:
    dates = [d.isoformat() for d in window.dates()]
    files = [f for d in lake.partition_dirs(name, dates) if d.rstrip("/").endswith(f"account={account}")
             for f in lake.partition_files(d)]  # fmt: skip
    schema = dataset(name).schema
    if not files:
        return schema.empty_table()
    return _inside(conform(pa.concat_tables([lake.read_file(f) for f in files]), schema), window)


def _key(table: pa.Table, columns: tuple[str, ...]) -> pa.Array:
    parts = [pc.cast(table.column(c), pa.string()).fill_null("") for c in columns]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")


def _merge(old: pa.Table, new: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """``new`` plus the rows of ``old`` whose key ``new`` does not have."""
    if not old.num_rows:
        return new
    keep = pc.invert(pc.is_in(_key(old, key), value_set=_key(new, key)))
    return pa.concat_tables([new, old.filter(keep)])


def _inside(table: pa.Table, window: Window) -> pa.Table:
    ts = table.column("ts").cast(pa.int64())
    keep = pc.and_(pc.greater_equal(ts, window.start_ns), pc.less(ts, window.end_ns))
    return table.filter(keep)


def build_stack(
    settings: Settings,
    *,
    account: str,
    mode: TradingMode,
    clock: Clock,
    strategies: Sequence[Strategy],
    symbols: Sequence[str],
    prices: Mapping[str, float],
    journal_path: Path,
    fsync: bool,
    signals: SignalLog | None = None,
    kill_switch: KillSwitch | None = None,
    on_risk_event: Callable[[RiskEvent], None] | None = None,
    commands: CommandLog | None = None,
    metrics: EngineMetrics | None = None,
) -> TradingStack:
    """Build (or recover from its journal) everything an engine needs except the session's venue."""
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    if journal_path.exists() and journal_path.stat().st_size:
        oms = OrderManager.recover(journal_path, fsync=fsync, account=account)
        logger.info("recovered %d orders from %s", len(oms.orders), journal_path)
    else:
        oms = OrderManager(Journal(journal_path, fsync=fsync), account=account)
    oms.group_commit = True  # the engine flushes once per wake-up; submits still sync
    events: list[RiskEvent] = []

    def listen(event: RiskEvent) -> None:
        events.append(event)
        if on_risk_event is not None:
            on_risk_event(event)

    risk = RiskEngine(_risk_config(settings, symbols, prices), listener=listen)
    saved = load_snapshot(journal_path.with_name("portfolio.json"))
    portfolio = Portfolio(settings.trading.starting_cash) if saved is None else restore(saved)
    pnl = PnlRecorder(portfolio, interval_ns=INTERVALS_NS[settings.trading.bar_interval])
    config = EngineConfig(
        account=account, mode=mode, quote_interval_ns=settings.trading.quote_interval_ms * 1_000_000,
        pnl_interval_ns=INTERVALS_NS[settings.trading.bar_interval],
        resubmit_missing=mode == TradingMode.PAPER,
        settle_in_wake=mode == TradingMode.LIVE or any(v.order_latency_us == 0 for v in settings.trading.venues),
    )  # fmt: skip
    engine = TradingEngine(
        config, clock=clock, venue=NoVenue(), risk=risk, oms=oms, portfolio=portfolio,
        strategies=strategies, instruments=_instruments(settings, symbols), signals=signals,
        pnl=pnl, kill_switch=kill_switch, commands=commands, metrics=metrics,
    )  # fmt: skip
    if saved is not None:
        engine.booked_trade_ids = set(saved.included_trade_ids)
        engine.strategy_positions = {(sid, sym): q for sid, sym, q in saved.strategy_positions}
    return TradingStack(engine, oms, portfolio, risk, pnl, events, account, journal_path)


def _session(settings: Settings, feeds: Mapping[str, VenueFeed], clock: Clock, start_ns: int | None):
    interval = INTERVALS_NS[settings.trading.bar_interval]
    bars: dict[str, BarSeries] = {s: bars_from_feed(f, interval) for s, f in feeds.items()}
    router = _router(settings, feeds, clock, start_ns)
    return router, bars, feed_event_counter([f.rows for f in feeds.values()])


# -- backtest -------------------------------------------------------------------------------------


@dataclass
class BacktestResult:
    """What a backtest did and how it went."""

    run_id: str
    account: str
    dates: list[str]
    market_events: int = 0
    bars: int = 0
    signals: int = 0
    orders: int = 0
    denied: int = 0
    fills: int = 0
    expired: int = 0
    starting_equity: float = 0.0
    final_equity: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    max_drawdown: float = 0.0
    elapsed_s: float = 0.0
    denials_by_reason: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    days_without_data: list[str] = field(default_factory=list)

    @property
    def total_return(self) -> float:
        """Final over starting equity, minus one."""
        return self.final_equity / self.starting_equity - 1.0 if self.starting_equity else math.nan

    @property
    def events_per_second(self) -> float:
        """Market events replayed per wall second, through the whole path."""
        return self.market_events / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def summary(self) -> dict[str, object]:
        """A flat dict for logs, artifacts and the CLI."""
        return {
            "run_id": self.run_id, "account": self.account, "dates": f"{self.dates[0]}..{self.dates[-1]}",
            "market_events": self.market_events, "bars": self.bars, "signals": self.signals,
            "orders": self.orders, "denied": self.denied, "fills": self.fills, "expired": self.expired,
            "starting_equity": round(self.starting_equity, 2), "final_equity": round(self.final_equity, 2),
            "return_pct": round(100 * self.total_return, 4), "realized_pnl": round(self.realized_pnl, 2),
            "fees": round(self.fees, 2), "max_drawdown_pct": round(100 * self.max_drawdown, 4),
            "elapsed_s": round(self.elapsed_s, 3), "events_per_s": round(self.events_per_second),
            "denials_by_reason": self.denials_by_reason, "days_without_data": self.days_without_data,
        }  # fmt: skip


def run_backtest(
    settings: Settings,
    dates: Sequence[str],
    *,
    strategies: Sequence[Strategy] | None = None,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
    write: bool = True,
    progress: Callable[[str, dict[str, object]], None] | None = None,
) -> BacktestResult:
    """Replay ``dates`` from the lake through the full trading path, one day in memory at a time."""
    if not dates:
        raise ValueError("a backtest needs at least one date")
    dates = sorted(dates)
    run_id = run_id or time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    account = f"backtest-{run_id}"
    strategies = list(strategies if strategies is not None else strategies_from_settings(settings))
    symbols = list(symbols or _traded_symbols(settings, strategies))
    lake = Lake(settings.lake_root)
    first = day_start_ns(date.fromisoformat(dates[0]))
    clock = SimulatedClock(first)
    journal = Path(settings.trading_dir) / account / "journal.bin"
    if journal.exists():
        raise FileExistsError(f"backtest run {run_id} already exists ({journal}); pick another run id")
    signals = SignalLog(settings.signal_log_root, symbols=symbols)
    stack: TradingStack | None = None
    result = BacktestResult(run_id=run_id, account=account, dates=list(dates))
    started = time.perf_counter()
    for d in dates:
        feeds = {}
        for sym in symbols:
            feed = VenueFeed.from_lake(lake, _rules(settings, sym), [d])
            if len(feed):
                feeds[sym] = feed
        if not feeds:
            result.days_without_data.append(d)
            logger.warning("backtest %s: no trades or book in the lake for %s", run_id, d)
            continue
        if stack is None:
            stack = build_stack(
                settings, account=account, mode=TradingMode.BACKTEST, clock=clock,
                strategies=strategies, symbols=symbols, prices=_first_prices(feeds),
                journal_path=journal, fsync=False, signals=signals,
            )  # fmt: skip
            result.starting_equity = stack.portfolio.equity
        day_start = min(int(f.rows["ts"][0]) for f in feeds.values()) - 1
        clock.set(max(clock.now(), day_start))
        router, bars, counter = _session(settings, feeds, clock, clock.now())
        engine = stack.engine
        engine.load_session(router, bars, start_ns=clock.now(), market_events=counter)
        engine.start()
        stack.risk.start_day(stack.portfolio.equity, clock.now())
        closes = [int(b.ts[-1]) + b.interval_ns for b in bars.values() if len(b)]
        last = max([int(f.rows["ts"][-1]) + 1 for f in feeds.values()] + closes)
        engine.run_until(last)
        result.expired += engine.end_session()
        result.market_events += sum(len(f) for f in feeds.values())
        engine.unload_session()
        del feeds, router, bars, counter  # free the day before the next one loads
        if progress is not None:
            progress(d, {"market_events": result.market_events, "fills": engine.stats.fills,
                         "equity": round(stack.portfolio.equity, 2)})  # fmt: skip
    if stack is None:
        raise ValueError(f"no market data in the lake for {dates[0]}..{dates[-1]}: ingest it first")
    engine = stack.engine
    engine.stop()
    result.elapsed_s = time.perf_counter() - started
    s = engine.stats
    result.bars, result.signals, result.orders = s.bars, s.signals, s.orders_submitted
    result.denied, result.fills = s.orders_denied, s.fills
    result.denials_by_reason = dict(s.denials_by_reason)
    p = stack.portfolio
    result.final_equity, result.realized_pnl, result.fees = p.equity, p.realized_pnl, p.fees
    equity = stack.pnl.table().column("equity").to_numpy()
    if equity.size:
        peak = np.maximum.accumulate(equity)
        result.max_drawdown = float(np.max(1.0 - equity / peak))
    if write:
        window = Window(first, day_start_ns(date.fromisoformat(dates[-1]) + timedelta(days=1)))
        result.rows_written = stack.write(lake, window, clock.now())
    stack.oms.journal.close()
    return result


# -- paper ----------------------------------------------------------------------------------------


class TradingSession:
    """A paper or live session on the wall clock (paper: the synthetic session; live: a ccxt venue).

    ``run`` wakes the engine at every due time on the wall (or scaled) clock, polls the kill
    switch at least every ``poll_s`` and checkpoints orders, fills, positions and PnL to the lake.
    """

    def __init__(
        self, stack: TradingStack, lake: Lake, window: Window, clock: Clock, session_end_ns: int,
        start_ns: int | None = None, metrics_dir: Path | None = None,
    ) -> None:  # fmt: skip
        self.stack = stack
        self.metrics_dir = metrics_dir
        self.start_ns = start_ns
        self.lake = lake
        self.window = window
        self.clock = clock
        self.session_end_ns = session_end_ns
        self.checkpoints = 0

    @property
    def engine(self) -> TradingEngine:
        """The engine this session drives."""
        return self.stack.engine

    def checkpoint(self) -> dict[str, int]:
        """Write the account's state of the day to the lake (replacing the last checkpoint)."""
        self.checkpoints += 1
        return self.stack.write(self.lake, self.window, self.engine.now)

    def run(
        self,
        *,
        max_wall_s: float | None = None,
        until_ns: int | None = None,
        checkpoint_every_s: float = 60.0,
        status_every_s: float = 1.0,
        poll_s: float = 0.25,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Callable[[dict[str, object]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        compact: bool = True,
    ) -> dict[str, object]:
        """Trade until the session ends, ``until_ns``, ``max_wall_s`` or ``should_stop()``.

        At the end the state goes to the lake and, with ``compact``, the journal is compacted
        to the working orders (the portfolio is saved beside it). The status file (open orders,
        positions, PnL, risk state; read by the gateway) is rewritten every ``status_every_s``.
        """
        engine = self.engine
        end = min(self.session_end_ns, until_ns) if until_ns is not None else self.session_end_ns
        if isinstance(self.clock, ScaledWallClock) and self.start_ns is not None:
            self.clock.anchor(self.start_ns)  # a replay starts where it was set up, however long that took
        wall0 = time.monotonic()
        last_cp = wall0
        last_status = -math.inf
        engine.start()
        while True:
            now = min(self.clock.now(), end)
            engine.run_until(now)
            wall = time.monotonic()
            if wall - last_status >= status_every_s:
                self.write_status()
                last_status = wall
            if wall - last_cp >= checkpoint_every_s:
                self.checkpoint()
                last_cp = wall
                if on_progress is not None:
                    on_progress(self.status())
            if now >= end or should_stop() or (max_wall_s is not None and wall - wall0 >= max_wall_s):
                break
            nxt = engine.next_wakeup()
            delay = poll_s if nxt is None else min(poll_s, _wall_delay(self.clock, nxt))
            sleep(max(delay, 0.001))
        engine.stop()
        if compact:
            self.stack.compact(self.lake, self.window, engine.now)
            self.checkpoints += 1
        else:
            self.checkpoint()
        self.write_status()
        self.stack.oms.journal.close()
        return self.status()

    def write_status(self) -> None:
        """Rewrite the account's status file (what the gateway answers between checkpoints) and
        the engine's metrics snapshot (what the gateway's /metrics serves)."""
        write_status(self.stack.journal_path.with_name(STATUS_FILE), engine_status(self.engine))
        metrics = self.engine.metrics
        if metrics is not None and self.metrics_dir is not None:
            registry = metrics.registry
            registry.set_gauge("equity", self.stack.portfolio.equity)
            registry.set_gauge("open_orders", len(self.stack.oms.open_orders()))
            write_snapshot(self.metrics_dir, registry.snapshot(EXECUTION_COMPONENT, time.time()))

    def status(self) -> dict[str, object]:
        """Counts and the account, for logs and the flow's artifact."""
        s, p = self.engine.stats, self.stack.portfolio
        return {
            "account": self.stack.account, "now": self.engine.now, "bars": s.bars, "quotes": s.quotes,
            "signals": s.signals, "orders": s.orders_submitted, "denied": s.orders_denied, "fills": s.fills,
            "equity": round(p.equity, 2), "cash": round(p.cash, 2), "trading_state": self.stack.risk.state.name,
            "checkpoints": self.checkpoints,
        }  # fmt: skip


def _wall_delay(clock: Clock, ts: int) -> float:
    if isinstance(clock, ScaledWallClock):
        return clock.wall_delay_s(ts)
    return max(0.0, (ts - clock.now()) / 1e9)


def open_paper_session(
    settings: Settings,
    *,
    day: date | None = None,
    speed: float | None = None,
    strategies: Sequence[Strategy] | None = None,
    symbols: Sequence[str] | None = None,
    on_risk_event: Callable[[RiskEvent], None] | None = None,
) -> TradingSession:
    """Paper trading: today's synthetic session on the wall clock (or ``day`` replayed at ``speed``x).

    The OMS journal under ``<data>/trading/<account>/`` survives restarts: a new session recovers
    it, cancels what the (new) simulated venue does not know, and goes on from the last signal.
    """
    account = settings.trading.account
    symbols = list(symbols or settings.universe)
    strategies = list(strategies if strategies is not None else strategies_from_settings(settings))
    today = datetime.now(UTC).date()
    day = day or today
    if speed is None and day != today:
        raise ValueError(f"paper trading {day} (not today) replays it: give a speed")
    open_ns, close_ns = session_window(settings, day)
    clock: Clock = WallClock() if speed is None else ScaledWallClock(open_ns, speed)
    batch = SyntheticExchange(settings).fetch(open_ns, close_ns, symbols)
    feeds = {}
    for sym in symbols:
        feed = VenueFeed.from_batch(batch, _rules(settings, sym))
        if len(feed):
            feeds[sym] = feed
    if not feeds:
        raise ValueError(f"the synthetic exchange has no data for {day}")
    stack = build_stack(
        settings, account=account, mode=TradingMode.PAPER, clock=clock, strategies=strategies,
        symbols=symbols, prices=_first_prices(feeds),
        journal_path=Path(settings.trading_dir) / account / "journal.bin",
        fsync=settings.trading.journal_fsync, signals=SignalLog(settings.signal_log_root, symbols=symbols),
        kill_switch=KillSwitch(settings.state_dir), on_risk_event=on_risk_event,
        commands=CommandLog(commands_path(settings.trading_dir, account)), metrics=EngineMetrics(),
    )  # fmt: skip
    if speed is not None:
        # a replay starts at the open, or resumes where the journal stopped; its clock is
        # anchored there when the session starts running (set-up time does not count)
        resume = max((o.updated_ts for o in stack.oms.orders), default=open_ns)
        start = min(max(resume + 1, open_ns), close_ns)
        clock.anchor(start)
    else:
        start = max(clock.now(), open_ns)
    router, bars, counter = _session(settings, feeds, clock, start)
    stack.engine.load_session(router, bars, start_ns=start, market_events=counter)
    lake = Lake(settings.lake_root)
    return TradingSession(
        stack, lake, Window.days(day), clock, close_ns, start_ns=start,
        metrics_dir=Path(settings.state_dir) / METRICS_DIR_NAME,
    )  # fmt: skip


# -- live -----------------------------------------------------------------------------------------

#: Environment variables holding the exchange credentials when no secrets vault is unlocked.
API_KEY_ENV = "SHRIVEN_CCXT_API_KEY"
SECRET_ENV = "SHRIVEN_CCXT_SECRET"


def _exchange_credentials(settings: Settings, name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """ccxt credentials: from the secrets vault when it is unlocked (``exchange.<name>.api_key``,
    ``.secret``), else from the environment. Every value is registered for log redaction."""
    if environ.get("SHRIVEN_VAULT_PASSPHRASE") or environ.get("SHRIVEN_VAULT_KEY_FILE"):
        from shriven.security.credentials import as_ccxt_config, exchange_credentials
        from shriven.security.vault import MasterKey, Vault, default_vault_path

        vault = Vault.open(default_vault_path(settings), MasterKey.from_environ(environ))
        config = as_ccxt_config(exchange_credentials(vault, name))
    else:
        key, secret = environ.get(API_KEY_ENV), environ.get(SECRET_ENV)
        if not key or not secret:
            raise ValueError(
                f"live trading on {name} needs its keys: in the secrets vault (`shriven secrets set "
                f"exchange.{name}.api_key` and `.secret`, unlocked by SHRIVEN_VAULT_PASSPHRASE or "
                f"SHRIVEN_VAULT_KEY_FILE), or {API_KEY_ENV} and {SECRET_ENV} in the environment"
            )
        config = {"apiKey": key, "secret": secret}
    for value in config.values():
        register_secret(value)
    return config


def _ccxt_exchange(settings: Settings, environ: Mapping[str, str]):
    """The configured ccxt exchange, authenticated from the vault or environment, sandboxed unless told not to."""
    import ccxt

    name = settings.ccxt.exchange
    if name not in ccxt.exchanges:
        raise ValueError(f"ccxt has no exchange {name!r}")
    exchange = getattr(ccxt, name)({**_exchange_credentials(settings, name, environ), "enableRateLimit": True})
    if settings.trading.live_sandbox:
        exchange.set_sandbox_mode(True)
    return exchange


def open_live_session(
    settings: Settings,
    *,
    exchange=None,
    clock: Clock | None = None,
    strategies: Sequence[Strategy] | None = None,
    symbols: Sequence[str] | None = None,
    on_risk_event: Callable[[RiskEvent], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TradingSession:
    """Live trading: bars polled from the ccxt exchange, orders through a ccxt venue, wall clock.

    The same engine, risk limits, journal (``<data>/trading/<live account>/``) and strategies as
    paper trading. On start it reconciles with the venue: working orders the venue no longer has
    are canceled (never resent: a real venue may have filled them). ``exchange`` and ``clock``
    are injected by tests (``shriven.testing.ccxt_sim``); by default the exchange is built from
    ``[ccxt]`` with keys from the environment, in sandbox mode unless ``live_sandbox = false``.
    """
    from shriven.engine.live_bars import SourceBars
    from shriven.execution.ccxt_venue import CcxtVenue
    from shriven.marketdata.ccxt_source import CcxtSource

    env = os.environ if environ is None else environ
    exchange = exchange if exchange is not None else _ccxt_exchange(settings, env)
    clock = clock or WallClock()
    symbols = list(symbols or settings.universe)
    strategies = list(strategies if strategies is not None else strategies_from_settings(settings))
    account = settings.trading.live_account
    venue_name = f"ccxt:{settings.ccxt.exchange}"
    venue = CcxtVenue(venue_name, exchange, symbols, symbol_map=settings.ccxt.symbol_map, clock_ns=clock.now)
    router = Router([venue], breaker_failures=settings.ccxt.breaker_failures,
                    breaker_reset_s=settings.ccxt.breaker_reset_s)  # fmt: skip
    stack = build_stack(
        settings, account=account, mode=TradingMode.LIVE, clock=clock, strategies=strategies,
        symbols=symbols, prices={}, journal_path=Path(settings.trading_dir) / account / "journal.bin",
        fsync=settings.trading.journal_fsync, signals=SignalLog(settings.signal_log_root, symbols=symbols),
        kill_switch=KillSwitch(settings.state_dir), on_risk_event=on_risk_event,
        commands=CommandLog(commands_path(settings.trading_dir, account)), metrics=EngineMetrics(),
    )  # fmt: skip
    now = clock.now()
    source = CcxtSource(settings.ccxt, exchange=exchange)
    bars = SourceBars(source, symbols, INTERVALS_NS[settings.trading.bar_interval], now)
    stack.engine.load_session(router, bars, start_ns=now)
    day = datetime.fromtimestamp(now / 1e9, tz=UTC).date()
    end = day_start_ns(day + timedelta(days=1)) - 1
    return TradingSession(
        stack, Lake(settings.lake_root), Window.days(day), clock, end,
        metrics_dir=Path(settings.state_dir) / METRICS_DIR_NAME,
    )  # fmt: skip
