"""`make demo`'s pipeline on one synthetic day of 20 symbols: wall time through Prefect, and how much
of it is Prefect overhead (the same core steps run directly in this process are the baseline).

Run: ``python bench/bench_pipeline.py``. The Prefect run is ``shriven pipeline`` in a subprocess
with a fresh data dir and Prefect home, so it pays what ``make demo`` pays: starting Prefect's
local server, the flow and task runs, and the work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from shriven.aggregation.incremental import BarAggregator
from shriven.book.snapshots import write_book_snapshots
from shriven.config import load_settings
from shriven.lake.layout import Window
from shriven.lake.warehouse import build_warehouse
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-01-05"


def core_only(data_dir: str) -> dict[str, float]:
    """The pipeline's steps called directly: no Prefect."""
    settings = load_settings(environ={"SHRIVEN_DATA_DIR": data_dir})
    lake = Lake(settings.lake_root)
    window = Window.days(date.fromisoformat(DAY))
    steps = {}
    t0 = time.perf_counter()
    ingest_window(SyntheticExchange(settings), lake, window, settings.universe, settings.universe)
    steps["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    BarAggregator(lake, settings.state_dir, settings.aggregation.intervals).run([DAY])
    steps["aggregate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_book_snapshots(lake, [DAY], {s.symbol: s.tick_size for s in settings.symbols})
    steps["book_snapshots"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name in ("trades", "book", "ohlcv"):
        lake.compact(name, [DAY])
    steps["compact"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_warehouse(settings.warehouse_path, settings.lake_root)
    steps["warehouse"] = time.perf_counter() - t0
    steps["total"] = sum(steps.values())
    return steps


def through_prefect(data_dir: str, prefect_home: str) -> dict[str, float]:
    """`shriven pipeline` in a fresh process and Prefect home, as `make demo` runs it."""
    env = {
        **os.environ,
        "SHRIVEN_DATA_DIR": data_dir,
        "PREFECT_HOME": prefect_home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("PREFECT_API_URL", None)
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(Path(sys.executable).with_name("shriven")), "pipeline", "--day", DAY],
        env=env, capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    summary = json.loads(out.stdout[out.stdout.index("{\n") :])
    return {"process_wall": wall, "flow_wall": summary["wall_seconds"], "core_in_tasks": summary["core_seconds"]}


def run() -> dict:
    """Both runs, in fresh temporary directories."""
    with tempfile.TemporaryDirectory() as direct, tempfile.TemporaryDirectory() as viaprefect:
        core = core_only(direct)
        prefect = through_prefect(os.path.join(viaprefect, "data"), os.path.join(viaprefect, "prefect"))
    return {
        "core_only": core,
        "prefect": prefect,
        "overhead_s": prefect["process_wall"] - core["total"],
        "overhead_share": (prefect["process_wall"] - core["total"]) / prefect["process_wall"],
    }


def print_result(r: dict) -> None:
    """Human-readable figures."""
    c, p = r["core_only"], r["prefect"]
    print("pipeline on one synthetic day, 20 symbols (ingest trades+book, bars, book snapshots, compaction, warehouse)")
    print(f"  baseline, core steps in-process:  {c['total']:6.1f} s  "
          f"(ingest {c['ingest']:.1f}, bars {c['aggregate']:.1f}, book snapshots {c['book_snapshots']:.1f}, "
          f"compact {c['compact']:.1f}, warehouse {c['warehouse']:.1f})")
    print(f"  through Prefect (shriven pipeline): {p['process_wall']:6.1f} s  "
          f"(flow run {p['flow_wall']:.1f} s, core work inside tasks {p['core_in_tasks']:.1f} s)")
    print(f"  Prefect overhead: {r['overhead_s']:.1f} s ({r['overhead_share']:.0%} of the wall time: "
          "local server start-up, flow and task runs, process start)")


if __name__ == "__main__":
    print_result(run())
