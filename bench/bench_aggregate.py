"""Trades -> bars: ShrivenQuant's numba aggregation against DuckDB and polars on the same lake.

Usage: ``python bench/bench_aggregate.py [--rows 10_000_000] [--windows 2] [--repeat 3]
[--workers N] [--compression lz4]``

Builds (once, cached under ``bench/.cache/``) a trades lake in the layout the writer uses,
``trades/date=YYYY-MM-DD/symbol=SYM/part-<start_ns>-<end_ns>.parquet``, then times, best of
``repeat`` after a warm-up, on the same files:

(a) DuckDB: 1-minute OHLCV + VWAP bars with ``read_parquet(glob)``, materialised to Arrow;
(b) polars lazy: ``scan_parquet`` + floored-ts ``group_by`` + ``agg``, collected;
(c) ours: ``aggregate_partitions`` for 1m only;
(d) ours: ``aggregate_partitions`` for all five intervals at once.

Importable: ``run(rows)`` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import interleaved_best

from shriven.aggregation import bars  # noqa: E402
from shriven.config import INTERVALS_NS  # noqa: E402
from shriven.schemas import TRADES  # noqa: E402

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
SYMBOLS = 20
SESSION_OPEN_S = 13 * 3600 + 30 * 60
SESSION_CLOSE_S = 20 * 3600
FIRST_DAY = np.datetime64("2024-03-04", "D")
ALL_INTERVALS = tuple(INTERVALS_NS)

# the lake writer's Parquet settings, so the bench reads the files the platform writes
from shriven.lake.writer import parquet_options  # noqa: E402

PARQUET_OPTIONS = parquet_options(TRADES)


# --- the lake ----------------------------------------------------------------------------------


def build_lake(rows: int, windows: int = 2, seed: int = 7, compression: str | None = None) -> Path:
    """Build (or reuse) a trades lake of about ``rows`` trades; return its root.

    Files use the lake writer's Parquet options; ``compression`` overrides its codec (to show
    what a different writer setting would cost or save).
    """
    options = dict(PARQUET_OPTIONS)
    if compression is not None:
        options["compression"] = compression
    options_tag = hashlib.sha1(repr(sorted(options.items())).encode()).hexdigest()[:8]
    root = CACHE_DIR / f"lake_{rows}_w{windows}_s{seed}_{options_tag}"
    if (root / "_COMPLETE").exists():
        return root
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / ".gitignore").write_text("*\n")
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    rng = np.random.default_rng(seed)
    per_day = 100_000  # ~4 trades/s over a 6.5 h session: a liquid equity
    days = max(1, round(rows / (SYMBOLS * per_day)))
    per_partition = rows // (SYMBOLS * days)
    session_ns = (SESSION_CLOSE_S - SESSION_OPEN_S) * 1_000_000_000
    for s in range(SYMBOLS):
        symbol = f"SYM{s:02d}"
        price0 = float(rng.uniform(20, 500))
        trade_id0 = 0
        for d in range(days):
            day = FIRST_DAY + np.timedelta64(d, "D")
            day_ns = int(day.astype("datetime64[ns]").astype(np.int64))
            n = per_partition
            # Poisson arrivals at microsecond resolution; a few equal timestamps occur naturally.
            gaps = rng.exponential(session_ns / n, n)
            ts_rel = np.cumsum(gaps)
            ts_rel *= (session_ns - 1_000) / ts_rel[-1]
            ts = (
                day_ns + SESSION_OPEN_S * 1_000_000_000 + (ts_rel // 1_000).astype(np.int64) * 1_000
            )
            tick = 0.01
            steps = rng.normal(0.0, price0 * 0.00015, n)
            price = np.maximum(np.round((price0 + np.cumsum(steps)) / tick) * tick, tick)
            price0 = float(price[-1])
            size = np.maximum(np.round(rng.lognormal(4.0, 1.0, n)), 1.0)
            side = rng.choice(np.array([1, -1, 0], dtype=np.int8), n, p=[0.48, 0.48, 0.04])
            trade_id = trade_id0 + np.arange(n, dtype=np.int64)
            trade_id0 += n
            table = pa.Table.from_arrays(
                [
                    pa.array(ts.view("datetime64[ns]"), type=TRADES.field("ts").type),
                    pa.repeat(pa.scalar(symbol, pa.string()), n),
                    pa.array(trade_id),
                    pa.array(price),
                    pa.array(size),
                    pa.array(side),
                ],
                schema=TRADES,
            )
            part_dir = tmp / "trades" / f"date={day}" / f"symbol={symbol}"
            part_dir.mkdir(parents=True, exist_ok=True)
            bounds = np.linspace(0, n, windows + 1).astype(int)
            for w in range(windows):
                piece = table.slice(bounds[w], bounds[w + 1] - bounds[w])
                start, end = int(ts[bounds[w]]), int(ts[bounds[w + 1] - 1]) + 1
                pq.write_table(piece, part_dir / f"part-{start}-{end}.parquet", **options)
    (tmp / "_COMPLETE").write_text(f"{rows} rows, {windows} windows per partition\n")
    os.replace(tmp, root)
    return root


def partitions_of(root: Path) -> list[list[str]]:
    """One list of file paths per ``date=/symbol=`` partition."""
    dirs = sorted(glob.glob(str(root / "trades" / "date=*" / "symbol=*")))
    return [sorted(glob.glob(os.path.join(d, "*.parquet"))) for d in dirs]


# --- the contenders ----------------------------------------------------------------------------


def duckdb_1m(glob_pattern: str) -> pa.Table:
    """A straightforward DuckDB query: 1-minute OHLCV + VWAP bars per symbol."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.sql(
            f"""
            SELECT symbol,
                   (epoch_ns(ts) // 60000000000) * 60000000000 AS minute_ns,
                   arg_min(price, ts) AS open,
                   max(price) AS high,
                   min(price) AS low,
                   arg_max(price, ts) AS close,
                   sum(size) AS volume,
                   sum(price * size) / sum(size) AS vwap,
                   count(*) AS trades
            FROM read_parquet('{glob_pattern}', hive_partitioning = false)
            GROUP BY symbol, minute_ns
            """
        ).to_arrow_table()
    finally:
        con.close()


