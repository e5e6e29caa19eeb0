"""Unit tests of the matching engine: each order type, each reject reason, STP, modify, batch API."""

from __future__ import annotations

import numpy as np
import pytest

from shriven.book.matching import MatchingEngine, operations_from_requests
from shriven.book.orders import (
    EVENT_DTYPE,
    OPERATION_DTYPE,
    Cancel,
    CancelReason,
    CancelRejected,
    EventKind,
    InstrumentSpec,
    Liquidity,
    Modify,
    ModifyRejected,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderPartiallyFilled,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    next_status,
)
from shriven.book.reference_matching import ReferenceMatchingEngine

SPEC = InstrumentSpec(
    tick_size=5,
    lot_size=10,
    min_size=20,
    max_size=1000,
    min_price=5,
    max_price=10_000,
    max_orders=100,
)

BUY, SELL = Side.BUY, Side.SELL


def order(order_id, side, price, quantity, owner_id=None, order_type=OrderType.LIMIT):
    return Order(
        order_id=order_id,
        owner_id=order_id if owner_id is None else owner_id,
        side=side,
        price=price,
        quantity=quantity,
        order_type=order_type,
    )


def taker_fill(order_id, side, price, quantity, leaves, counterparty):
    cls = OrderFilled if leaves == 0 else OrderPartiallyFilled
    return cls(
        order_id=order_id,
        side=side,
        price=price,
        quantity=quantity,
        leaves_quantity=leaves,
        liquidity=Liquidity.TAKER,
        counterparty_order_id=counterparty,
    )


def maker_fill(order_id, side, price, quantity, leaves, counterparty):
    cls = OrderFilled if leaves == 0 else OrderPartiallyFilled
    return cls(
        order_id=order_id,
        side=side,
        price=price,
        quantity=quantity,
        leaves_quantity=leaves,
        liquidity=Liquidity.MAKER,
        counterparty_order_id=counterparty,
    )


def accepted(o: Order) -> OrderAccepted:
    price = 0 if o.order_type == OrderType.MARKET else o.price
    return OrderAccepted(order_id=o.order_id, side=o.side, price=price, quantity=o.quantity)


@pytest.fixture
def engine() -> MatchingEngine:
    return MatchingEngine(SPEC)


@pytest.fixture
def ladder(engine) -> MatchingEngine:
    """Asks 1@100x50, 2@100x30, 3@105x40; bids 4@95x60, 5@90x20 (owners = ids)."""
    for o in (
        order(1, SELL, 100, 50),
        order(2, SELL, 100, 30),
        order(3, SELL, 105, 40),
        order(4, BUY, 95, 60),
        order(5, BUY, 90, 20),
    ):
        assert engine.submit(o) == [accepted(o)]
    return engine


def test_limit_order_rests_and_book_queries(ladder):
    assert ladder.best_bid() == 95
    assert ladder.best_ask() == 100
    assert ladder.resting_count == 5
    assert ladder.depth(SELL) == [(100, 80), (105, 40)]
    assert ladder.depth(BUY) == [(95, 60), (90, 20)]
    assert [row[0] for row in ladder.resting_orders()] == [4, 5, 1, 2, 3]


def test_limit_order_crosses_in_price_time_priority(ladder):
    o = order(10, BUY, 105, 100)
    assert ladder.submit(o) == [
        accepted(o),
        taker_fill(10, BUY, 100, 50, 50, 1),
        maker_fill(1, SELL, 100, 50, 0, 10),
        taker_fill(10, BUY, 100, 30, 20, 2),
        maker_fill(2, SELL, 100, 30, 0, 10),
        taker_fill(10, BUY, 105, 20, 0, 3),
        maker_fill(3, SELL, 105, 20, 20, 10),
    ]
    assert ladder.best_ask() == 105
    assert ladder.depth(SELL) == [(105, 20)]


