"""Replay trades from files: ShrivenQuant CSV/Parquet and Binance public-data dumps.

Layouts (details and examples in ``docs/replay-format.md``):

* ``"shriven"``: a CSV whose first line is a header naming at least ``ts,symbol,trade_id,price,
  size,side`` (any order, extra columns allowed), or a Parquet file with those columns.
* ``"binance"``: a data.binance.vision dump (``BTCUSDT-trades-2024-01-01.csv`` or
  ``…-aggTrades-…``, plain or zipped), headerless (spot) or with a header (futures). Trades
  dumps have 7 columns, aggTrades dumps 8; the layout is detected by the column count (or by
  the header names). The symbol is ``symbol=`` or the file name's prefix.

Files may be plain, gzip- or zip-compressed (one member) and local or any URI pyarrow's
filesystems open (``s3://…``); the format is sniffed from the content, not the extension.

Raw-table contract (what validation receives in ``MarketBatch.trades``)
-----------------------------------------------------------------------
:data:`RAW_TRADES`: the TRADES columns with their lake types, all **nullable**, plus two
bookkeeping columns that :func:`shriven.schemas.conform` drops:

===============  ========================  =================================================
column           type                      meaning
===============  ========================  =================================================
``ts``           timestamp[ns, tz=UTC]     null: missing or not parseable (see ``_raw``)
``symbol``       string                    as written (not trimmed, not checked)
``trade_id``     int64                     null: missing or not an integer
``price``        float64                   null: missing or not a number; NaN/0/-1 kept as is
``size``         float64                   null: missing or not a number; negatives kept
``side``         int8                      1/-1/0 from 1/-1/0/buy/sell; any other integer
                                           kept as is (validation checks the domain);
                                           null: missing or not understood
``_row_number``  int64 (not null)          CSV: physical line number, 1-based, header = 1;
                                           Parquet: 0-based row index in the file
``_raw``         string (not null), JSON   the original fields as text, keyed by the file's
                                           column names, plus ``"_file"``: the file path
===============  ========================  =================================================

Nothing is fixed or dropped: NaN, zero or negative prices, negative sizes, unknown symbols,
duplicates and out-of-order rows come out exactly as read, in file order; validation casts
strictly and quarantines. A null in a typed column with a non-empty field in ``_raw`` means
"unparseable". Lines that cannot be split into the header's number of fields (wrong field
count, broken quoting, invalid UTF-8) go straight to ``MarketBatch.quarantine`` with reason
``malformed_line: …``, ``row_number`` = their line number and ``raw`` = JSON
``{"_file": path, "line": text}``. Blank lines are not data lines and are skipped. So each
data line of a file yields exactly one row, in ``trades`` or in ``quarantine``.

Timestamps (``ts`` of the shriven layout, ``time`` of Binance dumps)
--------------------------------------------------------------------
* An integer (optional sign, digits only) is an epoch count whose unit is told by magnitude:
  ``|v| < 1e11`` seconds, ``< 1e14`` milliseconds, ``< 1e17`` microseconds, else nanoseconds.
  (So every date between 1973 and 2262 is read right in each unit; values out of int64-ns
  range become null.)
* Otherwise ISO-8601: ``YYYY-MM-DD[T or space]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]``;
  no offset means UTC; an offset is converted to UTC.
* Parquet timestamp columns are converted to UTC (naive ones are taken as UTC).

Windows
-------
``fetch(start_ns, end_ns, symbols)`` returns the rows whose ts lies in ``[start_ns, end_ns)``.
A row or malformed line without a parseable ts belongs to the window of the nearest earlier
parseable ts of its file (or, at the top of the file, the nearest later one), so windows that
partition time also partition the file: no row is lost and none is returned twice.
``symbols`` keeps rows with those symbols and rows whose symbol is missing (empty); the rows
it leaves out are counted by symbol in a warning on the ``shriven.marketdata.replay`` logger.
Pass no symbols to replay everything, so that validation sees (and quarantines) symbols
outside the universe too. Malformed lines have no symbol and come with every symbol filter.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shriven.marketdata.source import MarketBatch
from shriven.schemas import QUARANTINE, RAW_TRADES, SIDE_BUY, SIDE_SELL, TIMESTAMP, TRADES

logger = logging.getLogger("shriven.marketdata.replay")

Layout = Literal["shriven", "binance"]

#: Columns a shriven-layout file must have.
SHRIVEN_COLUMNS = tuple(TRADES.names)
#: Columns of a headerless Binance spot trades dump (time in ms, or µs from 2025).
BINANCE_TRADES_COLUMNS = (
    "id",
    "price",
    "qty",
    "quote_qty",
    "time",
    "is_buyer_maker",
    "is_best_match",
)
#: Columns of a headerless Binance spot aggTrades dump.
BINANCE_AGG_TRADES_COLUMNS = (
    "agg_trade_id",
    "price",
    "qty",
    "first_trade_id",
    "last_trade_id",
    "time",
    "is_buyer_maker",
    "is_best_match",
)
_BINANCE_ALIASES = {"quantity": "qty", "transact_time": "time", "a": "agg_trade_id"}
_BINANCE_FILE_NAME = re.compile(
    r"^(?P<symbol>[A-Za-z0-9]+)-(?:trades|aggTrades)-\d{4}-\d{2}(?:-\d{2})?$"
)

_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"
_ISO_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"
#: A field wholly wrapped in double quotes, inner quotes doubled (RFC 4180).
_QUOTED = r'^"(?:[^"]|"")*"$'


@dataclass(frozen=True)
class _ParsedFile:
    path: str
    trades: pa.Table  #: RAW_TRADES
    anchor_ns: np.ndarray  #: window key per trades row (int64)
    malformed: pa.Table  #: row_number, reason, raw, anchor_ns


class FileReplaySource:
    """A :class:`~shriven.marketdata.source.MarketDataSource` over trade files (see module doc).

    Files are read once, on the first :meth:`fetch` or :meth:`time_range`, and kept in memory.
    ``clock`` returns wall-clock nanoseconds since the epoch (UTC) and stamps quarantine rows.
    ``symbol`` names the instrument of Binance dumps whose file name does not.
    """

    name = "file"
    live = False

    def __init__(
        self,
        paths: Sequence[str],
        layout: Layout = "shriven",
        *,
        symbol: str | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("FileReplaySource needs at least one file")
        if layout not in ("shriven", "binance"):
            raise ValueError(f"unknown replay layout {layout!r}; known: 'shriven', 'binance'")
        if symbol is not None and layout != "binance":
            raise ValueError("symbol= applies to the binance layout only (shriven files carry it)")
        self.paths = tuple(str(p) for p in paths)
        self.layout: Layout = layout
        self.symbol = symbol
        self._clock = clock
        self._parsed: list[_ParsedFile] | None = None

    def fetch(self, start_ns: int, end_ns: int, symbols: Sequence[str]) -> MarketBatch:
        """The rows of all files in ``[start_ns, end_ns)`` for the symbols (all if empty), raw."""
        if end_ns < start_ns:
            raise ValueError(f"window end {end_ns} is before its start {start_ns}")
        wanted = pa.array(sorted(set(symbols)), pa.string())
        trades_parts: list[pa.Table] = []
        quarantine_parts: list[pa.Table] = []
        for parsed in self._files():
            in_window = (parsed.anchor_ns >= start_ns) & (parsed.anchor_ns < end_ns)
            if len(wanted):
                symbol = parsed.trades.column("symbol")
                keep_symbol = pc.fill_null(
                    pc.or_(
                        pc.is_in(symbol, value_set=wanted),
                        pc.equal(pc.utf8_trim_whitespace(symbol), ""),
                    ),
                    True,
                ).to_numpy(zero_copy_only=False)
                _log_left_out(parsed, in_window & ~keep_symbol)
                in_window &= keep_symbol
            trades_parts.append(parsed.trades.filter(pa.array(in_window)))
            anchors = parsed.malformed.column("anchor_ns").to_numpy()
            bad = parsed.malformed.filter(pa.array((anchors >= start_ns) & (anchors < end_ns)))
            if bad.num_rows:
                quarantine_parts.append(bad)
        trades = pa.concat_tables(trades_parts) if trades_parts else RAW_TRADES.empty_table()
        return MarketBatch(trades=trades, quarantine=self._quarantine(quarantine_parts))

    def time_range(self) -> tuple[int, int]:
        """Smallest and largest parseable ts of all files, in ns (both inclusive)."""
        lows, highs = [], []
        for parsed in self._files():
            ts = parsed.trades.column("ts").cast(pa.int64())
            lows.append(pc.min(ts).as_py())
            highs.append(pc.max(ts).as_py())
        return min(lows), max(highs)

    def _files(self) -> list[_ParsedFile]:
        if self._parsed is None:
            self._parsed = [_parse_file(p, self.layout, self.symbol) for p in self.paths]
        return self._parsed

    def _quarantine(self, parts: list[pa.Table]) -> pa.Table:
        if not parts:
            return QUARANTINE.empty_table()
        bad = pa.concat_tables(parts)
        n = bad.num_rows
        return pa.table(
            {
                "ingested_at": pa.array([self._clock()] * n, pa.int64()).cast(TIMESTAMP),
                "dataset": pa.array(["trades"] * n, pa.string()),
                "source": pa.array([self.name] * n, pa.string()),
                "reason": bad.column("reason"),
                "row_number": bad.column("row_number"),
                "symbol": pa.nulls(n, pa.string()),
                "raw": bad.column("raw"),
            },
            schema=QUARANTINE,
        )


def _log_left_out(parsed: _ParsedFile, left_out: np.ndarray) -> None:
    """Say which rows of the window the symbols filter left out: nothing vanishes unnoticed."""
    if not left_out.any():
        return
    counts = pc.value_counts(parsed.trades.column("symbol").filter(pa.array(left_out)))
    by_symbol = {c["values"]: c["counts"] for c in counts.to_pylist()}
    logger.warning(
        "%s: %d rows in the window left out by the symbols filter (not asked for): %s",
        parsed.path,
        int(left_out.sum()),
        dict(sorted(by_symbol.items())[:20]),
    )


# --------------------------------------------------------------------------------------------
# reading a file


def _parse_file(path: str, layout: Layout, symbol: str | None) -> _ParsedFile:
    data = _read_bytes(path)
    if not data[:4096].strip() and not data.strip():
        raise ValueError(f"{path}: empty file")
    malformed = _Malformed(path)
    if data[:4] == b"PAR1":
        if layout != "shriven":
            raise ValueError(f"{path}: a Parquet file, but the {layout} layout is CSV only")
        frame, row_numbers, raw = _parquet_frame(data, path)
    else:
        lines = _CsvLines.read(data, malformed)
        if layout == "shriven":
            names = _shriven_header(lines, path)
        else:
            names = _binance_header(lines, path)
        if lines.size == 0 and not malformed.row_numbers:
            raise ValueError(f"{path}: no data lines")
        frame, row_numbers = lines.split(names)
        if frame.height == 0:
            raise ValueError(
                f"{path}: no readable rows: all {len(malformed.row_numbers)} data lines are "
                f"malformed (first: {malformed.reasons[0]})"
            )
        raw = _raw_json(frame, path)
        if layout == "binance":
            frame = _binance_to_shriven(frame, _binance_symbol(path, symbol))
    trades = _typed_trades(frame, row_numbers, raw)
    if trades.column("ts").null_count == trades.num_rows:
        raise ValueError(
            f"{path}: no row has a parseable ts (first: {frame.get_column('ts')[0]!r}); "
            "see docs/replay-format.md for the accepted timestamps"
        )
    anchor_ns, malformed_anchor_ns = _anchors(trades, malformed)
    return _ParsedFile(path, trades, anchor_ns, malformed.table(malformed_anchor_ns))


def _read_bytes(path: str) -> bytes:
    """The file's bytes, unzipped (one-member zip) or gunzipped when compressed."""
    if "://" in path:
        from pyarrow import fs as pafs

        filesystem, inner = pafs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner) as stream:
            data = stream.read()
    else:
        data = Path(path).read_bytes()
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise ValueError(
                        f"{path}: a zip archive must hold exactly one file, it holds {len(members)}"
                    )
                return archive.read(members[0])
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path}: corrupt zip archive: {exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip file: {exc}") from None
    return data


@dataclass
class _Malformed:
    """Lines of one file that could not be split into fields."""

    path: str
    row_numbers: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)

    def add(self, row_numbers: Sequence[int], reasons: Sequence[str], texts: Sequence[str]) -> None:
        self.row_numbers.extend(int(n) for n in row_numbers)
        self.reasons.extend(reasons)
        self.raws.extend(
            json.dumps({"_file": self.path, "line": t}, ensure_ascii=False) for t in texts
        )

    def table(self, anchor_ns: np.ndarray) -> pa.Table:
        """Row number, reason, raw JSON and window key of each line, in line order."""
        order = pa.array(np.argsort(np.asarray(self.row_numbers, np.int64), kind="stable"))
        return pa.table(
            {
                "row_number": pa.array(self.row_numbers, pa.int64()).take(order),
                "reason": pa.array(self.reasons, pa.string()).take(order),
                "raw": pa.array(self.raws, pa.string()).take(order),
                "anchor_ns": pa.array(anchor_ns, pa.int64()).take(order),
            }
        )


