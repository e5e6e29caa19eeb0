"""Helpers of the lake tests: small trade and quarantine tables, exact row comparison."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pyarrow as pa

from shriven.lake.layout import day_start_ns
from shriven.schemas import QUARANTINE, TRADES

DAY = date(2024, 1, 2)
DAY_NS = day_start_ns(DAY)
MINUTE = 60_000_000_000
HOUR = 60 * MINUTE

TradeRow = tuple[int, str, int]  # (ts_ns, symbol, trade_id); price/size/side derive from them


def trades_table(rows: Iterable[TradeRow]) -> pa.Table:
    """A TRADES table from (ts_ns, symbol, trade_id) rows; other columns derive from the id."""
    rows = list(rows)
    return pa.table(
        {
            "ts": pa.array([r[0] for r in rows], pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "symbol": pa.array([r[1] for r in rows], pa.string()),
            "trade_id": pa.array([r[2] for r in rows], pa.int64()),
            "price": pa.array([100.0 + r[2] / 100 for r in rows], pa.float64()),
            "size": pa.array([1.0 + r[2] % 7 for r in rows], pa.float64()),
            "side": pa.array([(r[2] % 3) - 1 for r in rows], pa.int8()),
        },
        schema=TRADES,
    )


def quarantine_table(n: int, ingested_at_ns: int = DAY_NS, tag: str = "x") -> pa.Table:
    """A QUARANTINE table of ``n`` rows."""
    return pa.table(
        {
            "ingested_at": pa.array([ingested_at_ns + i for i in range(n)], pa.int64()).cast(
                pa.timestamp("ns", tz="UTC")
            ),
            "dataset": ["trades"] * n,
            "source": ["synthetic"] * n,
            "reason": ["invalid_price"] * n,
            "row_number": pa.array(range(n), pa.int64()),
            "symbol": ["ACME"] * n,
            "raw": [f'{{"tag": "{tag}", "i": {i}}}' for i in range(n)],
        },
        schema=QUARANTINE,
    )


def row_set(table: pa.Table) -> list[tuple]:
    """Rows as sorted tuples, timestamps as int ns (exact comparison, no float or tz rounding)."""
    cols = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        cols.append(col.to_pylist())
    return sorted(zip(*cols, strict=True))
