"""Pre-trade risk manager: limits (``config``), the checks (``engine``), events and the kernel.

See ``shriven.risk.engine`` for the checks and their order.
"""

from shriven.risk.batch import ORDER_DTYPE, check_batch, orders_array
from shriven.risk.config import InstrumentLimits, RiskConfig, RiskLimits
from shriven.risk.engine import CHECK_ORDER, RiskEngine, RiskKernelState
from shriven.risk.events import RiskEvent, RiskEventKind, risk_events_table

__all__ = [
    "CHECK_ORDER",
    "ORDER_DTYPE",
    "InstrumentLimits",
    "RiskConfig",
    "RiskEngine",
    "RiskEvent",
    "RiskEventKind",
    "RiskKernelState",
    "RiskLimits",
    "check_batch",
    "orders_array",
    "risk_events_table",
]
