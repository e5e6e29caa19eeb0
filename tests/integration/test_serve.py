"""`make serve`: a real Prefect server, work pool, every deployment and a worker that runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import SMALL_CONFIG

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _prefect(env: dict[str, str], *args: str, timeout: int = 120) -> str:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/prefect"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_make_serve_deploys_everything_and_a_triggered_run_completes(tmp_path):
    port = _free_port()
    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "SHRIVEN_DATA_DIR": str(tmp_path / "data"),
        "SHRIVEN_CONFIG": str(config),
        "PREFECT_PORT": str(port),
        "COLUMNS": "200",
        # the worker polls for scheduled runs every 10 s by default; the test need not wait that long
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    env.pop("PREFECT_API_URL", None)
    try:
        serve = subprocess.run(
            ["make", "-s", "serve", f"PREFECT_PORT={port}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420
        )
        assert serve.returncode == 0, serve.stdout + serve.stderr
        api = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
        listing = _prefect(api, "deployment", "ls")
        for name in ("ingest_market_data/live", "ingest_market_data/backfill", "aggregate_bars/incremental",
                     "daily_pipeline/daily", "options_analytics/daily"):
            assert name in listing, listing
        inspect = _prefect(api, "deployment", "inspect", "daily_pipeline/daily")
        assert "30 0 * * *" in inspect

        run = _prefect(api, "deployment", "run", "ingest_market_data/backfill", "-p", "start=2026-01-05",
                       "--watch", "--watch-timeout", "300", timeout=360)
        assert "Completed" in run, run
        lake = tmp_path / "data" / "lake" / "trades" / "date=2026-01-05"
        assert sorted(p.name for p in lake.iterdir()) == ["symbol=ACME", "symbol=BOLT", "symbol=CRUX"]
    finally:
        run_dir = tmp_path / "data" / "run"
        pids = [int(p.read_text()) for p in run_dir.glob("*.pid")]
        subprocess.run(["make", "-s", "stop"], cwd=ROOT, env=env, timeout=60)
        time.sleep(1)
    # nothing outlives `make stop` (a worker once did, retrying its vanished server)
    assert len(pids) == 2
    alive = [pid for pid in pids if _alive(pid)]
    assert alive == []
