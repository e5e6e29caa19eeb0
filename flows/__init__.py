"""Prefect flows: one module per deployment in prefect.yaml; they only orchestrate tasks.

Every flow carries ``OUTCOME_HOOKS``: each run's final state is counted for monitoring in
``<state_dir>/metrics/flows.json`` (``shriven_flow_runs_total{flow,state}`` at the gateway's
/metrics; the Health page flags a flow whose latest run failed), and its ``shriven.*`` log lines
also go to ``<local_dir>/logs/flows.jsonl`` as JSON with the run's id as correlation id (a gateway
command's own id where there is one). A hook never fails the flow.
"""

from __future__ import annotations

import os

# Set before numba or torch loads libgomp (it reads the variable once): numba's parallel kernels
# and torch share it, and with the default spinning wait policy idle numba threads took the cores
# from torch's gemms (5x slower sentiment scoring in a process that had priced options, measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import logging  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from prefect.runtime import flow_run as flow_run_runtime  # noqa: E402

from shriven.config import load_settings  # noqa: E402
from shriven.observability.logs import configure_json_logging  # noqa: E402
from shriven.observability.metrics import METRICS_DIR_NAME, record_flow_outcome  # noqa: E402

logger = logging.getLogger("shriven.flows")

#: Every flow run's ``shriven.*`` log lines, as JSON, under the local directory.
FLOW_LOG = Path("logs") / "flows.jsonl"
_json_log: tuple[Path, logging.Handler] | None = None


class _FlowRunId(logging.Filter):
    """Stamps the current flow run's id as the correlation id of lines that carry none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            run_id = flow_run_runtime.get_id()
            record.correlation_id = run_id.replace("-", "") if run_id else None
        return True


def _flow_json_log() -> None:
    """One JSON-lines handler per process on ``shriven`` loggers (again when the data dir moved)."""
    global _json_log
    path = Path(load_settings().local_root) / FLOW_LOG
    if _json_log is not None and _json_log[0] == path and _json_log[1] in logging.getLogger("shriven").handlers:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if _json_log is not None:
        _json_log[1].stream.close()
    # the shriven loggers keep their level (and so what Prefect receives); the flows' own start
    # and outcome lines are INFO
    level = logging.getLogger("shriven").getEffectiveLevel()
    stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process logs there
    handler = configure_json_logging("flows", level=level, stream=stream, logger_names=("shriven",))
    logger.setLevel(logging.INFO)
    handler.addFilter(_FlowRunId())
    _json_log = (path, handler)


def record_start(flow, flow_run, state) -> None:
    """Write the run's ``shriven`` log lines as JSON from now on, and say that it started."""
    try:
        _flow_json_log()
        logger.info("flow %s run %s started", flow.name, flow_run.name,
                    extra={"correlation_id": flow_run.id.hex, "flow": flow.name, "event": "started"})  # fmt: skip
    except Exception:  # noqa: BLE001 - monitoring must never change a run's outcome
        logger.exception("could not start the JSON log of flow run %s", getattr(flow_run, "name", "?"))


def record_outcome(flow, flow_run, state) -> None:
    """Count this run's final state and duration (a Prefect on_completion/failure/crashed hook)."""
    try:
        started = flow_run.start_time or flow_run.expected_start_time
        duration = max((datetime.now(UTC) - started).total_seconds(), 0.0) if started else 0.0
        outcome = state.type.value.lower()
        metrics_dir = Path(load_settings().state_dir) / METRICS_DIR_NAME
        record_flow_outcome(metrics_dir, flow.name, outcome, duration)
        logger.info("flow %s run %s %s in %.1f s", flow.name, flow_run.name, outcome, duration,
                    extra={"correlation_id": flow_run.id.hex, "flow": flow.name, "event": outcome})  # fmt: skip
    except Exception:  # noqa: BLE001 - monitoring must never change a run's outcome
        logger.exception("could not record the outcome of flow run %s", getattr(flow_run, "name", "?"))


#: ``@flow(name=..., **OUTCOME_HOOKS)``: the hooks of every deployment's flow.
OUTCOME_HOOKS = {
    "on_running": [record_start],
    "on_completion": [record_outcome],
    "on_failure": [record_outcome],
    "on_crashed": [record_outcome],
    "on_cancellation": [record_outcome],
}
