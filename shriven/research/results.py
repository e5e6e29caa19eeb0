"""Where a sweep's results live: one Parquet file per finished chunk of parameter sets.

``lake/sweep_results/date=<day it started>/sweep=<id>/part-<chunk>.parquet``, each published
atomically the moment its chunk finishes (on a local disk or an object store). So a sweep whose
worker dies loses only the chunks in flight, and running it again under the same id evaluates
only the chunks that have no file yet (chunks are numbered over the expanded grid, which is
deterministic). ``_sweep.json`` beside the parts records what was swept, so a resume with other
inputs is refused instead of mixed in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shriven.lake.layout import check_partition_value, partition_dir
from shriven.lake.storage import lake_filesystem, publish_file
from shriven.schemas import SWEEP_RESULTS, conform

__all__ = ["SweepStore"]

DATASET = "sweep_results"
MANIFEST = "_sweep.json"
_PART = re.compile(r"^part-(\d{6})\.parquet$")


class SweepStore:
    """The result files of one sweep id under a lake root (a local path or an fsspec URL)."""

    def __init__(self, lake_root: str, sweep_id: str, *, started: date) -> None:
        check_partition_value("sweep", sweep_id)
        self.fs, root = lake_filesystem(lake_root)
        existing = self.fs.glob(f"{root.rstrip('/')}/{DATASET}/date=*/sweep={sweep_id}")
        # a resumed sweep keeps the partition of the day it started
        self.directory: str = existing[0] if existing else partition_dir(
            root, DATASET, {"date": started.isoformat(), "sweep": sweep_id}
        )
        self.sweep_id = sweep_id

    def begin(self, manifest: Mapping[str, Any]) -> None:
        """Record what this sweep evaluates; a resume must ask for exactly the same."""
        path = f"{self.directory}/{MANIFEST}"
        text = json.dumps(manifest, sort_keys=True, default=str)
        if self.fs.exists(path):
            if json.loads(self.fs.cat_file(path)) != json.loads(text):
                raise ValueError(
                    f"sweep {self.sweep_id!r} already exists with other inputs ({path}); "
                    "choose another sweep id to sweep something else"
                )
            return
        publish_file(self.fs, path, lambda fh: fh.write(text.encode()), sync=True)

    def finished(self) -> set[int]:
        """Chunks whose results are stored."""
        return {int(m.group(1)) for p in self._parts() if (m := _PART.match(p.rsplit("/", 1)[-1]))}

    def write(self, chunk: int, table: pa.Table) -> str:
        """Publish one finished chunk's rows atomically (and durably on a local disk); returns its path."""
        path = f"{self.directory}/part-{chunk:06d}.parquet"
        rows = conform(table, SWEEP_RESULTS)
        publish_file(self.fs, path, lambda fh: pq.write_table(rows, fh), sync=True)
        return path

    def read(self) -> pa.Table:
        """Every finished row, by ``set_id``."""
        parts = self._parts()
        if not parts:
            return SWEEP_RESULTS.empty_table()
        tables = []
        for p in parts:
            with self.fs.open(p, "rb") as fh:
                tables.append(conform(pq.read_table(fh), SWEEP_RESULTS))
        return pa.concat_tables(tables).sort_by("set_id")

    def _parts(self) -> list[str]:
        try:
            names = self.fs.ls(self.directory, detail=False)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _PART.match(n.rsplit("/", 1)[-1]))
