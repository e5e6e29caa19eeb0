"""What a running engine counts for monitoring: latencies, orders, rejects by reason, fills.

Cheap enough for paper and live trading (a ``perf_counter_ns`` pair and a bucket increment per
order); backtests pass none. The execution session writes a snapshot file of these next to its
status file, and the gateway's ``/metrics`` serves every snapshot (see
:mod:`shriven.observability.metrics`).
"""

from __future__ import annotations

from shriven.observability.metrics import (
    FILLS,
    ORDER_REJECTS,
    ORDERS_SUBMITTED,
    RISK_CHECK_LATENCY,
    TICK_TO_ORDER_LATENCY,
    MetricsRegistry,
)

__all__ = ["EngineMetrics"]


class EngineMetrics:
    """The engine's instruments, registered in one :class:`MetricsRegistry`."""

    def __init__(self, registry: MetricsRegistry | None = None) -> None:
        self.registry = registry or MetricsRegistry()
        r = self.registry
        self.risk_check = r.histogram(RISK_CHECK_LATENCY, "Pre-trade risk check, in process")
        self.tick_to_order = r.histogram(
            TICK_TO_ORDER_LATENCY, "Start of the wake-up that caused an order to the order at the venue"
        )
        self.orders = r.counter(ORDERS_SUBMITTED, "Orders sent to a venue", "strategy")
        self.rejects = r.counter(ORDER_REJECTS, "Orders denied by risk or rejected by a venue", "reason")
        self.fills = r.counter(FILLS, "Fills booked", "symbol")
