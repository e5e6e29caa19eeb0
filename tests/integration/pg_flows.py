"""A tiny fan-out flow for the Prefect-on-PostgreSQL test (tests/integration/test_prefect_postgres.py).

Each run maps `n` tiny tasks: many task-run state writes at once, the load under which Prefect's
SQLite default stalls ("database is locked"). Only prefect is imported, so a worker loads it fast.
"""

from __future__ import annotations

import os

from prefect import flow, task


@task
def square(x: int) -> int:
    return x * x


@flow(name="pg-fan-out", log_prints=True)
def fan_out(n: int = 50) -> dict[str, int]:
    total = sum(f.result() for f in square.map(range(n)))
    # The worker that ran this run is this process's parent (the process worker spawns the run).
    info = {"n": n, "total": total, "pid": os.getpid(), "worker_pid": os.getppid()}
    print(f"fan_out done: {info}")
    return info
