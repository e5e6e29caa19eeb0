"""The gateway application: FastAPI with typed routes, problem-shaped errors and observability.

``create_app(services)`` wires routes to a :class:`~gateway.services.GatewayServices`; tests
build services over a temporary data directory and serve the app on 127.0.0.1 for real.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.middleware import GatewayMetrics, ObserveRequests
from gateway.routes import audit, auth, flows, health, orders, portfolio, risk, signals
from gateway.services import GatewayServices
from shriven.engine.commands import IdempotencyConflict, InvalidCommand
from shriven.observability.metrics import SnapshotCollector

API_VERSION = "1.0.0"


def create_app(services: GatewayServices) -> FastAPI:
    """The gateway over ``services`` (one per process; tests make several)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        services.close()

    app = FastAPI(
        title="ShrivenQuant gateway", version=API_VERSION, lifespan=lifespan,
        description="Orders, positions, risk, signals and flow runs of a ShrivenQuant platform. "
        "Get a token with an API key at POST /v1/auth/token, then send it as `Authorization: Bearer <token>`.",
    )  # fmt: skip
    app.state.services = services
    metrics = GatewayMetrics()
    metrics.registry.register(SnapshotCollector(services.metrics_dir))
    app.state.metrics = metrics
    for module in (health, auth, orders, portfolio, risk, signals, flows, audit):
        app.include_router(module.router)
    app.add_middleware(ObserveRequests, services=services, metrics=metrics)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "reason" in exc.detail:
            body = exc.detail
        else:
            body = {"reason": _REASONS.get(exc.status_code, "error"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(IdempotencyConflict)
    async def idempotency_conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return JSONResponse({"reason": "idempotency_conflict", "message": str(exc)}, status_code=409)

    @app.exception_handler(InvalidCommand)
    async def invalid_command(request: Request, exc: InvalidCommand) -> JSONResponse:
        return JSONResponse({"reason": "invalid_order", "message": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the offending input is not echoed back: it may be a key pasted into the wrong field
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            {"reason": "invalid_request", "message": f"{where}: {first['msg']}", "errors": errors}, status_code=422
        )

    return app


_REASONS = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