def polars_1m(glob_pattern: str) -> object:
    """A straightforward polars lazy query: floored-ts group_by + agg."""
    import polars as pl

    minute = pl.col("ts").cast(pl.Int64) // 60_000_000_000 * 60_000_000_000
    return (
        pl.scan_parquet(glob_pattern, hive_partitioning=False)
        .with_columns(minute_ns=minute)
        .group_by("symbol", "minute_ns")
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("size").sum(),
            vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum(),
            trades=pl.len(),
        )
        .collect()
    )


def split_read_kernel(partitions: list[list[str]], intervals: tuple[str, ...]) -> dict[str, float]:
    """Thread CPU time of ours, one thread: Parquet read, numba kernel, Arrow table building."""
    ivs = np.array([INTERVALS_NS[i] for i in intervals], dtype=np.int64)
    read = kernel = build = 0.0
    for paths in partitions:
        t0 = time.thread_time()
        files = [(pq.ParquetFile(p, memory_map=True), p) for p in paths]
        symbol, (ts, price, size, side), _ = bars._read_partition(files)
        t1 = time.thread_time()
        raw = bars._kernel_chain(ts, price, size, side, ivs)
        t2 = time.thread_time()
        bars._chain_tables(symbol, intervals, raw)
        t3 = time.thread_time()
        read += t1 - t0
        kernel += t2 - t1
        build += t3 - t2
    return {"read_s": read, "kernel_s": kernel, "build_s": build}


# --- driver ------------------------------------------------------------------------------------


def run(
    rows: int = 10_000_000,
    windows: int = 2,
    repeat: int = 5,
    workers: int | None = None,
    compression: str | None = None,
) -> dict:
    """Build or reuse the lake, time the four contenders and return the figures."""
    root = build_lake(rows, windows, compression=compression)
    load_before = os.getloadavg()[0]
    partitions = partitions_of(root)
    glob_pattern = str(root / "trades" / "*" / "*" / "*.parquet")
    n_rows = sum(pq.ParquetFile(p).metadata.num_rows for part in partitions for p in part)

    times = interleaved_best(
        {
            "duckdb_1m": lambda: duckdb_1m(glob_pattern),
            "polars_1m": lambda: polars_1m(glob_pattern),
            "ours_1m": lambda: bars.aggregate_partitions(partitions, ["1m"], workers),
            "ours_all": lambda: bars.aggregate_partitions(partitions, list(ALL_INTERVALS), workers),
        },
        repeat,
    )
    rates = {name: n_rows / t for name, t in times.items()}
    baseline = max(rates["duckdb_1m"], rates["polars_1m"])
    split_1m = split_read_kernel(partitions, ("1m",))
    split_all = split_read_kernel(partitions, ALL_INTERVALS)
    return {
        "rows": n_rows,
        "repeat": repeat,
        "partitions": len(partitions),
        "files": sum(len(p) for p in partitions),
        "workers": workers or bars._available_cpus(),
        "compression": compression or PARQUET_OPTIONS.get("compression", "snappy"),
        "seconds": times,
        "rows_per_s": rates,
        "ratio_1m_vs_best_baseline": rates["ours_1m"] / baseline,
        "ratio_all_vs_best_baseline": rates["ours_all"] / baseline,
        "split_1m": split_1m,
        "split_all": split_all,
        "load_avg_1min": (load_before, os.getloadavg()[0]),
    }


def _print(result: dict) -> None:
    print(
        f"trades -> bars on {result['rows']:,} rows, {result['partitions']} partitions, "
        f"{result['files']} files ({result['compression']}), {result['workers']} workers "
        f"(best of {result['repeat']} interleaved rounds after warm-up); "
        f"load average {result['load_avg_1min'][0]:.1f} -> {result['load_avg_1min'][1]:.1f}"
    )
    labels = {
        "duckdb_1m": "(a) DuckDB 1m OHLCV+VWAP",
        "polars_1m": "(b) polars lazy 1m group_by",
        "ours_1m": "(c) ours 1m",
        "ours_all": "(d) ours 1s+1m+5m+1h+1d",
    }
    for key, label in labels.items():
        print(
            f"  {label:<30} {result['seconds'][key] * 1e3:8.1f} ms  "
            f"{result['rows_per_s'][key] / 1e6:7.1f} M rows/s"
        )
    print(
        f"  ratio vs best baseline: 1m {result['ratio_1m_vs_best_baseline']:.2f}x, "
        f"all five {result['ratio_all_vs_best_baseline']:.2f}x"
    )
    for key in ("split_1m", "split_all"):
        s = result[key]
        total = s["read_s"] + s["kernel_s"] + s["build_s"]
        print(
            f"  {key} (single thread): read {s['read_s'] * 1e3:.0f} ms ({s['read_s'] / total:.0%}), "
            f"kernel {s['kernel_s'] * 1e3:.0f} ms ({s['kernel_s'] / total:.0%}), "
            f"arrow build {s['build_s'] * 1e3:.0f} ms ({s['build_s'] / total:.0%})"
        )


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--windows", type=int, default=2, help="files per partition")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--compression", default=None, help="override the lake writer's codec (e.g. lz4, none)"
    )
    args = parser.parse_args(argv)
    _print(run(args.rows, args.windows, args.repeat, args.workers, args.compression))


if __name__ == "__main__":
    main()