def test_limit_remainder_rests_at_its_price(ladder):
    o = order(10, SELL, 90, 100)
    events = ladder.submit(o)
    assert events[-1] == maker_fill(5, BUY, 90, 20, 0, 10)
    assert ladder.best_bid() is None
    assert ladder.resting_orders()[0] == (10, 10, SELL, 90, 20)


def test_market_order_sweeps_and_cancels_the_rest(ladder):
    o = order(10, BUY, 0, 200, order_type=OrderType.MARKET)
    events = ladder.submit(o)
    assert events[0] == accepted(o)
    assert (
        sum(
            e.quantity
            for e in events
            if isinstance(e, OrderFilled | OrderPartiallyFilled) and e.liquidity == Liquidity.TAKER
        )
        == 120
    )
    assert events[-1] == OrderCanceled(
        order_id=10, side=BUY, price=0, quantity=80, reason=CancelReason.IOC_REMAINDER
    )
    assert ladder.best_ask() is None


def test_market_order_into_an_empty_side_is_canceled(engine):
    o = order(1, SELL, 0, 50, order_type=OrderType.MARKET)
    assert engine.submit(o) == [
        accepted(o),
        OrderCanceled(
            order_id=1, side=SELL, price=0, quantity=50, reason=CancelReason.IOC_REMAINDER
        ),
    ]


def test_ioc_fills_up_to_its_price_and_cancels_the_rest(ladder):
    o = order(10, BUY, 100, 100, order_type=OrderType.IOC)
    events = ladder.submit(o)
    assert events[-1] == OrderCanceled(
        order_id=10, side=BUY, price=100, quantity=20, reason=CancelReason.IOC_REMAINDER
    )
    assert ladder.best_ask() == 105
    assert 10 not in [row[0] for row in ladder.resting_orders()]


def test_fok_fills_entirely(ladder):
    o = order(10, BUY, 105, 120, order_type=OrderType.FOK)
    events = ladder.submit(o)
    assert events[0] == accepted(o)
    assert events[-2] == taker_fill(10, BUY, 105, 40, 0, 3)
    assert ladder.best_ask() is None


def test_fok_not_fillable_is_rejected_and_book_untouched(ladder):
    before = ladder.resting_orders()
    o = order(10, BUY, 100, 90, order_type=OrderType.FOK)
    assert ladder.submit(o) == [
        OrderRejected(
            order_id=10, side=BUY, price=100, quantity=90, reason=RejectReason.FOK_NOT_FILLABLE
        )
    ]
    assert ladder.resting_orders() == before


def test_fok_does_not_count_own_orders(ladder):
    o = order(10, BUY, 100, 80, owner_id=1, order_type=OrderType.FOK)
    assert ladder.submit(o)[0].reason == RejectReason.FOK_NOT_FILLABLE


def test_post_only_rests_or_is_rejected(ladder):
    ok = order(10, BUY, 95, 20, order_type=OrderType.POST_ONLY)
    assert ladder.submit(ok) == [accepted(ok)]
    bad = order(11, BUY, 100, 20, order_type=OrderType.POST_ONLY)
    assert ladder.submit(bad)[0].reason == RejectReason.POST_ONLY_WOULD_CROSS
    assert ladder.best_bid() == 95


def test_cancel(ladder):
    assert ladder.cancel(1) == [
        OrderCanceled(order_id=1, side=SELL, price=100, quantity=50, reason=CancelReason.REQUESTED)
    ]
    assert ladder.cancel(1) == [CancelRejected(order_id=1, reason=RejectReason.UNKNOWN_ORDER)]
    assert ladder.cancel(999) == [CancelRejected(order_id=999, reason=RejectReason.UNKNOWN_ORDER)]
    assert ladder.depth(SELL) == [(100, 30), (105, 40)]


def test_cancel_of_last_order_at_best_moves_the_best(ladder):
    ladder.cancel(4)
    assert ladder.best_bid() == 90
    ladder.cancel(5)
    assert ladder.best_bid() is None


