"""The running engine's status file: what the gateway and dashboards show between lake checkpoints.

Checkpoints to the lake are minutes apart (each rewrites the day's partitions); a trader who just
sent an order wants its state within a second. So the execution session also writes this small
JSON file (open orders, the latest orders, positions, PnL, risk state, log offsets) every
second or so, by temp file + rename: a reader sees the previous status or the new one, never a
torn file. It is derived state, not a record: the journal and the lake stay the system of record.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import msgspec

from shriven.durable import write_bytes_atomic

__all__ = [
    "STATUS_FILE",
    "EngineStatus",
    "OrderStatus",
    "engine_status",
    "read_status",
    "status_path",
    "write_status",
]

STATUS_FILE = "status.json"
#: Finished orders kept in the file besides every open one (newest first).
RECENT_ORDERS = 200


class OrderStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One order as a client sees it: enum names as text, no NaN (JSON has none)."""

    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: float
    price: float | None
    state: str
    filled_quantity: float
    avg_fill_price: float | None
    fees: float
    reason: str
    strategy_id: str
    venue: str
    created_ts: int
    updated_ts: int

    @classmethod
    def of(cls, order) -> OrderStatus:
        """The status of an :class:`~shriven.oms.order.Order`."""
        r = order.request
        avg = order.avg_fill_price
        return cls(
            client_order_id=r.client_order_id, symbol=r.symbol, side=r.side.name.lower(),
            order_type=r.order_type.name.lower(), quantity=order.quantity, price=order.price,
            state=order.state.name.lower(), filled_quantity=order.filled_quantity,
            avg_fill_price=None if math.isnan(avg) else avg, fees=order.fees, reason=order.reason,
            strategy_id=r.strategy_id, venue=order.venue, created_ts=order.created_ts,
            updated_ts=order.updated_ts,
        )  # fmt: skip


class EngineStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One look at a running engine (times in ns; ``written_at_ns`` on the wall clock)."""

    account: str
    mode: str
    written_at_ns: int
    engine_ns: int
    trading_state: str
    kill_switch: bool
    pnl: dict[str, float]
    positions: list[dict[str, float | str | None]]
    orders: list[OrderStatus]
    last_signal_offset: int
    last_command_offset: int
    counts: dict[str, int]


def status_path(trading_dir: str | os.PathLike[str], account: str) -> Path:
    """Where an account's status file lives, beside its OMS journal."""
    return Path(trading_dir) / account / STATUS_FILE


def engine_status(engine, *, now_wall_ns: int | None = None) -> EngineStatus:
    """The status of a :class:`~shriven.engine.engine.TradingEngine` now."""
    oms, portfolio, stats = engine.oms, engine.portfolio, engine.stats
    ts = engine.now
    open_ids = {o.client_order_id for o in oms.open_orders()}
    recent = [o for o in reversed(oms.orders) if o.client_order_id not in open_ids][:RECENT_ORDERS]
    orders = [OrderStatus.of(o) for o in oms.open_orders()] + [OrderStatus.of(o) for o in recent]
    positions = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items() if k != "ts"}
        for row in portfolio.positions_table(ts).to_pylist()
    ]
    pnl = {k: float(v) for k, v in portfolio.pnl_row(ts).items() if k != "ts"}
    return EngineStatus(
        account=engine.config.account, mode=engine.config.mode.name.lower(),
        written_at_ns=time.time_ns() if now_wall_ns is None else now_wall_ns, engine_ns=ts,
        trading_state=engine.risk.state.name, kill_switch=engine.kill_switch_on, pnl=pnl,
        positions=positions, orders=orders, last_signal_offset=oms.last_signal_offset,
        last_command_offset=oms.last_command_offset,
        counts={
            "bars": stats.bars, "signals": stats.signals, "commands": stats.commands,
            "orders_submitted": stats.orders_submitted, "orders_denied": stats.orders_denied,
            "fills": stats.fills,
        },
    )  # fmt: skip


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EngineStatus)


def write_status(path: str | os.PathLike[str], status: EngineStatus) -> None:
    """Replace the status file (atomic rename; not fsync'd: it is rewritten every second)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, _encoder.encode(status), sync=False)


def read_status(path: str | os.PathLike[str]) -> EngineStatus | None:
    """The last status written, None when no engine has run for the account."""
    try:
        return _decoder.decode(Path(path).read_bytes())
    except FileNotFoundError:
        return None
