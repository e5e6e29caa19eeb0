"""Around every request: a correlation id, a JSON access log line, latency metrics and the audit.

The correlation id comes from the caller's ``X-Correlation-ID`` (when well formed) or is made
here; it is returned in the response, stamped on every log line of the request and written
into the command log with an order, so a trader's request can be followed into the engine.
Every state-changing request (POST, PUT, PATCH, DELETE) is audited, refused ones included, and
its audit record is on disk before the response starts: no answered request goes unaudited.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which runs the app in a task
of its own and streams the response through a queue: measurably slower per request).
"""

from __future__ import annotations

import json
import logging
import re
import time

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram

from shriven.observability.logs import correlation_scope, new_correlation_id
from shriven.security.audit import AuditRecord

logger = logging.getLogger("shriven.gateway.access")

CORRELATION_HEADER = "X-Correlation-ID"
_HEADER_KEY = CORRELATION_HEADER.lower().encode("latin-1")
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


class ObserveRequests:
    """ASGI middleware: correlation id, access log, latency and refusal metrics, audit."""

    def __init__(self, app, *, services, metrics: GatewayMetrics) -> None:
        self.app = app
        self.services = services
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for key, value in scope["headers"]:
            if key == _HEADER_KEY:
                given = value.decode("latin-1")
                break
        cid = given if _WELL_FORMED.match(given) else new_correlation_id()
        method = scope["method"]
        start = time.perf_counter_ns()
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER_KEY, cid.encode("latin-1"))]
                if method in _AUDITED:
                    await anyio.to_thread.run_sync(self.services.audit.record, self._audit(scope, cid, status))
            await send(message)

        with correlation_scope(cid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._observe(scope, method, status, (time.perf_counter_ns() - start) / 1e9)

    def _audit(self, scope, cid: str, status: int) -> AuditRecord:
        state = scope.get("state") or {}
        principal = state.get("principal")
        return AuditRecord(
            ts_ns=self.services.clock_ns(), correlation_id=cid,
            principal=principal.subject if principal else "anonymous",
            role=principal.role.value if principal else "", action=f"{scope['method']} {_route_of(scope)}",
            target=scope["path"][:200],
            result="ok" if status < 400 else "refused" if status < 500 else "error", status=status,
            detail=json.dumps(state.get("audit_detail", {}), default=str)[:1000],
        )  # fmt: skip

    def _observe(self, scope, method: str, status: int, elapsed_s: float) -> None:
        route = _route_of(scope)
        self.metrics.latency.labels(method, route, f"{status // 100}xx").observe(elapsed_s)
        if status >= 400:
            self.metrics.refusals.labels(str(status)).inc()
        principal = (scope.get("state") or {}).get("principal")
        logger.info(
            "%s %s -> %d in %.2f ms", method, scope["path"], status, elapsed_s * 1e3,
            extra={"method": method, "route": route, "status": status, "duration_ms": round(elapsed_s * 1e3, 3),
                   "principal": principal.subject if principal else None},
        )  # fmt: skip


def _route_of(scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
