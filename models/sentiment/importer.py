"""News files (CSV, JSONL) into NEWS rows; every row that cannot be read is quarantined with a reason.

Fields per record: ``time``, ``source``, ``text`` and an optional ``symbols``. Nothing is dropped
and nothing raises on bad data: ``distinct text_ids of the valid rows + quarantined rows == input
records`` (a record with several symbols becomes one NEWS row per symbol, with one ``text_id``).
Blank lines are not records (the CSV reader skips them too).

- ``time``: ISO-8601 (``T`` or space, optional fraction, ``Z`` or an offset; none means UTC) or a
  number since the epoch whose unit follows its size: below 1e11 seconds, below 1e14
  milliseconds, below 1e17 microseconds, else nanoseconds. Booleans and out-of-range values are
  ``invalid_time``; absent or empty ``missing_time``.
- ``text``: must be a string; absent, null or ``""`` is ``missing_text``, a number, list, object
  or boolean ``non_string_text``. Whitespace-only and non-English texts pass here: they are for
  :mod:`models.sentiment.text_checks`, which judges content, not structure.
- ``source``: a string; absent or empty takes the importer's ``default_source`` (the file name),
  anything else is ``invalid_source``.
- ``symbols``: a list of strings or one string of symbols split on ``,``, ``;`` or spaces; absent
  or empty means "not tagged" (symbol ``''``, for :mod:`models.sentiment.entities` to fill in).
  Other types are ``invalid_symbols``; a symbol outside ``universe`` (when given)
  ``unknown_symbol``.
- The same ``(source, time, text)`` twice: the later one is ``duplicate_text``.
- JSONL lines that are not JSON are ``invalid_json``, JSON that is not an object (and CSV lines
  with more fields than the header) ``malformed_record``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

import polars as pl
import pyarrow as pa

from models.sentiment._quarantine import quarantine_table
from shriven.schemas import NEWS, conform


class ImportReason(StrEnum):
    """Why an imported record was quarantined."""

    INVALID_JSON = "invalid_json"
    MALFORMED_RECORD = "malformed_record"
    MISSING_TIME = "missing_time"
    INVALID_TIME = "invalid_time"
    MISSING_TEXT = "missing_text"
    NON_STRING_TEXT = "non_string_text"
    INVALID_SOURCE = "invalid_source"
    INVALID_SYMBOLS = "invalid_symbols"
    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_TEXT = "duplicate_text"


@dataclass(frozen=True)
class ImportResult:
    """Valid rows (NEWS schema), rejected records (QUARANTINE schema), input count and reasons."""

    news: pa.Table
    quarantine: pa.Table
    input_records: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def valid_records(self) -> int:
        """Records that were imported (distinct texts, not rows: a text may name several symbols)."""
        return len(set(self.news.column("text_id").to_pylist()))

    @property
    def quarantined_records(self) -> int:
        """Records that were rejected."""
        return self.quarantine.num_rows

    def frame(self) -> pl.DataFrame:
        """The valid rows as polars, for the text checks and entity mapping."""
        return pl.from_arrow(self.news)  # type: ignore[return-value]


def text_id(source: str, ts_ns: int, text: str) -> str:
    """A stable id of a text: re-importing a file gives the same ids, so lake writes replace, not duplicate."""
    digest = hashlib.sha1(f"{source}\x1f{ts_ns}\x1f{text}".encode()).hexdigest()
    return digest[:16]


def import_news(
    path: str | Path,
    *,
    ingested_at_ns: int,
    default_source: str | None = None,
    universe: Collection[str] | None = None,
) -> ImportResult:
    """Read a ``.csv`` or ``.jsonl``/``.ndjson`` news file into NEWS rows and quarantined records.

    ``ingested_at_ns`` stamps the quarantine (passed in: nothing here reads the clock). A file of
    another suffix raises ValueError (a caller error, not bad data); an unreadable file, OSError.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    source = default_source or path.name
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix in (".jsonl", ".ndjson"):
        records = _jsonl_records(path)
    else:
        raise ValueError(f"{path}: news files must be .csv, .jsonl or .ndjson, got {suffix!r}")
    return import_records(
        records, ingested_at_ns=ingested_at_ns, default_source=source, universe=universe
    )


