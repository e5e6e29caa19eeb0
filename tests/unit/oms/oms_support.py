"""Builders shared by the OMS tests (imported as a plain module from this directory)."""

from __future__ import annotations

import msgspec

from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import OrderEvent, OrderRequest
from shriven.oms import OrderManager


def request(
    cid: str,
    symbol: str = "BTC",
    side: Side = Side.BUY,
    quantity: float = 10.0,
    price: float | None = 100.0,
    ts: int = 1,
    order_type: OrderType = OrderType.LIMIT,
    **extra: object,
) -> OrderRequest:
    """An order request with test defaults."""
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        ts=ts,
        order_type=order_type,
        **extra,
    )


def event(cid: str, kind: OrderEventKind, ts: int = 2, **extra: object) -> OrderEvent:
    """A venue event with test defaults."""
    return OrderEvent(ts=ts, client_order_id=cid, kind=kind, **extra)


def fill(
    cid: str,
    quantity: float,
    price: float = 100.0,
    trade_id: str = "",
    ts: int = 3,
    **extra: object,
) -> OrderEvent:
    """A FILLED event."""
    return OrderEvent(
        ts=ts,
        client_order_id=cid,
        kind=OrderEventKind.FILLED,
        quantity=quantity,
        price=price,
        trade_id=trade_id,
        **extra,
    )


def state_bytes(manager: OrderManager) -> bytes:
    """The manager's whole state, encoded: equal bytes mean equal state (NaN included)."""
    return msgspec.msgpack.encode(manager.snapshot())


def working(manager: OrderManager, cid: str, **kw: object) -> None:
    """Create, submit and accept an order."""
    manager.create(request(cid, **kw))
    manager.submit(cid, "sim", 2)
    manager.apply(event(cid, OrderEventKind.ACCEPTED, venue_order_id=f"v-{cid}"))
