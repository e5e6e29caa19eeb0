"""Live trading end to end: bars polled and orders placed through ccxt's API, here a ccxt-shaped
exchange over the synthetic market (``shriven.testing.ccxt_sim``) on a clock the test moves."""

from __future__ import annotations

import duckdb
import pytest

from shriven.engine.clock import SimulatedClock
from shriven.engine.wiring import open_live_session
from shriven.lake.layout import day_start_ns
from shriven.lake.views import create_views
from shriven.marketdata.synthetic import session_window
from shriven.model.enums import OrderState, OrderType, Side, TargetKind
from shriven.model.records import Signal
from shriven.signals.log import SignalLog
from shriven.strategy.base import Strategy
from shriven.strategy.signal_follower import SignalFollower
from shriven.testing.ccxt_sim import SimulatedCcxtExchange
from tests.unit.engine.conftest import DAY, _settings

SEC = 10**9


def _drive(session, clock: SimulatedClock, until: int, step: int = 5 * SEC) -> None:
    engine = session.engine
    engine.start()
    t = clock.now()
    while t < until:
        t = min(t + step, until)
        clock.set(t)
        engine.run_until(t)


def test_live_session_follows_signals_through_a_ccxt_exchange(tmp_path) -> None:
    s = _settings(tmp_path, journal_fsync=False)
    open_ns, close_ns = session_window(s, DAY)
    SignalLog(s.lake_root, symbols=s.universe).append(
        [Signal(ts=open_ns + m * 60 * SEC, symbol=sym, target=t, kind=TargetKind.POSITION, source="t")
         for sym, t, m in [("ACME", 30.0, 5), ("BOLT", -20.0, 12), ("ACME", 0.0, 30)]],
        source="t", now_ns=day_start_ns(DAY),
    )  # fmt: skip
    clock = SimulatedClock(open_ns)
    exchange = SimulatedCcxtExchange(s, DAY, clock.now)
    session = open_live_session(s, exchange=exchange, clock=clock, strategies=[SignalFollower("follow", ("ACME", "BOLT"))])
    _drive(session, clock, close_ns)
    session.engine.stop()
    session.checkpoint()
    oms = session.stack.oms
    assert oms.last_signal_offset == 2
    assert oms.positions() == {"ACME": 0.0, "BOLT": -20.0}
    assert {k: v for k, v in exchange._position.items() if v} == {"BOLT": -20.0}  # the venue agrees
    assert session.engine.stats.bars > 100  # bars polled from the exchange's public trades
    con = duckdb.connect()
    create_views(con, s.lake_root)
    venues = con.sql("SELECT DISTINCT venue FROM fills WHERE account = 'live'").fetchall()
    assert venues == [("ccxt:binance",)]
    assert con.sql("SELECT sum(fee) > 0 FROM fills WHERE account = 'live'").fetchall() == [(True,)]


class RestingBid(Strategy):
    """Leaves one bid far below the market (it never fills)."""

    def __init__(self) -> None:
        super().__init__("rest", ("ACME",))
        self.sent = False

    def on_bar(self, ctx, bar) -> None:
        if not self.sent:
            self.sent = True
            ctx.submit("ACME", Side.BUY, 1.0, round(bar.close * 0.96, 2), OrderType.LIMIT)


def test_restart_reconciles_orders_the_venue_no_longer_has(tmp_path) -> None:
    s = _settings(tmp_path, journal_fsync=False)
    open_ns, _ = session_window(s, DAY)
    clock = SimulatedClock(open_ns)
    first = open_live_session(s, exchange=SimulatedCcxtExchange(s, DAY, clock.now), clock=clock, strategies=[RestingBid()])
    _drive(first, clock, open_ns + 5 * 60 * SEC)
    (order,) = first.stack.oms.open_orders()
    first.stack.oms.journal.close()
    # the venue was reset (or the order canceled by hand): the restarted engine must not think it works
    second = open_live_session(s, exchange=SimulatedCcxtExchange(s, DAY, clock.now), clock=clock, strategies=[RestingBid()])
    second.engine.start()
    recovered = second.stack.oms.get(order.request.client_order_id)
    assert recovered.state == OrderState.CANCELED
    assert recovered.reason == "RECONCILED_MISSING"
    assert not second.stack.oms.open_orders()


def test_live_without_credentials_is_a_clear_error(tmp_path) -> None:
    s = _settings(tmp_path)
    with pytest.raises(ValueError, match="SHRIVEN_CCXT_API_KEY"):
        open_live_session(s, environ={})


def test_a_venue_coming_back_after_its_breaker_opened_is_reconciled(tmp_path) -> None:
    s = _settings(tmp_path, journal_fsync=False)
    open_ns, _ = session_window(s, DAY)
    clock = SimulatedClock(open_ns)
    exchange = SimulatedCcxtExchange(s, DAY, clock.now)
    session = open_live_session(s, exchange=exchange, clock=clock, strategies=[RestingBid()])
    _drive(session, clock, open_ns + 3 * 60 * SEC)
    engine, router = session.engine, session.engine.venue
    before = engine.stats.reconciliations
    (breaker,) = router.breakers.values()
    for _ in range(s.ccxt.breaker_failures):
        breaker.record_failure()  # the venue stopped answering
    _drive(session, clock, open_ns + 4 * 60 * SEC)
    assert engine.stats.reconciliations == before
    breaker.record_success()  # and it is back
    _drive(session, clock, open_ns + 5 * 60 * SEC)
    assert engine.stats.reconciliations == before + 1
    exchange._position["ACME"] = 5.0  # someone traded the account by hand
    report = engine.reconcile()
    assert report["position_breaks"] == {"ACME": (0.0, 5.0)}


def test_live_credentials_come_from_the_unlocked_vault(tmp_path) -> None:
    from shriven.engine.wiring import _ccxt_exchange
    from shriven.observability.logs import redact
    from shriven.security.vault import MasterKey, SecretNotFound, Vault, default_vault_path

    s = _settings(tmp_path)
    name = s.ccxt.exchange
    vault = Vault.create(default_vault_path(s), MasterKey.from_passphrase("vault pass 123", scrypt_n=2**10))
    environ = {"SHRIVEN_VAULT_PASSPHRASE": "vault pass 123", "SHRIVEN_CCXT_API_KEY": "env-key-ignored"}
    with pytest.raises(SecretNotFound, match=f"exchange.{name}.api_key"):
        _ccxt_exchange(s, environ)
    vault.set(f"exchange.{name}.api_key", "vault-api-key-123")
    vault.set(f"exchange.{name}.secret", "vault-secret-456")
    exchange = _ccxt_exchange(s, environ)
    assert (exchange.apiKey, exchange.secret) == ("vault-api-key-123", "vault-secret-456")
    assert "vault-secret-456" not in redact("signed with vault-secret-456")  # registered for redaction
