"""Journal records of the OMS's own: signal offsets and compaction snapshots.

The journal also holds the shared ``OrderRequest`` and ``OrderEvent`` records unchanged (see
:mod:`shriven.oms.journal` for how they are tagged on disk).
"""

from __future__ import annotations

import msgspec

from shriven.model.enums import OrderState
from shriven.model.records import Fill, OrderEvent, OrderRequest

__all__ = ["CommandConsumed", "JournalRecord", "OrderSnapshot", "SignalConsumed", "Snapshot"]


class SignalConsumed(msgspec.Struct, frozen=True, kw_only=True):
    """The engine has acted on the signal at ``offset``: a restart resumes after it (exactly once)."""

    offset: int
    ts: int


class CommandConsumed(msgspec.Struct, frozen=True, kw_only=True):
    """The engine has acted on the command-log entry at ``offset`` (gateway orders, exactly once)."""

    offset: int
    ts: int


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about one order, so a compacted journal rebuilds it without its events."""

    request: OrderRequest
    state: OrderState
    previous_state: OrderState | None
    filled_quantity: float
    avg_fill_price: float
    fees: float
    venue: str
    venue_order_id: str
    reason: str
    created_ts: int
    updated_ts: int
    price: float | None
    quantity: float
    trade_ids: list[str] = []


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The OMS state a compacted journal starts from: it replaces everything before it.

    ``positions`` already include ``fills`` (the fills of the orders kept, for trade-id dedup
    and the ``fills`` list), so fills after the snapshot add to ``positions``.
    """

    last_signal_offset: int
    positions: dict[str, float]
    orders: list[OrderSnapshot]
    fills: list[Fill] = []
    last_command_offset: int = -1


#: What the journal stores, one or more per framed commit.
JournalRecord = OrderRequest | OrderEvent | SignalConsumed | Snapshot | CommandConsumed
