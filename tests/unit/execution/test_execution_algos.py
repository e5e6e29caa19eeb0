"""TWAP, VWAP and Iceberg: children sum to the parent in lots, on schedule, with stable ids."""

from __future__ import annotations

import math

import pytest

from shriven.execution.algos import TWAP, VWAP, ExecutionAlgo, Iceberg
from shriven.model.enums import OrderType, Side
from shriven.model.records import OrderRequest


def parent(qty=10.0, price=100.0, otype=OrderType.LIMIT, cid="P1"):
    return OrderRequest(
        client_order_id=cid, symbol="AAA", side=Side.SELL, quantity=qty, price=price,
        order_type=otype, strategy_id="s1", venue="alpha", signal_offset=42,
    )  # fmt: skip


def run(algo, times, volumes=None):
    out = []
    for i, t in enumerate(times):
        children = algo.on_time(t, None, volumes[i] if volumes else 0.0)
        out += [(t, c) for c in children]
    return out


@pytest.mark.parametrize("algo", [
    TWAP(parent(), 0, 100, 3), VWAP(parent(), 0.1, 0, 100), Iceberg(parent(), 3),
])  # fmt: skip
def test_all_are_execution_algos(algo):
    assert isinstance(algo, ExecutionAlgo)


def test_twap_schedule_sizes_and_ids():
    algo = TWAP(parent(10), 1_000, 1_300, 3)
    assert algo.schedule == [(1_000, 3), (1_100, 3), (1_200, 4)]
    sent = run(algo, [999, 1_000, 1_050, 1_100, 1_199, 1_200, 1_300, 5_000])
    assert [(t, c.client_order_id, c.quantity) for t, c in sent] == [
        (1_000, "P1-1", 3), (1_100, "P1-2", 3), (1_200, "P1-3", 4),
    ]  # fmt: skip
    assert algo.done
    child = sent[0][1]
    assert (child.symbol, child.side, child.price, child.order_type) == (
        "AAA",
        Side.SELL,
        100.0,
        OrderType.LIMIT,
    )
    assert (child.strategy_id, child.venue, child.ts, child.signal_offset) == (
        "s1",
        "alpha",
        1_000,
        None,
    )


def test_twap_late_call_catches_up_and_sums_exactly_in_lots():
    algo = TWAP(parent(1.0), 0, 700, 7, lot_size=0.1)
    sent = run(algo, [650, 700])
    assert [c.client_order_id for _, c in sent] == [f"P1-{n}" for n in range(1, 8)]
    quantities = [c.quantity for _, c in sent]
    assert quantities == [0.1] * 6 + [0.4]
    assert round(sum(quantities), 9) == 1.0
    assert algo.on_time(10_000, None, 0.0) == []


def test_twap_fewer_lots_than_slices_skips_empty_slices():
    algo = TWAP(parent(2), 0, 400, 4)
    sent = run(algo, [0, 100, 200, 300])
    assert [(c.client_order_id, c.quantity) for _, c in sent] == [("P1-4", 2)]


def test_twap_ids_are_deterministic_across_a_restart():
    first = [c.client_order_id for _, c in run(TWAP(parent(9), 0, 300, 3), [0, 100, 200])]
    again = TWAP(parent(9), 0, 300, 3)
    assert [c.client_order_id for _, c in run(again, [200])] == first


def test_twap_rejects_off_lot_parent():
    with pytest.raises(ValueError, match="lot"):
        TWAP(parent(1.05), 0, 10, 2, lot_size=0.1)


def test_vwap_participates_and_completes_at_end():
    algo = VWAP(parent(10), 0.1, 100, 1_000)
    sent = run(algo, [50, 100, 200, 300, 400, 1_000, 2_000], [500, 25, 10, 40, 30, 0, 999])
    # 2.5 -> 2 lots; +1.0 = 3.5 -> 1; +4.0 = 7.5 -> 4; +3 = 10.5 capped by 3 remaining
    assert [(t, c.client_order_id, c.quantity) for t, c in sent] == [
        (100, "P1-1", 2), (200, "P1-2", 1), (300, "P1-3", 4), (400, "P1-4", 3),
    ]  # fmt: skip
    assert algo.done
    assert sum(c.quantity for _, c in sent) == 10


def test_vwap_sends_the_remainder_at_end():
    algo = VWAP(parent(10), 0.5, 0, 100)
    sent = run(algo, [0, 50, 100, 150], [3, 0, 0, 0])
    assert [(t, c.client_order_id, c.quantity) for t, c in sent] == [
        (0, "P1-1", 1),
        (100, "P1-2", 9),
    ]
    assert algo.on_time(200, None, 1e9) == []


def test_vwap_without_completion_leaves_the_rest():
    algo = VWAP(parent(10), 0.5, 0, 100, complete_at_end=False)
    sent = run(algo, [0, 100], [4, 100])
    assert [c.quantity for _, c in sent] == [2]
    assert algo.done
    assert algo.remaining_lots == 8


def test_iceberg_one_child_at_a_time_next_after_full_fill():
    algo = Iceberg(parent(7), 3)
    (c1,) = algo.on_time(0, None, 0.0)
    assert (c1.client_order_id, c1.quantity, c1.price) == ("P1-1", 3, 100.0)
    assert algo.on_time(1, None, 0.0) == []
    algo.on_fill("P1-1", 2)
    assert algo.on_time(2, None, 0.0) == []  # still partly working
    algo.on_fill("P1-1", 1)
    (c2,) = algo.on_time(3, None, 0.0)
    assert (c2.client_order_id, c2.quantity) == ("P1-2", 3)
    algo.on_fill("P1-2", 3)
    (c3,) = algo.on_time(4, None, 0.0)
    assert (c3.client_order_id, c3.quantity) == ("P1-3", 1)
    assert not algo.done
    algo.on_fill("P1-3", 1)
    assert algo.done
    assert algo.on_time(5, None, 0.0) == []
    assert algo.filled_quantity == 7


def test_iceberg_canceled_child_is_shown_again():
    algo = Iceberg(parent(5), 5)
    (c1,) = algo.on_time(0, None, 0.0)
    algo.on_fill("P1-1", 2)
    algo.on_canceled("P1-1", 3)
    (c2,) = algo.on_time(1, None, 0.0)
    assert (c2.client_order_id, c2.quantity) == ("P1-2", 3)


def test_iceberg_needs_a_limit_price_and_lot_display():
    with pytest.raises(ValueError, match="limit price"):
        Iceberg(parent(5, price=None, otype=OrderType.MARKET), 1)
    with pytest.raises(ValueError, match="display"):
        Iceberg(parent(5), 0.5)


def test_stop_sends_nothing_more():
    algo = TWAP(parent(10), 0, 100, 2)
    algo.stop()
    assert algo.on_time(1_000, None, 0.0) == []
    assert algo.done
    assert math.isclose(algo.filled_quantity, 0.0)
