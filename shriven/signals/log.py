"""The signal log: an append-only, offset-numbered log of targets in the Parquet lake.

Flows (ML inference, rebalancing) append; the execution engine reads the signals after the offset
it last committed, so each signal is acted on once across restarts. Each append validates its
rows (bad ones go to the quarantine with their reasons), takes the next dense offsets under an
exclusive ``flock`` and writes one Parquet file,
``<lake>/signals/date=YYYY-MM-DD/part-<first:020d>-<last:020d>.parquet``, by temp + rename.

Crash safety: ``signals/_head.json`` records, before each file is renamed in, the last offset so
far and the file about to appear (with its rows, when there are at most ``INLINE_ROWS``: a reader
that keeps up, like the execution engine, then takes a new signal from the head it reads anyway
instead of opening a Parquet file: 80-130 us instead of ~550 us per poll, measured). Whoever
reads the head next knows the log's end from the existence of that one file, so a crash anywhere
never reuses or skips an offset, and finding the end costs O(1) however long the log is. The
head is also the readers' visibility mark: every file up to the end it gives was renamed in
before that end was written.

The log needs a local (or locally mounted) file system, for ``flock``. Files are never rewritten:
do not run ``Lake.write_window``/``Lake.compact`` on ``signals`` (its file names are offsets, not
time windows).
"""

from __future__ import annotations

import bisect
import fcntl
import itertools
import json
import logging
import math
import os
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from numbers import Integral, Real
from typing import Any, NamedTuple

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from shriven.durable import write_atomic, write_bytes_atomic
from shriven.lake.layout import Window, ns_to_date, partition_dir
from shriven.lake.writer import Lake, parquet_options
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.schemas import QUARANTINE, SIGNALS

__all__ = ["MAX_ABS_WEIGHT", "AppendResult", "SignalLog", "SignalReason"]

log = logging.getLogger(__name__)

#: A weight beyond +-10x equity is a model bug, not a position anyone means to take.
MAX_ABS_WEIGHT = 10.0

#: Partition ``origin`` of the quarantine rows the log writes.
QUARANTINE_ORIGIN = "signals"

_PART_NAME = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
_HEAD = "_head.json"
_LOCK = "_append.lock"
_KIND_NAMES = {k.name.lower(): k for k in TargetKind}
#: Appends of at most this many rows also carry them in the head (see the module docstring).
INLINE_ROWS = 64
_ROW_FIELDS = ("ts", "symbol", "target", "kind", "source", "model_version")
_MAX_NS = 2**63 - 1
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
#: The head is plain JSON (``json.dumps``, finite numbers only): msgspec parses it to the same
#: objects in a fraction of ``json.loads``' time.
_HEAD_DECODER = msgspec.json.Decoder()
_READ_BYTES = 1 << 16


class SignalReason(StrEnum):
    """Why a signal row was quarantined (several are joined by ';')."""

    INVALID_TIMESTAMP = "invalid_timestamp"
    MISSING_SYMBOL = "missing_symbol"
    UNKNOWN_SYMBOL = "unknown_symbol"
    MISSING_TARGET = "missing_target"
    INVALID_TARGET = "invalid_target"
    UNKNOWN_KIND = "unknown_kind"
    WEIGHT_OUT_OF_RANGE = "weight_out_of_range"
    MISSING_SOURCE = "missing_source"
    INVALID_MODEL_VERSION = "invalid_model_version"


@dataclass(frozen=True)
class AppendResult:
    """What an append did: the offsets ``first_offset..last_offset`` (inclusive) of its valid rows.

    With no valid row the range is empty: ``first_offset`` is the next offset and
    ``last_offset = first_offset - 1`` (the log's end), so ``appended == last - first + 1``.
    """

    first_offset: int
    last_offset: int
    appended: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    path: str | None = None


class _Part(NamedTuple):
    first: int
    last: int
    path: str


class _Head(NamedTuple):
    """The log's end, its newest file once renamed in, and that file's rows if the head has them."""

    last: int
    newest: _Part | None
    rows: dict[str, list[Any]] | None


class _Rows(NamedTuple):
    """Valid rows as columns, normalised for the SIGNALS schema."""

    ts: list[int]
    symbol: list[str]
    target: list[float]
    kind: list[str]
    source: list[str]
    model_version: list[str]


