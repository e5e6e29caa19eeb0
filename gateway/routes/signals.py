"""Signals: read the signal log, or append targets to it (what models and optimisers do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from gateway.api_models import Problem, SignalsAppended, SignalsBody, SignalView
from gateway.auth import trader, viewer
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1/signals", tags=["signals"])
_ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}


@router.get("", response_model=list[SignalView], responses=_ERRORS, summary="Signals after an offset, oldest first")
def list_signals(
    request: Request,
    after: Annotated[int | None, Query(ge=-1, le=2**62, description="default: the last `limit` signals")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: Principal = Depends(viewer),
) -> list[SignalView]:  # fmt: skip
    log = request.app.state.services.signals
    start = max(-1, log.last_offset() - limit) if after is None else after
    return [
        SignalView(offset=s.offset, ts=s.ts, symbol=s.symbol, target=s.target, kind=s.kind.name.lower(),
                   source=s.source, model_version=s.model_version)
        for s in log.read_after(start, limit=limit)
    ]  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SignalsAppended, responses=_ERRORS,
             summary="Append targets; invalid rows are quarantined with a reason, never dropped")  # fmt: skip
def append_signals(request: Request, body: SignalsBody, principal: Principal = Depends(trader)) -> SignalsAppended:
    services = request.app.state.services
    now = services.clock_ns()
    source = f"gateway:{principal.subject}"
    result = services.signals.append(
        [Signal(ts=now, symbol=s.symbol, target=s.target, kind=TargetKind[s.kind.upper()], source=source,
                model_version=s.model_version) for s in body.signals],
        source=source, now_ns=now,
    )  # fmt: skip
    request.state.audit_detail = {"first_offset": result.first_offset, "appended": result.appended,
                                  "quarantined": result.quarantined}  # fmt: skip
    return SignalsAppended(
        first_offset=result.first_offset, last_offset=result.last_offset, appended=result.appended,
        quarantined=result.quarantined, reasons=result.reasons,
    )  # fmt: skip
