"""Pre-trade risk check latency: ``RiskEngine.check`` from Python and the numba kernel in a loop.

Run: ``python bench/bench_risk.py``. Every check is enabled (all limits finite, a price collar,
leverage, daily loss and drawdown limits, a rate window) and every order passes, so each call
runs all 24 checks. Ten instruments with positions, marks and working orders.

- **check**: ``RiskEngine.check`` (the compiled checks, through their entry point) one call per
  order, each timed with ``perf_counter_ns`` over ``calls`` orders after a warm-up; p50 / p99 /
  mean. The timer itself costs about ``timer_p50_ns`` per call (an empty method timed the same
  way): reported, not subtracted.
- **Python twin**: ``RiskEngine._check_ordered``, the same 24 checks in Python (what a denial,
  for its event's details, and a field of another type take), timed the same way.
- **baseline**: a plain-Python function checking six limits (quantity, notional, position,
  collar, tick, open orders) on a dataclass order, timed the same way: what one writes first.
- **kernel**: ``shriven.risk._kernels.check_order`` called per order inside one compiled loop
  (``check_orders``) over ``kernel_orders`` orders, best of 3: what a compiled event loop pays.
- **kernel, fenced per check**: the same loop with every check between two reads of the fenced
  cycle counter (``shriven.engine.cycles``: ``lfence; rdtsc``), p50 / p99; in the same run, the
  two reads back to back around nothing (the counter pair's own cost) p50 / p99, and the check's
  p50 / p99 minus the pair's p50, labelled as such (the raw figure is the one measured).
- **throughput**: ``check`` in a plain ``for`` loop without per-call timers (mean ns).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from shriven.book.orders import OrderType, Side
from shriven.engine.cycles import cycles, ns_per_cycle
from shriven.model.records import OrderRequest
from shriven.numba_cache import cache_depends_on
from shriven.risk import InstrumentLimits, RiskConfig, RiskEngine, RiskLimits, orders_array
from shriven.risk import _kernels as k

try:
    from timing import best_of
except ImportError:  # imported as bench.bench_risk
    from bench.timing import best_of

SYMBOLS = tuple(f"S{i:02d}" for i in range(10))
STEP_NS = 2_000_000  # 500 orders/s, under the 1000/s limit


def _config() -> RiskConfig:
    limits = RiskLimits(
        max_gross_exposure=1e12,
        max_net_exposure=1e12,
        max_open_orders=100_000,
        max_orders_per_second=1_000,
        price_collar=0.05,
        daily_loss_limit=1e9,
        max_drawdown=0.5,
        max_leverage=100.0,
        restricted=("XXX",),
    )
    instruments = tuple(
        InstrumentLimits(
            symbol=s,
            tick_size=0.01,
            lot_size=1.0,
            min_quantity=1.0,
            max_quantity=1e6,
            max_order_quantity=1e5,
            max_order_notional=1e8,
            max_position=1e7,
        )
        for s in SYMBOLS
    )
    return RiskConfig(limits=limits, instruments=instruments)


def _engine() -> RiskEngine:
    engine = RiskEngine(_config(), listener=lambda event: None)
    engine.start_day(1e9, 0)
    for i, s in enumerate(SYMBOLS):
        engine.mark(s, 100.0 + i)
        engine.position_changed(s, (-1) ** i * 100.0 * (i + 1))
        engine.order_opened(
            OrderRequest(
                client_order_id=f"w{i}", symbol=s, side=Side.BUY, quantity=10.0, price=99.0 + i
            )
        )
    return engine


def _orders(n: int) -> list[OrderRequest]:
    out = []
    for j in range(n):
        i = j % len(SYMBOLS)
        market = j % 7 == 0
        out.append(
            OrderRequest(
                client_order_id=f"c{j}",
                symbol=SYMBOLS[i],
                side=Side.BUY if j % 2 else Side.SELL,
                quantity=float(1 + j % 5),
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                price=None if market else round(100.0 + i + 0.01 * (j % 9 - 4), 2),
                ts=(j + 1) * STEP_NS,
            )
        )
    return out


@dataclass
class _Order:
    symbol: str
    side: int
    quantity: float
    price: float


@dataclass
class _Limits:
    max_quantity: float
    max_notional: float
    max_position: float
    collar: float
    tick: float
    max_open: int


def _baseline_check(
    order: _Order, limits: _Limits, positions: dict, refs: dict, open_orders: int
) -> int:
    """Six limits, written the obvious way (the baseline, not the engine)."""
    if order.quantity > limits.max_quantity:
        return 1
    if order.quantity * order.price > limits.max_notional:
        return 2
    signed = order.quantity if order.side == 1 else -order.quantity
    if abs(positions[order.symbol] + signed) > limits.max_position:
        return 3
    if abs(order.price / refs[order.symbol] - 1.0) > limits.collar:
        return 4
    steps = order.price / limits.tick
    if abs(steps - round(steps)) > 1e-9 * steps:
        return 5
    if open_orders >= limits.max_open:
        return 6
    return 0


def _percentiles(samples: list[int]) -> tuple[float, float, float]:
    a = np.asarray(samples, dtype=np.float64)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.mean())


def _timed(fn, args: list) -> list[int]:
    clock = time.perf_counter_ns
    samples = [0] * len(args)
    for i, a in enumerate(args):
        t0 = clock()
        fn(a)
        samples[i] = clock() - t0
    return samples


# Cached, keyed also on the risk kernels it inlines (shriven.numba_cache).
cache_depends_on(__file__, k)


@njit(cache=True)
def _fenced_checks(lim, sym, acc, par, ist, ring, orders, ticks, pair):
    """Per order: counter ticks around its check (``ticks``) and around nothing (``pair``)."""
    bad = 0
    for i in range(orders.shape[0]):
        o = orders[i]
        c0 = cycles()
        r = k.check_order(lim, sym, acc, par, ist, ring, o.symbol, o.side, o.order_type,
                          o.quantity, o.price, o.ts, o.reduce_only != 0)  # fmt: skip
        ticks[i] = cycles() - c0
        c1 = cycles()
        pair[i] = cycles() - c1
        bad += r != 0
    return bad


def run(
    calls: int = 200_000, kernel_orders: int = 1_000_000, warmup: int = 20_000, rounds: int = 10
) -> dict:
    """Time the Python check, the baseline and the kernel; returns the figures."""
    requests = _orders(calls + warmup)

    # --- baseline: six limits on a dataclass order
    limits = _Limits(1e5, 1e8, 1e7, 0.05, 0.01, 100_000)
    positions = {s: 0.0 for s in SYMBOLS}
    refs = {s: 100.0 + i for i, s in enumerate(SYMBOLS)}
    plain = [
        _Order(
            r.symbol, int(r.side), r.quantity, r.price if r.price is not None else refs[r.symbol]
        )
        for r in requests
    ]

    def baseline(o: _Order) -> int:
        return _baseline_check(o, limits, positions, refs, 10)

    class _Empty:
        def check(self, request: OrderRequest) -> int:
            return 0

    empty = _Empty().check

    # --- RiskEngine.check, the baseline and the bare timer, per call, interleaved in rounds
    # so that each gets the same share of a drifting machine load (bench/timing.py).
    engine = _engine()
    check = engine.check
    for r in requests[:warmup]:
        if check(r):
            raise RuntimeError(f"bench orders must pass, got {check(r)!r} for {r}")
    if any(baseline(o) for o in plain[:warmup]):
        raise RuntimeError("baseline orders must pass")
    engine = _engine()
    check = engine.check
    twin = _engine()._check_ordered
    samples: list[int] = []
    twin_samples: list[int] = []
    base_samples: list[int] = []
    timer_samples: list[int] = []
    chunk = max(1, calls // rounds)
    for start in range(warmup, warmup + calls, chunk):
        samples += _timed(check, requests[start : start + chunk])
        twin_samples += _timed(twin, requests[start : start + chunk])
        base_samples += _timed(baseline, plain[start : start + chunk])
        timer_samples += _timed(empty, requests[start : start + chunk])
    check_p50, check_p99, check_mean = _percentiles(samples)
    twin_p50, twin_p99, _ = _percentiles(twin_samples)
    base_p50, base_p99, base_mean = _percentiles(base_samples)
    timer_p50, timer_p99, _ = _percentiles(timer_samples)

    # --- throughput without per-call timers
    def loop() -> None:
        c = _engine().check
        for r in requests[warmup:]:
            c(r)

    loop_s = best_of(loop, 3)

    # --- kernel in a compiled loop
    state0 = _engine().kernel_state()
    many = _orders(min(kernel_orders, 50_000))
    array = orders_array(many, state0.symbols)
    reps = -(-kernel_orders // len(array))
    big = np.tile(array, reps)[:kernel_orders]
    big["ts"] = (np.arange(kernel_orders, dtype=np.int64) + 1) * STEP_NS
    out = np.empty(kernel_orders, dtype=np.int8)

    def kernel() -> None:
        s = _engine_state_copy(state0)
        k.check_orders(s.lim, s.sym, s.acc, s.par, s.ist, s.ring, big, out)

    kernel()
    if out.any():
        raise RuntimeError(f"kernel denied bench orders: {np.unique(out)}")
    kernel_s = best_of(kernel, 3)
    kernel_ns = kernel_s * 1e9 / kernel_orders

    # --- kernel, each check between two fenced counter reads; the pair alone in the same loop
    npc = ns_per_cycle()
    ticks = np.empty(kernel_orders, np.int64)
    pair = np.empty(kernel_orders, np.int64)
    best = None
    for _ in range(3):
        s = _engine_state_copy(state0)
        if _fenced_checks(s.lim, s.sym, s.acc, s.par, s.ist, s.ring, big, ticks, pair):
            raise RuntimeError("kernel denied bench orders")
        q = np.percentile(ticks[1000:], [50, 99]) * npc
        qp = np.percentile(pair[1000:], [50, 99]) * npc
        if best is None or q[1] < best[0][1]:
            best = (q, qp)
    (fenced_p50, fenced_p99), (pair_p50, pair_p99) = best

    return {
        "calls": calls,
        "check_p50_ns": check_p50,
        "check_p99_ns": check_p99,
        "check_mean_ns": check_mean,
        "twin_p50_ns": twin_p50,
        "twin_p99_ns": twin_p99,
        "timer_p50_ns": timer_p50,
        "timer_p99_ns": timer_p99,
        "check_loop_ns": loop_s * 1e9 / calls,
        "baseline_p50_ns": base_p50,
        "baseline_p99_ns": base_p99,
        "baseline_mean_ns": base_mean,
        "kernel_orders": kernel_orders,
        "kernel_ns_per_check": kernel_ns,
        "kernel_fenced_p50_ns": float(fenced_p50),
        "kernel_fenced_p99_ns": float(fenced_p99),
        "counter_pair_p50_ns": float(pair_p50),
        "counter_pair_p99_ns": float(pair_p99),
        "ratio_check_vs_baseline_p50": check_p50 / base_p50,
        "ratio_baseline_vs_kernel": base_p50 / kernel_ns,
        "ratio_check_vs_kernel": check_p50 / kernel_ns,
    }


def _engine_state_copy(state):
    """A fresh copy of the kernel arrays (the rate window fills as orders pass), laid out as
    ``RiskEngine.kernel_state`` lays them out (one packed block, where the kernel has one)."""
    packed = getattr(k, "packed_arrays", None)
    if packed is None:
        arrays = [a.copy() for a in (state.lim, state.sym, state.acc, state.par, state.ist)]
    else:
        arrays = packed(state.lim.shape[0])
        sources = (state.lim, state.sym, state.acc, state.par, state.ist)
        for dst, src in zip(arrays, sources, strict=True):
            dst[...] = src
    lim, sym, acc, par, ist = arrays
    ring = state.ring.copy()
    if hasattr(k, "bind_ring"):
        k.bind_ring(ist, ring)  # the copy's own ring, not the source's
    return type(state)(symbols=state.symbols, lim=lim, sym=sym, acc=acc, par=par, ist=ist, ring=ring)


def print_result(result: dict) -> None:
    """Print the figures of :func:`run`."""
    print(f"risk check, every check enabled, passing orders ({result['calls']:,} timed calls)")
    print(
        f"RiskEngine.check per call:   p50 {result['check_p50_ns']:,.0f} ns  "
        f"p99 {result['check_p99_ns']:,.0f} ns  mean {result['check_mean_ns']:,.0f} ns  "
        f"(timer alone: p50 {result['timer_p50_ns']:,.0f} ns, p99 {result['timer_p99_ns']:,.0f} ns; "
        "not subtracted)"
    )
    print(
        f"RiskEngine.check in a loop:  {result['check_loop_ns']:,.0f} ns/check (no per-call timer)"
    )
    print(
        f"Python twin (_check_ordered): p50 {result['twin_p50_ns']:,.0f} ns  "
        f"p99 {result['twin_p99_ns']:,.0f} ns  (the same checks in Python)"
    )
    print(
        f"baseline six-limit function: p50 {result['baseline_p50_ns']:,.0f} ns  "
        f"p99 {result['baseline_p99_ns']:,.0f} ns  mean {result['baseline_mean_ns']:,.0f} ns"
    )
    print(
        f"numba kernel in a compiled loop ({result['kernel_orders']:,} orders): "
        f"{result['kernel_ns_per_check']:,.1f} ns/check"
    )
    print(
        f"numba kernel, each check between two fenced counter reads (best of 3 runs by p99): "
        f"p50 {result['kernel_fenced_p50_ns']:,.0f} ns  p99 {result['kernel_fenced_p99_ns']:,.0f} ns "
        f"(raw); counter pair alone, same loop: p50 {result['counter_pair_p50_ns']:,.0f} ns  "
        f"p99 {result['counter_pair_p99_ns']:,.0f} ns; check minus the pair's p50 (derived): "
        f"p50 {result['kernel_fenced_p50_ns'] - result['counter_pair_p50_ns']:,.0f} ns  "
        f"p99 {result['kernel_fenced_p99_ns'] - result['counter_pair_p50_ns']:,.0f} ns"
    )
    print(
        f"ratios: check / baseline (p50) {result['ratio_check_vs_baseline_p50']:.2f}x, "
        f"baseline / kernel {result['ratio_baseline_vs_kernel']:.0f}x, "
        f"check / kernel {result['ratio_check_vs_kernel']:.0f}x"
    )
    print("targets (issue): check p99 <= 1,000 ns from Python; kernel p99 <= 100 ns/check")


def main() -> None:
    """Run the bench and print it."""
    started = time.perf_counter()
    print_result(run())
    print(f"(bench in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
