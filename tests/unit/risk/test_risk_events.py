"""Breaches, state changes, the kill switch and the risk-events table."""

from __future__ import annotations

import pyarrow as pa
import pytest
from risk_support import SYMBOL, build, order

from shriven.book.orders import Side
from shriven.model.enums import RiskReason, TradingState
from shriven.risk import RiskEvent, RiskEventKind, risk_events_table
from shriven.schemas import RISK_EVENTS

K = RiskEventKind


def kinds(events: list[RiskEvent]) -> list[tuple[RiskEventKind, object, TradingState]]:
    """(kind, reason, state after) of each event."""
    return [(e.kind, e.reason, e.trading_state) for e in events]


def test_daily_loss_breach_emits_one_breach_and_one_state_change(events: list) -> None:
    engine = build(limits={"daily_loss_limit": 1_000.0}, listener=events.append, equity=None)
    engine.start_day(100_000.0, 0)
    engine.equity_changed(99_000.0, 1)  # loss exactly at the limit: no breach
    assert events == []
    assert engine.state is TradingState.ACTIVE
    engine.equity_changed(98_999.0, 2)
    engine.equity_changed(98_000.0, 3)  # the same breach: nothing more
    engine.equity_changed(97_000.0, 4)
    assert kinds(events) == [
        (K.BREACH, RiskReason.DAILY_LOSS, TradingState.ACTIVE),
        (K.STATE_CHANGE, "daily_loss", TradingState.HALTED),
    ]
    assert [e.ts for e in events] == [2, 2]
    assert engine.state is TradingState.HALTED
    assert engine.check(order()) is RiskReason.HALTED


def test_breach_state_reducing(events: list) -> None:
    engine = build(
        limits={"daily_loss_limit": 1_000.0, "breach_state": "reducing"},
        listener=events.append,
        equity=None,
    )
    engine.start_day(100_000.0, 0)
    engine.position_changed(SYMBOL, 10.0)
    engine.equity_changed(98_000.0, 5)
    assert engine.state is TradingState.REDUCING
    assert kinds(events)[-1] == (K.STATE_CHANGE, "daily_loss", TradingState.REDUCING)
    assert engine.check(order(1.0)) is RiskReason.REDUCE_ONLY
    assert engine.check(order(10.0, side=Side.SELL)) is RiskReason.NONE


def test_drawdown_breach_from_peak(events: list) -> None:
    engine = build(limits={"max_drawdown": 0.25}, listener=events.append, equity=None)
    engine.start_day(1_000.0, 0)
    engine.equity_changed(2_000.0, 1)  # new peak
    engine.equity_changed(1_500.0, 2)  # 25 %: at the limit
    assert events == []
    engine.equity_changed(1_499.0, 3)
    engine.equity_changed(1_400.0, 4)
    assert kinds(events) == [
        (K.BREACH, RiskReason.DRAWDOWN, TradingState.ACTIVE),
        (K.STATE_CHANGE, "drawdown", TradingState.HALTED),
    ]
    assert engine.usage()["drawdown"] == pytest.approx(0.3 / 0.25)


def test_a_new_breach_after_recovery_is_reported_again(events: list) -> None:
    engine = build(limits={"daily_loss_limit": 100.0}, listener=events.append, equity=None)
    engine.start_day(1_000.0, 0)
    engine.equity_changed(850.0, 1)
    engine.set_state(TradingState.ACTIVE, "operator", 2)
    assert engine.check(order()) is RiskReason.DAILY_LOSS  # still breached: no new exposure
    engine.equity_changed(950.0, 3)  # recovered
    assert engine.check(order()) is RiskReason.NONE
    engine.equity_changed(880.0, 4)
    assert [e.kind for e in events] == [
        K.BREACH,
        K.STATE_CHANGE,
        K.STATE_CHANGE,
        K.DENIED,
        K.BREACH,
        K.STATE_CHANGE,
    ]


