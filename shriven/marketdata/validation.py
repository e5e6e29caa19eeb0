"""Trade validation: every raw row ends up either valid (in the TRADES schema) or quarantined.

Sources hand over raw tables with the TRADES column names and whatever types they could read
(strings from a CSV, NaN prices from a vendor). Validation casts without raising, checks each row
and gives each rejected row every reason it failed, so ``valid + quarantined == input`` always.

Optional columns a source may add: ``_raw`` (the original row as text/JSON, copied into the
quarantine) and ``_row_number`` (the row's line in its file; otherwise its position in the batch).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from shriven.lake.layout import Window
from shriven.marketdata._validation_kernels import ids_rise_per_symbol, out_of_order
from shriven.schemas import QUARANTINE, TRADES, conform


class Reason(StrEnum):
    """Why a row was quarantined."""

    MISSING_TIMESTAMP = "missing_timestamp"
    INVALID_TIMESTAMP = "invalid_timestamp"
    OUTSIDE_WINDOW = "outside_window"
    MISSING_SYMBOL = "missing_symbol"
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_TRADE_ID = "invalid_trade_id"
    INVALID_PRICE = "invalid_price"
    NON_POSITIVE_PRICE = "non_positive_price"
    INVALID_SIZE = "invalid_size"
    NON_POSITIVE_SIZE = "non_positive_size"
    INVALID_SIDE = "invalid_side"
    DUPLICATE_TRADE = "duplicate_trade"
    OUT_OF_ORDER = "out_of_order"


@dataclass(frozen=True)
class ValidationResult:
    """Valid rows (TRADES schema), quarantined rows (QUARANTINE schema) and counts by reason."""

    valid: pa.Table
    quarantine: pa.Table
    input_rows: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def valid_rows(self) -> int:
        """Rows that passed."""
        return self.valid.num_rows

    @property
    def quarantined_rows(self) -> int:
        """Rows that were rejected."""
        return self.quarantine.num_rows


#: Accepted text timestamps: ISO-8601 with T or space, optional fraction, optional Z or offset
#: (no offset means UTC).
_ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
)

_SIDE_WORDS = {"buy": 1, "b": 1, "sell": -1, "s": -1, "unknown": 0, "": 0}


def _timestamp_ns(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Any timestamp representation as Int64 nanoseconds UTC (null where it cannot be read)."""
    if isinstance(dtype, pl.Datetime):
        expr = col.dt.cast_time_unit("ns")
        if dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone("UTC")
        return expr.dt.epoch("ns")
    if dtype.is_integer():
        return col.cast(pl.Int64, strict=False)
    if dtype.is_float():
        return pl.when(col.is_finite()).then(col).otherwise(None).cast(pl.Int64, strict=False)
    if dtype == pl.String:
        text = col.str.strip_chars()
        as_int = text.cast(pl.Int64, strict=False)
        # Explicit formats, not polars' inference: it guesses one format from the first value
        # and would reject every row written differently in the same batch.
        parsed = [
            text.str.to_datetime(fmt, time_unit="ns", time_zone="UTC", strict=False, ambiguous="null")
            .dt.epoch("ns")
            for fmt in _ISO_FORMATS
        ]
        return pl.coalesce(as_int, *parsed)
    return pl.lit(None, dtype=pl.Int64)


