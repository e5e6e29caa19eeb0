"""Audit log: round trip, one valid JSON line per record, intact under threads, day partitions, DuckDB."""

from __future__ import annotations

import json
import stat
import threading
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shriven.security.audit import AUDIT_COLUMNS, AuditLog, AuditRecord

DAY_NS = 86_400_000_000_000
JAN5 = 20_458 * DAY_NS  # 2026-01-05T00:00:00Z


def _record(ts_ns: int = JAN5 + 1, n: int = 0, detail: str = '{"side":"buy","qty":1}') -> AuditRecord:
    return AuditRecord(
        ts_ns=ts_ns,
        correlation_id=f"c{n}",
        principal="alice",
        role="trader",
        action="order.submit",
        target="AAA",
        result="accepted",
        status=201,
        detail=detail,
    )


def test_round_trip(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    records = [_record(JAN5 + i, i) for i in range(5)]
    for r in records:
        log.record(r)
    assert log.read() == records
    assert log.read(limit=2) == records[-2:]
    assert log.read(limit=0) == []


def test_lines_are_json_with_the_columns_in_order(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.record(_record())
    log.record(_record(detail='{"note":"ünïcode \\n and \\"quotes\\""}'))
    path = tmp_path / "date=2026-01-05" / "audit.jsonl"
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 2
    for line in raw.splitlines():
        assert tuple(json.loads(line)) == AUDIT_COLUMNS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert log.read()[1].detail == '{"note":"ünïcode \\n and \\"quotes\\""}'


def test_day_partitioning_by_record_time(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    last_of_jan4 = JAN5 - 1
    log.record(_record(last_of_jan4, 0))
    log.record(_record(JAN5, 1))
    log.record(_record(JAN5 + DAY_NS, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["date=2026-01-04", "date=2026-01-05", "date=2026-01-06"]
    assert [r.correlation_id for r in log.read(day=date(2026, 1, 5))] == ["c1"]
    assert log.read(day=date(2026, 1, 7)) == []
    assert [r.correlation_id for r in log.read()] == ["c0", "c1", "c2"]
    assert [r.correlation_id for r in log.read(limit=2)] == ["c1", "c2"]


def test_zero_timestamp_is_stamped_from_the_clock(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, clock_ns=lambda: JAN5 + 5 * DAY_NS)
    log.record(_record(0))
    (stored,) = log.read()
    assert stored.ts_ns == JAN5 + 5 * DAY_NS
    assert (tmp_path / "date=2026-01-10" / "audit.jsonl").is_file()


def test_threads_write_intact_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    big = json.dumps({"pad": "x" * 6000})  # above PIPE_BUF: takes the flock path

    def write(thread: int) -> None:
        for i in range(25):
            log.record(_record(JAN5 + i, thread * 100 + i, detail=big if i % 5 == 0 else "{}"))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "date=2026-01-05" / "audit.jsonl").read_bytes().splitlines()
    assert len(lines) == 150
    ids = {json.loads(line)["correlation_id"] for line in lines}
    assert ids == {f"c{t * 100 + i}" for t in range(6) for i in range(25)}


def test_torn_last_line_is_skipped_but_corruption_raises(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.record(_record())
    path = tmp_path / "date=2026-01-05" / "audit.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"ts_ns": 12')  # crash mid-write: no newline
    assert len(log.read()) == 1
    with open(path, "ab") as fh:
        fh.write(b"\n")
    with pytest.raises(ValueError, match="line 2 is corrupt"):
        log.read()


@pytest.mark.parametrize(
    "changes",
    [{"status": "201"}, {"ts_ns": -1}, {"ts_ns": True}, {"principal": None}, {"detail": "x" * 9000}],
)
def test_record_validation(changes: dict[str, object]) -> None:
    fields = {"ts_ns": 1, "correlation_id": "c", "principal": "p", "role": "r", "action": "a",
              "target": "t", "result": "ok", "status": 200} | changes
    with pytest.raises((TypeError, ValueError)):
        AuditRecord(**fields)  # type: ignore[arg-type]


def test_duckdb_reads_the_log_with_hive_partitions(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    for i in range(3):
        log.record(_record(JAN5 + i, i))
    log.record(_record(JAN5 + DAY_NS, 9))
    glob = f"{tmp_path}/*/audit.jsonl"
    assert duckdb.sql(f"select count(*) from read_json_auto('{glob}', hive_partitioning=true)").fetchall() == [(4,)]
    rows = duckdb.sql(
        f"select cast(date as varchar) as day, count(*), min(status) from read_json_auto('{glob}', hive_partitioning=true) "
        "group by day order by day"
    ).fetchall()
    assert rows == [("2026-01-05", 3, 201), ("2026-01-06", 1, 201)]
    columns = duckdb.sql(f"select * from read_json_auto('{glob}', hive_partitioning=true) limit 0").columns
    assert tuple(columns[: len(AUDIT_COLUMNS)]) == AUDIT_COLUMNS
