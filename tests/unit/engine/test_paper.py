"""Paper trading on the synthetic live session, replayed fast on a scaled wall clock.

The same engine as the backtest, fed by the synthetic exchange's session and driven by the
clock: checkpoints reach the lake, the kill switch halts within one wake-up, and a restart picks
up from the journal (orders resubmitted, signals not acted on twice).
"""

from __future__ import annotations

import tomllib
from datetime import date

import duckdb
import msgspec
import pytest

from shriven.config import Settings
from shriven.engine.killswitch import KillSwitch
from shriven.engine.wiring import open_paper_session
from shriven.lake.layout import day_start_ns
from shriven.lake.views import create_views
from shriven.marketdata.synthetic import session_window
from shriven.model.enums import OrderType, Side, TargetKind, TradingState
from shriven.model.records import Signal
from shriven.signals.log import SignalLog
from shriven.strategy.base import Strategy
from shriven.strategy.signal_follower import SignalFollower
from tests.conftest import SMALL_CONFIG

DAY = date(2026, 1, 5)
SPEED = 3600.0  # the one-hour session in about a second


def _settings(root) -> Settings:
    raw = tomllib.loads(SMALL_CONFIG)
    raw["trading"] = {"journal_fsync": False}
    return msgspec.convert({**raw, "data_dir": str(root)}, Settings)


def _signals(settings: Settings, targets: list[tuple[str, float, int]]) -> None:
    open_ns, _ = session_window(settings, DAY)
    SignalLog(settings.lake_root, symbols=settings.universe).append(
        [Signal(ts=open_ns + m * 60 * 10**9, symbol=s, target=t, kind=TargetKind.POSITION, source="t") for s, t, m in targets],
        source="t", now_ns=day_start_ns(DAY),
    )  # fmt: skip