class SignalLog:
    """Append-only log of signals under ``<lake_root>/signals``, numbered by dense offsets."""

    def __init__(
        self, lake_root: str | os.PathLike[str], *, symbols: Collection[str] | None = None
    ) -> None:
        root = os.fspath(lake_root)
        if root.startswith("file://"):
            root = root[len("file://") :]
        if "://" in root:
            raise ValueError(f"the signal log needs a local file system (flock), got {root!r}")
        self.lake_root = os.path.abspath(root)
        self.directory = os.path.join(self.lake_root, "signals")
        self._head_path = os.path.join(self.directory, _HEAD)
        self.symbols = None if symbols is None else frozenset(symbols)
        self._lake = Lake(self.lake_root)
        # Listing cache of the readers: date directory -> (its mtime when listed, its files).
        self._dirs: dict[str, tuple[int, list[_Part]]] = {}
        # Newest files learnt from the head since the last listing.
        self._extra: dict[str, _Part] = {}
        # Paths of all files above, and all of them by first offset (None: to be sorted again).
        self._known: set[str] = set()
        self._sorted: list[_Part] | None = None
        self._read_lock = threading.RLock()

    # ------------------------------------------------------------------ appending
    def append(
        self, signals: Sequence[Signal] | pa.Table, *, source: str, now_ns: int
    ) -> AppendResult:
        """Validate the rows, quarantine the bad ones and append the rest under the next offsets."""
        if (
            not isinstance(now_ns, Integral)
            or isinstance(now_ns, bool)
            or not 0 < now_ns <= _MAX_NS
        ):
            raise ValueError(f"now_ns must be a positive int of ns since the epoch, got {now_ns!r}")
        now_ns = int(now_ns)
        raw_rows = _rows_of(signals)
        rows = _Rows([], [], [], [], [], [])
        rejected: list[tuple[int, str, dict[str, Any]]] = []
        reasons: dict[str, int] = {}
        for i, raw in enumerate(raw_rows):
            problems = self._check(raw, source, rows)
            if problems:
                rejected.append((i, ";".join(problems), raw))
                for r in problems:
                    reasons[r.value] = reasons.get(r.value, 0) + 1
        n = len(rows.ts)
        assert n + len(rejected) == len(raw_rows)
        with self._exclusive():
            end = self._head()[0]
            if rejected:
                self._quarantine(rejected, source, now_ns)
            if n == 0:
                return AppendResult(end + 1, end, 0, len(rejected), reasons)
            first, last = end + 1, end + n
            date = ns_to_date(now_ns).isoformat()
            path = os.path.join(
                self.directory, f"date={date}", f"part-{first:020d}-{last:020d}.parquet"
            )
            # The intent goes first: a crash after the rename below is recovered from it.
            pending: dict[str, Any] = {
                "path": os.path.relpath(path, self.directory),
                "last_offset": last,
            }
            if n <= INLINE_ROWS:
                pending["rows"] = rows._asdict()
            head = {"last_offset": end, "pending": pending}
            write_bytes_atomic(os.path.join(self.directory, _HEAD), json.dumps(head).encode())
            table = _signals_table(rows, first, now_ns)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, lambda fh: pq.write_table(table, fh, **parquet_options(SIGNALS)))
        return AppendResult(first, last, n, len(rejected), reasons, path)

    def _check(self, raw: dict[str, Any], default_source: str, rows: _Rows) -> list[SignalReason]:
        """The reasons a row is bad; a good row is added to ``rows``."""
        problems: list[SignalReason] = []
        ts = raw.get("ts")
        if not isinstance(ts, Integral) or isinstance(ts, bool) or not 0 < ts <= _MAX_NS:
            problems.append(SignalReason.INVALID_TIMESTAMP)
        symbol = raw.get("symbol")
        if isinstance(symbol, str):
            symbol = symbol.strip()
        if symbol is None or symbol == "":
            problems.append(SignalReason.MISSING_SYMBOL)
        elif not isinstance(symbol, str) or (
            self.symbols is not None and symbol not in self.symbols
        ):
            problems.append(SignalReason.UNKNOWN_SYMBOL)
        target = raw.get("target")
        if target is None:
            problems.append(SignalReason.MISSING_TARGET)
        elif not isinstance(target, Real) or isinstance(target, bool) or not math.isfinite(target):
            problems.append(SignalReason.INVALID_TARGET)
        kind = _kind(raw.get("kind"))
        if kind is None:
            problems.append(SignalReason.UNKNOWN_KIND)
        elif (
            kind == TargetKind.WEIGHT
            and isinstance(target, Real)
            and math.isfinite(target)
            and abs(target) > MAX_ABS_WEIGHT
        ):
            problems.append(SignalReason.WEIGHT_OUT_OF_RANGE)
        row_source = raw.get("source")
        if row_source is None or (isinstance(row_source, str) and not row_source.strip()):
            row_source = default_source
        if not isinstance(row_source, str) or not row_source.strip():
            problems.append(SignalReason.MISSING_SOURCE)
        model_version = raw.get("model_version")
        if model_version is None:
            model_version = ""
        if not isinstance(model_version, str):
            problems.append(SignalReason.INVALID_MODEL_VERSION)
        if not problems:
            assert kind is not None
            assert isinstance(row_source, str)
            rows.ts.append(int(ts))  # type: ignore[arg-type]
            rows.symbol.append(symbol)  # type: ignore[arg-type]
            rows.target.append(float(target))  # type: ignore[arg-type]
            rows.kind.append(kind.name.lower())
            rows.source.append(row_source.strip())
            rows.model_version.append(model_version)
        return problems

    def _quarantine(
        self, rejected: list[tuple[int, str, dict[str, Any]]], source: str, now_ns: int
    ) -> None:
        """Write the rejected rows to ``quarantine/date=…/origin=signals`` in a file of their own."""
        table = pa.table(
            {
                "ingested_at": pa.array([now_ns] * len(rejected), pa.int64()).cast(
                    QUARANTINE.field("ingested_at").type
                ),
                "dataset": ["signals"] * len(rejected),
                "source": [source if isinstance(source, str) else str(source)] * len(rejected),
                "reason": [reason for _, reason, _ in rejected],
                "row_number": pa.array([i for i, _, _ in rejected], pa.int64()),
                "symbol": pa.array(
                    [_symbol_text(raw.get("symbol")) for _, _, raw in rejected], pa.string()
                ),
                "raw": [
                    json.dumps(_jsonable(raw), allow_nan=False, default=str)
                    for _, _, raw in rejected
                ],
            }
        )
        # A window write replaces the file of the same window: give each append a window no
        # earlier append used (appends are serialised by the lock, so probing is race-free).
        pdir = partition_dir(
            self._lake.root,
            "quarantine",
            {"date": ns_to_date(now_ns).isoformat(), "origin": QUARANTINE_ORIGIN},
        )
        taken = {p.rsplit("/", 1)[-1] for p in self._lake.partition_files(pdir)}
        length = 1
        while Window(now_ns, now_ns + length).file_name in taken:
            length += 1
        self._lake.write_window(
            "quarantine",
            table,
            Window(now_ns, now_ns + length),
            partition={"origin": QUARANTINE_ORIGIN},
        )

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the log's append lock (across processes; released by closing, also on a crash)."""
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(os.path.join(self.directory, _LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading
    def last_offset(self) -> int:
        """Offset of the last signal in the log; -1 when it is empty."""
        return self._head()[0]

    def read_after(self, offset: int, *, limit: int | None = None) -> list[Signal]:
        """Signals with offsets above ``offset``, in offset order (at most ``limit`` of them)."""
        with self._read_lock:  # threads may share one log; its listing cache is not atomic
            return self._read_after(offset, limit)

    def _read_after(self, offset: int, limit: int | None) -> list[Signal]:
        if limit is not None and limit <= 0:
            return []
        end, newest, inline = self._head()
        if end <= offset:
            return []
        if newest is not None and newest.path not in self._known:
            # The usual poll: one new file since the last read, found without listing anything.
            self._extra[newest.path] = newest
            self._known.add(newest.path)
            if self._sorted is not None and (not self._sorted or newest > self._sorted[-1]):
                self._sorted.append(newest)
            else:
                self._sorted = None
        expected = max(offset, -1) + 1
        # Cheapest listing first; only a listing of everything may conclude that files are gone.
        for how in ("cached", "changed", "full"):
            plan, gaps = _plan(self._parts(how), expected, end)
            if not gaps:
                break
        for lo, hi in gaps:
            log.warning("signal log %s: offsets %d..%d are missing", self.directory, lo, hi)
        out: list[Signal] = []
        for part, first, last in plan:
            if limit is not None:
                last = min(last, first + (limit - len(out)) - 1)
            try:
                if inline is not None and newest is not None and part.path == newest.path:
                    out.extend(_inline_signals(inline, part, first, last))
                else:
                    out.extend(_read_part(part, first, last))
            except FileNotFoundError:  # removed since it was listed: list again, go on from here
                self._dirs.clear()
                self._extra.clear()
                self._known.clear()
                self._sorted = None
                rest = limit - len(out) if limit is not None else None
                return out + self._read_after(first - 1, rest)
            if limit is not None and len(out) >= limit:
                break
        return out

    def _head(self) -> _Head:
        """The last offset written and the newest file: from the head in O(1), else by listing."""
        try:
            head = _HEAD_DECODER.decode(_read_small(self._head_path))
        except FileNotFoundError:
            parts = self._parts("changed")
            return _Head(max((p.last for p in parts), default=-1), None, None)
        pending = head.get("pending")
        if pending is not None:
            path = os.path.join(self.directory, pending["path"])
            if os.path.exists(path):
                last = int(pending["last_offset"])
                return _Head(last, _Part(last - _span(path) + 1, last, path), pending.get("rows"))
        return _Head(int(head["last_offset"]), None, None)

    def _parts(self, how: str) -> list[_Part]:
        """The log's files with their offset ranges (from the names alone), by first offset.

        ``cached``: as last listed (plus newest files seen through the head); ``changed``: list
        again the date directories whose mtime moved; ``full``: list every directory again.
        """
        if how != "cached":
            try:
                entries = [e for e in os.scandir(self.directory) if e.name.startswith("date=")]
            except FileNotFoundError:
                entries = []
            listed: dict[str, tuple[int, list[_Part]]] = {}
            for e in entries:
                if not e.is_dir():
                    continue
                # mtime before the listing: a file added after it moves the mtime we compare next.
                mtime = os.stat(e.path).st_mtime_ns
                old = self._dirs.get(e.path)
                if how == "full" or old is None or old[0] != mtime:
                    listed[e.path] = (mtime, _list_parts(e.path))
                else:
                    listed[e.path] = old
            self._dirs = listed
            self._extra.clear()
            self._known = {p.path for _, dir_parts in listed.values() for p in dir_parts}
            self._sorted = None
        if self._sorted is None:
            parts = [p for _, dir_parts in self._dirs.values() for p in dir_parts]
            self._sorted = sorted(parts + list(self._extra.values()))
        return self._sorted


def _read_small(path: str) -> bytes:
    """A small file's bytes with bare syscalls (``open()`` builds an io stack: ~2x, measured)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunk = os.read(fd, _READ_BYTES)
        if len(chunk) < _READ_BYTES:  # a short read of a regular file is its end: no 2nd call
            return chunk
        chunks = [chunk]
        while chunk:
            chunk = os.read(fd, _READ_BYTES)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _list_parts(directory: str) -> list[_Part]:
    """The log files of one date directory."""
    out = []
    with os.scandir(directory) as entries:
        for e in entries:
            m = _PART_NAME.fullmatch(e.name)
            if m is not None:
                out.append(_Part(int(m.group(1)), int(m.group(2)), e.path))
    return out


def _span(path: str) -> int:
    """Number of offsets a log file holds, from its name."""
    m = _PART_NAME.fullmatch(os.path.basename(path))
    if m is None:
        raise RuntimeError(f"signal log head names {path!r}, not a log file")
    return int(m.group(2)) - int(m.group(1)) + 1


def _plan(
    parts: list[_Part], expected: int, end: int
) -> tuple[list[tuple[_Part, int, int]], list[tuple[int, int]]]:
    """Which offsets to read from which file for ``expected..end``, and the offsets no file has."""
    plan: list[tuple[_Part, int, int]] = []
    gaps: list[tuple[int, int]] = []
    begin = max(bisect.bisect_right(parts, expected, key=lambda p: p.first) - 1, 0)
    for part in itertools.islice(parts, begin, None):
        if part.last < expected:
            continue
        if part.first > end:
            break
        if part.first > expected:
            gaps.append((expected, part.first - 1))
        first, last = max(expected, part.first), min(part.last, end)
        plan.append((part, first, last))
        expected = last + 1
        if expected > end:
            break
    if expected <= end:
        gaps.append((expected, end))
    return plan, gaps


def _rows_of(signals: Sequence[Signal] | pa.Table) -> list[dict[str, Any]]:
    """Input rows as dicts of their original values (a table's timestamps as int ns)."""
    if isinstance(signals, pa.Table):
        missing = [c for c in ("ts", "symbol", "target", "kind") if c not in signals.column_names]
        if missing:
            raise ValueError(f"signal table lacks columns {missing}")
        columns: dict[str, list[Any]] = {}
        for name in ("ts", "symbol", "target", "kind", "source", "model_version"):
            if name not in signals.column_names:
                continue
            col = signals.column(name)
            if pa.types.is_timestamp(col.type):
                # Exact integer scaling: a too-large instant must fail validation, not the cast.
                factor = _NS_PER_UNIT[col.type.unit]
                stored = col.cast(pa.int64()).to_pylist()
                columns[name] = [None if v is None else v * factor for v in stored]
            else:
                columns[name] = col.to_pylist()
        return [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
    rows = []
    for s in signals:
        if not isinstance(s, Signal):
            raise TypeError(f"expected Signal records or a pyarrow Table, got {type(s).__name__}")
        rows.append(
            {
                "ts": s.ts,
                "symbol": s.symbol,
                "target": s.target,
                "kind": s.kind,
                "source": s.source,
                "model_version": s.model_version,
            }
        )
    return rows


def _kind(value: Any) -> TargetKind | None:
    """A kind given as the enum, its int value or its (case-insensitive) name; None if unknown."""
    if isinstance(value, TargetKind):
        return value
    if isinstance(value, Integral) and not isinstance(value, bool):
        try:
            return TargetKind(int(value))
        except ValueError:
            return None
    if isinstance(value, str):
        return _KIND_NAMES.get(value.strip().lower())
    return None


def _symbol_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A raw row for the quarantine's JSON: enums by name, non-finite floats as text."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, TargetKind):
            v = v.name.lower()
        elif isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        out[k] = v
    return out


def _signals_table(rows: _Rows, first: int, now_ns: int) -> pa.Table:
    """Valid rows in the SIGNALS schema, numbered from ``first``."""
    n = len(rows.ts)
    ts_type = SIGNALS.field("ts").type
    return pa.Table.from_arrays(
        [
            pa.array(range(first, first + n), pa.int64()),
            pa.array(rows.ts, pa.int64()).cast(ts_type),
            pa.array(rows.symbol, pa.string()),
            pa.array(rows.target, pa.float64()),
            pa.array(rows.kind, pa.string()),
            pa.array(rows.source, pa.string()),
            pa.array(rows.model_version, pa.string()),
            pa.array([now_ns] * n, pa.int64()).cast(ts_type),
        ],
        schema=SIGNALS,
    )


def _inline_signals(rows: dict[str, list[Any]], part: _Part, start: int, stop: int) -> list[Signal]:
    """Signals ``start..stop`` of the newest file, from the copy of its rows in the head."""
    columns = [rows[name] for name in _ROW_FIELDS]
    if any(len(c) != part.last - part.first + 1 for c in columns):
        raise RuntimeError(
            f"signal log head: the rows it holds for {part.path} do not match its name"
        )
    lo, hi = start - part.first, stop - part.first + 1
    return [
        Signal(
            ts=int(t),
            symbol=sym,
            target=float(tgt),
            kind=_KIND_NAMES[k],
            source=src,
            model_version=mv,
            offset=part.first + lo + i,
        )
        for i, (t, sym, tgt, k, src, mv) in enumerate(
            zip(*(c[lo:hi] for c in columns), strict=True)
        )
    ]


def _read_part(part: _Part, start: int, stop: int) -> list[Signal]:
    """Signals ``start..stop`` (inclusive) of one file."""
    # ParquetFile, not read_table: the dataset machinery costs ~3x on a one-row file (measured),
    # and the engine reads each new signal's file on its hot path
    table = pq.ParquetFile(part.path).read(use_threads=False)
    if table.num_rows != part.last - part.first + 1:
        raise RuntimeError(
            f"signal file {part.path} holds {table.num_rows} rows, its name says {part.last - part.first + 1}"
        )
    table = table.slice(start - part.first, stop - start + 1)
    offsets = table.column("offset").to_pylist()
    if offsets and (offsets[0] != start or offsets[-1] != stop):
        raise RuntimeError(
            f"signal file {part.path}: offsets {offsets[0]}..{offsets[-1]}, expected {start}..{stop}"
        )
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    columns = [
        table.column(c).to_pylist() for c in ("symbol", "target", "kind", "source", "model_version")
    ]
    return [
        Signal(
            ts=t,
            symbol=sym,
            target=tgt,
            kind=_KIND_NAMES[k],
            source=src,
            model_version=mv,
            offset=o,
        )
        for o, t, sym, tgt, k, src, mv in zip(offsets, ts, *columns, strict=True)
    ]
