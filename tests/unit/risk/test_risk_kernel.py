"""The numba kernel returns the same reasons as ``RiskEngine.check`` on random orders and states."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from risk_support import OTHER, SECOND_NS, SYMBOL, build, order

from shriven.book.orders import OrderType, Side
from shriven.model.enums import RiskReason, TradingState
from shriven.model.records import OrderRequest
from shriven.risk import ORDER_DTYPE, RiskEngine, check_batch, orders_array
from shriven.risk import _kernels as k

INF = math.inf


def finite_or_off(*values: float) -> st.SearchStrategy[float]:
    return st.sampled_from((INF, *values))


limits_st = st.fixed_dictionaries(
    {
        "max_gross_exposure": finite_or_off(500.0, 1_000.0, 5_000.0),
        "max_net_exposure": finite_or_off(500.0, 1_000.0, 5_000.0),
        "max_open_orders": st.sampled_from((1, 3, 5, 1000)),
        "max_orders_per_second": st.sampled_from((1, 3, 10)),
        "price_collar": finite_or_off(0.05, 0.1, 1.5),
        "daily_loss_limit": finite_or_off(50.0, 500.0),
        "max_drawdown": st.sampled_from((1.0, 0.1, 0.5)),
        "max_leverage": finite_or_off(0.5, 1.0, 3.0),
        "restricted": st.sampled_from(((), (), (OTHER,))),
        "breach_state": st.sampled_from(("halted", "reducing")),
    }
)
instrument_st = st.fixed_dictionaries(
    {
        "tick_size": st.sampled_from((0.01, 0.5, 0.05)),
        "lot_size": st.sampled_from((1.0, 0.1, 0.001)),
        "min_quantity": st.sampled_from((0.0, 1.0, 3.0)),
        "max_quantity": finite_or_off(10.0, 50.0),
        "max_order_quantity": finite_or_off(5.0, 20.0),
        "max_order_notional": finite_or_off(500.0, 2_000.0),
        "max_position": finite_or_off(0.0, 5.0, 20.0),
    }
)
# Mostly valid orders (on every tick and lot above), so that the later checks are reached.
quantity_st = st.one_of(
    st.sampled_from((1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 40.0)),
    st.sampled_from((1.0, 2.0, 5.0, 0.5, 1.5, 0.3, 0.0, -1.0, math.nan, INF, 1e6)),
    st.floats(min_value=1e-3, max_value=1e4),
)
price_st = st.one_of(
    st.sampled_from((100.0, 99.5, 100.5, 105.0, 95.0, 110.0, 90.0, 150.0, 50.0, 250.0, 260.0)),
    st.sampled_from((100.0, 100.0, None, 100.01, 100.005, 0.0, -5.0, math.nan, INF)),
    st.floats(min_value=1e-2, max_value=1e4),
)


def _order_dict(symbol, side, order_type, quantity, price, dt, reduce_only) -> dict:
    return dict(
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        dt=dt,
        reduce_only=reduce_only,
    )


# a negative step: an order stamped before the last one (the two must still agree)
dt_st = st.sampled_from((0, 1, SECOND_NS // 3, SECOND_NS, 3 * SECOND_NS, -SECOND_NS // 2))
#: An order that passes the validation checks (every tick and lot above divides its numbers).
valid_order_st = st.builds(
    _order_dict,
    st.sampled_from((SYMBOL, OTHER)),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.sampled_from(tuple(OrderType)),
    st.sampled_from((1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 40.0)),
    st.sampled_from((100.0, 99.5, 100.5, 105.0, 95.0, 110.0, 90.0, 150.0, 50.0, 250.0, 260.0)),
    dt_st,
    st.sampled_from((False,) * 4 + (True,)),
)
#: Anything, valid or not.
wild_order_st = st.builds(
    _order_dict,
    st.sampled_from((SYMBOL, OTHER, "ZZZ")),
    st.sampled_from((Side.BUY, Side.SELL, 0, 3)),
    st.sampled_from((*OrderType, 0, 9)),
    quantity_st,
    price_st,
    dt_st,
    st.booleans(),
)
order_st = st.integers(0, 4).flatmap(lambda i: wild_order_st if i == 0 else valid_order_st)
state_st = st.fixed_dictionaries(
    {
        "marks": st.tuples(*(st.sampled_from((None, 100.0, 99.0, 250.0)),) * 2),
        "positions": st.tuples(*(st.sampled_from((0.0, 0.0, 3.0, -3.0, 10.0, -10.0, 0.5)),) * 2),
        "working": st.lists(
            st.tuples(
                st.sampled_from((SYMBOL, OTHER)),
                st.sampled_from((Side.BUY, Side.SELL)),
                st.sampled_from((1.0, 2.0, 4.0)),
                st.sampled_from((None, 100.0, 101.0)),
            ),
            max_size=3,
        ),
        "equity": st.tuples(
            st.sampled_from((0.0, 1_000.0, 10_000.0, 10_000.0)),
            st.sampled_from((1.0, 1.0, 0.95, 0.6)),
        ),
        "state": st.sampled_from((TradingState.ACTIVE,) * 4 + tuple(TradingState)),
    }
)


def setup_engine(limits: dict, instrument: dict, state: dict) -> RiskEngine:
    engine = build(limits=limits, instrument=instrument, other=instrument, mark=None, equity=None)
    for symbol, mark in zip((SYMBOL, OTHER), state["marks"], strict=True):
        if mark is not None:
            engine.mark(symbol, mark)
    for symbol, position in zip((SYMBOL, OTHER), state["positions"], strict=True):
        engine.position_changed(symbol, position)
    for i, (symbol, side, quantity, price) in enumerate(state["working"]):
        order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        engine.order_opened(
            order(
                quantity,
                price,
                side=side,
                symbol=symbol,
                order_type=order_type,
                client_order_id=f"w{i}",
            )
        )
    start, fraction = state["equity"]
    if start > 0.0:
        engine.start_day(start, 0)
        engine.equity_changed(start * fraction, 0)
    engine.set_state(state["state"], "test", 0)
    return engine


def requests_from(raw: list[dict]) -> list[OrderRequest]:
    ts = 0
    out = []
    for i, o in enumerate(raw):
        ts += o["dt"]
        out.append(
            order(
                o["quantity"],
                o["price"],
                side=o["side"],
                symbol=o["symbol"],
                order_type=o["order_type"],
                ts=ts,
                reduce_only=o["reduce_only"],
                client_order_id=f"c{i}",
            )
        )
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits_st, instrument_st, state_st, st.lists(order_st, min_size=1, max_size=25))
def test_kernel_matches_python_check(limits, instrument, state, raw_orders) -> None:
    engine = setup_engine(limits, instrument, state)
    kernel_state = engine.kernel_state()
    requests = requests_from(raw_orders)
    python = [int(engine.check(r)) for r in requests]
    compiled = check_batch(kernel_state, orders_array(requests, kernel_state.symbols)).tolist()
    assert compiled == python
    # check() runs the kernel on the engine's own arrays: hold its Python twin (the ordered
    # path, which names denials) to the same answers, on an engine in the same state
    twin = setup_engine(limits, instrument, state)
    assert [int(twin._check_ordered(r)) for r in requests] == python
    assert [int(engine.check(r)) for r in requests] == [
        int(x) for x in check_batch(kernel_state, orders_array(requests, kernel_state.symbols))
    ]  # the rate windows moved alike


def test_every_reason_is_reachable_by_the_kernel() -> None:
    """The equality test above is only as good as the reasons it reaches; the table test in
    ``test_risk_checks`` reaches all of them through ``check``, this one through the kernel."""
    engine = build(
        limits={"max_orders_per_second": 1, "max_open_orders": 1},
        instrument={"max_order_quantity": 10.0},
    )
    state = engine.kernel_state()
    requests = [order(1.0, ts=0), order(1.0, ts=1), order(11.0, ts=2), order(1.0, price=100.005)]
    reasons = check_batch(state, orders_array(requests, state.symbols)).tolist()
    assert reasons == [
        0,
        int(RiskReason.ORDER_RATE),
        int(RiskReason.MAX_ORDER_QUANTITY),
        int(RiskReason.PRICE_NOT_ON_TICK),
    ]


def test_check_batch_rejects_other_dtypes() -> None:
    state = build().kernel_state()
    with pytest.raises(TypeError, match="ORDER_DTYPE"):
        check_batch(state, np.zeros(3, dtype=np.float64))
    assert check_batch(state, np.zeros(0, dtype=ORDER_DTYPE)).shape == (0,)


def test_state_kernels_follow_the_python_engine() -> None:
    """The ``on_*`` helpers a compiled loop feeds its state with move it as the engine moves."""
    engine = build(limits={"max_gross_exposure": 1e6}, mark=None, equity=None)
    state = engine.kernel_state()
    a, b = 0, 1
    steps = [
        ("mark", SYMBOL, a, 100.0),
        ("mark", OTHER, b, 50.0),
        ("position", SYMBOL, a, 3.0),
        ("position", OTHER, b, -7.0),
        ("open", "o1", a, Side.BUY, 2.0, 101.0),
        ("open", "o2", b, Side.SELL, 5.0, 49.5),
        ("mark", SYMBOL, a, 102.5),
        ("fill", "o1", a, Side.BUY, 0.5, 101.0),
        ("position", SYMBOL, a, 3.5),
        ("close", "o2", b, Side.SELL, 5.0, 49.5),
        ("mark", OTHER, b, math.nan),
    ]
    remaining = {"o1": 2.0, "o2": 5.0}
    for step in steps:
        kind = step[0]
        if kind == "mark":
            _, symbol, s, price = step
            engine.mark(symbol, price)
            k.on_mark(state.sym, state.acc, s, price)
        elif kind == "position":
            _, symbol, s, position = step
            engine.position_changed(symbol, position)
            k.on_position(state.sym, state.acc, s, position)
        elif kind == "open":
            _, coid, s, side, quantity, price = step
            engine.order_opened(
                order(quantity, price, side=side, symbol=state.symbols[s], client_order_id=coid)
            )
            k.on_order_opened(state.sym, state.acc, state.ist, s, int(side), quantity, price)
        elif kind == "fill":
            _, coid, s, side, quantity, price = step
            engine.order_filled(coid, quantity)
            remaining[coid] -= quantity
            k.on_order_reduced(
                state.sym, state.acc, state.ist, s, int(side), quantity, price, False
            )
        else:
            _, coid, s, side, _, price = step
            engine.order_closed(coid)
            k.on_order_reduced(
                state.sym, state.acc, state.ist, s, int(side), remaining[coid], price, True
            )
        expected = engine.kernel_state()
        np.testing.assert_allclose(state.sym, expected.sym, atol=1e-9)
        np.testing.assert_allclose(state.acc, expected.acc, atol=1e-9)
        assert state.ist[k.I_WORKING] == expected.ist[k.I_WORKING]
    assert engine.exposure()["gross"] == pytest.approx(3.5 * 102.5)


def test_kernel_state_is_one_packed_block() -> None:
    """``lim``, ``sym``, ``acc``, ``par`` and ``ist`` are C-contiguous views of one block."""
    state = build().kernel_state()
    arrays = (state.lim, state.sym, state.acc, state.par, state.ist)
    assert all(a.flags.c_contiguous for a in arrays)
    assert [a.dtype for a in arrays] == [np.float64] * 4 + [np.int64]
    bases = {id(a.base.base if a.base.base is not None else a.base) for a in arrays}
    assert len(bases) == 1
    assert state.lim.ctypes.data % 64 == 0  # one cache line per row
    starts = sorted(a.ctypes.data for a in arrays)
    ends = sorted(a.ctypes.data + a.nbytes for a in arrays)
    assert all(e <= s for e, s in zip(ends[:-1], starts[1:], strict=True))  # no overlap


def test_kernel_wants_contiguous_int64_ring_and_state() -> None:
    """The ring and ``ist`` are read through their addresses: other layouts do not compile."""
    from numba.core.errors import TypingError

    state = build().kernel_state()
    strided = np.zeros(2 * state.ring.shape[0], np.int64)[::2]
    orders = orders_array([order()], state.symbols)
    out = np.empty(1, np.int8)
    with pytest.raises(TypingError):
        k.check_orders(state.lim, state.sym, state.acc, state.par, state.ist, strided, orders, out)


def test_rate_window_holds_only_the_last_second_and_carries_over() -> None:
    """A high limit: the window holds the last second's passes (not the last ``limit`` of them),
    starts over at the front after a quiet second, and the kernel goes on where Python left off."""
    engine = build(limits={"max_orders_per_second": 1_000_000})
    tenth = SECOND_NS // 10
    for i in range(35):  # 3.5 s at 10 orders a second
        assert engine.check(order(ts=i * tenth)) is RiskReason.NONE
    assert engine.usage()["order_rate"] == pytest.approx(10 / 1_000_000)
    state = engine.kernel_state()
    head, count = state.ist[k.I_RING_HEAD], state.ist[k.I_RING_COUNT]
    assert count == 10  # orders 25..34: the others left the window
    assert state.ring[head : head + count].tolist() == [i * tenth for i in range(25, 35)]
    # the copy goes on alone: one more order, then a quiet second empties the window
    later = [order(ts=35 * tenth), order(ts=35 * tenth + SECOND_NS)]
    assert check_batch(state, orders_array(later, state.symbols)).tolist() == [0, 0]
    assert state.ist[k.I_RING_COUNT] == 1
    assert state.ist[k.I_RING_HEAD] == 0  # emptied, so the walk started over at the front
    assert state.ring[0] == 35 * tenth + SECOND_NS
    assert engine.kernel_state().ist[k.I_RING_COUNT] == 10  # the engine's own window: unmoved


def test_rate_window_wraps_around_the_ring() -> None:
    """Limit 3: after two entries leave, the next ones wrap to the front of the ring."""
    engine = build(limits={"max_orders_per_second": 3})
    state = engine.kernel_state()
    stamps = [0, 1, 2, 3, SECOND_NS + 1, SECOND_NS + 1, SECOND_NS + 1]
    requests = [order(ts=t) for t in stamps]
    python = [int(engine.check(r)) for r in requests]
    rate = int(RiskReason.ORDER_RATE)
    assert python == [0, 0, 0, rate, 0, 0, rate]
    assert check_batch(state, orders_array(requests, state.symbols)).tolist() == python
    head, count = state.ist[k.I_RING_HEAD], state.ist[k.I_RING_COUNT]
    assert (head, count) == (2, 3)  # 0 and 1 left; the two new entries wrapped to slots 0, 1
    assert [state.ring[(head + i) % 3] for i in range(count)] == [2, SECOND_NS + 1, SECOND_NS + 1]


def test_an_order_stamped_in_the_past_counts_at_the_newest_time() -> None:
    """The window's clock does not go back: a late-stamped pass counts at the newest pass's time."""
    engine = build(limits={"max_orders_per_second": 2})
    state = engine.kernel_state()
    requests = [order(ts=SECOND_NS), order(ts=0), order(ts=SECOND_NS + SECOND_NS // 2)]
    python = [int(engine.check(r)) for r in requests]
    # counted at ts 0, the second order would have left the window by the third
    assert python == [0, 0, int(RiskReason.ORDER_RATE)]
    assert check_batch(state, orders_array(requests, state.symbols)).tolist() == python
    assert engine.kernel_state().ring[:2].tolist() == [SECOND_NS, SECOND_NS]


def test_the_kernel_arrays_follow_every_state_change() -> None:
    """``check`` reads the packed arrays: each method that changes what a check reads writes it
    through (a missed write would let the compiled check pass on stale state)."""
    engine = build(limits={"max_leverage": 2.0}, other={"max_position": 50.0})

    def assert_mirrored() -> None:
        state = engine.kernel_state()
        for slot in engine._slots.values():
            row = (slot.reference, slot.position, slot.working_buy, slot.working_sell)
            assert tuple(state.sym[slot.index]) == row
        exposure = engine.exposure()
        assert tuple(state.acc) == (
            exposure["gross"], exposure["net"], exposure["open_notional"], engine._buying_power
        )
        assert state.ist[k.I_STATE] == int(engine.state)
        assert state.ist[k.I_WORKING] == engine.working_orders

    engine.position_changed(SYMBOL, -3.0)
    assert_mirrored()
    engine.mark(SYMBOL, 101.0)  # moves the exposure of the position
    assert_mirrored()
    engine.order_opened(order(2.0, client_order_id="a"))
    engine.order_opened(order(1.0, 99.0, side=Side.SELL, symbol=OTHER, client_order_id="b"))
    assert_mirrored()
    engine.order_filled("a", 0.5)
    assert_mirrored()
    engine.order_closed("b")
    assert_mirrored()
    engine.equity_changed(10_000.0, 0)
    assert_mirrored()
    engine.order_closed("a")  # nothing working: the working columns are reset
    assert_mirrored()
    engine.set_state(TradingState.REDUCING, "test", 0)
    assert_mirrored()
    engine.kill("test", 0)
    assert_mirrored()
    assert engine.check(order(1.0)) is RiskReason.HALTED


def test_a_kernel_state_copy_is_bound_to_its_own_ring() -> None:
    """The block records its ring for ``check_packed``: a copy must point at the copy's ring."""
    engine = build(limits={"max_orders_per_second": 2})
    state = engine.kernel_state()
    assert state.ist[k.I_RING_AT] == state.ring.ctypes.data
    assert state.ist[k.I_RING_N] == 2
    assert state.ist[k.I_N_SYMBOLS] == 2
    check = k.packed_entry()
    at = state.acc.ctypes.data
    args = (k.BUY, k.LIMIT, 1.0, 100.0, 0, False)
    assert [check(at, 0, *args), check(at, 0, *args), check(at, 0, *args)] == [
        0, 0, int(RiskReason.ORDER_RATE),
    ]  # fmt: skip
    assert check(at, 2, *args) == int(RiskReason.UNKNOWN_SYMBOL)
    assert engine.check(order(1.0, 100.0, ts=0)) is RiskReason.NONE  # the engine's own window
    with pytest.raises(ValueError, match="C-contiguous int64"):
        k.bind_ring(state.ist, np.zeros(4, np.int32))