class _CsvLines:
    """The non-blank lines of a CSV file with their physical line numbers (1-based).

    Lines are cut at line feeds (a carriage return before one is dropped) with numpy over the
    file's bytes,
    zero-copy into an Arrow array, so every physical line keeps its number whatever it holds.
    (pyarrow's CSV reader with an ``invalid_row_handler`` was tried and rejected: with quoting
    on, one unbalanced quote swallows the following lines into one bad row; with threads on, the
    handler is not told row numbers; and it fails outright on a bad row that is not UTF-8.)
    Fields are split and unquoted afterwards, vectorised, by :meth:`split`.
    """

    def __init__(self, lines: pa.Array, numbers: np.ndarray, malformed: _Malformed) -> None:
        self.lines = lines
        self.numbers = numbers
        self.malformed = malformed

    @property
    def size(self) -> int:
        """Number of lines left."""
        return len(self.lines)

    @classmethod
    def read(cls, data: bytes, malformed: _Malformed) -> _CsvLines:
        """Split ``data`` into lines; lines that are not UTF-8 go to ``malformed``."""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        offsets = np.concatenate([[0], newlines + 1, [len(data)]]).astype(np.int64)
        if offsets[-2] == len(data):
            offsets = offsets[:-1]  # the file ends with a newline: no empty line after it
        count = len(offsets) - 1
        lines = pa.Array.from_buffers(
            pa.large_binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        numbers = np.arange(1, count + 1, dtype=np.int64)
        text, numbers = _decode_utf8(lines, numbers, malformed)
        text = pc.utf8_rtrim(text, characters="\r\n")
        blank = pc.or_(pc.equal(pc.binary_length(text), 0), pc.utf8_is_space(text))
        non_blank = pc.invert(blank).to_numpy(zero_copy_only=False)
        return cls(text.filter(pa.array(non_blank)), numbers[non_blank], malformed)

    def first(self) -> str | None:
        """The first line (the header candidate), or None if there is none."""
        return self.lines[0].as_py() if self.size else None

    def drop_first(self) -> None:
        """Drop the first line (a header)."""
        self.lines, self.numbers = self.lines[1:], self.numbers[1:]

    def field_counts(self) -> np.ndarray:
        """Number of comma-separated fields of each line."""
        return (_series(self.lines).str.count_matches(",", literal=True) + 1).to_numpy()

    def split(self, names: Sequence[str]) -> tuple[pl.DataFrame, np.ndarray]:
        """String columns ``names`` of the well-formed lines and their line numbers.

        Lines with another number of fields, or with a field that has a quote but is not
        wholly quoted (RFC 4180, inner quotes doubled), go to ``malformed``.
        """
        expected = len(names)
        text = _series(self.lines)
        counts = (text.str.count_matches(",", literal=True) + 1).to_numpy()
        has_quote = text.str.contains('"', literal=True).to_numpy()
        wrong = np.flatnonzero(counts != expected)
        self.malformed.add(
            self.numbers[wrong],
            [
                f"malformed_line: {'unparseable quoting, ' if has_quote[i] else ''}"
                f"expected {expected} fields, got {counts[i]}"
                for i in wrong
            ],
            text.gather(wrong).to_list(),
        )
        ok = counts == expected
        fields = (
            text.filter(pl.Series(ok))
            .str.split_exact(",", expected - 1)
            .struct.rename_fields(list(names))
            .struct.unnest()
        )
        numbers = self.numbers[ok]
        quoted_rows = np.flatnonzero(has_quote[ok])
        if len(quoted_rows):
            fields, numbers = self._unquote(
                fields, numbers, quoted_rows, text.filter(pl.Series(ok))
            )
        return fields, numbers

    def _unquote(
        self, fields: pl.DataFrame, numbers: np.ndarray, rows: np.ndarray, text: pl.Series
    ) -> tuple[pl.DataFrame, np.ndarray]:
        """Unquote the fields of the lines ``rows``; lines with a stray quote go to ``malformed``."""
        subset = fields[rows]
        stray = pl.Series(np.zeros(len(rows), dtype=bool))
        for name in subset.columns:
            column = subset.get_column(name)
            quoted = column.str.contains('"', literal=True)
            stray = stray | (quoted & ~column.str.contains(_QUOTED))
            unquoted = column.str.replace(r'^"(.*)"$', "${1}").str.replace_all(
                '""', '"', literal=True
            )
            subset = subset.with_columns(unquoted.zip_with(quoted, column).alias(name))
        bad = stray.to_numpy()
        self.malformed.add(
            numbers[rows[bad]],
            ["malformed_line: unparseable quoting"] * int(bad.sum()),
            text.gather(rows[bad]).to_list(),
        )
        columns = []
        for name in fields.columns:
            column = fields.get_column(name).clone()
            column.scatter(rows, subset.get_column(name))
            columns.append(column)
        fields = pl.DataFrame(columns)
        keep = np.ones(fields.height, dtype=bool)
        keep[rows[bad]] = False
        return fields.filter(pl.Series(keep)), numbers[keep]


def _series(array: pa.Array) -> pl.Series:
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series


def _decode_utf8(
    lines: pa.Array, numbers: np.ndarray, malformed: _Malformed
) -> tuple[pa.Array, np.ndarray]:
    try:
        return lines.cast(pa.large_string()), numbers
    except pa.ArrowInvalid:
        pass
    keep = np.ones(len(lines), dtype=bool)
    good: list[str] = []
    bad_text: list[str] = []
    for i, raw in enumerate(lines.to_pylist()):
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            keep[i] = False
            bad_text.append(raw.decode("utf-8", "backslashreplace").rstrip("\r\n"))
    bad_numbers = numbers[~keep]
    malformed.add(bad_numbers, ["malformed_line: invalid UTF-8"] * len(bad_numbers), bad_text)
    return pa.array(good, pa.large_string()), numbers[keep]


def _split_header(line: str) -> list[str]:
    return [_unquote(f.strip()).strip() for f in line.lstrip("\ufeff").split(",")]


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _shriven_header(lines: _CsvLines, path: str) -> list[str]:
    first = lines.first()
    if first is None:
        raise ValueError(f"{path}: no header line (not a readable CSV)")
    header = [h.lower() for h in _split_header(first)]
    missing = [c for c in SHRIVEN_COLUMNS if c not in header]
    if missing or len(set(header)) != len(header):
        raise ValueError(
            f"{path}: not a shriven trades CSV: its first line {first[:120]!r} is not a header "
            f"naming {','.join(SHRIVEN_COLUMNS)} once each (missing: {missing})"
        )
    lines.drop_first()
    return header


def _binance_header(lines: _CsvLines, path: str) -> list[str]:
    first = lines.first()
    if first is None:
        raise ValueError(f"{path}: no lines (not a readable CSV)")
    head = [_BINANCE_ALIASES.get(n, n) for n in (_snake(h) for h in _split_header(first))]
    if all(re.fullmatch(r"[a-z_][a-z0-9_]*", h) for h in head) and "price" in head:
        names = head
        lines.drop_first()
    else:
        counts = lines.field_counts()
        values, frequency = np.unique(counts, return_counts=True)
        usual = int(values[np.argmax(frequency)])
        if usual == len(BINANCE_TRADES_COLUMNS):
            names = list(BINANCE_TRADES_COLUMNS)
        elif usual == len(BINANCE_AGG_TRADES_COLUMNS):
            names = list(BINANCE_AGG_TRADES_COLUMNS)
        else:
            raise ValueError(
                f"{path}: not a Binance trades/aggTrades dump: most lines have {usual} fields, "
                f"expected {len(BINANCE_TRADES_COLUMNS)} (trades) or "
                f"{len(BINANCE_AGG_TRADES_COLUMNS)} (aggTrades)"
            )
    id_column = "id" if "id" in names else "agg_trade_id"
    missing = [c for c in (id_column, "price", "qty", "time", "is_buyer_maker") if c not in names]
    if missing or len(set(names)) != len(names):
        raise ValueError(
            f"{path}: not a Binance trades/aggTrades dump: columns {names} (missing: {missing})"
        )
    return names


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _binance_symbol(path: str, symbol: str | None) -> str:
    if symbol is not None:
        return symbol
    stem = PurePosixPath(path.replace("\\", "/")).name
    for suffix in (".gz", ".zip", ".csv"):
        stem = stem.removesuffix(suffix)
    match = _BINANCE_FILE_NAME.match(stem)
    if match is None:
        raise ValueError(
            f"{path}: cannot tell the symbol from the file name (expected like "
            "BTCUSDT-trades-2024-01-01.csv); pass symbol="
        )
    return match["symbol"].upper()


def _binance_to_shriven(frame: pl.DataFrame, symbol: str) -> pl.DataFrame:
    id_column = "id" if "id" in frame.columns else "agg_trade_id"
    maker = pl.col("is_buyer_maker").str.strip_chars().str.to_lowercase()
    return frame.select(
        pl.col("time").alias("ts"),
        pl.lit(symbol, pl.String).alias("symbol"),
        pl.col(id_column).alias("trade_id"),
        pl.col("price"),
        pl.col("qty").alias("size"),
        # the buyer was the maker: the seller hit the bid
        pl.when(maker == "true")
        .then(pl.lit(str(SIDE_SELL)))
        .when(maker == "false")
        .then(pl.lit(str(SIDE_BUY)))
        .otherwise(pl.lit(None, pl.String))
        .alias("side"),
    )


def _parquet_frame(data: bytes, path: str) -> tuple[pl.DataFrame, np.ndarray, pl.Series]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: unreadable Parquet file: {exc}") from None
    missing = [c for c in SHRIVEN_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: Parquet file lacks the trade columns {missing}")
    if table.num_rows == 0:
        raise ValueError(f"{path}: Parquet file has no rows")
    frame = pl.DataFrame(pl.from_arrow(table))
    return frame, np.arange(table.num_rows, dtype=np.int64), _raw_json(frame, path)


# --------------------------------------------------------------------------------------------
# typing the raw fields (never raising: what does not parse becomes null)


def _typed_trades(frame: pl.DataFrame, row_numbers: np.ndarray, raw: pl.Series) -> pa.Table:
    typed = pl.DataFrame(
        [
            to_ts_ns(frame.get_column("ts")).cast(pl.Datetime("ns", "UTC")).alias("ts"),
            _to_string(frame.get_column("symbol")).alias("symbol"),
            _to_int(frame.get_column("trade_id"), pl.Int64).alias("trade_id"),
            _to_float(frame.get_column("price")).alias("price"),
            _to_float(frame.get_column("size")).alias("size"),
            _to_side(frame.get_column("side")).alias("side"),
            pl.Series("_row_number", row_numbers, pl.Int64),
            raw.alias("_raw"),
        ]
    )
    return typed.to_arrow().cast(RAW_TRADES)


def _to_string(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.String else series.cast(pl.String, strict=False)


def _to_float(series: pl.Series) -> pl.Series:
    if series.dtype.is_numeric():
        return series.cast(pl.Float64, strict=False)
    return _to_string(series).str.strip_chars().cast(pl.Float64, strict=False)


def _to_int(series: pl.Series, dtype: type[pl.DataType]) -> pl.Series:
    if series.dtype.is_integer():
        return series.cast(dtype, strict=False)
    if series.dtype.is_float():
        whole = series.cast(dtype, strict=False)
        # a float that is not a whole number is not an id: null, never truncated
        exact = (whole.cast(pl.Float64) == series).fill_null(False)
        return whole.zip_with(exact, pl.Series([None] * len(series), dtype=dtype))
    return _to_string(series).str.strip_chars().cast(dtype, strict=False)


def _to_side(series: pl.Series) -> pl.Series:
    if series.dtype.is_numeric():
        return _to_int(series, pl.Int8)
    text = _to_string(series).str.strip_chars().str.to_lowercase()
    words = text.replace_strict(
        {"buy": SIDE_BUY, "b": SIDE_BUY, "sell": SIDE_SELL, "s": SIDE_SELL},
        default=None,
        return_dtype=pl.Int8,
    )
    return words.fill_null(text.cast(pl.Int8, strict=False))


def to_ts_ns(series: pl.Series) -> pl.Series:
    """Timestamps to Int64 ns since the epoch, UTC; null where unparseable (module doc rules)."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            series = series.dt.replace_time_zone("UTC")
        return series.dt.convert_time_zone("UTC").dt.epoch("ns")
    if dtype.is_integer() or dtype.is_float():
        return epoch_to_ns(_to_int(series, pl.Int64))
    text = _to_string(series).str.strip_chars()
    result = epoch_to_ns(text.cast(pl.Int64, strict=False))
    rest = np.flatnonzero((result.is_null() & text.is_not_null()).to_numpy())
    if len(rest):  # ISO-8601, parsed only where the integer rule did not apply
        iso = (
            text.gather(rest)
            .str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT]", "${1}T")
            .str.replace(r"[zZ]$", "+00:00")
            .str.replace(r"([+-]\d{2})$", "${1}:00")
        )
        aware = iso.str.to_datetime(_ISO_FORMAT, time_unit="ns", time_zone="UTC", strict=False)
        naive = iso.str.to_datetime(_ISO_NAIVE_FORMAT, time_unit="ns", strict=False)
        parsed = aware.fill_null(naive.dt.replace_time_zone("UTC")).dt.epoch("ns")
        result = result.clone()
        result.scatter(rest, parsed)
    return result


def epoch_to_ns(values: pl.Series) -> pl.Series:
    """Epoch integers to ns, the unit told by magnitude: s < 1e11 <= ms < 1e14 <= µs < 1e17 <= ns.

    Values whose nanoseconds do not fit in int64 become null.
    """
    v = pl.col("v")
    magnitude = v.abs()
    factor = (
        pl.when(magnitude >= 10**17)
        .then(pl.lit(1, pl.Int64))
        .when(magnitude >= 10**14)
        .then(pl.lit(1_000, pl.Int64))
        .when(magnitude >= 10**11)
        .then(pl.lit(1_000_000, pl.Int64))
        .otherwise(pl.lit(1_000_000_000, pl.Int64))
    )
    fits = (v > _INT64_MIN) & (magnitude <= pl.lit(_INT64_MAX, pl.Int64) // factor)
    frame = pl.DataFrame({"v": values.cast(pl.Int64)})
    return frame.select(pl.when(fits).then(v * factor).alias("ts")).to_series()


def _raw_json(frame: pl.DataFrame, path: str) -> pl.Series:
    """Each row's original fields as a JSON object (values as text), plus ``"_file"``."""
    columns = []
    for name in frame.columns:
        column = frame.get_column(name)
        if column.dtype != pl.String:
            try:
                column = column.cast(pl.String)
            except pl.exceptions.PolarsError:
                pass  # nested values stay as they are: JSON-encoded natively
        columns.append(column)
    return (
        pl.DataFrame(columns)
        .with_columns(pl.lit(path, pl.String).alias("_file"))
        .select(pl.struct(pl.all()).struct.json_encode().alias("_raw"))
        .to_series()
    )


def _anchors(trades: pa.Table, malformed: _Malformed) -> tuple[np.ndarray, np.ndarray]:
    """Window key of every trades row and malformed line (module doc, Windows)."""
    n_trades = trades.num_rows
    n_malformed = len(malformed.row_numbers)
    ts = pl.Series("ts", trades.column("ts").cast(pa.int64()).combine_chunks(), pl.Int64)
    rows = pl.DataFrame(
        {
            "position": np.arange(n_trades + n_malformed, dtype=np.int64),
            "row_number": np.concatenate(
                [
                    trades.column("_row_number").to_numpy(),
                    np.asarray(malformed.row_numbers, dtype=np.int64),
                ]
            ),
            "ts": pl.concat([ts, pl.Series("ts", [None] * n_malformed, dtype=pl.Int64)]),
        }
    )
    anchored = (
        rows.sort("row_number", "position")
        .with_columns(pl.col("ts").fill_null(strategy="forward").fill_null(strategy="backward"))
        .sort("position")
        .get_column("ts")
        .to_numpy()
        .astype(np.int64)
    )
    return anchored[:n_trades], anchored[n_trades:]
