"""The audit log, for admins: who changed what, when, with what result."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway.api_models import AuditView, Problem
from gateway.auth import admin
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditView],
            responses={401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}},
            summary="The newest audit records of a UTC day (default today), newest last")  # fmt: skip
def audit(
    request: Request,
    day: Annotated[date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    _: Principal = Depends(admin),
) -> list[AuditView]:  # fmt: skip
    records = request.app.state.services.audit.read(limit=limit, day=day)
    return [AuditView(**asdict(r)) for r in records]
