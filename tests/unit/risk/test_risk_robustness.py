"""Bad orders never raise: whatever the fields hold, ``check`` returns a reason."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from risk_support import SYMBOL, build, order

from shriven.book.orders import OrderType, Side
from shriven.model.enums import RiskReason
from shriven.model.records import OrderRequest

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=3),
    st.sampled_from((SYMBOL, Side.BUY, Side.SELL, OrderType.MARKET, 1, 2, 100.0, 1.0)),
    st.lists(st.integers(), max_size=2),
    st.builds(object),
    st.just(np.array([1.0, 2.0])),
    st.just(float("nan")),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=anything,
    side=anything,
    quantity=anything,
    order_type=anything,
    price=anything,
    ts=anything,
    reduce_only=anything,
)
def test_check_never_raises(symbol, side, quantity, order_type, price, ts, reduce_only) -> None:
    events: list = []
    engine = build(listener=events.append)
    request = OrderRequest(
        client_order_id="x",
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        ts=ts,
        reduce_only=reduce_only,
    )
    reason = engine.check(request)
    assert isinstance(reason, RiskReason)
    assert (reason is RiskReason.NONE) == (events == [])


def test_not_even_a_request() -> None:
    engine = build()
    assert engine.check(None) is RiskReason.UNKNOWN_SYMBOL  # type: ignore[arg-type]
    assert engine.check(object()) is RiskReason.UNKNOWN_SYMBOL  # type: ignore[arg-type]


def test_strings_and_non_numbers_are_bad_values() -> None:
    engine = build()
    assert engine.check(order("1")) is RiskReason.BAD_QUANTITY
    assert engine.check(order(price="100")) is RiskReason.BAD_PRICE
    assert engine.check(order(side="buy")) is RiskReason.BAD_SIDE
    assert engine.check(order(order_type="limit")) is RiskReason.UNKNOWN_ORDER_TYPE
    assert engine.check(order(symbol=["AAA"])) is RiskReason.UNKNOWN_SYMBOL
    assert engine.check(order(quantity=math.nan, price=None)) is RiskReason.BAD_QUANTITY
    assert engine.check(order(ts="late")) is RiskReason.NONE  # a bad clock is not the order's fault
    assert engine.check(order(2, 100)) is RiskReason.NONE  # ints are numbers
