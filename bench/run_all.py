"""`make bench`: every benchmark of the platform, each as a ratio against a baseline from the same run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_aggregate  # noqa: E402
import bench_book  # noqa: E402
import bench_ingest  # noqa: E402
import bench_matching  # noqa: E402
import bench_oms  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_pricing  # noqa: E402
import bench_risk  # noqa: E402
import bench_synthetic  # noqa: E402
import bench_trading  # noqa: E402
import bench_venue  # noqa: E402


def main() -> None:
    """Run them in turn and print their figures."""
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("== synthetic exchange ==")
    bench_synthetic.main()
    print("\n== ingestion into the lake ==")
    bench_ingest.print_result(bench_ingest.run())
    print("\n== trades -> bars ==")
    bench_aggregate._print(bench_aggregate.run())
    print("\n== options pricing ==")
    bench_pricing.print_result(bench_pricing.run())
    print("\n== L2 book ==")
    bench_book.print_result(bench_book.run())
    print("\n== matching engine ==")
    bench_matching.print_result(bench_matching.run())
    print("\n== simulated venue ==")
    bench_venue.print_result(bench_venue.run())
    print("\n== pre-trade risk ==")
    bench_risk.print_result(bench_risk.run())
    print("\n== OMS journal ==")
    bench_oms.print_result(bench_oms.run())
    print("\n== trading engine (backtest replay, order latency, signal to fill, memory) ==")
    bench_trading.print_result(bench_trading.run())
    print("\n== ML features, inference and sentiment ==", flush=True)
    # Its own process: torch's OpenMP gemms slowed down >5x in a process whose numba kernels had
    # already started their OpenMP threads (measured here; torch then waits in libgomp).
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ml.py"))], check=True)
    print("\n== dashboards: first render of each page over 10 M trades ==", flush=True)
    # Its own process too: AppTest runs the app in this interpreter (Streamlit's caches, its
    # warnings outside `streamlit run`), and the lake it builds is freed when it exits.
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_dashboards.py"))], check=True)
    print("\n== gateway: order submission over loopback HTTP against bare FastAPI ==", flush=True)
    # Its own process too: it starts the gateway and the baseline as server processes of its own.
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_gateway.py"))], check=True)
    print("\n== research: parameter sweep against vectorbt ==", flush=True)
    # Its own process: vectorbt's import patches plotly's theme, and its numba kernels are its own.
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_research.py"))], check=True)
    # Its own process: it starts a local S3-compatible server and sets the AWS variables for it.
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_object_store.py"))], check=True)
    print("\n== demo pipeline through Prefect ==")
    bench_pipeline.print_result(bench_pipeline.run())
    print(f"\nall benchmarks in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
