"""Time one synthetic-exchange day for the default universe against drawing as many normals with numpy.

Run: ``python bench/bench_synthetic.py``. Warm-up first (numba JIT or its on-disk cache), then the
best of 3; each repeat uses a fresh exchange so nothing comes from its day cache.
"""

from __future__ import annotations

import time

import numpy as np
from timing import best_of

from shriven.config import load_settings
from shriven.marketdata.synthetic import SyntheticExchange, session_window

DAY = 20_000  # 2024-10-04, days since 1970-01-01
REPEATS = 3


def main() -> None:
    settings = load_settings(environ={})
    open_ns, close_ns = session_window(settings, DAY)

    def one_day() -> None:
        SyntheticExchange(settings).fetch(open_ns, close_ns, settings.universe)

    warm = time.perf_counter()
    batch = SyntheticExchange(settings).fetch(open_ns, close_ns, settings.universe)
    warm = time.perf_counter() - warm
    trades, book = batch.trades.num_rows, batch.book.num_rows
    synthetic_s = best_of(one_day, REPEATS, warmup=False)

    rng = np.random.default_rng(0)
    numpy_s = best_of(lambda: rng.standard_normal(trades + book), REPEATS)

    print(
        f"universe: {len(settings.symbols)} symbols, one {((close_ns - open_ns) / 3.6e12):.1f} h session"
    )
    print(f"rows: {trades:,} trades, {book:,} book events (warm-up {warm:.2f} s)")
    print(f"synthetic day (best of {REPEATS}): {synthetic_s:.3f} s")
    print(f"  {trades / synthetic_s:,.0f} trades/s, {book / synthetic_s:,.0f} book events/s")
    print(f"baseline numpy standard_normal({trades + book:,}): {numpy_s:.3f} s")
    print(f"ratio synthetic / numpy normals: {synthetic_s / numpy_s:.1f}x")


if __name__ == "__main__":
    main()