def test_modify_size_down_keeps_priority(ladder):
    assert ladder.modify(1, 100, 20) == [
        OrderModified(order_id=1, side=SELL, price=100, quantity=20)
    ]
    asks = [row for row in ladder.resting_orders() if row[2] == SELL]
    assert asks[0] == (1, 1, SELL, 100, 20)
    events = ladder.submit(order(10, BUY, 100, 20))
    assert events[1].counterparty_order_id == 1


def test_modify_size_up_loses_priority(ladder):
    ladder.modify(1, 100, 60)
    asks = [row[0] for row in ladder.resting_orders() if row[2] == SELL]
    assert asks == [2, 1, 3]
    assert ladder.depth(SELL)[0] == (100, 90)


def test_modify_price_requeues_at_the_back(ladder):
    ladder.modify(1, 105, 50)
    assert [row[0] for row in ladder.resting_orders() if row[2] == SELL] == [2, 3, 1]


def test_modify_that_crosses_trades(ladder):
    events = ladder.modify(4, 100, 60)
    assert events[0] == OrderModified(order_id=4, side=BUY, price=100, quantity=60)
    assert events[1] == taker_fill(4, BUY, 100, 50, 10, 1)
    assert events[-1] == maker_fill(2, SELL, 100, 10, 20, 4)
    assert ladder.best_bid() == 90


def test_modify_post_only_that_would_cross_is_rejected(engine):
    engine.submit(order(1, SELL, 100, 50))
    engine.submit(order(2, BUY, 95, 50, order_type=OrderType.POST_ONLY))
    assert engine.modify(2, 100, 50) == [
        ModifyRejected(
            order_id=2, price=100, quantity=50, reason=RejectReason.POST_ONLY_WOULD_CROSS
        ),
    ]
    assert engine.resting_orders()[0] == (2, 2, BUY, 95, 50)


@pytest.mark.parametrize(
    ("price", "quantity", "reason"),
    [
        (101, 50, RejectReason.BAD_PRICE_TICK),
        (0, 50, RejectReason.NON_POSITIVE_PRICE),
        (20_000, 50, RejectReason.PRICE_OUT_OF_BAND),
        (100, 0, RejectReason.NON_POSITIVE_SIZE),
        (100, 55, RejectReason.BAD_SIZE_LOT),
        (100, 10, RejectReason.SIZE_BELOW_MIN),
        (100, 2000, RejectReason.SIZE_ABOVE_MAX),
    ],
)
def test_invalid_modify_is_rejected_and_order_unchanged(ladder, price, quantity, reason):
    before = ladder.resting_orders()
    assert ladder.modify(1, price, quantity) == [
        ModifyRejected(order_id=1, price=price, quantity=quantity, reason=reason)
    ]
    assert ladder.resting_orders() == before


def test_modify_unknown_order(engine):
    assert engine.modify(7, 100, 50)[0].reason == RejectReason.UNKNOWN_ORDER


@pytest.mark.parametrize(
    ("side", "order_type", "price", "quantity", "reason"),
    [
        (BUY, OrderType.LIMIT, 101, 50, RejectReason.BAD_PRICE_TICK),
        (BUY, OrderType.LIMIT, 100, 55, RejectReason.BAD_SIZE_LOT),
        (BUY, OrderType.LIMIT, 100, 10, RejectReason.SIZE_BELOW_MIN),
        (BUY, OrderType.LIMIT, 100, 1010, RejectReason.SIZE_ABOVE_MAX),
        (BUY, OrderType.LIMIT, 0, 50, RejectReason.NON_POSITIVE_PRICE),
        (SELL, OrderType.IOC, -5, 50, RejectReason.NON_POSITIVE_PRICE),
        (BUY, OrderType.LIMIT, 100, 0, RejectReason.NON_POSITIVE_SIZE),
        (BUY, OrderType.MARKET, 0, -10, RejectReason.NON_POSITIVE_SIZE),
        (3, OrderType.LIMIT, 100, 50, RejectReason.UNKNOWN_SIDE),
        (0, OrderType.LIMIT, 100, 50, RejectReason.UNKNOWN_SIDE),
        (BUY, 9, 100, 50, RejectReason.UNKNOWN_ORDER_TYPE),
        (BUY, OrderType.LIMIT, 10_005, 50, RejectReason.PRICE_OUT_OF_BAND),
    ],
)
def test_reject_reasons(engine, side, order_type, price, quantity, reason):
    o = Order(
        order_id=1, owner_id=1, side=side, price=price, quantity=quantity, order_type=order_type
    )
    assert engine.submit(o) == [
        OrderRejected(order_id=1, side=int(side), price=price, quantity=quantity, reason=reason)
    ]
    assert engine.resting_count == 0


