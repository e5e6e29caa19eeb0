"""Ingestion of synthetic trades into the lake, ticks/s, against plain Parquet writes in the same run.

Run: ``python bench/bench_ingest.py [--days 5]``. The synthetic days are generated first (not
timed, except in the end-to-end line); then each day goes through the platform's ingest path for
trades (validation with every rule, partitioning by date and symbol, sorted atomic window files)
and, as baselines, through (a) one ``pyarrow.parquet.write_table`` of the whole day into one file
(no validation, no partitions: the floor) and (b) ``pyarrow.dataset.write_dataset`` with hive
partitioning by symbol (what a user would write by hand, still without validation).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from timing import best_of

from shriven.config import load_settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake, parquet_options
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from shriven.marketdata.validation import validate_trades

FIRST_DAY = date(2026, 1, 5)


def run(days: int = 5, repeat: int = 3) -> dict:
    """Generate ``days`` synthetic days, then time each way of getting their trades into Parquet."""
    settings = load_settings(environ={})
    windows = [Window.days(FIRST_DAY + timedelta(days=i)) for i in range(days)]
    exchange = SyntheticExchange(settings)
    exchange.fetch(windows[0].start_ns, windows[0].start_ns + 60_000_000_000, settings.universe[:1])  # JIT
    generated = [(w, exchange.fetch(w.start_ns, w.end_ns, settings.universe).trades) for w in windows]
    rows = sum(t.num_rows for _, t in generated)
    tmp = tempfile.mkdtemp(prefix="bench-ingest-")
    options = parquet_options(generated[0][1].schema)
    try:
        lake = Lake(os.path.join(tmp, "lake"))
        validate_trades(generated[0][1].slice(0, 1000), settings.universe, "synthetic", 0)  # JIT

        def ours() -> None:
            for w, trades in generated:
                checked = validate_trades(trades, settings.universe, "synthetic", time.time_ns(), w)
                lake.write_window("trades", checked.valid, w, symbols=settings.universe)

        def plain_file() -> None:
            for i, (_, trades) in enumerate(generated):
                pq.write_table(trades, os.path.join(tmp, f"plain-{i}.parquet"), **options)

        def write_dataset() -> None:
            target = os.path.join(tmp, "dataset")
            shutil.rmtree(target, ignore_errors=True)
            for i, (_, trades) in enumerate(generated):
                pads.write_dataset(
                    trades, target, format="parquet", partitioning=["symbol"], partitioning_flavor="hive",
                    basename_template=f"day{i}-{{i}}.parquet", existing_data_behavior="overwrite_or_ignore",
                    file_options=pads.ParquetFileFormat().make_write_options(compression="lz4"),
                )

        seconds = {
            "ours_validate_partition_write": best_of(ours, repeat),
            "baseline_plain_write_table": best_of(plain_file, repeat),
            "baseline_write_dataset": best_of(write_dataset, repeat),
        }

        def end_to_end() -> None:
            fresh = SyntheticExchange(settings)
            for w in windows:
                ingest_window(fresh, lake, w, settings.universe, settings.universe)

        seconds["end_to_end_generate_and_ingest"] = best_of(end_to_end, 1, warmup=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rates = {k: rows / v for k, v in seconds.items()}
    return {
        "rows": rows,
        "days": days,
        "seconds": seconds,
        "rows_per_s": rates,
        "ratio_vs_plain_write": rates["ours_validate_partition_write"] / rates["baseline_plain_write_table"],
        "ratio_vs_write_dataset": rates["ours_validate_partition_write"] / rates["baseline_write_dataset"],
        "load_avg_1min": os.getloadavg()[0],
        "schema": pa.schema(generated[0][1].schema).names,
    }


def print_result(r: dict) -> None:
    """Human-readable figures."""
    print(f"ingest: {r['rows']:,} synthetic trades over {r['days']} days x 20 symbols (load {r['load_avg_1min']:.1f})")
    labels = {
        "ours_validate_partition_write": "ours: validate + partition + atomic write",
        "baseline_plain_write_table": "(a) pq.write_table, one file, no checks",
        "baseline_write_dataset": "(b) pyarrow write_dataset by symbol, no checks",
        "end_to_end_generate_and_ingest": "end to end: generate trades+book, ingest all",
    }
    for key, label in labels.items():
        print(f"  {label:<48} {r['seconds'][key]:7.2f} s  {r['rows_per_s'][key] / 1e6:6.2f} M ticks/s")
    print(f"  ratio ours / (a): {r['ratio_vs_plain_write']:.2f}x, ours / (b): {r['ratio_vs_write_dataset']:.2f}x"
          "  (target: >= 5 M ticks/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_result(run(args.days, args.repeat))
