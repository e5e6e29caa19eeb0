"""Append-only audit log of every state-changing request, one JSON-lines file per UTC day.

Files live at ``<dir>/date=YYYY-MM-DD/audit.jsonl`` so DuckDB reads them with hive partitioning.
Each record is one ``os.write`` of one line to a file opened with ``O_APPEND`` and then fsync'd,
so lines from concurrent writers (threads or processes) never interleave; a line longer than
``PIPE_BUF`` is additionally written under an exclusive ``flock`` on the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import date, timedelta
from pathlib import Path

from shriven.durable import fsync_dir
from shriven.security.paths import audit_directory

__all__ = ["AUDIT_COLUMNS", "AUDIT_DUCKDB_TYPES", "AuditLog", "AuditRecord", "audit_directory"]

#: The JSON keys of one line, in order (the lake view over the log selects exactly these).
AUDIT_COLUMNS: tuple[str, ...] = (
    "ts_ns",
    "correlation_id",
    "principal",
    "role",
    "action",
    "target",
    "result",
    "status",
    "detail",
)
#: Name of the file inside each day's partition directory.
AUDIT_FILE = "audit.jsonl"
#: Longest accepted ``detail`` (it is meant for a few order fields, not payloads).
MAX_DETAIL_CHARS = 8192
_ATOMIC_APPEND_BYTES = 4096  # PIPE_BUF on Linux
_EPOCH = date(1970, 1, 1)
_NS_PER_DAY = 86_400_000_000_000



#: DuckDB types of :data:`AUDIT_COLUMNS` (the ``audit_log`` view reads the files with them).
AUDIT_DUCKDB_TYPES: dict[str, str] = {
    "ts_ns": "BIGINT", "correlation_id": "VARCHAR", "principal": "VARCHAR", "role": "VARCHAR",
    "action": "VARCHAR", "target": "VARCHAR", "result": "VARCHAR", "status": "INTEGER", "detail": "VARCHAR",
}  # fmt: skip

@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited request: when, who (principal, role), what (action, target) and the outcome.

    ``ts_ns == 0`` means "now": :meth:`AuditLog.record` stamps it from its clock. ``detail`` is
    short JSON text of non-secret fields (order side, quantity, symbol, ...).
    """

    ts_ns: int
    correlation_id: str
    principal: str
    role: str
    action: str
    target: str
    result: str
    status: int
    detail: str = ""

    def __post_init__(self) -> None:
        for name in ("ts_ns", "status"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"audit {name} must be an int")
        if self.ts_ns < 0:
            raise ValueError("audit ts_ns must be non-negative")
        for name in AUDIT_COLUMNS[1:7] + ("detail",):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"audit {name} must be a str")
        if len(self.detail) > MAX_DETAIL_CHARS:
            raise ValueError(f"audit detail longer than {MAX_DETAIL_CHARS} characters")

    @property
    def day(self) -> date:
        """The UTC day the record belongs to (its partition)."""
        return _EPOCH + timedelta(days=self.ts_ns // _NS_PER_DAY)


class AuditLog:
    """Writes and reads the audit log under one directory; safe to share between threads."""

    def __init__(
        self, directory: str | os.PathLike[str], clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.directory = Path(directory)
        self._clock_ns = clock_ns
        self._lock = threading.Lock()

    def path_for(self, day: date) -> Path:
        """The file holding ``day``'s records."""
        return self.directory / f"date={day.isoformat()}" / AUDIT_FILE

    def record(self, record: AuditRecord) -> None:
        """Append ``record`` durably (written and fsync'd before returning)."""
        if record.ts_ns == 0:
            record = AuditRecord(self._clock_ns(), *astuple(record)[1:])
        line = (json.dumps(dict(zip(AUDIT_COLUMNS, astuple(record), strict=True)),
                           separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")
        path = self.path_for(record.day)
        with self._lock:
            created = not path.parent.is_dir()
            if created:
                path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if len(line) <= _ATOMIC_APPEND_BYTES:
                    _write_all(fd, line)
                else:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        _write_all(fd, line)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_dir(path.parent)
                fsync_dir(self.directory)

    def read(self, *, limit: int = 1000, day: date | None = None) -> list[AuditRecord]:
        """The last ``limit`` records of ``day`` (default: across all days), newest last."""
        if limit <= 0:
            return []
        if day is not None:
            paths = [self.path_for(day)]
        else:
            paths = sorted(self.directory.glob(f"date=*/{AUDIT_FILE}"))
        tail: deque[AuditRecord] = deque(maxlen=limit)
        # Walk days newest first and stop once ``limit`` records are in hand.
        chunks: list[list[AuditRecord]] = []
        count = 0
        for path in reversed(paths):
            records = _read_file(path, limit)
            chunks.append(records)
            count += len(records)
            if count >= limit:
                break
        for records in reversed(chunks):
            tail.extend(records)
        return list(tail)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_file(path: Path, limit: int) -> list[AuditRecord]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = raw.split(b"\n")
    # A last piece without its newline is a write torn by a crash: it was never acknowledged.
    lines.pop()
    tail: deque[AuditRecord] = deque(maxlen=limit)
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            fields = json.loads(line)
            tail.append(AuditRecord(**{name: fields[name] for name in AUDIT_COLUMNS}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"audit log {path} line {number} is corrupt: {type(exc).__name__}") from None
    return list(tail)

