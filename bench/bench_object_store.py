"""The lake on object storage: the daily pipeline's core steps and two warehouse queries on a
local disk and on an S3-compatible server, in the same run.

Run: ``python bench/bench_object_store.py [--repeat 2]``. The server is moto's (a Python process
on 127.0.0.1, see ``shriven.testing.object_store``): it is much slower per request than S3 or
MinIO, so the S3 column is an upper bound on what the fsspec path costs, not a forecast of AWS.
Each step is timed best of ``repeat`` (a repeat re-runs the same day: the idempotent re-write).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shriven.aggregation.incremental import BarAggregator  # noqa: E402
from shriven.book.snapshots import write_book_snapshots  # noqa: E402
from shriven.config import Settings, load_settings  # noqa: E402
from shriven.lake.layout import Window  # noqa: E402
from shriven.lake.warehouse import build_warehouse, memory_connection  # noqa: E402
from shriven.lake.writer import Lake  # noqa: E402
from shriven.marketdata.ingest import ingest_window  # noqa: E402
from shriven.marketdata.synthetic import SyntheticExchange  # noqa: E402
from shriven.testing.object_store import make_bucket, s3_server  # noqa: E402

DAY = "2026-01-05"
QUERIES = {
    "query: trades per symbol": "SELECT symbol, count(*), sum(price * size) FROM trades GROUP BY symbol",
    "query: 1m bars of one symbol": "SELECT * FROM bars_1m WHERE symbol = (SELECT min(symbol) FROM bars_1m) ORDER BY ts",
}


def _steps(settings: Settings) -> dict[str, float]:
    """The pipeline's core steps (as ``bench_pipeline.core_only``) and the queries, timed."""
    lake = Lake(settings.lake_root)
    window = Window.days(date.fromisoformat(DAY))
    out: dict[str, float] = {}

    def timed(name: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        out[name] = time.perf_counter() - t0

    timed("ingest", lambda: ingest_window(SyntheticExchange(settings), lake, window, settings.universe, settings.universe))
    timed("aggregate bars", lambda: BarAggregator(lake, settings.state_dir, settings.aggregation.intervals).run([DAY], full=True))
    timed("book snapshots", lambda: write_book_snapshots(lake, [DAY], {s.symbol: s.tick_size for s in settings.symbols}))
    timed("warehouse views", lambda: build_warehouse(settings.warehouse_path, settings.lake_root))
    con = memory_connection(settings.lake_root)
    for name, sql in QUERIES.items():
        timed(name, lambda sql=sql: con.sql(sql).fetchall())
    con.close()
    out["rows"] = float(lake.read("trades").num_rows)
    return out


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: min(r[k] for r in runs) for k in runs[0]}


def run(repeat: int = 2) -> dict[str, dict[str, float]]:
    """Best-of-``repeat`` step times on a local disk and on the S3 server, interleaved."""
    with tempfile.TemporaryDirectory(prefix="shriven-objstore-") as tmp, s3_server() as server:
        os.environ.update(server.environment)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        make_bucket(bucket)
        local = load_settings(environ={"SHRIVEN_DATA_DIR": f"{tmp}/disk"})
        remote = load_settings(environ={"SHRIVEN_DATA_DIR": f"s3://{bucket}/data", "SHRIVEN_LOCAL_DIR": f"{tmp}/s3-local"})
        disk_runs, s3_runs = [], []
        for _ in range(repeat):
            disk_runs.append(_steps(local))
            s3_runs.append(_steps(remote))
        return {"disk": _best(disk_runs), "s3": _best(s3_runs)}


def print_result(result: dict[str, dict[str, float]]) -> None:
    disk, s3 = result["disk"], result["s3"]
    print(f"\n== lake on object storage: one synthetic day, {disk['rows']:,.0f} trades, disk vs moto S3 on 127.0.0.1 ==")
    print(f"{'step':32s} {'disk':>9s} {'S3':>9s} {'S3/disk':>8s}")
    for name in disk:
        if name == "rows":
            continue
        print(f"{name:32s} {disk[name]:8.2f}s {s3[name]:8.2f}s {s3[name] / disk[name]:7.1f}x")
    if s3["rows"] != disk["rows"]:
        raise RuntimeError(f"the S3 lake holds {s3['rows']:,.0f} trades, the disk's {disk['rows']:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    print_result(run(parser.parse_args().repeat))


if __name__ == "__main__":
    main()
