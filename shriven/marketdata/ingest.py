"""Ingestion: one window from a source, validated, into the lake; the unit every flow batches."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.source import MarketBatch, MarketDataSource
from shriven.marketdata.validation import validate_trades
from shriven.schemas import QUARANTINE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """Counts of one window's ingestion: input = valid + quarantined, always."""

    source: str
    window: str
    input_rows: int
    valid_rows: int
    quarantined_rows: int
    book_rows: int
    ohlcv_rows: int
    reasons: dict[str, int] = field(default_factory=dict)
    files_written: int = 0
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """Time spent in the source and in validation + writing."""
        return self.fetch_seconds + self.write_seconds


def origin_of(source_name: str) -> str:
    """A path-safe quarantine partition value for a source name (files get a short hash)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", source_name).strip("-.")[:40] or "source"
    if slug == source_name:
        return slug
    return f"{slug}-{hashlib.sha1(source_name.encode()).hexdigest()[:8]}"


def ingest_window(
    source: MarketDataSource,
    lake: Lake,
    window: Window,
    symbols: Sequence[str],
    universe: Sequence[str],
    now_ns: Callable[[], int] = time.time_ns,
) -> IngestResult:
    """Fetch a window from the source, validate its trades and replace the window in the lake.

    ``symbols`` filters the source (empty: all it has). The write replaces the window for those
    symbols, or, when empty, for the symbols the source delivered: a file of one symbol never
    wipes other symbols' data for the same day.
    """
    t0 = time.perf_counter()
    batch: MarketBatch = source.fetch(window.start_ns, window.end_ns, symbols)
    t1 = time.perf_counter()
    checked = validate_trades(batch.trades, universe, source.name, now_ns(), window)
    quarantine = pa.concat_tables([batch.quarantine.cast(QUARANTINE), checked.quarantine])
    input_rows = checked.input_rows + batch.quarantine.num_rows
    scope = list(symbols) if symbols else _symbols_in(checked.valid, batch.book, batch.ohlcv)
    files = 0
    # Empty tables are written too: a re-run that finds nothing must clear what an earlier run left.
    for name, table in (("trades", checked.valid), ("book", batch.book), ("ohlcv", batch.ohlcv)):
        files += len(lake.write_window(name, table, window, symbols=scope).files_written)
    files += len(
        lake.write_window("quarantine", quarantine, window, partition={"origin": origin_of(source.name)}).files_written
    )
    t2 = time.perf_counter()
    reasons = dict(checked.reasons)
    if batch.quarantine.num_rows:
        for reason in batch.quarantine.column("reason").to_pylist():
            key = reason.split(":", 1)[0]
            reasons[key] = reasons.get(key, 0) + 1
    result = IngestResult(
        source=source.name,
        window=str(window),
        input_rows=input_rows,
        valid_rows=checked.valid_rows,
        quarantined_rows=quarantine.num_rows,
        book_rows=batch.book.num_rows,
        ohlcv_rows=batch.ohlcv.num_rows,
        reasons=reasons,
        files_written=files,
        fetch_seconds=t1 - t0,
        write_seconds=t2 - t1,
    )
    log.info(
        "ingested %s %s: %d rows in, %d valid, %d quarantined, %d book events (%.2fs fetch, %.2fs write)",
        source.name, window, input_rows, result.valid_rows, result.quarantined_rows, result.book_rows,
        result.fetch_seconds, result.write_seconds,
    )
    return result


def _symbols_in(*tables: pa.Table) -> list[str]:
    """Distinct symbols across tables, sorted."""
    found: set[str] = set()
    for table in tables:
        if table.num_rows:
            found.update(pc.unique(table.column("symbol")).to_pylist())
    return sorted(found)
