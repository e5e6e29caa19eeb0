"""L3 matching engine: numba batch API against the pure-Python reference engine on the same flow.

Usage: ``python bench/bench_matching.py [--operations 2_000_000] [--repeat 3]
[--reference-sample 200_000]``

The flow (seeded, built once with numpy) imitates a busy single-instrument venue: a mid price
that random-walks one tick at a time; about 55 % limit adds a few ticks from the mid (geometric
distance, 10 % of them post-only), 22 % cancels and 10 % modifies of recent orders (some
already filled or canceled: "too late to cancel" rejections, as at a real venue), and 13 %
marketable orders (IOC and limit orders through the touch, market orders), from 50 owners so
that self-trade prevention fires now and then.

Timed, best of ``repeat`` after a JIT warm-up, on one core:

(a) ours: ``MatchingEngine.process`` over the whole flow (a fresh engine each time; the event
    array is allocated inside the timed call);
(b) baseline: ``ReferenceMatchingEngine.process`` (plain Python, dicts + deques) over the first
    ``reference_sample`` operations, whose events must equal ours;
(c) ours through the Python-object API (``MatchingEngine.apply`` per request) on a sample.

Importable: ``run()`` returns the figures as a dict; ``print_result`` prints them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shriven.book.matching import MatchingEngine  # noqa: E402
from shriven.book.orders import (  # noqa: E402
    OPERATION_DTYPE,
    Action,
    Cancel,
    EventKind,
    InstrumentSpec,
    Modify,
    Order,
    OrderType,
    Side,
)
from shriven.book.reference_matching import ReferenceMatchingEngine  # noqa: E402

SPEC = InstrumentSpec(
    tick_size=1,
    lot_size=1,
    min_size=1,
    max_size=10_000,
    min_price=1,
    max_price=200_000,
    max_orders=1 << 21,
)
MID0 = 100_000
OWNERS = 50


def make_flow(operations: int, seed: int = 11) -> np.ndarray:
    """A realistic random operation flow as an ``OPERATION_DTYPE`` array."""
    rng = np.random.default_rng(seed)
    n = operations
    ops = np.zeros(n, dtype=OPERATION_DTYPE)
    mid = MID0 + np.cumsum(rng.choice([-1, 0, 1], n, p=[0.01, 0.98, 0.01]))
    kind = rng.choice(4, n, p=[0.55, 0.22, 0.10, 0.13])  # add, cancel, modify, marketable
    side = rng.choice([Side.BUY, Side.SELL], n).astype(np.int8)
    distance = rng.geometric(0.35, n) - 1  # ticks behind the touch
    qty = np.minimum(rng.geometric(0.25, n) * rng.choice([1, 10], n, p=[0.9, 0.1]), 5_000)
    is_add = kind == 0
    add_number = np.cumsum(is_add)  # order id of an add = its rank among the adds
    add_index = np.flatnonzero(is_add)
    sign = np.where(side == Side.BUY, -1, 1)

    ops["owner_id"] = rng.integers(1, OWNERS + 1, n)
    ops["quantity"] = qty
    ops["side"] = side

    # limit adds (10 % post-only) at the touch or behind it
    ops["action"][is_add] = Action.SUBMIT
    ops["order_id"][is_add] = add_number[is_add]
    ops["price"][is_add] = (mid + sign * (1 + distance))[is_add]
    post_only = is_add & (rng.random(n) < 0.10)
    ops["order_type"][is_add] = np.where(post_only[is_add], OrderType.POST_ONLY, OrderType.LIMIT)

    # cancels and modifies of a recent add (may already be gone)
    for k, action in ((1, Action.CANCEL), (2, Action.MODIFY)):
        rows = np.flatnonzero(kind == k)
        rows = rows[add_number[rows] > 0]
        target = add_number[rows] - np.minimum(rng.geometric(0.02, len(rows)), add_number[rows])
        target_row = add_index[target]  # target is 0-based into add_index
        ops["action"][rows] = action
        ops["order_id"][rows] = target + 1
        if action == Action.MODIFY:
            # half shrink in place, half re-price one tick either way at a new size
            shrink = rng.random(len(rows)) < 0.5
            step = rng.choice([-1, 1], len(rows))
            ops["price"][rows] = ops["price"][target_row] + np.where(shrink, 0, step)
            ops["quantity"][rows] = np.where(
                shrink, np.maximum(ops["quantity"][target_row] // 2, 1), qty[rows]
            )

    # marketable: IOC through the touch, limit through the touch, market orders
    rows = np.flatnonzero(kind == 3)
    flavour = rng.choice(3, len(rows), p=[0.5, 0.3, 0.2])
    opposite = -sign[rows]
    ops["action"][rows] = Action.SUBMIT
    ops["order_id"][rows] = 10_000_000_000 + rows  # never rest under an add's id
    ops["price"][rows] = mid[rows] + opposite * (1 + rng.integers(0, 3, len(rows)))
    ops["order_type"][rows] = np.choose(
        flavour, [OrderType.IOC, OrderType.LIMIT, OrderType.MARKET]
    ).astype(np.int8)
    return ops


def _time_engine(ops: np.ndarray, repeat: int) -> tuple[float, np.ndarray, int]:
    best = float("inf")
    events = None
    resting = 0
    for _ in range(repeat):
        engine = MatchingEngine(SPEC)
        t0 = time.perf_counter()
        events = engine.process(ops)
        best = min(best, time.perf_counter() - t0)
        resting = engine.resting_count
    return best, events, resting


def run(operations: int = 2_000_000, repeat: int = 3, reference_sample: int = 200_000) -> dict:
    """Time both engines on the flow; return the figures."""
    ops = make_flow(operations)
    MatchingEngine(SPEC).process(ops[:10_000])  # JIT warm-up (or cache load)

    seconds, events, resting = _time_engine(ops, repeat)
    kinds = np.bincount(events["kind"], minlength=9)

    sample = ops[: min(reference_sample, operations)]
    sample_rows = sample.tolist()
    reference_seconds = float("inf")
    for _ in range(max(1, min(repeat, 2))):
        reference = ReferenceMatchingEngine(SPEC)
        t0 = time.perf_counter()
        reference_events = reference.process(sample_rows)
        reference_seconds = min(reference_seconds, time.perf_counter() - t0)
    ours_on_sample = MatchingEngine(SPEC).process(sample)
    identical = [tuple(r) for r in ours_on_sample.tolist()] == reference_events

    object_sample = sample_rows[:50_000]
    requests = []
    for order_id, owner_id, price, quantity, action, side, order_type in object_sample:
        if action == Action.SUBMIT:
            requests.append(
                Order(
                    order_id=order_id,
                    owner_id=owner_id,
                    side=Side(side),
                    price=price,
                    quantity=quantity,
                    order_type=OrderType(order_type),
                )
            )
        elif action == Action.CANCEL:
            requests.append(Cancel(order_id=order_id))
        else:
            requests.append(Modify(order_id=order_id, price=price, quantity=quantity))
    engine = MatchingEngine(SPEC)
    t0 = time.perf_counter()
    for r in requests:
        engine.apply(r)
    object_seconds = time.perf_counter() - t0

    ops_per_s = operations / seconds
    reference_ops_per_s = len(sample) / reference_seconds
    return {
        "operations": operations,
        "repeat": repeat,
        "seconds": seconds,
        "ops_per_s": ops_per_s,
        "ns_per_op": 1e9 * seconds / operations,
        "events": len(events),
        "fills": int(kinds[EventKind.FILLED] + kinds[EventKind.PARTIALLY_FILLED]) // 2,
        "events_by_kind": {k.name: int(kinds[k]) for k in EventKind},
        "resting_at_end": resting,
        "reference_sample": len(sample),
        "reference_ops_per_s": reference_ops_per_s,
        "ratio_vs_reference": ops_per_s / reference_ops_per_s,
        "reference_events_identical": identical,
        "object_api_sample": len(requests),
        "object_api_ops_per_s": len(requests) / object_seconds,
    }


def print_result(r: dict) -> None:
    """Print the figures of ``run``."""
    print(
        f"flow: {r['operations']:,} operations -> {r['events']:,} events, {r['fills']:,} trades, "
        f"{r['resting_at_end']:,} orders resting at the end"
    )
    print("events by kind: " + ", ".join(f"{k} {v:,}" for k, v in r["events_by_kind"].items()))
    print(
        f"ours, batch API (numba):   {r['ops_per_s'] / 1e6:7.2f} M ops/s "
        f"({r['ns_per_op']:.0f} ns/op, best of {r['repeat']})"
    )
    print(
        f"ours, Python-object API:   {r['object_api_ops_per_s'] / 1e6:7.3f} M ops/s "
        f"(first {r['object_api_sample']:,} ops)"
    )
    print(
        f"baseline, pure-Python ref: {r['reference_ops_per_s'] / 1e6:7.3f} M ops/s "
        f"(first {r['reference_sample']:,} ops; events identical to ours: "
        f"{r['reference_events_identical']})"
    )
    print(f"ratio batch / reference:   {r['ratio_vs_reference']:7.1f} x")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-sample", type=int, default=200_000)
    args = parser.parse_args()
    print_result(run(args.operations, args.repeat, args.reference_sample))


if __name__ == "__main__":
    main()