def import_records(
    records: Iterable[tuple[int, object, str]],
    *,
    ingested_at_ns: int,
    default_source: str,
    universe: Collection[str] | None = None,
) -> ImportResult:
    """Check parsed records ``(row_number, value or ImportReason, raw text)`` into an ImportResult.

    ``value`` is the parsed record (a mapping) or the reason it could not be parsed.
    """
    known = None if universe is None else set(universe)
    rows: dict[str, list] = {name: [] for name in ("ts", "text_id", "source", "symbol", "text")}
    q: dict[str, list] = {name: [] for name in ("reason", "row_number", "symbol", "raw", "source")}
    seen: set[str] = set()
    n = 0
    for row_number, value, raw in records:
        n += 1
        if isinstance(value, ImportReason):
            reasons, parsed = [value], None
        elif not isinstance(value, Mapping):
            reasons, parsed = [ImportReason.MALFORMED_RECORD], None
        else:
            reasons, parsed = _check(value, default_source, known)
        if parsed is not None:
            ts_ns, source, text, symbols = parsed
            tid = text_id(source, ts_ns, text)
            if tid in seen:
                reasons = [ImportReason.DUPLICATE_TEXT]
            else:
                seen.add(tid)
                for symbol in symbols or [""]:
                    rows["ts"].append(ts_ns)
                    rows["text_id"].append(tid)
                    rows["source"].append(source)
                    rows["symbol"].append(symbol)
                    rows["text"].append(text)
                continue
        given_source = value.get("source") if isinstance(value, Mapping) else None
        given_symbols = value.get("symbols") if isinstance(value, Mapping) else None
        q["reason"].append(";".join(r.value for r in reasons))
        q["row_number"].append(row_number)
        q["symbol"].append(given_symbols if isinstance(given_symbols, str) else None)
        q["raw"].append(raw)
        q["source"].append(
            given_source if isinstance(given_source, str) and given_source else default_source
        )
    news = conform(
        pa.table(
            {
                "ts": pa.array(rows["ts"], pa.int64()).cast(NEWS.field("ts").type),
                **{
                    k: pa.array(rows[k], pa.string())
                    for k in ("text_id", "source", "symbol", "text")
                },
            }
        ),
        NEWS,
    )
    quarantine = quarantine_table(
        ingested_at_ns=ingested_at_ns,
        sources=q["source"],
        reasons=q["reason"],
        row_numbers=q["row_number"],
        symbols=q["symbol"],
        raws=q["raw"],
    )
    counts: dict[str, int] = {}
    for joined in q["reason"]:
        for reason in joined.split(";"):
            counts[reason] = counts.get(reason, 0) + 1
    return ImportResult(news=news, quarantine=quarantine, input_records=n, reasons=counts)


def _check(
    record: Mapping[str, object], default_source: str, known: set[str] | None
) -> tuple[list[ImportReason], tuple[int, str, str, list[str]] | None]:
    """Every reason the record fails, or the parsed (ts ns, source, text, symbols)."""
    reasons: list[ImportReason] = []
    ts_ns, time_reason = parse_time(record.get("time"))
    if time_reason is not None:
        reasons.append(time_reason)
    text = record.get("text")
    if text is None or text == "":
        reasons.append(ImportReason.MISSING_TEXT)
    elif not isinstance(text, str):
        reasons.append(ImportReason.NON_STRING_TEXT)
    source = record.get("source")
    if source is None or source == "":
        source = default_source
    elif not isinstance(source, str) or not source.strip():
        reasons.append(ImportReason.INVALID_SOURCE)
    symbols = _symbols(record.get("symbols"))
    if symbols is None:
        reasons.append(ImportReason.INVALID_SYMBOLS)
    elif known is not None and any(s not in known for s in symbols):
        reasons.append(ImportReason.UNKNOWN_SYMBOL)
    # the type checks repeat what the reasons imply, for the type checker
    if (
        reasons
        or ts_ns is None
        or not isinstance(text, str)
        or not isinstance(source, str)
        or symbols is None
    ):
        return reasons, None
    return [], (ts_ns, source.strip(), text, symbols)