def test_market_order_price_is_not_validated(ladder):
    events = ladder.submit(order(10, BUY, 101, 20, order_type=OrderType.MARKET))
    assert isinstance(events[0], OrderAccepted)


def test_duplicate_order_id_and_reuse_after_finish(ladder):
    assert ladder.submit(order(1, BUY, 50, 20))[0].reason == RejectReason.DUPLICATE_ORDER_ID
    ladder.cancel(1)
    assert isinstance(ladder.submit(order(1, BUY, 50, 20))[0], OrderAccepted)


def test_book_full():
    engine = MatchingEngine(InstrumentSpec(min_price=1, max_price=100, max_orders=2))
    engine.submit(order(1, BUY, 10, 1))
    engine.submit(order(2, BUY, 11, 1))
    assert engine.submit(order(3, BUY, 12, 1))[0].reason == RejectReason.BOOK_FULL
    # an IOC needs no slot; a cancel frees one
    assert isinstance(
        engine.submit(order(4, SELL, 11, 1, order_type=OrderType.IOC))[0], OrderAccepted
    )
    assert isinstance(engine.submit(order(3, BUY, 12, 1))[0], OrderAccepted)


def test_self_trade_prevention_cancels_resting_and_continues(ladder):
    # owner 1 owns ask 1 at 100; its buy cancels it, then trades with ask 2 behind it
    o = order(10, BUY, 100, 40, owner_id=1)
    assert ladder.submit(o) == [
        accepted(o),
        OrderCanceled(
            order_id=1, side=SELL, price=100, quantity=50, reason=CancelReason.SELF_TRADE_PREVENTION
        ),
        taker_fill(10, BUY, 100, 30, 10, 2),
        maker_fill(2, SELL, 100, 30, 0, 10),
    ]
    assert ladder.best_bid() == 100
    assert ladder.best_ask() == 105
    assert ladder.resting_orders()[0] == (10, 1, BUY, 100, 10)


def test_self_trade_prevention_on_modify(ladder):
    ladder.submit(order(10, BUY, 95, 20, owner_id=3))
    events = ladder.modify(10, 105, 100)
    assert events == [
        OrderModified(order_id=10, side=BUY, price=105, quantity=100),
        taker_fill(10, BUY, 100, 50, 50, 1),
        maker_fill(1, SELL, 100, 50, 0, 10),
        taker_fill(10, BUY, 100, 30, 20, 2),
        maker_fill(2, SELL, 100, 30, 0, 10),
        OrderCanceled(
            order_id=3, side=SELL, price=105, quantity=40, reason=CancelReason.SELF_TRADE_PREVENTION
        ),
    ]
    assert ladder.best_ask() is None
    assert ladder.resting_orders()[0] == (10, 3, BUY, 105, 20)


def test_self_trade_prevention_only_own_orders(engine):
    engine.submit(order(1, SELL, 100, 50, owner_id=7))
    engine.submit(order(2, SELL, 100, 50, owner_id=8))
    events = engine.submit(order(3, BUY, 100, 100, owner_id=7))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["OrderAccepted", "OrderCanceled", "OrderPartiallyFilled", "OrderFilled"]
    assert engine.resting_orders() == [(3, 7, BUY, 100, 50)]


