"""Liveness, readiness, the health summary and Prometheus metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.auth import viewer
from shriven.observability.health import ComponentHealth, HealthReport, HealthStatus, check_health

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers (no auth, for load balancers)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the state it needs is reachable (no auth)")
def ready(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks: dict[str, bool] = {}
    for name, path in (
        ("state_dir", Path(services.settings.state_dir)),
        ("commands_dir", services.commands.path.parent),
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
            checks[name] = os.access(path, os.W_OK)
        except OSError:
            checks[name] = False
    try:
        services.keys.has_keys()
        checks["api_keys"] = True
    except Exception:  # noqa: BLE001 - any failure to read the key store means not ready
        checks["api_keys"] = False
    ok = all(checks.values())
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/v1/health", summary="Health of every component (lake, engine, kill switch, Prefect, flows)")
def health_summary(request: Request, _=Depends(viewer)) -> dict:
    services = request.app.state.services
    report = check_health(services.settings, prefect_api_url=services.prefect_api_url)
    here = ComponentHealth(name="gateway", status=HealthStatus.OK, detail="serving this request", checked_at=time.time())
    return HealthReport.of(tuple(here if c.name == "gateway" else c for c in report.components)).to_dict()


@router.get("/metrics", summary="Prometheus metrics: the gateway's and the engine's/flows' snapshots",
            response_class=Response)  # fmt: skip
def metrics(request: Request, _=Depends(viewer)) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
