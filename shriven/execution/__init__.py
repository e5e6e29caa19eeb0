"""Execution: venues behind one interface, the smart order router, execution algos, reconciliation.

The engine talks to an :class:`ExecutionVenue` (usually a :class:`Router` over one or more
venues); :class:`SimulatedExchange` runs backtests and paper trading, :class:`CcxtVenue` real
venues (``shriven.execution.ccxt_venue``, imported on demand: it needs ccxt only when used).
"""

from shriven.execution.algos import TWAP, VWAP, ExecutionAlgo, Iceberg
from shriven.execution.reconcile import ReconcileReport, reconcile
from shriven.execution.router import Router
from shriven.execution.simulated import SimulatedExchange
from shriven.execution.venue import ExecutionVenue, NoVenueAvailable, VenueOrder

__all__ = [
    "TWAP",
    "VWAP",
    "ExecutionAlgo",
    "ExecutionVenue",
    "Iceberg",
    "NoVenueAvailable",
    "ReconcileReport",
    "Router",
    "SimulatedExchange",
    "VenueOrder",
    "reconcile",
]
