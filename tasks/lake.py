"""Tasks that maintain the lake and the warehouse file."""

from __future__ import annotations

import time

from prefect import get_run_logger, task

from shriven.config import load_settings
from shriven.lake.warehouse import build_warehouse
from shriven.lake.writer import Lake
from shriven.security.paths import audit_directory
from tasks import retry_unless_bad_input


@task
def compact_task(datasets: list[str], dates: list[str] | None = None) -> dict[str, object]:
    """Merge small window files (live polling makes one per minute) into one file per partition."""
    started = time.perf_counter()
    lake = Lake(load_settings().lake_root)
    compacted = {name: len(lake.compact(name, dates)) for name in datasets}
    get_run_logger().info("compacted partitions: %s", compacted)
    return {"partitions": compacted, "seconds": time.perf_counter() - started}


@task(retries=2, retry_delay_seconds=[10, 30], retry_condition_fn=retry_unless_bad_input)
def refresh_warehouse_task(timeout_s: float = 120.0) -> dict[str, object]:
    """Recreate the warehouse views; waits while a user's DuckDB session holds the file."""
    settings = load_settings()
    build = build_warehouse(
        settings.warehouse_path, settings.lake_root, timeout_s=timeout_s, audit_dir=audit_directory(settings.state_dir),
        signals_root=settings.signal_log_root,
    )  # fmt: skip
    get_run_logger().info("warehouse %s: %d views (%d attempts)", build.path, len(build.views), build.attempts)
    return {"path": build.path, "views": list(build.views), "attempts": build.attempts, "seconds": build.seconds}