def test_breach_does_not_loosen_a_stricter_state(events: list) -> None:
    engine = build(
        limits={"daily_loss_limit": 100.0, "breach_state": "reducing"},
        listener=events.append,
        equity=None,
    )
    engine.start_day(1_000.0, 0)
    engine.kill("operator", 1)
    engine.equity_changed(800.0, 2)
    assert engine.state is TradingState.HALTED
    assert [e.kind for e in events] == [K.KILL_SWITCH, K.BREACH]


def test_start_day_resets_the_daily_baseline(events: list) -> None:
    engine = build(limits={"daily_loss_limit": 100.0}, listener=events.append, equity=None)
    engine.start_day(1_000.0, 0)
    engine.equity_changed(950.0, 1)
    engine.start_day(950.0, 2)
    engine.equity_changed(860.0, 3)  # 90 below the new baseline
    assert events == []
    assert engine.usage()["daily_loss"] == pytest.approx(0.9)


def test_kill_switch(events: list) -> None:
    engine = build(listener=events.append)
    engine.kill("operator pressed it", 42)
    assert engine.state is TradingState.HALTED
    assert len(events) == 1
    (event,) = events
    assert (event.kind, event.reason, event.ts, event.trading_state) == (
        K.KILL_SWITCH,
        "operator pressed it",
        42,
        TradingState.HALTED,
    )
    assert engine.check(order()) is RiskReason.HALTED
    engine.set_state(TradingState.ACTIVE, "resume", 43)
    assert kinds(events)[-1] == (K.STATE_CHANGE, "resume", TradingState.ACTIVE)
    assert engine.check(order()) is RiskReason.NONE


def test_set_state_to_the_same_state_emits_nothing(events: list) -> None:
    engine = build(listener=events.append)
    engine.set_state(TradingState.ACTIVE, "noop", 0)
    assert events == []
    engine.set_state(TradingState.REDUCING, "manual", 1)
    engine.set_state(TradingState.REDUCING, "manual", 2)
    assert kinds(events) == [(K.STATE_CHANGE, "manual", TradingState.REDUCING)]


def test_bad_feed_values_raise_instead_of_passing_orders() -> None:
    engine = build()
    with pytest.raises(ValueError, match="equity"):
        engine.equity_changed(float("nan"), 0)
    with pytest.raises(ValueError, match="position"):
        engine.position_changed(SYMBOL, float("inf"))
    engine.mark(SYMBOL, float("nan"))  # a bad mark clears the reference: orders deny safely
    assert engine.check(order()) is RiskReason.NO_REFERENCE_PRICE
    engine.mark("unknown", 1.0)  # other symbols of the feed are ignored
    engine.position_changed("unknown", 1.0)


def test_risk_events_table_conforms_to_the_schema(events: list) -> None:
    engine = build(limits={"daily_loss_limit": 1.0}, listener=events.append)
    engine.check(order(symbol="ZZZ", client_order_id="c9", ts=5))
    engine.equity_changed(0.0, 6)
    engine.kill("stop", 7)
    table = risk_events_table(events)
    assert table.schema.equals(RISK_EVENTS, check_metadata=True)
    assert table.column("kind").to_pylist() == ["denied", "breach", "state_change", "kill_switch"]
    assert table.column("reason").to_pylist() == [
        "unknown_symbol",
        "daily_loss",
        "daily_loss",
        "stop",
    ]
    assert table.column("trading_state").to_pylist() == ["active", "active", "halted", "halted"]
    assert table.column("client_order_id").to_pylist() == ["c9", "", "", ""]
    assert table.column("ts").cast(pa.int64()).to_pylist() == [5, 6, 6, 7]
    assert risk_events_table([]).schema.equals(RISK_EVENTS, check_metadata=True)


@pytest.mark.parametrize("reason", [RiskReason.DAILY_LOSS, "operator"])
def test_events_round_trip_through_msgspec(reason) -> None:
    import msgspec

    event = RiskEvent(ts=1, kind=K.BREACH, reason=reason, trading_state=TradingState.HALTED)
    assert msgspec.json.decode(msgspec.json.encode(event), type=RiskEvent) == event
