"""Deployment `execution`: the long-running paper (or live) trading session.

The engine's per-event loop runs inside this one flow run (DESIGN.md: a task per event would cost
milliseconds); the flow logs progress at each checkpoint, publishes risk breaches and the kill
switch as Prefect events, and leaves the session's figures as an artifact.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows import OUTCOME_HOOKS
from shriven.config import load_settings
from shriven.engine.wiring import open_live_session, open_paper_session, strategies_from_settings
from shriven.observability.logs import configure_json_logging, correlation_scope
from tasks.trading import emit_risk_event


@flow(name="execution", **OUTCOME_HOOKS)
def execution(
    mode: str = "paper",
    day: date | None = None,
    speed: float | None = None,
    max_minutes: float | None = None,
    strategies: str | None = None,
    checkpoint_every_s: float | None = None,
) -> dict[str, object]:
    """Paper: the synthetic live session on the wall clock (``speed``: replay ``day`` faster).
    Live: the ``[ccxt]`` exchange (sandbox unless ``live_sandbox = false``), keys from the environment."""
    if mode not in ("paper", "live"):
        raise ValueError(f"mode must be 'paper' or 'live', not {mode!r}")
    settings = load_settings()
    logger = get_run_logger()
    chosen = strategies_from_settings(settings, strategies)
    if mode == "live":
        account = settings.trading.live_account
        session = open_live_session(settings, strategies=chosen, on_risk_event=lambda e: emit_risk_event(account, e))
    else:
        account = settings.trading.account
        session = open_paper_session(
            settings, day=day, speed=speed, strategies=chosen, on_risk_event=lambda e: emit_risk_event(account, e)
        )
    logger.info("%s trading %s as account %r (speed %s)", mode, session.window, account, speed or "real time")
    # the engine's own log lines also go to a JSON-lines file, stamped with this run's id (and,
    # for gateway orders, the gateway request's correlation id)
    log_path = Path(settings.local_root) / "logs" / "execution.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log_file, correlation_scope(_run_id()):
        handler = configure_json_logging("execution", stream=log_file, logger_names=("shriven.engine",))
        try:
            status = session.run(
                max_wall_s=None if max_minutes is None else 60 * max_minutes,
                checkpoint_every_s=checkpoint_every_s or settings.trading.checkpoint_every_s,
                on_progress=lambda s: logger.info("checkpoint: %s", s),
            )  # fmt: skip
        finally:
            logging.getLogger("shriven.engine").removeHandler(handler)
    create_table_artifact([status], key="execution-session", description=f"{mode} session {session.window}")
    return status


def _run_id() -> str | None:
    """This flow run's id, as the correlation id of the engine's log lines (None outside a run)."""
    run_id = flow_run.get_id()
    return run_id.replace("-", "")[:32] if run_id else None
