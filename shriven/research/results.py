"""Where a sweep's results live: one Parquet file per finished chunk of parameter sets.

``lake/sweep_results/date=<day it started>/sweep=<id>/part-<chunk>.parquet``, each written
atomically the moment its chunk finishes. So a sweep whose worker dies loses only the chunks in
flight, and running it again under the same id evaluates only the chunks that have no file yet
(chunks are numbered over the expanded grid, which is deterministic). ``_sweep.json`` beside the
parts records what was swept, so a resume with other inputs is refused instead of mixed in.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shriven.durable import write_atomic, write_bytes_atomic
from shriven.lake.layout import check_partition_value, partition_dir
from shriven.schemas import SWEEP_RESULTS, conform

__all__ = ["SweepStore"]

DATASET = "sweep_results"
MANIFEST = "_sweep.json"
_PART = re.compile(r"^part-(\d{6})\.parquet$")


class SweepStore:
    """The result files of one sweep id under a local lake root."""

    def __init__(self, lake_root: str, sweep_id: str, *, started: date) -> None:
        check_partition_value("sweep", sweep_id)
        existing = glob.glob(os.path.join(lake_root, DATASET, "date=*", f"sweep={sweep_id}"))
        # a resumed sweep keeps the partition of the day it started
        self.directory = Path(existing[0]) if existing else Path(
            partition_dir(lake_root, DATASET, {"date": started.isoformat(), "sweep": sweep_id})
        )
        self.sweep_id = sweep_id

    def begin(self, manifest: Mapping[str, Any]) -> None:
        """Record what this sweep evaluates; a resume must ask for exactly the same."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / MANIFEST
        text = json.dumps(manifest, sort_keys=True, default=str)
        if path.exists():
            if json.loads(path.read_text()) != json.loads(text):
                raise ValueError(
                    f"sweep {self.sweep_id!r} already exists with other inputs ({path}); "
                    "choose another sweep id to sweep something else"
                )
            return
        write_bytes_atomic(path, text.encode())

    def finished(self) -> set[int]:
        """Chunks whose results are on disk."""
        if not self.directory.is_dir():
            return set()
        return {int(m.group(1)) for n in os.listdir(self.directory) if (m := _PART.match(n))}

    def write(self, chunk: int, table: pa.Table) -> str:
        """Write one finished chunk's rows atomically; returns the file's path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"part-{chunk:06d}.parquet"
        rows = conform(table, SWEEP_RESULTS)
        write_atomic(path, lambda fh: pq.write_table(rows, fh))
        return str(path)

    def read(self) -> pa.Table:
        """Every finished row, by ``set_id``."""
        parts = sorted(self.directory.glob("part-*.parquet")) if self.directory.is_dir() else []
        if not parts:
            return SWEEP_RESULTS.empty_table()
        table = pa.concat_tables([conform(pq.read_table(p), SWEEP_RESULTS) for p in parts])
        return table.sort_by("set_id")
