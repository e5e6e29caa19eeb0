"""L2 book updates/s on one core: the numba book against the plain-Python reference book.

Run: ``python bench/bench_book.py``. One synthetic-exchange day of the default universe (20
symbols, about 3.3 M book events) is generated first (not timed). Timed, best of 3 after a JIT
warm-up, on one thread:

- **kernel**: every book event applied to a per-symbol book (prices already in ticks: what a live
  engine holding the book does per event), with gap/crossed checks;
- **replay_book**: the whole Arrow table to 1-second top-10 samples (tick conversion, per-symbol
  replay, Arrow output), what the ``book_snapshots`` task will call;
- **baseline**: ``shriven.book.reference.ReferenceL2Book`` (a dict per side, the same rules) on
  the first ``reference_rows`` events, the pure-Python way of writing this;
- **L2Book.apply**: the same events one Python call per row (numba dispatch dominates), for the
  per-event path.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from timing import best_of

from shriven.book import _l2_kernels as k
from shriven.book.l2 import L2Book, _Buffers, _decimal_grid, _to_ticks, replay_book
from shriven.book.reference import ReferenceL2Book
from shriven.config import load_settings
from shriven.marketdata.synthetic import SyntheticExchange, session_window

DAY = 20_000  # 2024-10-04, days since 1970-01-01
SECOND_NS = 1_000_000_000


def _symbol_arrays(book: pa.Table, ticks: dict[str, float]) -> list[tuple[np.ndarray, ...]]:
    parts = []
    for symbol in pc.unique(book["symbol"]).to_pylist():
        rows = book.filter(pc.equal(book["symbol"], symbol))
        units, scale = _decimal_grid(ticks[symbol])
        parts.append(
            (
                rows["ts"].cast(pa.int64()).to_numpy(),
                rows["seq"].to_numpy(),
                rows["side"].to_numpy(),
                _to_ticks(rows["price"].to_numpy(), units, scale),
                rows["size"].to_numpy(),
                rows["is_snapshot"].to_numpy(),
            )
        )
    return parts


def run(repeat: int = 3, reference_rows: int = 200_000) -> dict:
    """Generate the day, time the kernel, the replay and the reference; returns the figures."""
    settings = load_settings(environ={})
    open_ns, close_ns = session_window(settings, DAY)
    book = SyntheticExchange(settings).fetch(open_ns, close_ns, settings.universe).book
    ticks = {s.symbol: s.tick_size for s in settings.symbols}
    parts = _symbol_arrays(book, ticks)
    events = book.num_rows
    buffers = _Buffers(4096)

    def kernel() -> None:
        for ts, seq, side, tick, size, snap in parts:
            buffers.reset()
            row = 0
            while True:
                b = buffers
                row, status = k.apply_rows(
                    b.st, b.qty, b.o_tick, b.o_qty, b.scratch, b.issues,
                    ts, seq, side, tick, size, snap, row,
                )  # fmt: skip
                if status == k.STATUS_OK:
                    break
                b.grow(status)
            if buffers.st[k.S_N_ISSUES]:
                raise RuntimeError("the synthetic book should replay without issues")

    kernel_s = best_of(kernel, repeat)
    replay_s = best_of(lambda: replay_book(book, 10, SECOND_NS, tick_size=ticks), repeat)
    samples = replay_book(book, 10, SECOND_NS, tick_size=ticks).snapshots.num_rows

    sample = book.slice(0, reference_rows)
    rows = list(
        zip(
            sample["ts"].cast(pa.int64()).to_pylist(),
            sample["seq"].to_pylist(),
            sample["side"].to_pylist(),
            sample["price"].to_pylist(),
            sample["size"].to_pylist(),
            sample["is_snapshot"].to_pylist(),
            strict=True,
        )
    )

    def reference() -> None:
        ref = ReferenceL2Book(0.01)
        for row in rows:
            ref.apply(*row)
        ref.close()

    reference_s = best_of(reference, repeat, warmup=False)
    live_rows = rows[:50_000]
    tick_sample = ticks[sample["symbol"][0].as_py()]

    def live() -> None:
        live_book = L2Book(tick_sample)
        for row in live_rows:
            live_book.apply(*row)

    live_s = best_of(live, repeat)
    kernel_rate = events / kernel_s
    reference_rate = len(rows) / reference_s
    return {
        "symbols": len(parts),
        "events": events,
        "kernel_s": kernel_s,
        "kernel_updates_per_s": kernel_rate,
        "replay_s": replay_s,
        "replay_updates_per_s": events / replay_s,
        "replay_samples": samples,
        "reference_rows": len(rows),
        "reference_s": reference_s,
        "reference_updates_per_s": reference_rate,
        "ratio_kernel_vs_reference": kernel_rate / reference_rate,
        "ratio_replay_vs_reference": (events / replay_s) / reference_rate,
        "live_rows": len(live_rows),
        "live_s": live_s,
        "live_updates_per_s": len(live_rows) / live_s,
    }


def print_result(result: dict) -> None:
    """Print the figures of :func:`run`."""
    print(f"book events: {result['events']:,} ({result['symbols']} symbols, one day, one core)")
    print(
        f"kernel apply (ticks in):       {result['kernel_s']:.3f} s  "
        f"{result['kernel_updates_per_s'] / 1e6:,.1f} M updates/s"
    )
    print(
        f"replay_book (Arrow -> 1 s top-10, {result['replay_samples']:,} rows): "
        f"{result['replay_s']:.3f} s  {result['replay_updates_per_s'] / 1e6:,.1f} M updates/s"
    )
    print(
        f"baseline pure-Python dict book ({result['reference_rows']:,} events): "
        f"{result['reference_s']:.3f} s  {result['reference_updates_per_s'] / 1e6:,.2f} M updates/s"
    )
    print(
        f"ratio kernel / baseline: {result['ratio_kernel_vs_reference']:.0f}x, "
        f"replay_book / baseline: {result['ratio_replay_vs_reference']:.0f}x"
    )
    print(
        f"L2Book.apply one row per Python call ({result['live_rows']:,} events): "
        f"{result['live_s']:.3f} s  {result['live_updates_per_s'] / 1e6:,.2f} M updates/s "
        "(call overhead: batch with apply_rows where possible)"
    )


if __name__ == "__main__":
    started = time.perf_counter()
    print_result(run())
    print(f"(bench in {time.perf_counter() - started:.0f} s)")
