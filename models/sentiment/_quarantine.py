"""Rejected text rows in the lake's QUARANTINE schema, shared by the importer, text checks and entities."""

from __future__ import annotations

import json
from collections.abc import Sequence

import polars as pl
import pyarrow as pa

from shriven.schemas import NEWS, QUARANTINE, conform

#: Column a splitting step adds to its rejected rows.
REASON_COLUMN = "reason"
#: Dataset name every sentiment-side rejection is filed under (the rows were meant for ``news``).
DATASET = "news"


def empty_news() -> pl.DataFrame:
    """A zero-row frame with the NEWS columns and dtypes."""
    return pl.from_arrow(NEWS.empty_table())  # type: ignore[return-value]


def quarantine_table(
    *,
    ingested_at_ns: int,
    sources: Sequence[str],
    reasons: Sequence[str],
    row_numbers: Sequence[int],
    symbols: Sequence[str | None],
    raws: Sequence[str],
    dataset: str = DATASET,
) -> pa.Table:
    """Rejected rows as a QUARANTINE table, so they land in ``lake/quarantine`` like any other."""
    n = len(reasons)
    columns = {
        "ingested_at": pa.array([ingested_at_ns] * n, pa.int64()).cast(
            QUARANTINE.field("ingested_at").type
        ),
        "dataset": pa.array([dataset] * n, pa.string()),
        "source": pa.array(list(sources), pa.string()),
        "reason": pa.array(list(reasons), pa.string()),
        "row_number": pa.array(list(row_numbers), pa.int64()),
        "symbol": pa.array(list(symbols), pa.string()),
        "raw": pa.array(list(raws), pa.string()),
    }
    return conform(pa.table(columns), QUARANTINE)


def frame_quarantine(
    rejected: pl.DataFrame, *, ingested_at_ns: int, dataset: str = DATASET
) -> pa.Table:
    """A rejected frame (with a ``reason`` column) as QUARANTINE rows; the other columns become ``raw``.

    ``row_number`` is the frame's ``_row_number`` column when present, else the row's position.
    """
    if REASON_COLUMN not in rejected.columns:
        raise ValueError(f"rejected rows need a {REASON_COLUMN!r} column, got {rejected.columns}")
    payload = [c for c in rejected.columns if c != REASON_COLUMN]
    rows = rejected.select(payload).to_dicts()
    raws = [json.dumps(row, default=str, ensure_ascii=False) for row in rows]
    sources = [str(row.get("source") or "") for row in rows]
    symbols = [row.get("symbol") if isinstance(row.get("symbol"), str) else None for row in rows]
    if "_row_number" in rejected.columns:
        numbers = [int(v) for v in rejected.get_column("_row_number").to_list()]
    else:
        numbers = list(range(rejected.height))
    return quarantine_table(
        ingested_at_ns=ingested_at_ns,
        sources=sources,
        reasons=[str(r) for r in rejected.get_column(REASON_COLUMN).to_list()],
        row_numbers=numbers,
        symbols=symbols,
        raws=raws,
        dataset=dataset,
    )
