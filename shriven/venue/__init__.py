"""Simulated venue for backtests and paper trading: our orders against an L2 + trades feed.

See ``shriven.venue.simulated`` for the latency, queue and cancel models.
"""

from shriven.venue.config import InstrumentRules, VenueConfig
from shriven.venue.simulated import (
    EVENT_DTYPE,
    FEED_DTYPE,
    Account,
    QuoteResult,
    SimulatedVenue,
    VenueEvent,
    VenueFeed,
)

__all__ = [
    "EVENT_DTYPE",
    "FEED_DTYPE",
    "Account",
    "InstrumentRules",
    "QuoteResult",
    "SimulatedVenue",
    "VenueConfig",
    "VenueEvent",
    "VenueFeed",
]