def _con(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_views(con, settings.lake_root)
    return con


class Quoter(Strategy):
    """Keeps a passive bid resting on ACME (re-sent when it fills) and counts what happens."""

    def __init__(self) -> None:
        super().__init__("quoter", ("ACME",))
        self.denied: list[str] = []

    def on_bar(self, ctx, bar) -> None:
        if ctx.open_quantity("ACME") == 0:
            ctx.submit("ACME", Side.BUY, 1.0, round(bar.close * 0.99, 2), OrderType.LIMIT)

    def on_order_event(self, ctx, event) -> None:
        if event.kind.name == "DENIED":
            self.denied.append(event.reason)


def test_paper_session_follows_signals_and_checkpoints_to_the_lake(tmp_path) -> None:
    s = _settings(tmp_path)
    _signals(s, [("ACME", 25.0, 5), ("BOLT", -10.0, 10), ("ACME", -5.0, 30)])
    session = open_paper_session(s, day=DAY, speed=SPEED, strategies=[SignalFollower("follow", ("ACME", "BOLT"))])
    status = session.run(checkpoint_every_s=0.2, poll_s=0.01)
    assert status["signals"] == 3
    assert status["checkpoints"] >= 2
    con = _con(s)
    assert dict(con.sql("SELECT symbol, quantity FROM positions WHERE account = 'paper'").fetchall()) == {"ACME": -5.0, "BOLT": -10.0}
    assert con.sql("SELECT count(*) FROM pnl WHERE account = 'paper'").fetchall()[0][0] > 10


def test_kill_switch_halts_and_cancels_within_one_wakeup(tmp_path) -> None:
    s = _settings(tmp_path)
    quoter = Quoter()
    session = open_paper_session(s, day=DAY, speed=SPEED, strategies=[quoter])
    switch = KillSwitch(s.state_dir)
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 20:
            switch.set(True, reason="test halt", by="pytest")

    session.run(poll_s=0.01, sleep=sleep, checkpoint_every_s=3600)
    engine = session.engine
    assert session.stack.risk.state == TradingState.HALTED
    assert not session.stack.oms.open_orders()
    assert "HALTED" in quoter.denied
    con = _con(s)
    kinds = [k for (k,) in con.sql("SELECT kind FROM risk_events WHERE account = 'paper' ORDER BY ts").fetchall()]
    assert "kill_switch" in kinds
    # the switch took effect at the first wake-up after it was set: no order was sent after it
    ks_ts = con.sql("SELECT min(ts) FROM risk_events WHERE kind = 'kill_switch'").fetchall()[0][0]
    assert con.sql(f"SELECT count(*) FROM orders WHERE ts > '{ks_ts}' AND state <> 'denied'").fetchall() == [(0,)]
    assert engine.stats.orders_denied == len(quoter.denied)


def test_restart_resumes_from_the_journal_without_acting_twice(tmp_path) -> None:
    s = _settings(tmp_path)
    _signals(s, [("ACME", 40.0, 5), ("ACME", 10.0, 20), ("BOLT", 7.0, 40)])
    open_ns, close_ns = session_window(s, DAY)
    first = open_paper_session(s, day=DAY, speed=SPEED, strategies=[SignalFollower("follow", ("ACME", "BOLT")), Quoter()])
    first.run(until_ns=open_ns + 25 * 60 * 10**9, poll_s=0.01)
    consumed = first.stack.oms.last_signal_offset
    orders_before = {o.request.client_order_id for o in first.stack.oms.orders}
    assert consumed == 1
    second = open_paper_session(s, day=DAY, speed=SPEED, strategies=[SignalFollower("follow", ("ACME", "BOLT")), Quoter()])
    assert second.engine.clock.now() >= open_ns + 20 * 60 * 10**9  # resumed, not replayed from the open
    second.run(poll_s=0.01)
    oms = second.stack.oms
    assert oms.last_signal_offset == 2
    # the journal was compacted at each session end: finished orders live in the lake now
    con = _con(s)
    in_lake = dict(con.sql("SELECT client_order_id, signal_offset FROM orders WHERE account = 'paper'").fetchall())
    assert orders_before <= set(in_lake)
    offsets = sorted(o for o in in_lake.values() if o is not None)
    assert offsets == [0, 1, 2]  # one order per signal, none repeated by the restart
    follow = dict(con.sql("""SELECT symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END)
                             FROM fills WHERE account = 'paper' AND strategy_id = 'follow' GROUP BY ALL""").fetchall())
    assert follow == {"ACME": 10.0, "BOLT": 7.0}  # the follower ended on each last target
    all_fills = dict(con.sql("""SELECT symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END)
                                FROM fills WHERE account = 'paper' GROUP BY ALL""").fetchall())
    for symbol, quantity in all_fills.items():  # the restored portfolio equals the sum of every fill
        assert second.stack.portfolio.position(symbol) == pytest.approx(quantity)
    lake_positions = dict(
        con.sql("SELECT symbol, quantity FROM positions WHERE account = 'paper' QUALIFY ts = max(ts) OVER ()").fetchall()
    )
    assert lake_positions == pytest.approx(all_fills)
    assert second.engine.now <= close_ns


def test_crash_between_portfolio_snapshot_and_journal_compaction_books_nothing_twice(tmp_path) -> None:
    from shriven.portfolio.snapshot import save_snapshot, snapshot

    s = _settings(tmp_path)
    _signals(s, [("ACME", 25.0, 5), ("BOLT", -10.0, 10)])
    first = open_paper_session(s, day=DAY, speed=SPEED, strategies=[SignalFollower("follow", ("ACME", "BOLT"))])
    first.run(poll_s=0.01, compact=False)
    stack = first.stack
    # the first two steps of a compaction, then "crash": the journal still holds every fill
    booked = [f.trade_id for f in stack.oms.fills]
    save_snapshot(stack.portfolio_path, snapshot(stack.portfolio, booked, stack.engine.strategy_positions))
    expected = {sym: stack.portfolio.position(sym) for sym in ("ACME", "BOLT")}
    assert expected == {"ACME": 25.0, "BOLT": -10.0}
    second = open_paper_session(s, day=DAY, speed=SPEED, strategies=[SignalFollower("follow", ("ACME", "BOLT"))])
    second.engine.start()
    assert {sym: second.stack.portfolio.position(sym) for sym in expected} == expected
    assert second.stack.portfolio.cash == pytest.approx(stack.portfolio.cash)
    assert second.engine.strategy_position("follow", "ACME") == 25.0
    second.stack.oms.journal.close()
