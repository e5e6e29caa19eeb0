"""Warehouse views over the lake, the warehouse file build and its lock handling."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from lake_helpers import DAY_NS, HOUR, quarantine_table, trades_table

from shriven.lake.layout import Window
from shriven.lake.views import create_views, lake_views
from shriven.lake.warehouse import WarehouseLockedError, build_warehouse, memory_connection
from shriven.lake.writer import Lake
from shriven.schemas import BAR_INTERVALS, BARS, DATASETS

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ns", tz="UTC"): "TIMESTAMPTZ_NS",
}


def _expected_columns(name: str) -> list[tuple[str, str]]:
    ds = DATASETS[name]
    cols = [(f.name, DUCKDB_TYPES[f.type]) for f in ds.schema]
    hive = [k for k in ds.partition_by if k not in ds.schema.names]
    return cols + [(k, "DATE" if k == "date" else "VARCHAR") for k in hive]


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {view}").fetchall()]


def _bars_table(window: Window, symbol: str = "ACME") -> pa.Table:
    n = 3
    ts = pa.array([window.start_ns + i * 60_000_000_000 for i in range(n)], pa.int64())
    cols = {
        "ts": ts.cast(pa.timestamp("ns", tz="UTC")),
        "symbol": [symbol] * n,
        "trades": pa.array([5] * n, pa.int64()),
    }
    for f in BARS:
        if f.name not in cols:
            cols[f.name] = pa.array([1.5] * n, pa.float64())
    return pa.table(cols, schema=BARS)


@pytest.fixture
def lake_root(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture
def con(lake_root: str) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


# ------------------------------------------------------------------ empty lake
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_empty_lake_views_exist_with_schema_columns_and_types(
    con: duckdb.DuckDBPyConnection, lake_root: str, name: str
) -> None:
    create_views(con, lake_root)
    assert _columns(con, name) == _expected_columns(name)
    assert con.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)


def test_empty_lake_bars_union_has_interval_column(
    con: duckdb.DuckDBPyConnection, lake_root: str
) -> None:
    names = create_views(con, lake_root)
    assert set(names) == set(DATASETS) | {"bars"}
    assert _columns(con, "bars") == [("interval", "VARCHAR"), *_expected_columns("bars_1m")]
    assert con.execute("SELECT count(*) FROM bars").fetchone() == (0,)


def test_every_view_has_a_description(lake_root: str) -> None:
    views = lake_views(lake_root)
    assert [v.name for v in views] == [*DATASETS, "bars"]
    assert all(v.description for v in views)


# ------------------------------------------------------------------ with data
def test_nanoseconds_survive_the_view(con: duckdb.DuckDBPyConnection, lake_root: str) -> None:
    ts = DAY_NS + 123_456_789
    Lake(lake_root).write_window(
        "trades", trades_table([(ts, "ACME", 7)]), Window(DAY_NS, DAY_NS + 24 * HOUR)
    )
    create_views(con, lake_root)
    assert con.execute("SELECT epoch_ns(ts), symbol, trade_id FROM trades").fetchall() == [
        (ts, "ACME", 7)
    ]
    assert con.execute("SELECT strftime(ts, '%Y-%m-%d %H:%M:%S.%n') FROM trades").fetchone() == (
        "2024-01-02 00:00:00.123456789",
    )
    assert _columns(con, "trades") == _expected_columns("trades")


def test_views_return_written_data_with_typed_partition_columns(
    con: duckdb.DuckDBPyConnection, lake_root: str
) -> None:
    lake = Lake(lake_root)
    window = Window(DAY_NS, DAY_NS + 24 * HOUR)
    rows = [(DAY_NS + h * HOUR, s, h) for h in range(5) for s in ("ACME", "0700")]
    lake.write_window("trades", trades_table(rows), window)
    lake.write_window("quarantine", quarantine_table(3), window, partition={"origin": "123"})
    lake.write_window("bars_1m", _bars_table(window), window)
    create_views(con, lake_root)

    got = con.execute(
        "SELECT symbol, count(*), min(date)::VARCHAR FROM trades GROUP BY symbol ORDER BY symbol"
    ).fetchall()
    assert got == [
        ("0700", 5, "2024-01-02"),
        ("ACME", 5, "2024-01-02"),
    ]  # a numeric-looking symbol stays text
    for name in ("trades", "quarantine", "bars_1m"):
        assert _columns(con, name) == _expected_columns(name)
    # a numeric-looking origin keeps the type of the empty view (VARCHAR), not an auto-detected BIGINT
    assert con.execute("SELECT DISTINCT origin FROM quarantine").fetchall() == [("123",)]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (3,)
    assert con.execute("SELECT interval, count(*) FROM bars GROUP BY interval").fetchall() == [
        ("1m", 3)
    ]
    assert _columns(con, "bars")[0] == ("interval", "VARCHAR")


def test_views_pick_up_new_datasets_when_recreated(
    con: duckdb.DuckDBPyConnection, lake_root: str
) -> None:
    create_views(con, lake_root)
    window = Window(DAY_NS, DAY_NS + HOUR)
    Lake(lake_root).write_window("trades", trades_table([(DAY_NS + 1, "ACME", 1)]), window)
    assert con.execute("SELECT count(*) FROM trades").fetchone() == (0,)
    create_views(con, lake_root)
    assert con.execute("SELECT count(*) FROM trades").fetchone() == (1,)


def test_lake_path_with_a_quote_is_escaped(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    root = str(tmp_path / "it's lake")
    Lake(root).write_window(
        "trades", trades_table([(DAY_NS + 1, "ACME", 1)]), Window(DAY_NS, DAY_NS + HOUR)
    )
    create_views(con, root)
    assert con.execute("SELECT count(*) FROM trades").fetchone() == (1,)


# ------------------------------------------------------------------ warehouse file
def test_build_warehouse_creates_views_and_keeps_user_tables(
    tmp_path: Path, lake_root: str
) -> None:
    path = str(tmp_path / "wh" / "warehouse.duckdb")
    first = build_warehouse(path, lake_root)
    assert Path(path).is_file()
    assert first.attempts == 1
    assert set(first.views) == set(DATASETS) | {"bars"}

    with duckdb.connect(path) as c:
        assert c.execute("SELECT count(*) FROM trades").fetchone() == (0,)
        c.execute("CREATE TABLE my_notes AS SELECT 42 AS answer")

    Lake(lake_root).write_window(
        "trades", trades_table([(DAY_NS + 5, "ACME", 1)]), Window(DAY_NS, DAY_NS + HOUR)
    )
    build_warehouse(path, lake_root)

    with duckdb.connect(path, read_only=True) as c:
        assert c.execute("SELECT answer FROM my_notes").fetchall() == [(42,)]
        assert c.execute("SELECT epoch_ns(ts), symbol FROM trades").fetchall() == [
            (DAY_NS + 5, "ACME")
        ]
        views = {
            r[0]
            for r in c.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        assert views == set(DATASETS) | {"bars"}
        for interval in BAR_INTERVALS:
            assert c.execute(f"SELECT count(*) FROM bars_{interval}").fetchone() == (0,)


_HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


@pytest.fixture
def hold_lock(tmp_path: Path) -> Iterator:
    """Start a process that opens a DuckDB file and holds it for ``seconds``; wait until it has it."""
    procs: list[subprocess.Popen] = []

    def start(path: str, seconds: float) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, path, str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        line = proc.stdout.readline()
        assert line.strip() == "locked", proc.stderr.read()
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_build_warehouse_retries_then_raises_a_clear_error_while_locked(
    tmp_path: Path, lake_root: str, hold_lock
) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    build_warehouse(path, lake_root)  # the file exists; another process now holds it
    hold_lock(path, 60)

    now = [1000.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(WarehouseLockedError) as info:
        build_warehouse(path, lake_root, timeout_s=2.0, clock=lambda: now[0], sleep=fake_sleep)

    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6]  # exponential backoff, injected: no real waiting
    message = str(info.value)
    assert path in message
    assert "locked by another process" in message
    assert "6 attempts" in message
    assert "shriven warehouse" in message
    assert isinstance(info.value.__cause__, duckdb.Error)


def test_build_warehouse_backoff_is_capped(tmp_path: Path, lake_root: str, hold_lock) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    hold_lock(path, 60)
    now = [0.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(WarehouseLockedError):
        build_warehouse(path, lake_root, timeout_s=20.0, clock=lambda: now[0], sleep=fake_sleep)
    assert max(sleeps) == 5.0
    assert sleeps[:6] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2]


def test_build_warehouse_succeeds_once_the_other_process_lets_go(
    tmp_path: Path, lake_root: str, hold_lock
) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    Lake(lake_root).write_window(
        "trades", trades_table([(DAY_NS + 9, "ACME", 1)]), Window(DAY_NS, DAY_NS + HOUR)
    )
    holder = hold_lock(path, 1.0)

    build = build_warehouse(path, lake_root, timeout_s=30.0)

    assert build.attempts > 1
    assert holder.wait(timeout=30) == 0
    with duckdb.connect(path, read_only=True) as c:
        assert c.execute("SELECT epoch_ns(ts) FROM trades").fetchall() == [(DAY_NS + 9,)]


@pytest.mark.parametrize("folder", ["plain", "blockchain", "conflicting"])
def test_non_lock_errors_are_not_retried(tmp_path: Path, lake_root: str, folder: str) -> None:
    # "lock" in the path must not make a broken file look like a locked one
    path = tmp_path / folder / "warehouse.duckdb"
    path.parent.mkdir()
    path.write_text("this is not a duckdb file")
    now = [0.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(duckdb.Error, match="not a valid DuckDB database") as info:
        build_warehouse(str(path), lake_root, timeout_s=1.0, clock=lambda: now[0], sleep=fake_sleep)
    assert not isinstance(info.value, WarehouseLockedError)
    assert sleeps == []


def test_memory_connection_works_while_another_process_holds_the_warehouse(
    tmp_path: Path, lake_root: str, hold_lock
) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    build_warehouse(path, lake_root)
    Lake(lake_root).write_window(
        "trades", trades_table([(DAY_NS + 3, "ACME", 1)]), Window(DAY_NS, DAY_NS + HOUR)
    )
    hold_lock(path, 60)
    with pytest.raises(duckdb.Error, match="(?i)lock"):
        duckdb.connect(path, read_only=True)

    con = memory_connection(lake_root)
    try:
        assert con.execute("SELECT epoch_ns(ts), symbol FROM trades").fetchall() == [
            (DAY_NS + 3, "ACME")
        ]
        assert con.execute("SELECT count(*) FROM bars").fetchone() == (0,)
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()


def test_audit_log_view_is_typed_before_and_after_the_first_record(tmp_path: Path, lake_root: str) -> None:
    from shriven.security.audit import AuditLog, AuditRecord

    audit_dir = tmp_path / "audit"
    con = memory_connection(lake_root, audit_dir=audit_dir)
    assert con.sql("SELECT count(*) FROM audit_log").fetchall() == [(0,)]
    empty_types = dict(con.sql("DESCRIBE audit_log").fetchall()[i][:2] for i in range(10))
    AuditLog(audit_dir).record(AuditRecord(
        ts_ns=1_767_600_000_123_456_789, correlation_id="c-1", principal="alice", role="trader",
        action="POST /v1/orders", target="/v1/orders", result="ok", status=202, detail='{"symbol": "ACME"}',
    ))  # fmt: skip
    create_views(con, lake_root, audit_dir=audit_dir)
    assert dict(con.sql("DESCRIBE audit_log").fetchall()[i][:2] for i in range(10)) == empty_types
    row = con.sql("SELECT epoch_ns(ts), principal, status, detail FROM audit_log").fetchall()
    assert row == [(1_767_600_000_123_456_789, "alice", 202, '{"symbol": "ACME"}')]
