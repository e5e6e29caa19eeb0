"""Risk state and the kill switch (turning it on or off is an admin's act, and audited)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request

from gateway.api_models import KillSwitchBody, KillSwitchView, Problem, RiskView
from gateway.auth import admin, viewer
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1", tags=["risk"])
_ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}


def _jsonable(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get("/risk", response_model=RiskView, responses=_ERRORS, summary="Trading state, kill switch, recent risk events")
def risk(request: Request, _: Principal = Depends(viewer)) -> RiskView:
    services = request.app.state.services
    switch = services.kill_switch.read()
    status = services.engine_status()
    events = services.query(
        "SELECT * EXCLUDE (account) FROM risk_events WHERE account = ? ORDER BY ts DESC LIMIT 50", [services.account]
    )
    state = status.trading_state.lower() if status is not None else ("halted" if switch.on else "unknown")
    return RiskView(
        trading_state=state, kill_switch=switch.on, kill_switch_reason=switch.reason, kill_switch_by=switch.by,
        engine_as_of_ns=status.written_at_ns if status is not None else None,
        recent_events=[_jsonable(e) for e in events],
    )  # fmt: skip


@router.get("/kill-switch", response_model=KillSwitchView, responses=_ERRORS, summary="The manual kill switch")
def get_kill_switch(request: Request, _: Principal = Depends(viewer)) -> KillSwitchView:
    s = request.app.state.services.kill_switch.read()
    return KillSwitchView(on=s.on, ts=s.ts, reason=s.reason, by=s.by)


@router.put("/kill-switch", response_model=KillSwitchView, responses=_ERRORS,
            summary="Halt trading (on: the engine cancels working orders at its next wake-up) or allow it again")  # fmt: skip
def set_kill_switch(request: Request, body: KillSwitchBody, principal: Principal = Depends(admin)) -> KillSwitchView:
    services = request.app.state.services
    s = services.kill_switch.set(body.on, reason=body.reason or f"gateway: {principal.subject}", by=principal.subject)
    request.state.audit_detail = {"on": body.on, "reason": body.reason}
    return KillSwitchView(on=s.on, ts=s.ts, reason=s.reason, by=s.by)
