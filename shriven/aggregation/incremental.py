"""Incremental bar aggregation: rebuild bars only for trade partitions that changed since last run.

A trades partition (one UTC day of one symbol) is the unit: bars never straddle days, so a
partition's bars depend on that partition alone. Each partition's fingerprint (its file names,
sizes and modification times, or ETags on an object store) is kept in a small JSON state file; a
partition whose fingerprint changed is re-aggregated and its bars replace the day's bars for that
symbol.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from fsspec.core import url_to_fs

from shriven.aggregation.bars import aggregate_partitions
from shriven.lake.layout import Window
from shriven.lake.storage import is_remote, modified_at
from shriven.lake.writer import Lake

log = logging.getLogger(__name__)

STATE_FILE = "aggregate_bars.json"


@dataclass(frozen=True)
class AggregateResult:
    """What an aggregation run did."""

    partitions_seen: int
    partitions_aggregated: int
    trades_read: int
    bars_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _partition_key(pdir: str) -> tuple[str, str]:
    parts = dict(seg.split("=", 1) for seg in pdir.split("/") if "=" in seg)
    return parts["date"], parts["symbol"]


class BarAggregator:
    """Keeps bars in step with trades, touching only partitions with new data."""

    def __init__(self, lake: Lake, state_dir: str, intervals: Sequence[str]) -> None:
        self.lake = lake
        self.intervals = tuple(intervals)
        self.state_path = state_dir.rstrip("/") + "/" + STATE_FILE
        self._fs, _ = url_to_fs(self.state_path)

    def _fingerprint(self, pdir: str) -> list[list[object]]:
        out = []
        fs = self.lake.fs
        for info in sorted(fs.ls(self.lake._path(pdir), detail=True), key=lambda i: i["name"]):
            name = info["name"].rsplit("/", 1)[-1]
            if name.endswith(".parquet"):
                # an object store's ETag changes with the content; a local file's mtime does
                version = info.get("ETag") or modified_at(info)
                out.append([name, int(info.get("size") or 0), version])
        return out

    def _load_state(self) -> dict[str, object]:
        if not self._fs.exists(self.state_path):
            return {}
        with self._fs.open(self.state_path, "r") as fh:
            state = json.load(fh)
        if state.get("intervals") != list(self.intervals):
            log.info(
                "bar intervals changed (%s -> %s): rebuilding all bars",
                state.get("intervals"),
                self.intervals,
            )
            return {}
        return state

    def _save_state(self, state: dict[str, object]) -> None:
        self._fs.makedirs(self.state_path.rsplit("/", 1)[0], exist_ok=True)
        tmp = self.state_path + ".tmp"
        with self._fs.open(tmp, "w") as fh:
            json.dump(state, fh)
        self._fs.mv(tmp, self.state_path)

    def pending(
        self, dates: Sequence[str] | None = None, full: bool = False
    ) -> list[tuple[str, list[list[object]]]]:
        """Trade partitions whose files changed since their bars were built."""
        known = {} if full else self._load_state().get("partitions", {})
        return self._changed(self.lake.partition_dirs("trades", dates), known)

    def _changed(
        self, dirs: Sequence[str], known: dict[str, object]
    ) -> list[tuple[str, list[list[object]]]]:
        out = []
        for pdir in dirs:
            fp = self._fingerprint(pdir)
            if known.get(self._relative(pdir)) != fp:
                out.append((pdir, fp))
        return out

    def _relative(self, pdir: str) -> str:
        """A partition's key in the state file: its path below the lake root."""
        return pdir[len(self.lake.root) :]

    def run(
        self,
        dates: Sequence[str] | None = None,
        full: bool = False,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 64,
    ) -> AggregateResult:
        """Aggregate every changed partition; ``full`` ignores the state and rebuilds everything."""
        t0 = time.perf_counter()
        known = {} if full else dict(self._load_state().get("partitions", {}))
        dirs = self.lake.partition_dirs("trades", dates)
        todo = self._changed(dirs, known)
        total_seen = len(dirs)
        bars_written = {i: 0 for i in self.intervals}
        trades_read = 0
        remote = self.lake.fs if is_remote(self.lake.root) else None  # local: the fast path
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            files = [self.lake.partition_files(pdir) for pdir, _ in chunk]
            results = aggregate_partitions(files, self.intervals, filesystem=remote)
            for (pdir, fp), bars in zip(chunk, results, strict=True):
                day, symbol = _partition_key(pdir)
                window = Window.days(date.fromisoformat(day))
                for interval, table in bars.items():
                    self.lake.write_window(f"bars_{interval}", table, window, symbols=[symbol])
                    bars_written[interval] += table.num_rows
                first = bars[self.intervals[0]]
                trades_read += int(first.column("trades").to_numpy().sum()) if first.num_rows else 0
                known[self._relative(pdir)] = fp
            self._save_state({"intervals": list(self.intervals), "partitions": known})
            if progress is not None:
                progress(min(start + batch_size, len(todo)), len(todo))
        seconds = time.perf_counter() - t0
        log.info(
            "aggregated %d of %d trade partitions (%d trades) into bars %s in %.2fs",
            len(todo),
            total_seen,
            trades_read,
            bars_written,
            seconds,
        )
        return AggregateResult(total_seen, len(todo), trades_read, bars_written, seconds)
