"""Property tests: the numba engine against the pure-Python reference, plus book invariants.

Random operation sequences (valid and invalid submits of every type, cancels and modifies of
live, finished and never-seen ids, few owners so that self-trade prevention fires often, a small
order capacity so that BOOK_FULL happens) must give identical events and books, and after every
operation: the book is not crossed, quantity is conserved, makers are hit in price-time
priority, modify keeps or loses queue priority as documented, statuses follow the state table.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shriven.book.matching import MatchingEngine
from shriven.book.orders import (
    OPERATION_DTYPE,
    Action,
    EventKind,
    InstrumentSpec,
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    next_status,
)
from shriven.book.reference_matching import ReferenceMatchingEngine

SPEC = InstrumentSpec(
    tick_size=5, lot_size=10, min_size=20, max_size=400, min_price=50, max_price=150, max_orders=12
)

ids = st.integers(1, 30)
owners = st.integers(1, 4)
prices = st.one_of(
    st.integers(18, 32).map(lambda t: 5 * t),  # mostly valid ticks, some out of band
    st.sampled_from([0, -5, 97, 101, 155]),
)
sizes = st.one_of(
    st.integers(2, 30).map(lambda n: 10 * n),  # multiples of the lot, some above max
    st.sampled_from([0, -10, 10, 15, 25]),
)
submits = st.tuples(
    ids,
    owners,
    prices,
    sizes,
    st.just(int(Action.SUBMIT)),
    st.sampled_from([1, 1, 1, 2, 2, 2, 0, 3]),
    st.sampled_from([1, 1, 1, 1, 2, 3, 4, 5, 5, 0, 9]),
)
cancels = st.tuples(
    ids, st.just(0), st.just(0), st.just(0), st.just(int(Action.CANCEL)), st.just(0), st.just(0)
)
modifies = st.tuples(
    ids, st.just(0), prices, sizes, st.just(int(Action.MODIFY)), st.just(0), st.just(0)
)
operations = st.lists(
    st.one_of(submits, submits, submits, cancels, modifies, modifies), min_size=1, max_size=120
)

FILLS = (EventKind.FILLED, EventKind.PARTIALLY_FILLED)


def _check_not_crossed(engine: MatchingEngine) -> None:
    bid, ask = engine.best_bid(), engine.best_ask()
    assert bid is None or ask is None or bid < ask


def _check_priority(op, book_before, events) -> None:
    """Makers touched (fills and STP cancels) are the first orders of the opposite side."""
    _, _, _, _, action, side, _ = op
    if action == Action.SUBMIT:
        taker_side = side
    elif action == Action.MODIFY:
        modified = [e for e in events if e[6] == EventKind.MODIFIED]
        if not modified:
            return
        taker_side = modified[0][7]
    else:
        return
    opposite = [row[0] for row in book_before if row[2] != taker_side]
    touched = []
    for e in events:
        is_maker_fill = e[6] in FILLS and e[8] == Liquidity.MAKER
        is_stp = e[6] == EventKind.CANCELED and e[1] != op[0]
        if (is_maker_fill or is_stp) and (not touched or touched[-1] != e[1]):
            touched.append(e[1])
    assert touched == opposite[: len(touched)]


def _check_modify_priority(op, book_before, book_after, events) -> None:
    if op[4] != Action.MODIFY or not any(e[6] == EventKind.MODIFIED for e in events):
        return
    order_id, _, price, quantity = op[:4]
    before = {row[0]: row for row in book_before}[order_id]
    after = [row for row in book_after if row[0] == order_id]
    if not after:
        return  # traded away entirely
    level_before = [row[0] for row in book_before if row[3] == before[3] and row[2] == before[2]]
    level_after = [row[0] for row in book_after if row[3] == price and row[2] == before[2]]
    if price == before[3] and quantity <= before[4]:
        assert level_after == level_before  # kept its place
    else:
        assert level_after[-1] == order_id  # back of the queue
    assert after[0][4] <= quantity


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_engine_matches_reference_and_invariants_hold(ops):
    engine = MatchingEngine(SPEC)
    reference = ReferenceMatchingEngine(SPEC)
    status: dict[int, OrderStatus] = {}
    accepted = rejected = submitted = filled = canceled = modify_delta = 0
    for op in ops:
        book_before = engine.resting_orders()
        leaves_before = {row[0]: row[4] for row in book_before}
        got = [tuple(e) for e in engine.process(np.array([op], dtype=OPERATION_DTYPE)).tolist()]
        want = reference.process([op])
        assert got == want, op
        book_after = engine.resting_orders()
        assert book_after == reference.resting_orders()
        _check_not_crossed(engine)
        _check_priority(op, book_before, got)
        _check_modify_priority(op, book_before, book_after, got)
        if op[4] == Action.SUBMIT:
            submitted += op[3]
        for e in got:
            kind, order_id, quantity = EventKind(e[6]), e[1], e[4]
            if kind == EventKind.ACCEPTED:
                accepted += quantity
                assert order_id not in status
                status[order_id] = OrderStatus.ACCEPTED
            elif kind == EventKind.REJECTED:
                rejected += quantity
            elif kind in (EventKind.CANCEL_REJECTED, EventKind.MODIFY_REJECTED):
                pass
            else:
                status[order_id] = next_status(status[order_id], kind)
                if kind in FILLS:
                    filled += quantity
                elif kind == EventKind.CANCELED:
                    canceled += quantity
                elif kind == EventKind.MODIFIED:
                    modify_delta += quantity - leaves_before[order_id]
                if status[order_id] in (OrderStatus.FILLED, OrderStatus.CANCELED):
                    del status[order_id]
        resting = sum(row[4] for row in book_after)
        assert submitted == accepted + rejected
        assert accepted + modify_delta == filled + canceled + resting
        assert set(status) == {row[0] for row in book_after}


@settings(max_examples=100, deadline=None)
@given(ops=operations)
def test_batch_equals_one_by_one(ops):
    """One batch call gives the same events (with operation indices) as calls of one op each."""
    array = np.array(ops, dtype=OPERATION_DTYPE)
    batch = MatchingEngine(SPEC).process(array)
    single = MatchingEngine(SPEC)
    rows = []
    for i in range(len(array)):
        events = single.process(array[i : i + 1])
        events["operation_index"] = i
        rows.append(events)
    assert np.concatenate(rows).tolist() == batch.tolist()
    assert ReferenceMatchingEngine(SPEC).process(ops) == [tuple(r) for r in batch.tolist()]


@settings(max_examples=50, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.integers(1, 10_000),
            owners,
            st.integers(18, 32).map(lambda t: 5 * t),
            st.integers(2, 40).map(lambda n: 10 * n),
            st.just(1),
            st.sampled_from([1, 2]),
            st.sampled_from([int(OrderType.LIMIT), int(OrderType.MARKET)]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_every_fill_is_at_or_better_than_the_limit(ops):
    engine = MatchingEngine(
        InstrumentSpec(
            tick_size=5,
            lot_size=10,
            min_size=10,
            max_size=1000,
            min_price=5,
            max_price=500,
            max_orders=100,
        )
    )
    events = engine.process(np.array(ops, dtype=OPERATION_DTYPE))
    for e in events[events["liquidity"] == Liquidity.TAKER]:
        _, _, price, _, _, side, order_type = ops[e["operation_index"]]
        if order_type == OrderType.LIMIT:
            assert e["price"] <= price if side == Side.BUY else e["price"] >= price


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.one_of(
                st.integers(-(2**62), 2**62),  # wide and negative ids
                st.integers(0, 40).map(lambda k: 16 * k),  # ids sharing their low bits
                st.integers(0, 40).map(lambda k: k << 40),
            ),
            owners,
            st.integers(18, 32).map(lambda t: 5 * t),
            st.integers(2, 30).map(lambda n: 10 * n),
            st.sampled_from([int(Action.SUBMIT), int(Action.CANCEL), int(Action.MODIFY)]),
            st.sampled_from([1, 2]),
            st.just(int(OrderType.LIMIT)),
        ),
        min_size=1,
        max_size=150,
    )
)
def test_order_id_map_with_colliding_and_extreme_ids(ops):
    """The order-id hash map (tiny capacity, so long probe chains) agrees with a dict."""
    spec = InstrumentSpec(
        tick_size=5,
        lot_size=10,
        min_size=20,
        max_size=400,
        min_price=50,
        max_price=150,
        max_orders=16,
    )
    # replay cancels/modifies against ids seen so far, so they hit live orders often
    seen: list[int] = []
    replay = []
    for i, (order_id, owner, price, quantity, action, side, order_type) in enumerate(ops):
        if action != Action.SUBMIT and seen:
            order_id = seen[i % len(seen)]
        seen.append(order_id)
        replay.append((order_id, owner, price, quantity, action, side, order_type))
    engine = MatchingEngine(spec)
    events = engine.process(np.array(replay, dtype=OPERATION_DTYPE))
    reference = ReferenceMatchingEngine(spec)
    assert [tuple(e) for e in events.tolist()] == reference.process(replay)
    assert engine.resting_orders() == reference.resting_orders()
