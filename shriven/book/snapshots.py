"""Periodic top-N book snapshots in the lake: the book events of a day replayed into samples."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import pyarrow.compute as pc

from shriven.book.l2 import ISSUE_NAMES, replay_book
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.schemas import BOOK_DEPTH_LEVELS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotResult:
    """What a snapshot run wrote, per day, and the book problems it found by kind."""

    days: int
    book_events: int
    snapshots: int
    issues: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def write_book_snapshots(
    lake: Lake,
    dates: Sequence[str],
    tick_sizes: Mapping[str, float],
    every_ns: int = 1_000_000_000,
) -> SnapshotResult:
    """Replay each day's L2 events and replace that day's ``book_snapshots`` and ``book_issues``."""
    started = time.perf_counter()
    events = samples = 0
    issues: dict[str, int] = {}
    for day in dates:
        book = lake.read("book", [day])
        symbols = sorted(pc.unique(book.column("symbol")).to_pylist()) if book.num_rows else []
        # Symbols outside the configured universe (a vendor's) get their tick inferred from prices.
        ticks = dict(tick_sizes) if set(symbols) <= set(tick_sizes) else None
        replay = replay_book(book, BOOK_DEPTH_LEVELS, every_ns, tick_size=ticks)
        window = Window.days(date.fromisoformat(day))
        lake.write_window("book_snapshots", replay.snapshots, window, symbols=symbols)
        lake.write_window("book_issues", replay.issues, window, symbols=symbols)
        events += book.num_rows
        samples += replay.snapshots.num_rows
        for kind in replay.issues.column("kind").to_pylist():
            name = ISSUE_NAMES.get(kind, str(kind))
            issues[name] = issues.get(name, 0) + 1
        log.info("book snapshots %s: %d events -> %d samples, issues %s", day, book.num_rows,
                 replay.snapshots.num_rows, issues or "none")
    return SnapshotResult(len(dates), events, samples, issues, time.perf_counter() - started)
