"""Builders of risk engines and orders for the risk tests (imported by name: unique module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shriven.book.orders import OrderType, Side
from shriven.model.records import OrderRequest
from shriven.risk import InstrumentLimits, RiskConfig, RiskEngine, RiskEvent, RiskLimits

SYMBOL = "AAA"
OTHER = "BBB"
SECOND_NS = 1_000_000_000


def order(
    quantity: float = 1.0,
    price: float | None = 100.0,
    *,
    side: Any = Side.BUY,
    symbol: Any = SYMBOL,
    order_type: Any = OrderType.LIMIT,
    ts: Any = 0,
    reduce_only: Any = False,
    client_order_id: str = "o1",
) -> OrderRequest:
    """A request with test defaults (a 1-lot limit buy of AAA at 100)."""
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        ts=ts,
        reduce_only=reduce_only,
    )


def build(
    *,
    limits: dict[str, Any] | None = None,
    instrument: dict[str, Any] | None = None,
    other: dict[str, Any] | None = None,
    listener: Callable[[RiskEvent], None] | None = None,
    mark: float | None = 100.0,
    equity: float | None = 1e9,
) -> RiskEngine:
    """Two instruments (AAA with ``instrument`` limits, BBB), marked at 100, equity set."""
    config = RiskConfig(
        limits=RiskLimits(**(limits or {})),
        instruments=(
            InstrumentLimits(symbol=SYMBOL, **(instrument or {})),
            InstrumentLimits(symbol=OTHER, **(other or {})),
        ),
    )
    engine = RiskEngine(config, listener=listener)
    if mark is not None:
        engine.mark(SYMBOL, mark)
        engine.mark(OTHER, mark)
    if equity is not None:
        engine.start_day(equity, 0)
    return engine


def kernel_reason(engine: RiskEngine, request: OrderRequest) -> int:
    """The compiled check's reason for ``request`` on a copy of the engine's state."""
    from shriven.risk import check_batch, orders_array

    state = engine.kernel_state()
    return int(check_batch(state, orders_array([request], state.symbols))[0])
