"""Risk events: what the risk manager tells the engine, the dashboards and the lake."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import msgspec
import pyarrow as pa

from shriven.model.enums import RiskReason, TradingState
from shriven.schemas import RISK_EVENTS

__all__ = ["RiskEvent", "RiskEventKind", "risk_events_table"]


class RiskEventKind(IntEnum):
    """What a risk event records (lower-case names in the lake)."""

    #: An order failed a check; ``reason`` is the first check it failed.
    DENIED = 1
    #: A daily-loss or drawdown limit was crossed (once per breach, not per equity update).
    BREACH = 2
    #: The trading state changed; ``reason`` says why (free text or the breached limit).
    STATE_CHANGE = 3
    #: The kill switch was pressed: trading is HALTED and working orders must be canceled.
    KILL_SWITCH = 4


class RiskEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One risk event; ``trading_state`` is the state in force after it."""

    ts: int
    kind: RiskEventKind
    reason: RiskReason | str
    symbol: str = ""
    client_order_id: str = ""
    trading_state: TradingState
    detail: str = ""


def _name(value: object) -> str:
    if isinstance(value, IntEnum):
        return value.name.lower()
    return str(value)


def risk_events_table(events: Sequence[RiskEvent]) -> pa.Table:
    """Events as a ``RISK_EVENTS`` table (enum names lower-case), for the lake writer."""
    return pa.table(
        {
            "ts": pa.array([e.ts for e in events], pa.int64()).cast(RISK_EVENTS.field("ts").type),
            "kind": pa.array([_name(e.kind) for e in events], pa.string()),
            "reason": pa.array([_name(e.reason) for e in events], pa.string()),
            "symbol": pa.array([e.symbol for e in events], pa.string()),
            "client_order_id": pa.array([e.client_order_id for e in events], pa.string()),
            "trading_state": pa.array([_name(e.trading_state) for e in events], pa.string()),
            "detail": pa.array([e.detail for e in events], pa.string()),
        },
        schema=RISK_EVENTS,
    )