_SYMBOL_SPLIT = re.compile(r"[,;\s]+")


def _symbols(value: object) -> list[str] | None:
    """The record's symbols, sorted and unique ([] when untagged); None when unreadable."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p for p in _SYMBOL_SPLIT.split(value.strip()) if p]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value if v.strip()]
    else:
        return None
    return sorted(set(parts))


#: Explicit ISO formats (fromisoformat accepts week dates and other surprises we do not want).
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?",
)
_INT64_MAX = 2**63 - 1


def parse_time(value: object) -> tuple[int | None, ImportReason | None]:
    """A record's time as ns UTC, or why it cannot be one (see the module docstring for the rules)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ImportReason.MISSING_TIME
    if isinstance(value, bool):
        return None, ImportReason.INVALID_TIME
    if isinstance(value, str):
        text = value.strip()
        if _ISO.fullmatch(text):
            return _iso_ns(text)
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, ImportReason.INVALID_TIME
        return _epoch_ns(number)
    if isinstance(value, int):
        return _epoch_ns(Decimal(value))
    if isinstance(value, float):
        # repr is the shortest decimal that round-trips: 1709303400.25 stays exact
        return _epoch_ns(Decimal(repr(value)) if math.isfinite(value) else Decimal("nan"))
    return None, ImportReason.INVALID_TIME


def _epoch_ns(number: Decimal) -> tuple[int | None, ImportReason | None]:
    if not number.is_finite():
        return None, ImportReason.INVALID_TIME
    size = abs(number)
    scale = (
        1_000_000_000
        if size < 10**11
        else 1_000_000
        if size < 10**14
        else 1_000
        if size < 10**17
        else 1
    )
    try:
        ns = int((number * scale).to_integral_value())
    except ArithmeticError:  # an exponent beyond the decimal context, e.g. "1e999999"
        return None, ImportReason.INVALID_TIME
    if not -_INT64_MAX <= ns <= _INT64_MAX:
        return None, ImportReason.INVALID_TIME
    return ns, None


def _iso_ns(text: str) -> tuple[int | None, ImportReason | None]:
    if not _ISO.fullmatch(text):
        return None, ImportReason.INVALID_TIME
    fraction = re.search(r"\.(\d{1,9})", text)
    whole = re.sub(r"\.\d{1,9}", "", text).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(whole)
    except ValueError:
        return None, ImportReason.INVALID_TIME
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = moment - datetime(1970, 1, 1, tzinfo=UTC)
    ns = (epoch.days * 86_400 + epoch.seconds) * 1_000_000_000
    if fraction:
        ns += int(fraction.group(1).ljust(9, "0"))
    if not -_INT64_MAX <= ns <= _INT64_MAX:
        return None, ImportReason.INVALID_TIME
    return ns, None


def _csv_records(path: Path) -> Iterable[tuple[int, object, str]]:
    """CSV rows as (physical line, dict or reason, raw JSON); the header is line 1."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over the csv module's size limit
                yield (
                    reader.line_num,
                    ImportReason.MALFORMED_RECORD,
                    json.dumps({"_error": str(exc)}),
                )
                continue
            line = reader.line_num
            extra = record.pop(None, None)  # type: ignore[call-overload]
            clean = {k: v for k, v in record.items() if k is not None}
            raw = json.dumps({**clean, **({"_extra": extra} if extra else {})}, ensure_ascii=False)
            yield line, (ImportReason.MALFORMED_RECORD if extra else clean), raw


def _jsonl_records(path: Path) -> Iterable[tuple[int, object, str]]:
    """JSONL lines as (1-based line, parsed value or reason, the line); blank lines are skipped."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield line_number, ImportReason.INVALID_JSON, text
                continue
            yield (
                line_number,
                value if isinstance(value, dict) else ImportReason.MALFORMED_RECORD,
                text,
            )
