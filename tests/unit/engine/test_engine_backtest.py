"""The engine end to end on a real (small) synthetic lake: strategy → risk → OMS → venue → portfolio.

Each test runs the real stack (numba venue, journal, risk manager, portfolio) through
``run_backtest`` and checks what a user relies on: the books balance, orders are never lost,
risk decisions and the kill switch act within one event, signals are acted on once.
"""

from __future__ import annotations

import math

import duckdb
import msgspec
import pytest

from shriven.config import Settings
from shriven.engine.killswitch import KillSwitch
from shriven.engine.wiring import run_backtest
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.views import create_views
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.model.enums import OrderEventKind, OrderType, Side, TargetKind
from shriven.model.records import Signal
from shriven.oms.manager import OrderManager
from shriven.signals.log import SignalLog
from shriven.strategy.base import Strategy
from shriven.strategy.momentum import Momentum
from shriven.strategy.signal_follower import SignalFollower
from tests.unit.engine.conftest import DAY, _settings


class EveryBar(Strategy):
    """Sends a market order on every bar, alternating sides: the heaviest order load."""

    def __init__(self, strategy_id: str, symbols: tuple[str, ...], quantity: float = 1.0) -> None:
        super().__init__(strategy_id, symbols)
        self.quantity = quantity
        self.events: list[OrderEventKind] = []
        self.sent: list[str] = []
        self.fills = 0

    def on_bar(self, ctx, bar) -> None:
        side = Side.BUY if ctx.position(bar.symbol) <= 0 else Side.SELL
        self.sent.append(ctx.submit(bar.symbol, side, self.quantity, None, OrderType.MARKET))

    def on_fill(self, ctx, fill) -> None:
        self.fills += 1

    def on_order_event(self, ctx, event) -> None:
        assert event.client_order_id in self.sent, "an event arrived before its order id was returned"
        self.events.append(event.kind)


class FatFinger(Strategy):
    """Sends one limit buy 50% through the market on its first bar."""

    def __init__(self) -> None:
        super().__init__("fat", ("ACME",))
        self.denied: list[str] = []

    def on_bar(self, ctx, bar) -> None:
        if not self.denied:
            ctx.submit("ACME", Side.BUY, 1.0, round(bar.close * 1.5, 2), OrderType.LIMIT)

    def on_order_event(self, ctx, event) -> None:
        if event.kind == OrderEventKind.DENIED:
            self.denied.append(event.reason)


def _run(settings_and_tmp, strategies, run_id, **kw):
    settings, tmp = settings_and_tmp
    trading_dir_settings = msgspec.structs.replace(settings, data_dir=settings.data_dir)
    return run_backtest(trading_dir_settings, [DAY.isoformat()], strategies=strategies, run_id=run_id, **kw)