def _whole(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Float values that are whole numbers (others null), so an integer cast does not truncate 1.5."""
    return pl.when(col == col.floor()).then(col).otherwise(None) if dtype.is_float() else col


def _timestamps_as_utc_ns(raw: pa.Table) -> pa.Table:
    """Timestamp columns as timestamp[ns, UTC], null where the instant is outside the ns range.

    polars rejects fixed-offset zones ("+05:30"), silently wraps second timestamps it widens to ms
    and panics turning out-of-range values into Python objects; ns UTC has none of these problems.
    """
    for i, f in enumerate(raw.schema):
        if not pa.types.is_timestamp(f.type) or f.type == pa.timestamp("ns", tz="UTC"):
            continue
        factor = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[f.type.unit]
        limit = (2**63 - 1) // factor
        native = raw.column(i).cast(pa.int64())
        in_range = pc.and_(pc.greater_equal(native, -limit), pc.less_equal(native, limit))
        ns = pc.multiply(pc.if_else(in_range, native, pa.scalar(None, pa.int64())), factor)
        raw = raw.set_column(i, f.name, ns.cast(pa.timestamp("ns", tz="UTC")))
    return raw


def _number(col: pl.Expr, dtype: pl.DataType, target: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        col = col.str.strip_chars()
    if target.is_integer():
        col = _whole(col, dtype)
    return col.cast(target, strict=False)


def _side(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        text = col.str.strip_chars().str.to_lowercase()
        word = text.replace_strict(_SIDE_WORDS, default=None, return_dtype=pl.Int64)
        return pl.coalesce(text.cast(pl.Int64, strict=False), word)
    if dtype == pl.Boolean:
        return pl.lit(None, dtype=pl.Int64)
    return _whole(col, dtype).cast(pl.Int64, strict=False)


def validate_trades(
    raw: pa.Table,
    universe: Collection[str],
    source: str,
    ingested_at_ns: int,
    window: Window | None = None,
) -> ValidationResult:
    """Split raw trades into valid rows and quarantined rows with their reasons."""
    missing = [c for c in TRADES.names if c not in raw.column_names]
    if missing:
        raise ValueError(f"trades from {source} lack columns {missing}; expected {TRADES.names}")
    n = raw.num_rows
    given_null = pl.Series(pc.is_null(raw.column("ts")).combine_chunks())
    raw = _timestamps_as_utc_ns(raw)
    df = pl.from_arrow(raw, rechunk=False)
    assert isinstance(df, pl.DataFrame)
    schema = df.schema
    symbols = pl.Enum(sorted(set(universe)))
    code, symbol_missing = _symbol_codes(df.get_column("symbol"), symbols)
    typed = df.select(
        ts=_timestamp_ns(pl.col("ts"), schema["ts"]),
        trade_id=_number(pl.col("trade_id"), schema["trade_id"], pl.Int64),
        price=_number(pl.col("price"), schema["price"], pl.Float64),
        size=_number(pl.col("size"), schema["size"], pl.Float64),
        side=_side(pl.col("side"), schema["side"]),
        _row=pl.col("_row_number").cast(pl.Int64) if "_row_number" in schema else pl.int_range(n, dtype=pl.Int64),
    ).with_columns(code, symbol_missing, _ts_missing(df, given_null))
    in_window = (
        pl.col("ts").is_between(window.start_ns, window.end_ns - 1) if window is not None else pl.lit(True)
    )
    rules: list[tuple[Reason, pl.Expr]] = [
        (Reason.MISSING_TIMESTAMP, pl.col("_ts_missing")),
        (Reason.INVALID_TIMESTAMP, pl.col("ts").is_null() & ~pl.col("_ts_missing")),
        (Reason.OUTSIDE_WINDOW, pl.col("ts").is_not_null() & ~in_window),
        (Reason.MISSING_SYMBOL, pl.col("_symbol_missing")),
        (Reason.UNKNOWN_SYMBOL, pl.col("symbol").is_null() & ~pl.col("_symbol_missing")),
        (Reason.INVALID_TRADE_ID, pl.col("trade_id").is_null()),
        (Reason.INVALID_PRICE, pl.col("price").is_null() | ~pl.col("price").is_finite()),
        (Reason.NON_POSITIVE_PRICE, pl.col("price").is_finite() & (pl.col("price") <= 0)),
        (Reason.INVALID_SIZE, pl.col("size").is_null() | ~pl.col("size").is_finite()),
        (Reason.NON_POSITIVE_SIZE, pl.col("size").is_finite() & (pl.col("size") <= 0)),
        (Reason.INVALID_SIDE, pl.col("side").is_null() | ~pl.col("side").is_in([-1, 0, 1])),
    ]
    flags = typed.select([expr.fill_null(False).alias(reason.value) for reason, expr in rules])
    row_ok = ~pl.any_horizontal(pl.all())
    ok = flags.select(row_ok.alias("ok")).to_series()
    # Duplicates and ordering are judged among rows that are otherwise valid, in arrival order.
    duplicate, late = _arrival_checks(typed, ok)
    flags = flags.with_columns(
        pl.Series(Reason.DUPLICATE_TRADE.value, duplicate),
        pl.Series(Reason.OUT_OF_ORDER.value, late),
    )
    good = flags.select(row_ok.alias("ok")).to_series()
    reasons = {r: int(c) for r, c in flags.sum().row(0, named=True).items() if c}
    valid = _valid_rows(raw, typed, good)
    quarantine = _quarantine_rows(df, typed, flags, ~good, source, ingested_at_ns)
    assert valid.num_rows + quarantine.num_rows == n
    return ValidationResult(valid, quarantine, n, reasons)


def _symbol_codes(raw_symbol: pl.Series, symbols: pl.Enum) -> tuple[pl.Series, pl.Series]:
    """Symbols as the universe's Enum (null: not in the universe) and a missing-symbol flag.

    Surrounding whitespace is forgiven; stripping is done only for rows that need it (it costs more
    than the whole lookup).
    """
    text = raw_symbol.cast(pl.String, strict=False)
    code = text.cast(symbols, strict=False)
    missing = text.is_null()
    retry = code.is_null() & ~missing
    if retry.any():
        rows = retry.arg_true()
        stripped = text.gather(rows).str.strip_chars()
        code = code.scatter(rows, stripped.cast(symbols, strict=False))
        missing = missing.scatter(rows, stripped == "")
    return code.alias("symbol"), missing.alias("_symbol_missing")


def _ts_missing(df: pl.DataFrame, given_null: pl.Series) -> pl.Series:
    """True where the source gave no timestamp at all (as opposed to one that cannot be read).

    A typed source marks an unreadable value with null and keeps its text in ``_raw``; the text
    decides between the two reasons.
    """
    missing = given_null
    if "_raw" in df.columns and missing.any():
        rows = missing.arg_true()
        text = df.get_column("_raw").gather(rows).str.json_path_match("$.ts").str.strip_chars()
        missing = missing.scatter(rows, text.is_null() | (text == ""))
    return missing.alias("_ts_missing")


def _valid_rows(raw: pa.Table, typed: pl.DataFrame, good: pl.Series) -> pa.Table:
    """The good rows in the TRADES schema; straight from the input when it is already typed."""
    already_typed = all(raw.schema.field(f.name).type == f.type for f in TRADES if f.name != "symbol")
    already_typed = already_typed and pa.types.is_string(raw.schema.field("symbol").type)
    if already_typed and bool(good.all()):
        return conform(raw, TRADES)
    valid_df = typed.filter(good).select(
        pl.col("ts").cast(pl.Datetime("ns", "UTC")),
        pl.col("symbol").cast(pl.String),
        "trade_id",
        "price",
        "size",
        pl.col("side").cast(pl.Int8),
    )
    return conform(valid_df.to_arrow(), TRADES)


def _arrival_checks(typed: pl.DataFrame, ok: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Duplicate (symbol, trade_id) and out-of-order flags among ok rows, in arrival order.

    The first occurrence of a trade stays valid. A row is out of order when its time is before
    the latest time of an earlier valid row of its symbol (duplicates excluded).
    """
    n = typed.height
    ok_np = ok.to_numpy().astype(np.bool_, copy=False)
    if n == 0:
        return np.zeros(0, np.bool_), np.zeros(0, np.bool_)
    codes = typed.get_column("symbol").to_physical().fill_null(0).to_numpy().astype(np.int64, copy=False)
    n_codes = int(codes.max()) + 1
    trade_id = typed.get_column("trade_id").fill_null(0).to_numpy()
    ts = typed.get_column("ts").fill_null(0).to_numpy()
    if ids_rise_per_symbol(codes, n_codes, trade_id, ok_np):
        duplicate = np.zeros(n, np.bool_)
    else:  # ids repeat or go back somewhere: find the repeats with a hash of (symbol, id)
        ok_rows = typed.filter(pl.Series(ok_np))
        seen_first = ok_rows.select(pl.struct("symbol", "trade_id").is_first_distinct()).to_series()
        duplicate = np.zeros(n, np.bool_)
        duplicate[np.flatnonzero(ok_np)] = ~seen_first.to_numpy()
    late = out_of_order(codes, n_codes, ts, ok_np & ~duplicate)
    return duplicate, late


def _quarantine_rows(
    df: pl.DataFrame,
    typed: pl.DataFrame,
    flags: pl.DataFrame,
    bad_mask: pl.Series,
    source: str,
    ingested_at_ns: int,
) -> pa.Table:
    """Rejected rows in the QUARANTINE schema: every reason, the raw row, its row number."""
    if not bad_mask.any():
        return QUARANTINE.empty_table()
    bad_flags = flags.filter(bad_mask)
    names = bad_flags.columns
    reason = bad_flags.select(
        pl.concat_str(
            [pl.when(pl.col(c)).then(pl.lit(c)).otherwise(None) for c in names],
            separator=";",
            ignore_nulls=True,
        ).alias("reason")
    ).to_series()
    bad_raw = df.filter(bad_mask)
    if "_raw" in bad_raw.columns:
        raw_text = bad_raw.get_column("_raw").cast(pl.String).to_list()
    else:
        visible = [c for c in bad_raw.columns if not c.startswith("_")]
        raw_text = [json.dumps(row, default=str) for row in bad_raw.select(visible).iter_rows(named=True)]
    symbols = bad_raw.get_column("symbol").cast(pl.String, strict=False).to_list()
    out = pl.DataFrame(
        {
            "ingested_at": pl.Series([ingested_at_ns] * len(raw_text), dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "dataset": ["trades"] * len(raw_text),
            "source": [source] * len(raw_text),
            "reason": reason,
            "row_number": typed.filter(bad_mask).get_column("_row"),
            "symbol": pl.Series(symbols, dtype=pl.String),
            "raw": pl.Series(raw_text, dtype=pl.String),
        }
    )
    return conform(out.to_arrow(), QUARANTINE)
