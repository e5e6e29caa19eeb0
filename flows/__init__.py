"""Prefect flows: one module per deployment in prefect.yaml; they only orchestrate tasks.

Every flow carries ``OUTCOME_HOOKS``: each run's final state is counted for monitoring in
``<state_dir>/metrics/flows.json`` (``shriven_flow_runs_total{flow,state}`` at the gateway's
/metrics; the Health page flags a flow whose latest run failed). A hook never fails the flow.
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

from shriven.config import load_settings  # noqa: E402
from shriven.observability.metrics import METRICS_DIR_NAME, record_flow_outcome  # noqa: E402

logger = logging.getLogger("shriven.flows")


def record_outcome(flow, flow_run, state) -> None:
    """Count this run's final state and duration (a Prefect on_completion/failure/crashed hook)."""
    try:
        started = flow_run.start_time or flow_run.expected_start_time
        duration = (datetime.now(UTC) - started).total_seconds() if started else 0.0
        metrics_dir = Path(load_settings().state_dir) / METRICS_DIR_NAME
        record_flow_outcome(metrics_dir, flow.name, state.type.value.lower(), max(duration, 0.0))
    except Exception:  # noqa: BLE001 - monitoring must never change a run's outcome
        logger.exception("could not record the outcome of flow run %s", getattr(flow_run, "name", "?"))


#: ``@flow(name=..., **OUTCOME_HOOKS)``: the hooks of every deployment's flow.
OUTCOME_HOOKS = {
    "on_completion": [record_outcome],
    "on_failure": [record_outcome],
    "on_crashed": [record_outcome],
    "on_cancellation": [record_outcome],
}
