"""The one interface every market-data source implements, and the batch it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

from shriven.schemas import BOOK, OHLCV, QUARANTINE, TRADES


@dataclass(frozen=True)
class MarketBatch:
    """What a source produced for one window, before validation.

    ``trades`` follows the TRADES schema's column names but may hold raw, unvalidated values
    (strings from a CSV, NaN prices): validation casts and quarantines. ``quarantine`` holds rows
    the source could not even parse (malformed CSV lines), in the QUARANTINE schema.
    """

    trades: pa.Table = field(default_factory=TRADES.empty_table)
    book: pa.Table = field(default_factory=BOOK.empty_table)
    ohlcv: pa.Table = field(default_factory=OHLCV.empty_table)
    quarantine: pa.Table = field(default_factory=QUARANTINE.empty_table)


@runtime_checkable
class MarketDataSource(Protocol):
    """A source of trades (and optionally L2 book events and vendor bars) for a time window."""

    #: Short identifier used in logs, quarantine rows and lake partition names.
    name: str
    #: True for sources polled on a schedule (ccxt, synthetic live); False for files.
    live: bool

    def fetch(self, start_ns: int, end_ns: int, symbols: Sequence[str]) -> MarketBatch:
        """Everything the source has in [start_ns, end_ns) for the symbols."""
        ...