def test_apply_and_operations_from_requests_agree(engine):
    requests = [
        order(1, SELL, 100, 50),
        order(2, BUY, 100, 20),
        Modify(order_id=1, price=100, quantity=20),
        Cancel(order_id=1),
        Cancel(order_id=1),
    ]
    objects = [e for r in requests for e in engine.apply(r)]
    batch = MatchingEngine(SPEC).process(operations_from_requests(requests))
    assert len(objects) == len(batch)
    assert [int(k) for k in batch["kind"]] == [
        EventKind.ACCEPTED,
        EventKind.ACCEPTED,
        EventKind.FILLED,
        EventKind.PARTIALLY_FILLED,
        EventKind.MODIFIED,
        EventKind.CANCELED,
        EventKind.CANCEL_REJECTED,
    ]
    assert batch["operation_index"].tolist() == [0, 1, 1, 1, 2, 3, 4]


def test_batch_resumes_when_the_event_buffer_is_full(engine):
    asks = [order(i, SELL, 100 + 5 * (i % 7), 20) for i in range(1, 41)]
    engine.process(operations_from_requests(asks))
    ops = operations_from_requests([order(1000, BUY, 0, 1000, order_type=OrderType.MARKET)])
    small = np.empty(10, dtype=EVENT_DTYPE)
    assert engine._run(ops, 0, small, 0) == (0, 0)  # would not fit: nothing applied
    assert engine.resting_count == 40
    events = engine.process(ops)
    assert len(events) == 1 + 80 + 1
    assert engine.resting_count == 0


def test_unknown_action_is_rejected(engine):
    ops = np.zeros(1, dtype=OPERATION_DTYPE)
    ops["action"] = 9
    events = engine.process(ops)
    assert events["kind"].tolist() == [EventKind.REJECTED]
    assert events["reason"].tolist() == [RejectReason.UNKNOWN_ACTION]
    assert ReferenceMatchingEngine(SPEC).process(ops.tolist())[0][9] == RejectReason.UNKNOWN_ACTION


def test_process_checks_the_dtype(engine):
    with pytest.raises(TypeError):
        engine.process(np.zeros(3, dtype=np.int64))


def test_order_status_table():
    assert next_status(OrderStatus.INITIALIZED, EventKind.ACCEPTED) == OrderStatus.ACCEPTED
    assert next_status(OrderStatus.ACCEPTED, EventKind.CANCEL_REJECTED) == OrderStatus.ACCEPTED
    with pytest.raises(ValueError, match="invalid order status transition"):
        next_status(OrderStatus.FILLED, EventKind.PARTIALLY_FILLED)


def test_instrument_spec_validation():
    with pytest.raises(ValueError, match="multiples"):
        InstrumentSpec(tick_size=5, min_price=7)
    with pytest.raises(ValueError, match="max_size"):
        InstrumentSpec(min_size=10, max_size=5)


def test_object_api_grows_its_event_buffer(engine):
    for i in range(1, 101):
        engine.submit(order(i, SELL, 100 + 5 * (i % 7), 20))
    events = engine.submit(order(1000, BUY, 0, 1000, order_type=OrderType.MARKET))
    assert len(events) == 1 + 100  # the 50 best asks fill it exactly
    assert engine.resting_count == 50
    assert [e.counterparty_order_id for e in events[1::2]] == [
        row for row in sorted(range(1, 101), key=lambda i: (i % 7, i))
    ][:50]


def test_out_of_range_side_and_type_are_rejected_not_raised(engine):
    o = Order(order_id=1, owner_id=1, side=300, price=100, quantity=50)
    assert engine.submit(o)[0].reason == RejectReason.UNKNOWN_SIDE
    o = Order(order_id=1, owner_id=1, side=BUY, price=100, quantity=50, order_type=-999)
    assert engine.submit(o)[0].reason == RejectReason.UNKNOWN_ORDER_TYPE