def _con(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_views(con, settings.lake_root)
    return con


def test_books_balance_after_a_backtest(settings) -> None:
    s = settings[0]
    result = _run(settings, [EveryBar("every", ("ACME", "BOLT", "CRUX")), Momentum("mom", ("BOLT",), fast=3, slow=8, quantity=20)], "balance")
    assert result.market_events > 100_000
    assert result.bars == 3 * 60
    assert result.orders > 150
    assert result.fills > 150
    con = _con(s)
    acct = result.account
    # positions = sum of signed fills, per symbol
    rows = con.sql(f"""
        SELECT p.symbol, p.quantity, coalesce(f.q, 0)
        FROM positions p LEFT JOIN (
            SELECT symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS q
            FROM fills WHERE account = '{acct}' GROUP BY symbol) f USING (symbol)
        WHERE p.account = '{acct}'""").fetchall()
    assert rows
    assert all(math.isclose(q, f, abs_tol=1e-9) for _, q, f in rows)
    # equity identity on the last sample
    cash, equity, realized, unrealized, fees = con.sql(
        f"SELECT cash, equity, realized_pnl, unrealized_pnl, fees FROM pnl WHERE account = '{acct}' ORDER BY ts DESC LIMIT 1"
    ).fetchall()[0]
    assert equity == pytest.approx(1_000_000.0 + realized + unrealized - fees, abs=1e-6)
    assert result.final_equity == pytest.approx(equity)
    # every fill belongs to an order, filled quantities agree, and nothing is left working
    assert con.sql(f"""SELECT count(*) FROM fills f ANTI JOIN orders o USING (client_order_id)
                       WHERE f.account = '{acct}'""").fetchall() == [(0,)]
    mismatched = con.sql(f"""
        SELECT count(*) FROM orders o JOIN (SELECT client_order_id, sum(quantity) q FROM fills
                                            WHERE account = '{acct}' GROUP BY ALL) f USING (client_order_id)
        WHERE o.account = '{acct}' AND abs(o.filled_quantity - f.q) > 1e-9""").fetchall()
    assert mismatched == [(0,)]
    states = dict(con.sql(f"SELECT state, count(*) FROM orders WHERE account = '{acct}' GROUP BY ALL").fetchall())
    assert set(states) <= {"filled", "canceled", "expired", "denied", "rejected"}


def test_orders_are_never_lost_the_journal_holds_every_one(settings) -> None:
    s = settings[0]
    strategy = EveryBar("every", ("ACME",))
    result = _run(settings, [strategy], "journal")
    oms = OrderManager.recover(f"{s.trading_dir}/{result.account}/journal.bin", fsync=False, account=result.account)
    assert {o.request.client_order_id for o in oms.orders} == set(strategy.sent)
    assert sum(1 for o in oms.orders if o.state.name == "FILLED") == result.fills == strategy.fills
    oms.journal.close()


def test_same_backtest_twice_gives_the_same_fills(settings) -> None:
    s = settings[0]
    a = _run(settings, [Momentum("mom", ("ACME", "BOLT"), fast=3, slow=8, quantity=10)], "det-a")
    b = _run(settings, [Momentum("mom", ("ACME", "BOLT"), fast=3, slow=8, quantity=10)], "det-b")
    con = _con(s)
    q = "SELECT ts, symbol, side, price, quantity, fee FROM fills WHERE account = '{}' ORDER BY ALL"
    assert con.sql(q.format(a.account)).fetchall() == con.sql(q.format(b.account)).fetchall()
    assert a.final_equity == b.final_equity
    assert a.fills > 0


def test_fat_finger_is_denied_with_a_reason_after_the_callback_returns(settings) -> None:
    s = settings[0]
    fat = FatFinger()
    result = _run(settings, [fat], "fat")
    assert fat.denied == ["PRICE_COLLAR"]
    assert result.denied == 1
    assert result.denials_by_reason == {"PRICE_COLLAR": 1}
    con = _con(s)
    assert con.sql(f"SELECT state, reason FROM orders WHERE account = '{result.account}'").fetchall() == [("denied", "PRICE_COLLAR")]
    assert con.sql(f"SELECT kind, reason FROM risk_events WHERE account = '{result.account}'").fetchall() == [("denied", "price_collar")]


def test_kill_switch_on_at_start_denies_everything(settings, tmp_path) -> None:
    s = settings[0]
    KillSwitch(s.state_dir).set(True, reason="test")
    try:
        strategy = EveryBar("every", ("ACME",))
        # backtests do not read the manual switch: it guards paper and live trading only
        assert _run(settings, [strategy], "ks-backtest").denied == 0
    finally:
        KillSwitch(s.state_dir).set(False)


def test_daily_loss_breach_halts_and_denies_what_follows(lake_dir, tmp_path) -> None:
    s = _settings(lake_dir, risk={"daily_loss_limit": 1.0, "breach_state": "halted"})
    strategy = EveryBar("every", ("ACME", "BOLT", "CRUX"), quantity=50.0)
    result = run_backtest(s, [DAY.isoformat()], strategies=[strategy], run_id="breach")
    assert result.denials_by_reason.get("HALTED", 0) > 0
    con = _con(s)
    kinds = [k for (k,) in con.sql(f"SELECT kind FROM risk_events WHERE account = '{result.account}' AND kind <> 'denied' ORDER BY ts").fetchall()]
    assert kinds[:2] == ["breach", "state_change"]
    # after the breach nothing new was submitted
    breach_ts = con.sql(f"SELECT min(ts) FROM risk_events WHERE account = '{result.account}' AND kind = 'breach'").fetchall()[0][0]
    late = con.sql(f"""SELECT count(*) FROM orders WHERE account = '{result.account}' AND ts > '{breach_ts}'
                       AND state NOT IN ('denied')""").fetchall()
    assert late == [(0,)]


def test_signals_are_followed_and_each_consumed_once(lake_dir, tmp_path) -> None:
    s = _settings(tmp_path / "sig")
    # same market, own lake copy so the signal log is this test's alone
    ingest_window(SyntheticExchange(s), Lake(s.lake_root), Window.days(DAY), s.universe, s.universe)
    open_ns, _ = session_window(s, DAY)
    log = SignalLog(s.lake_root, symbols=s.universe)
    targets = [("ACME", 100.0, 10), ("BOLT", -40.0, 20), ("ACME", 30.0, 40)]
    log.append(
        [Signal(ts=open_ns + m * 60 * 10**9, symbol=sym, target=t, kind=TargetKind.POSITION, source="test") for sym, t, m in targets],
        source="test", now_ns=day_start_ns(DAY),
    )  # fmt: skip
    result = run_backtest(s, [DAY.isoformat()], strategies=[SignalFollower("follow", ("ACME", "BOLT"))], run_id="sig")
    assert result.signals == 3
    con = _con(s)
    final = dict(con.sql(f"SELECT symbol, quantity FROM positions WHERE account = '{result.account}'").fetchall())
    assert final == {"ACME": 30.0, "BOLT": -40.0}
    offsets = con.sql(f"SELECT signal_offset, count(*) FROM orders WHERE account = '{result.account}' GROUP BY ALL ORDER BY ALL").fetchall()
    assert [o for o, _ in offsets] == [0, 1, 2]
    oms = OrderManager.recover(f"{s.trading_dir}/{result.account}/journal.bin", fsync=False, account=result.account)
    assert oms.last_signal_offset == 2
    oms.journal.close()


def test_backtest_of_a_day_without_data_says_so(settings) -> None:
    s = settings[0]
    with pytest.raises(ValueError, match="no market data"):
        run_backtest(s, ["2020-01-01"], strategies=[EveryBar("e", ("ACME",))], run_id="empty")
    with pytest.raises(ValueError, match="at least one date"):
        run_backtest(s, [], strategies=[], run_id="none")


def test_two_venues_route_to_the_cheaper_fee_adjusted_price(lake_dir) -> None:
    venues = [
        {"name": "dear", "maker_fee": 0.0, "taker_fee": 0.0010},
        {"name": "cheap", "maker_fee": 0.0, "taker_fee": 0.0002},
    ]
    s = _settings(lake_dir, venues=venues)
    result = run_backtest(s, [DAY.isoformat()], strategies=[EveryBar("every", ("ACME", "BOLT"))], run_id="two-venues")
    con = _con(s)
    by_venue = dict(con.sql(f"SELECT venue, count(*) FROM fills WHERE account = '{result.account}' GROUP BY ALL").fetchall())
    assert by_venue == {"cheap": result.fills}
    fee, notional = con.sql(f"SELECT sum(fee), sum(price * quantity) FROM fills WHERE account = '{result.account}'").fetchall()[0]
    assert fee == pytest.approx(0.0002 * notional)
