"""The Parquet lake writer: idempotent window writes, overlaps, compaction, atomicity."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from lake_helpers import DAY_NS, HOUR, MINUTE, quarantine_table, row_set, trades_table

from shriven.lake import writer as writer_module
from shriven.lake.layout import NS_PER_DAY, Window, window_of_file
from shriven.lake.writer import Lake
from shriven.schemas import QUARANTINE, TRADES

SYMBOLS = ("ACME", "BETA", "GAMA")


def _hourly_rows(
    window: Window, symbols=SYMBOLS, per_hour: int = 2, id_base: int = 0
) -> list[tuple]:
    """Rows spread over the window (``per_hour`` rows per hour per symbol), unique ids per symbol."""
    rows = []
    step = HOUR // per_hour
    for s in symbols:
        for i, ts in enumerate(range(window.start_ns, window.end_ns, step)):
            rows.append((ts + step // 3, s, id_base + i))
    return rows


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _rel_files(lake: Lake, name: str) -> list[str]:
    return [f.removeprefix(lake.root + "/") for f in lake.files(name)]


def _assert_no_duplicates(table: pa.Table) -> None:
    keys = list(
        zip(table.column("symbol").to_pylist(), table.column("trade_id").to_pylist(), strict=True)
    )
    assert len(keys) == len(set(keys))


# ------------------------------------------------------------------ write and read back
def test_write_then_read_back_equal_rows_sorted_per_partition(
    lake: Lake, day_window: Window
) -> None:
    rows = _hourly_rows(day_window)
    table = trades_table(reversed(rows))  # arrival order is not the lake's order
    result = lake.write_window("trades", table, day_window)

    assert result.rows == len(rows)
    assert row_set(lake.read("trades")) == row_set(trades_table(rows))
    assert _rel_files(lake, "trades") == [
        f"trades/date=2024-01-02/symbol={s}/{day_window.file_name}" for s in SYMBOLS
    ]
    assert result.files_written == lake.files("trades")
    for path in lake.files("trades"):
        part = lake.read_file(path)
        assert part.schema.equals(TRADES, check_metadata=True)
        symbol = path.split("symbol=")[1].split("/")[0]
        assert set(part.column("symbol").to_pylist()) == {symbol}
        ts = part.column("ts").cast(pa.int64()).to_pylist()
        assert ts == sorted(ts)


def test_rows_with_equal_ts_are_sorted_by_trade_id(lake: Lake, day_window: Window) -> None:
    ts = DAY_NS + HOUR
    lake.write_window(
        "trades", trades_table([(ts, "ACME", 3), (ts, "ACME", 1), (ts - 1, "ACME", 9)]), day_window
    )
    (path,) = lake.files("trades")
    assert lake.read_file(path).column("trade_id").to_pylist() == [9, 1, 3]


def test_relative_root_rewrites_do_not_lose_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, day_window: Window
) -> None:
    monkeypatch.chdir(tmp_path)
    lake = Lake("lake")
    assert os.path.isabs(lake.root)
    table = trades_table(_hourly_rows(day_window))
    for _ in range(3):
        result = lake.write_window("trades", table, day_window)
        assert result.files_removed == []
        assert row_set(lake.read("trades")) == row_set(table)


# ------------------------------------------------------------------ idempotency
def test_writing_the_same_window_twice_is_idempotent(
    lake: Lake, day_window: Window, tmp_path: Path
) -> None:
    table = trades_table(_hourly_rows(day_window))
    first = lake.write_window("trades", table, day_window)
    files_after_first = _all_files(tmp_path / "lake")
    rows_after_first = row_set(lake.read("trades"))

    second = lake.write_window("trades", table, day_window)

    assert _all_files(tmp_path / "lake") == files_after_first
    assert row_set(lake.read("trades")) == rows_after_first
    assert lake.read("trades").num_rows == table.num_rows
    assert second.files_written == first.files_written
    assert second.files_removed == []
    assert second.files_trimmed == []


def test_rerun_with_fewer_symbols_removes_their_stale_files(lake: Lake, day_window: Window) -> None:
    lake.write_window("trades", trades_table(_hourly_rows(day_window)), day_window)
    next_day = Window(day_window.end_ns, day_window.end_ns + NS_PER_DAY)
    lake.write_window("trades", trades_table(_hourly_rows(next_day, ("BETA",))), next_day)

    result = lake.write_window(
        "trades", trades_table(_hourly_rows(day_window, ("ACME",))), day_window
    )

    assert sorted(p.split("symbol=")[1].split("/")[0] for p in result.files_removed) == [
        "BETA",
        "GAMA",
    ]
    day1 = lake.read("trades", dates=["2024-01-02"])
    assert set(day1.column("symbol").to_pylist()) == {"ACME"}
    # another window of a removed symbol is not touched
    assert row_set(lake.read("trades", dates=["2024-01-03"])) == row_set(
        trades_table(_hourly_rows(next_day, ("BETA",)))
    )


def test_empty_table_for_a_window_clears_it(lake: Lake, day_window: Window) -> None:
    lake.write_window("trades", trades_table(_hourly_rows(day_window)), day_window)
    result = lake.write_window("trades", TRADES.empty_table(), day_window)
    assert len(result.files_removed) == len(SYMBOLS)
    assert lake.files("trades") == []
    assert lake.read("trades").num_rows == 0


def test_symbols_argument_only_touches_those_symbols(lake: Lake, day_window: Window) -> None:
    original = trades_table(_hourly_rows(day_window))
    lake.write_window("trades", original, day_window)

    new_acme = trades_table(_hourly_rows(day_window, ("ACME",), per_hour=1, id_base=1000))
    result = lake.write_window("trades", new_acme, day_window, symbols=["ACME", "BETA"])

    # ACME replaced, BETA (in scope, no rows) cleared, GAMA (out of scope) kept
    got = lake.read("trades")
    by_symbol = {s: pc.equal(got.column("symbol"), s) for s in SYMBOLS}
    assert row_set(got.filter(by_symbol["ACME"])) == row_set(new_acme)
    assert got.filter(by_symbol["BETA"]).num_rows == 0
    gama = original.filter(pc.equal(original.column("symbol"), "GAMA"))
    assert row_set(got.filter(by_symbol["GAMA"])) == row_set(gama)
    assert [p.split("symbol=")[1].split("/")[0] for p in result.files_removed] == ["BETA"]


def test_symbols_argument_rejects_rows_of_other_symbols(lake: Lake, day_window: Window) -> None:
    table = trades_table(_hourly_rows(day_window, ("ACME", "BETA")))
    with pytest.raises(ValueError, match="BETA"):
        lake.write_window("trades", table, day_window, symbols=["ACME"])
    assert lake.files("trades") == []


# ------------------------------------------------------------------ overlapping windows
@pytest.mark.parametrize(
    ("start_h", "end_h"),
    [
        (10, 11),  # inside the larger file
        (0, 1),  # sharing its start
        (23, 24),  # sharing its end
        (-1, 1),  # crossing its start (previous day)
        (23, 25),  # crossing its end (next day)
    ],
)
def test_overlapping_smaller_window_cuts_rows_out_of_a_larger_file(
    lake: Lake, day_window: Window, start_h: int, end_h: int
) -> None:
    big = trades_table(_hourly_rows(day_window))
    lake.write_window("trades", big, day_window)

    small = Window(DAY_NS + start_h * HOUR, DAY_NS + end_h * HOUR)
    small_rows = _hourly_rows(small, per_hour=3, id_base=10_000)
    result = lake.write_window("trades", trades_table(small_rows), small)

    assert len(result.files_trimmed) == len(SYMBOLS)
    got = lake.read("trades")
    _assert_no_duplicates(got)
    ts = big.column("ts").cast(pa.int64())
    outside = pc.or_(pc.less(ts, small.start_ns), pc.greater_equal(ts, small.end_ns))
    expected = row_set(big.filter(outside)) + row_set(trades_table(small_rows))
    assert row_set(got) == sorted(expected)
    # the larger file keeps its name: it still stands for its window, minus the cut
    names = {p.rsplit("/", 1)[-1] for p in lake.files("trades")}
    assert day_window.file_name in names
    assert small.file_name in names


def test_overlapping_write_after_compaction_never_duplicates(lake: Lake) -> None:
    hours = [Window(DAY_NS + h * HOUR, DAY_NS + (h + 1) * HOUR) for h in range(6)]
    for w in hours:
        lake.write_window(
            "trades", trades_table(_hourly_rows(w, per_hour=4, id_base=100 * w.start_ns // HOUR)), w
        )
    lake.compact("trades")
    before = lake.read("trades")

    # a two-hour re-run straddling two of the original windows, with the same rows
    span = Window(hours[2].start_ns, hours[3].end_ns)
    same = before.filter(
        pc.and_(
            pc.greater_equal(before.column("ts").cast(pa.int64()), span.start_ns),
            pc.less(before.column("ts").cast(pa.int64()), span.end_ns),
        )
    )
    lake.write_window("trades", same, span)
    after = lake.read("trades")
    _assert_no_duplicates(after)
    assert row_set(after) == row_set(before)


# ------------------------------------------------------------------ rows outside the window
@pytest.mark.parametrize("offset", [-1, NS_PER_DAY, NS_PER_DAY + HOUR, -NS_PER_DAY])
def test_rows_outside_the_window_raise(lake: Lake, day_window: Window, offset: int) -> None:
    table = trades_table([(DAY_NS + HOUR, "ACME", 1), (DAY_NS + offset, "ACME", 2)])
    with pytest.raises(ValueError, match="outside the window"):
        lake.write_window("trades", table, day_window)
    assert lake.files("trades") == []


def test_window_edges_are_half_open(lake: Lake, day_window: Window) -> None:
    table = trades_table([(day_window.start_ns, "ACME", 1), (day_window.end_ns - 1, "ACME", 2)])
    lake.write_window("trades", table, day_window)
    assert lake.read("trades").num_rows == 2


# ------------------------------------------------------------------ compaction
def test_compaction_merges_window_files_into_one_named_by_the_union(lake: Lake) -> None:
    windows = [Window(DAY_NS + h * HOUR, DAY_NS + (h + 1) * HOUR) for h in (3, 4, 5, 9)]
    written = []
    for i, w in enumerate(windows):
        rows = _hourly_rows(w, per_hour=5, id_base=1000 * i)
        written.extend(rows)
        lake.write_window("trades", trades_table(rows), w)
    assert len(lake.files("trades")) == len(windows) * len(SYMBOLS)

    targets = lake.compact("trades")

    union = Window(windows[0].start_ns, windows[-1].end_ns)
    assert sorted(targets) == sorted(lake.files("trades"))
    assert [p.rsplit("/", 1)[-1] for p in lake.files("trades")] == [union.file_name] * len(SYMBOLS)
    got = lake.read("trades")
    assert row_set(got) == row_set(trades_table(written))
    for path in lake.files("trades"):
        part = lake.read_file(path)
        assert part.schema.equals(TRADES, check_metadata=True)
        ts = part.column("ts").cast(pa.int64()).to_pylist()
        assert ts == sorted(ts)


def test_rerun_of_an_original_window_after_compaction_has_no_duplicates(lake: Lake) -> None:
    windows = [Window(DAY_NS + h * HOUR, DAY_NS + (h + 1) * HOUR) for h in range(4)]
    tables = [
        trades_table(_hourly_rows(w, per_hour=5, id_base=1000 * i)) for i, w in enumerate(windows)
    ]
    for w, t in zip(windows, tables, strict=True):
        lake.write_window("trades", t, w)
    lake.compact("trades")
    before = row_set(lake.read("trades"))

    lake.write_window("trades", tables[1], windows[1])
    assert row_set(lake.read("trades")) == before
    _assert_no_duplicates(lake.read("trades"))

    # a re-run with changed rows replaces exactly that window's rows
    changed = trades_table(_hourly_rows(windows[1], ("ACME",), per_hour=2, id_base=50_000))
    lake.write_window("trades", changed, windows[1])
    expected = sorted(
        [r for t in (tables[0], tables[2], tables[3]) for r in row_set(t)] + row_set(changed)
    )
    assert row_set(lake.read("trades")) == expected

    # and compacting again folds the re-run into the one union file
    lake.compact("trades")
    union = Window(windows[0].start_ns, windows[-1].end_ns)
    assert {p.rsplit("/", 1)[-1] for p in lake.files("trades")} == {union.file_name}
    assert row_set(lake.read("trades")) == expected


def test_compaction_respects_min_files_and_dates(lake: Lake, day_window: Window) -> None:
    h = [Window(DAY_NS + i * HOUR, DAY_NS + (i + 1) * HOUR) for i in range(2)]
    lake.write_window("trades", trades_table(_hourly_rows(h[0], ("ACME", "BETA"))), h[0])
    lake.write_window("trades", trades_table(_hourly_rows(h[1], ("ACME",), id_base=100)), h[1])
    next_day = [Window(w.start_ns + NS_PER_DAY, w.end_ns + NS_PER_DAY) for w in h]
    for w in next_day:
        lake.write_window(
            "trades", trades_table(_hourly_rows(w, ("ACME",), id_base=10 * (w.start_ns // HOUR))), w
        )
    before = row_set(lake.read("trades"))

    targets = lake.compact("trades", dates=["2024-01-02"])

    assert [t.removeprefix(lake.root + "/") for t in targets] == [
        f"trades/date=2024-01-02/symbol=ACME/{Window(h[0].start_ns, h[1].end_ns).file_name}"
    ]
    assert (
        len(lake.files("trades", dates=["2024-01-02"])) == 2
    )  # ACME merged, BETA (one file) alone
    assert len(lake.files("trades", dates=["2024-01-03"])) == 2  # other date untouched
    assert row_set(lake.read("trades")) == before


def test_compaction_of_an_untimed_dataset_is_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match="no ts column"):
        lake.compact("quarantine")


# ------------------------------------------------------------------ unsafe partition values
@pytest.mark.parametrize("symbol", ["../x", "a/b", "", "..", ".x", "ACME\n"])
def test_unsafe_symbol_partition_values_are_rejected(
    lake: Lake, day_window: Window, tmp_path: Path, symbol: str
) -> None:
    table = trades_table([(DAY_NS + HOUR, "ACME", 1), (DAY_NS + HOUR, symbol, 2)])
    with pytest.raises(ValueError, match="not a safe path component"):
        lake.write_window("trades", table, day_window)
    assert _all_files(tmp_path) == []


@pytest.mark.parametrize("origin", ["../x", "a/b", ""])
def test_unsafe_fixed_partition_values_are_rejected(
    lake: Lake, day_window: Window, tmp_path: Path, origin: str
) -> None:
    with pytest.raises(ValueError, match="not a safe path component"):
        lake.write_window(
            "quarantine", quarantine_table(2), day_window, partition={"origin": origin}
        )
    assert _all_files(tmp_path) == []


# ------------------------------------------------------------------ atomic writes
def test_writes_leave_no_temporary_files(lake: Lake, day_window: Window, tmp_path: Path) -> None:
    lake.write_window("trades", trades_table(_hourly_rows(day_window)), day_window)
    lake.write_window("trades", trades_table(_hourly_rows(day_window, ("ACME",))), day_window)
    small = Window(DAY_NS + HOUR, DAY_NS + 2 * HOUR)
    lake.write_window("trades", trades_table(_hourly_rows(small, ("ACME",), id_base=999)), small)
    lake.compact("trades")
    files = _all_files(tmp_path / "lake")
    assert files
    assert all(p.suffix == ".parquet" and not p.name.startswith(".") for p in files)
    assert all(window_of_file(p.name) is not None for p in files)


@pytest.mark.parametrize("partial_bytes", [b"", b"PAR1 torn"])
def test_failure_mid_write_keeps_the_previous_file_and_no_temp(
    lake: Lake,
    day_window: Window,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    partial_bytes: bytes,
) -> None:
    old = trades_table(_hourly_rows(day_window, ("ACME",)))
    lake.write_window("trades", old, day_window)
    (path,) = lake.files("trades")
    old_bytes = Path(path).read_bytes()

    def boom(table: pa.Table, where, **kwargs) -> None:
        where.write(partial_bytes)
        raise OSError("disk full")

    monkeypatch.setattr(writer_module.pq, "write_table", boom)
    new = trades_table(_hourly_rows(day_window, ("ACME",), per_hour=1, id_base=500))
    with pytest.raises(OSError, match="disk full"):
        lake.write_window("trades", new, day_window)
    monkeypatch.undo()

    assert Path(path).read_bytes() == old_bytes
    assert row_set(lake.read("trades")) == row_set(old)
    assert _all_files(tmp_path / "lake") == [Path(path)]


def test_failed_trim_keeps_the_larger_file_intact(
    lake: Lake, day_window: Window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = trades_table(_hourly_rows(day_window, ("ACME",)))
    lake.write_window("trades", big, day_window)

    def boom(*args, **kwargs) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(writer_module.pq, "write_table", boom)
    small = Window(DAY_NS + HOUR, DAY_NS + 2 * HOUR)
    with pytest.raises(OSError, match="disk full"):
        lake.write_window(
            "trades", trades_table(_hourly_rows(small, ("ACME",), id_base=999)), small
        )
    monkeypatch.undo()

    assert row_set(lake.read("trades")) == row_set(big)
    assert [p.name for p in _all_files(tmp_path / "lake")] == [day_window.file_name]


# ------------------------------------------------------------------ midnight
def test_window_crossing_midnight_splits_into_two_date_partitions(lake: Lake) -> None:
    window = Window(DAY_NS - HOUR, DAY_NS + HOUR)
    rows = [
        (DAY_NS - 30 * MINUTE, "ACME", 1),
        (DAY_NS - 1, "ACME", 2),
        (DAY_NS, "ACME", 3),
        (DAY_NS + MINUTE, "ACME", 4),
    ]
    lake.write_window("trades", trades_table(rows), window)

    assert _rel_files(lake, "trades") == [
        f"trades/date=2024-01-01/symbol=ACME/{window.file_name}",
        f"trades/date=2024-01-02/symbol=ACME/{window.file_name}",
    ]
    assert lake.read("trades", dates=["2024-01-01"]).column("trade_id").to_pylist() == [1, 2]
    assert lake.read("trades", dates=["2024-01-02"]).column("trade_id").to_pylist() == [3, 4]

    # a re-run whose rows all fall before midnight removes the stale file after midnight
    lake.write_window("trades", trades_table(rows[:2]), window)
    assert _rel_files(lake, "trades") == [f"trades/date=2024-01-01/symbol=ACME/{window.file_name}"]
    assert row_set(lake.read("trades")) == row_set(trades_table(rows[:2]))


# ------------------------------------------------------------------ quarantine
def test_quarantine_is_partitioned_by_origin_and_replaced_per_window(
    lake: Lake, day_window: Window
) -> None:
    other = Window(day_window.end_ns, day_window.end_ns + HOUR)
    lake.write_window(
        "quarantine",
        quarantine_table(5, tag="first"),
        day_window,
        partition={"origin": "synthetic"},
    )
    lake.write_window(
        "quarantine",
        quarantine_table(3, tag="ccxt"),
        day_window,
        partition={"origin": "ccxt-binance"},
    )
    lake.write_window(
        "quarantine", quarantine_table(4, tag="later"), other, partition={"origin": "synthetic"}
    )
    assert _rel_files(lake, "quarantine") == [
        f"quarantine/date=2024-01-02/origin=ccxt-binance/{day_window.file_name}",
        f"quarantine/date=2024-01-02/origin=synthetic/{day_window.file_name}",
        f"quarantine/date=2024-01-03/origin=synthetic/{other.file_name}",
    ]

    replacement = quarantine_table(2, tag="second")
    lake.write_window("quarantine", replacement, day_window, partition={"origin": "synthetic"})

    day = lake.read("quarantine", dates=["2024-01-02"])
    assert day.schema.equals(QUARANTINE)
    assert day.num_rows == 2 + 3
    tags = sorted(r.split('"tag": "')[1].split('"')[0] for r in day.column("raw").to_pylist())
    assert tags == ["ccxt"] * 3 + ["second"] * 2
    assert lake.read("quarantine", dates=["2024-01-03"]).num_rows == 4

    # an empty quarantine for the window removes that origin's file only
    lake.write_window(
        "quarantine", QUARANTINE.empty_table(), day_window, partition={"origin": "synthetic"}
    )
    assert lake.read("quarantine", dates=["2024-01-02"]).num_rows == 3
    assert lake.read("quarantine", dates=["2024-01-03"]).num_rows == 4


# ------------------------------------------------------------------ concurrent readers
def test_duckdb_readers_never_see_a_torn_or_missing_file_while_a_window_is_rewritten(
    lake: Lake, day_window: Window
) -> None:
    table = trades_table(_hourly_rows(day_window, ("ACME", "BETA"), per_hour=60))
    lake.write_window("trades", table, day_window)
    expected = table.num_rows
    glob = f"{lake.root}/trades/*/*/*.parquet"

    stop = threading.Event()
    writer_errors: list[BaseException] = []
    writes = 0

    def rewrite() -> None:
        nonlocal writes
        try:
            while not stop.is_set():
                lake.write_window("trades", table, day_window)
                writes += 1
        except BaseException as exc:  # reported by the main thread
            writer_errors.append(exc)

    thread = threading.Thread(target=rewrite)
    thread.start()
    counts, read_errors = [], []
    con = duckdb.connect()
    try:
        for _ in range(200):
            try:
                counts.append(
                    con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
                )
            except duckdb.Error as exc:
                read_errors.append(exc)
    finally:
        stop.set()
        thread.join()
        con.close()

    assert writer_errors == []
    assert read_errors == []
    assert counts == [expected] * 200
    assert writes >= 1
    assert row_set(lake.read("trades")) == row_set(table)


def test_reads_can_be_limited_to_dates_and_symbols(lake: Lake) -> None:
    first = Window(DAY_NS, DAY_NS + NS_PER_DAY)
    second = Window(DAY_NS + NS_PER_DAY, DAY_NS + 2 * NS_PER_DAY)
    lake.write_window("trades", trades_table(_hourly_rows(first)), first)
    lake.write_window("trades", trades_table(_hourly_rows(second)), second)
    day = first.dates()[0].isoformat()
    only = lake.read("trades", [day], ["BETA"])
    assert set(only.column("symbol").to_pylist()) == {"BETA"}
    assert only.num_rows == 48
    assert len(lake.partition_dirs("trades", symbols=["ACME", "GAMA"])) == 4
    assert lake.read("trades", symbols=["NOPE"]).num_rows == 0


def test_a_file_replaced_while_being_read_is_read_again(lake: Lake, day_window: Window, monkeypatch) -> None:
    from s3fs.utils import FileExpired

    lake.write_window("trades", trades_table(_hourly_rows(day_window)), day_window)
    (path,) = lake.files("trades", symbols=["ACME"])
    expected = lake.read_file(path)
    real_open = lake.fs.open
    calls = []

    def open_replaced_once(p, mode="rb", **kwargs):
        calls.append(p)
        if len(calls) == 1:  # an object store saw a new ETag between two ranged reads
            raise FileExpired(filename=p, e_tag='"old"')
        return real_open(p, mode, **kwargs)

    monkeypatch.setattr(lake.fs, "open", open_replaced_once)
    assert lake.read_file(path).equals(expected)
    assert len(calls) == 2
