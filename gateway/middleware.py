"""Around every request: a correlation id, a JSON access log line, latency metrics and the audit.

The correlation id comes from the caller's ``X-Correlation-ID`` (when well formed) or is made
here; it is returned in the response, stamped on every log line of the request and written
into the command log with an order, so a trader's request can be followed into the engine.
Every state-changing request (POST, PUT, PATCH, DELETE) is audited, refused ones included.
"""

from __future__ import annotations

import json
import logging
import re
import time

import anyio
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from shriven.observability.logs import correlation_scope, new_correlation_id
from shriven.security.audit import AuditRecord

logger = logging.getLogger("shriven.gateway.access")

CORRELATION_HEADER = "X-Correlation-ID"
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_AUDITED = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The gateway's own Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "shriven_gateway_request_seconds", "Gateway request latency by route and status class",
            ("method", "route", "status"), buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.orders = Counter(
            "shriven_gateway_orders_total", "Order commands accepted by the gateway",
            ("kind", "replayed"), registry=self.registry,
        )  # fmt: skip
        self.refusals = Counter(
            "shriven_gateway_refusals_total", "Requests refused, by HTTP status",
            ("status",), registry=self.registry,
        )  # fmt: skip


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def install(app: FastAPI) -> None:
    """Add the correlation / access-log / metrics / audit middleware to ``app``."""

    @app.middleware("http")
    async def observe(request: Request, call_next):
        given = request.headers.get(CORRELATION_HEADER, "")
        cid = given if _WELL_FORMED.match(given) else new_correlation_id()
        with correlation_scope(cid):
            start = time.perf_counter_ns()
            response = await call_next(request)
            elapsed_s = (time.perf_counter_ns() - start) / 1e9
            response.headers[CORRELATION_HEADER] = cid
            route = _route_of(request)
            services = request.app.state.services
            metrics: GatewayMetrics = request.app.state.metrics
            metrics.latency.labels(request.method, route, f"{response.status_code // 100}xx").observe(elapsed_s)
            if response.status_code >= 400:
                metrics.refusals.labels(str(response.status_code)).inc()
            principal = getattr(request.state, "principal", None)
            logger.info(
                "%s %s -> %d in %.2f ms", request.method, request.url.path, response.status_code, elapsed_s * 1e3,
                extra={"method": request.method, "route": route, "status": response.status_code,
                       "duration_ms": round(elapsed_s * 1e3, 3), "principal": principal.subject if principal else None},
            )  # fmt: skip
            if request.method in _AUDITED:
                record = AuditRecord(
                    ts_ns=services.clock_ns(), correlation_id=cid,
                    principal=principal.subject if principal else "anonymous",
                    role=principal.role.value if principal else "", action=f"{request.method} {route}",
                    target=request.url.path[:200],
                    result="ok" if response.status_code < 400 else "refused" if response.status_code < 500 else "error",
                    status=response.status_code,
                    detail=json.dumps(getattr(request.state, "audit_detail", {}), default=str)[:1000],
                )  # fmt: skip
                await anyio.to_thread.run_sync(services.audit.record, record)
            return response
