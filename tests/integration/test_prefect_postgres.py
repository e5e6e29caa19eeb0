"""Prefect on PostgreSQL (issue 8, docs/prefect-postgres.md): a server on a private PostgreSQL
cluster (scripts/postgres.sh), one process work pool, two workers, concurrent fan-out flow runs.

Every run must complete, every mapped task run must land in the database, and both workers must
have run some of the runs. Teardown stops workers, server and PostgreSQL even on failure and
checks that no process survives.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
SCRIPT = ROOT / "scripts" / "postgres.sh"
POOL = "pg-test-pool"
RUNS = 8  # concurrent flow runs
TASKS = 50  # mapped tasks per run
PER_WORKER = RUNS // 2  # --limit of each worker, so the two workers share the runs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _procs() -> list[tuple[int, str, int, int]]:
    """(pid, state, ppid, pgrp) of every process; zombies (state Z) are dead, only not yet reaped."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.append((int(stat.parent.name), fields[0], int(fields[1]), int(fields[2])))
    return out


def _group_alive(pgid: int) -> bool:
    return any(pgrp == pgid and state != "Z" for _, state, _, pgrp in _procs())


def _survivors_of(pid: int) -> list[int]:
    """The process and its children, if any still runs."""
    return [p for p, state, ppid, _ in _procs() if (p == pid or ppid == pid) and state != "Z"]


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group we started (the process and its flow-run children), then SIGKILL."""
    if proc.poll() is None or _group_alive(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _group_alive(proc.pid):
            proc.poll()
            time.sleep(0.2)
        if _group_alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _wait_health(api: str, server: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "Prefect server exited:\n" + log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("Prefect server not healthy:\n" + log.read_text()[-3000:])


def _prefect(env: dict[str, str], *args: str, timeout: int = 120) -> str:
    out = subprocess.run([str(BIN / "prefect"), *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_two_process_workers_complete_concurrent_fan_out_runs_on_postgres(tmp_path):
    t0 = time.monotonic()
    # As root the cluster belongs to the `postgres` user, which cannot enter pytest's 0700
    # /tmp/pytest-of-root: then the cluster gets its own directory under /tmp (removed below).
    if os.geteuid() == 0:
        pg_dir = Path(tempfile.mkdtemp(prefix="shriven-pg-", dir="/tmp"))
    else:
        pg_dir = tmp_path / "pg"
    pg_port, port = _free_port(), _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base.update({
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "COLUMNS": "200",
    })
    procs: dict[str, subprocess.Popen] = {}
    postmaster = None
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start", str(pg_dir), str(pg_port)],
                                 capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stdout + started.stderr
        db_url = started.stdout.strip().splitlines()[-1]
        assert db_url.startswith("postgresql+asyncpg://prefect:")
        assert f"127.0.0.1:{pg_port}/" in db_url
        postmaster = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
        # a second start on the running cluster is a no-op that prints the same URL
        again = subprocess.run(["bash", str(SCRIPT), "start", str(pg_dir), str(pg_port)],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == db_url
        assert int((pg_dir / "data" / "postmaster.pid").read_text().split()[0]) == postmaster

        server_env = {**base, "PREFECT_API_DATABASE_CONNECTION_URL": db_url,
                      "PREFECT_SERVER_UI_ENABLED": "false"}
        server_log = tmp_path / "server.log"
        procs["server"] = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=server_env, stdout=server_log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        _wait_health(api, procs["server"], server_log)

        client_env = {**base, "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        _prefect(client_env, "work-pool", "create", POOL, "--type", "process")
        worker_logs = {}
        for name in ("w1", "w2"):
            worker_logs[name] = tmp_path / f"worker-{name}.log"
            procs[name] = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process",
                 "--name", name, "--limit", str(PER_WORKER)],
                cwd=tmp_path, env=client_env, stdout=worker_logs[name].open("w"),
                stderr=subprocess.STDOUT, start_new_session=True)

        prefect_yaml = tmp_path / "prefect.yaml"
        prefect_yaml.write_text(f"""\
name: pg-test
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: {ROOT}
deployments:
  - name: fan-out
    entrypoint: tests/integration/pg_flows.py:fan_out
    parameters: {{n: {TASKS}}}
    work_pool: {{name: {POOL}, work_queue_name: default}}
""")
        _prefect(client_env, "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_yaml))

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterId,
            LogFilter,
            LogFilterFlowRunId,
        )
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("pg-fan-out/fan-out")
            run_ids = [client.create_flow_run_from_deployment(deployment.id, parameters={"n": TASKS}).id
                       for _ in range(RUNS)]
            deadline = time.monotonic() + 180
            while True:
                runs = [client.read_flow_run(i) for i in run_ids]
                if all(r.state and r.state.is_final() for r in runs) or time.monotonic() > deadline:
                    break
                for name in ("w1", "w2"):
                    assert procs[name].poll() is None, worker_logs[name].read_text()[-3000:]
                time.sleep(1)
            states = {str(r.id): r.state.type.value if r.state else None for r in runs}
            assert set(states.values()) == {"COMPLETED"}, (
                f"{states}\n" + "\n".join(p.read_text()[-2000:] for p in worker_logs.values()))

            # every mapped task run and every run's final log line reached the database (both
            # arrive asynchronously, through the events pipeline: minutes behind on a loaded
            # machine, measured); the flow logs its parent pid, i.e. the worker that ran it
            deadline = time.monotonic() + 180
            while True:
                completed, ran_by = 0, {}
                for i in run_ids:
                    one = FlowRunFilter(id=FlowRunFilterId(any_=[i]))
                    completed += sum(1 for t in client.read_task_runs(flow_run_filter=one, limit=2 * TASKS)
                                     if t.state and t.state.type.value == "COMPLETED")
                    logs = client.read_logs(
                        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[i])), limit=200)
                    for log in logs:
                        if m := re.search(r"fan_out done: .*'worker_pid': (\d+)", log.message):
                            ran_by[str(i)] = int(m.group(1))
                if (completed == RUNS * TASKS and len(ran_by) == RUNS) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert completed == RUNS * TASKS, f"{completed} task runs recorded COMPLETED after 180 s"
        assert len(ran_by) == RUNS, ran_by
        worker_of = {procs["w1"].pid: "w1", procs["w2"].pid: "w2"}
        assert set(ran_by.values()) <= set(worker_of), (ran_by, worker_of)
        taken = {name: sum(1 for pid in ran_by.values() if worker_of[pid] == name) for name in ("w1", "w2")}
        assert taken["w1"] > 0, taken
        assert taken["w2"] > 0, taken
        server_text = server_log.read_text()
        assert "database is locked" not in server_text
        assert not re.search(r"Traceback", server_text), server_text[-3000:]
        print(f"{RUNS} runs x {TASKS} tasks completed on PostgreSQL: "
              f"w1 ran {taken['w1']}, w2 ran {taken['w2']}; "
              f"{time.monotonic() - t0:.1f} s including set-up")
    finally:
        # workers first (a worker whose server vanished retries forever), then server, then database
        for name in ("w1", "w2", "server"):
            if name in procs:
                _stop_group(procs[name])
        stopped = subprocess.run(["bash", str(SCRIPT), "stop", str(pg_dir)], capture_output=True,
                                 text=True, timeout=120)
        survivors = [name for name, p in procs.items() if _group_alive(p.pid)]
        if postmaster is not None:
            survivors += [f"postgres {p}" for p in _survivors_of(postmaster)]
        if pg_dir.parent != tmp_path and not survivors:
            shutil.rmtree(pg_dir, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    assert survivors == []
