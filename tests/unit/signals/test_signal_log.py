"""Signal log: dense offsets (also across processes), validation into the quarantine, reads by offset."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from signals_helpers import NOW, append_many

import shriven.signals.log as log_module
from shriven.lake.layout import NS_PER_DAY
from shriven.lake.writer import Lake
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.schemas import QUARANTINE, SIGNALS
from shriven.signals import MAX_ABS_WEIGHT, SignalLog, SignalReason

SYMBOLS = ("ACME", "BOLT")


def sig(target: float = 1.0, symbol: str = "ACME", ts: int = NOW, **kw: object) -> Signal:
    return Signal(ts=ts, symbol=symbol, target=target, **kw)  # type: ignore[arg-type]


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture
def slog(root: str) -> SignalLog:
    return SignalLog(root, symbols=SYMBOLS)


def quarantined(root: str) -> pa.Table:
    return Lake(root).read("quarantine")


def fill_log(slog: SignalLog, sizes: list[int]) -> None:
    """Appends of the given sizes; signal k (k = offset) has target k."""
    k = 0
    for n in sizes:
        slog.append(
            [sig(float(k + j), ts=NOW + k + j) for j in range(n)], source="test", now_ns=NOW
        )
        k += n


# ---------------------------------------------------------------------------- appending


def test_empty_log(slog: SignalLog) -> None:
    assert slog.last_offset() == -1
    assert slog.read_after(-1) == []


def test_appends_get_dense_rising_offsets_and_one_file_each(slog: SignalLog, root: str) -> None:
    r1 = slog.append([sig(1.0), sig(2.0, "BOLT")], source="inference", now_ns=NOW)
    r2 = slog.append(
        [sig(0.5, kind=TargetKind.WEIGHT, model_version="v3")],
        source="optimiser",
        now_ns=NOW + NS_PER_DAY,
    )
    assert (r1.first_offset, r1.last_offset, r1.appended, r1.quarantined) == (0, 1, 2, 0)
    assert (r2.first_offset, r2.last_offset, r2.appended, r2.quarantined) == (2, 2, 1, 0)
    assert slog.last_offset() == 2
    assert r1.path == f"{root}/signals/date=2023-11-14/part-{0:020d}-{1:020d}.parquet"
    assert r2.path == f"{root}/signals/date=2023-11-15/part-{2:020d}-{2:020d}.parquet"
    table = pq.read_table(r1.path)
    assert table.schema.equals(SIGNALS)
    assert table.column("offset").to_pylist() == [0, 1]
    assert table.column("kind").to_pylist() == ["position", "position"]
    assert table.column("appended_at").cast(pa.int64()).to_pylist() == [NOW, NOW]
    assert pq.read_table(r2.path).column("kind").to_pylist() == ["weight"]
    got = slog.read_after(-1)
    assert got == [
        Signal(ts=NOW, symbol="ACME", target=1.0, source="inference", offset=0),
        Signal(ts=NOW, symbol="BOLT", target=2.0, source="inference", offset=1),
        Signal(
            ts=NOW,
            symbol="ACME",
            target=0.5,
            kind=TargetKind.WEIGHT,
            source="optimiser",
            model_version="v3",
            offset=2,
        ),
    ]


def test_row_source_wins_over_the_append_source(slog: SignalLog) -> None:
    slog.append([sig(source="model-a"), sig(source="")], source="flow", now_ns=NOW)
    assert [s.source for s in slog.read_after(-1)] == ["model-a", "flow"]


def test_append_accepts_an_arrow_table(slog: SignalLog) -> None:
    table = pa.table(
        {
            "ts": pa.array([NOW // 1000, NOW // 1000 + 1], pa.timestamp("us", tz="UTC")),
            "symbol": ["ACME", "BOLT"],
            "target": [3.0, -0.25],
            "kind": ["position", "WEIGHT"],
            "model_version": ["m1", None],
        }
    )
    result = slog.append(table, source="inference", now_ns=NOW)
    assert (result.appended, result.quarantined) == (2, 0)
    got = slog.read_after(-1)
    assert [(s.ts, s.symbol, s.target, s.kind, s.model_version) for s in got] == [
        (NOW, "ACME", 3.0, TargetKind.POSITION, "m1"),
        (NOW + 1000, "BOLT", -0.25, TargetKind.WEIGHT, ""),
    ]


def test_a_table_with_integer_ts_and_int_kinds(slog: SignalLog) -> None:
    table = pa.table({"ts": [NOW], "symbol": ["ACME"], "target": [1], "kind": [1]})
    slog.append(table, source="x", now_ns=NOW)
    (s,) = slog.read_after(-1)
    assert (s.ts, s.target, s.kind) == (NOW, 1.0, TargetKind.WEIGHT)


def test_a_table_without_required_columns_raises(slog: SignalLog) -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        slog.append(pa.table({"ts": [NOW], "symbol": ["ACME"]}), source="x", now_ns=NOW)


def test_bad_arguments_raise(slog: SignalLog) -> None:
    with pytest.raises(TypeError, match="Signal"):
        slog.append([{"ts": NOW}], source="x", now_ns=NOW)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="now_ns"):
        slog.append([sig()], source="x", now_ns=0)
    with pytest.raises(ValueError, match="local file system"):
        SignalLog("s3://bucket/lake")
    assert slog.last_offset() == -1


def test_an_empty_append_changes_nothing(slog: SignalLog, root: str) -> None:
    slog.append([sig()], source="x", now_ns=NOW)
    result = slog.append([], source="x", now_ns=NOW)
    assert (result.first_offset, result.last_offset, result.appended, result.quarantined) == (
        1,
        0,
        0,
        0,
    )
    assert result.path is None
    assert slog.last_offset() == 0
    assert not os.path.exists(f"{root}/quarantine")


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (sig(math.nan), SignalReason.INVALID_TARGET),
        (sig(math.inf), SignalReason.INVALID_TARGET),
        (sig(-math.inf), SignalReason.INVALID_TARGET),
        (sig(None), SignalReason.MISSING_TARGET),  # type: ignore[arg-type]
        (sig("1.0"), SignalReason.INVALID_TARGET),  # type: ignore[arg-type]
        (sig(True), SignalReason.INVALID_TARGET),  # type: ignore[arg-type]
        (sig(symbol="NOPE"), SignalReason.UNKNOWN_SYMBOL),
        (sig(symbol=""), SignalReason.MISSING_SYMBOL),
        (sig(symbol=None), SignalReason.MISSING_SYMBOL),  # type: ignore[arg-type]
        (sig(kind=7), SignalReason.UNKNOWN_KIND),
        (sig(kind="notional"), SignalReason.UNKNOWN_KIND),
        (sig(ts=0), SignalReason.INVALID_TIMESTAMP),
        (sig(ts=-5), SignalReason.INVALID_TIMESTAMP),
        (sig(ts=1.5e18), SignalReason.INVALID_TIMESTAMP),  # type: ignore[arg-type]
        (sig(ts=None), SignalReason.INVALID_TIMESTAMP),  # type: ignore[arg-type]
        (sig(ts=2**63), SignalReason.INVALID_TIMESTAMP),
        (sig(MAX_ABS_WEIGHT + 0.01, kind=TargetKind.WEIGHT), SignalReason.WEIGHT_OUT_OF_RANGE),
        (sig(-11.0, kind=TargetKind.WEIGHT), SignalReason.WEIGHT_OUT_OF_RANGE),
        (sig(model_version=3), SignalReason.INVALID_MODEL_VERSION),  # type: ignore[arg-type]
    ],
)
def test_each_invalid_row_is_quarantined_with_its_reason(
    slog: SignalLog, root: str, bad: Signal, reason: str
) -> None:
    good = [sig(1.0), sig(-2.0, "BOLT")]
    result = slog.append([good[0], bad, good[1]], source="inference", now_ns=NOW)
    assert (result.appended, result.quarantined) == (2, 1)
    assert result.appended + result.quarantined == 3
    assert result.reasons == {reason.value: 1}
    assert [s.target for s in slog.read_after(-1)] == [1.0, -2.0]
    q = quarantined(root)
    assert q.num_rows == 1
    row = q.to_pylist()[0]
    assert row["reason"] == reason
    assert row["dataset"] == "signals"
    assert row["source"] == "inference"
    assert row["row_number"] == 1
    raw = json.loads(row["raw"])  # strict JSON: NaN and inf are written as text
    assert set(raw) == {"ts", "symbol", "target", "kind", "source", "model_version"}


def test_limits_of_the_weight_range_and_big_positions_are_valid(slog: SignalLog) -> None:
    batch = [
        sig(MAX_ABS_WEIGHT, kind=TargetKind.WEIGHT),
        sig(-MAX_ABS_WEIGHT, kind=TargetKind.WEIGHT),
        sig(1e6, kind=TargetKind.POSITION),
        sig(0.0, kind=TargetKind.WEIGHT),
    ]
    assert slog.append(batch, source="x", now_ns=NOW).appended == 4


def test_a_row_without_any_source_is_quarantined(slog: SignalLog, root: str) -> None:
    result = slog.append([sig(source="model"), sig(source="  ")], source="", now_ns=NOW)
    assert (result.appended, result.quarantined) == (1, 1)
    assert quarantined(root).column("reason").to_pylist() == ["missing_source"]


def test_every_reason_of_a_row_is_recorded(slog: SignalLog, root: str) -> None:
    bad = Signal(ts=-1, symbol="NOPE", target=math.nan, kind=9)  # type: ignore[arg-type]
    result = slog.append([bad], source="x", now_ns=NOW)
    assert (result.first_offset, result.last_offset, result.appended, result.quarantined) == (
        0,
        -1,
        0,
        1,
    )
    (row,) = quarantined(root).to_pylist()
    assert row["reason"].split(";") == [
        "invalid_timestamp",
        "unknown_symbol",
        "invalid_target",
        "unknown_kind",
    ]
    assert row["symbol"] == "NOPE"
    assert json.loads(row["raw"]) == {
        "ts": -1,
        "symbol": "NOPE",
        "target": "nan",
        "kind": 9,
        "source": "",
        "model_version": "",
    }
    assert slog.last_offset() == -1


def test_any_symbol_is_accepted_without_a_universe(root: str) -> None:
    slog = SignalLog(root)
    assert slog.append([sig(symbol="WHATEVER")], source="x", now_ns=NOW).appended == 1


def test_quarantine_files_of_appends_at_the_same_instant_never_replace_each_other(
    slog: SignalLog, root: str
) -> None:
    for i in range(3):
        slog.append([sig(math.nan), sig(float(i))], source="x", now_ns=NOW)
    q = quarantined(root)
    assert q.num_rows == 3
    assert q.schema == QUARANTINE
    files = Lake(root).files("quarantine")
    assert len(files) == 3
    assert all("/quarantine/date=2023-11-14/origin=signals/" in f for f in files)
    assert slog.last_offset() == 2


def test_valid_plus_quarantined_equals_input_for_a_mixed_table(slog: SignalLog, root: str) -> None:
    table = pa.table(
        {
            "ts": [NOW, None, NOW, NOW, NOW, NOW],
            "symbol": ["ACME", "ACME", "XXX", "BOLT", None, "ACME"],
            "target": [1.0, 1.0, 1.0, math.nan, 2.0, 20.0],
            "kind": ["position", "position", "position", "weight", "weight", "weight"],
        }
    )
    result = slog.append(table, source="x", now_ns=NOW)
    assert result.appended + result.quarantined == table.num_rows
    assert (result.appended, result.quarantined) == (1, 5)
    assert result.reasons == {
        "invalid_timestamp": 1,
        "unknown_symbol": 1,
        "invalid_target": 1,
        "missing_symbol": 1,
        "weight_out_of_range": 1,
    }
    assert sorted(quarantined(root).column("row_number").to_pylist()) == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (-1, None, list(range(10))),
        (-7, None, list(range(10))),
        (0, None, list(range(1, 10))),
        (2, None, list(range(3, 10))),  # 2 ends a file
        (3, None, list(range(4, 10))),  # 3 starts one
        (4, None, list(range(5, 10))),  # 4 is inside one
        (8, None, [9]),
        (9, None, []),
        (50, None, []),
        (-1, 0, []),
        (-1, 1, [0]),
        (1, 3, [2, 3, 4]),  # across a file boundary
        (3, 2, [4, 5]),
        (5, 100, list(range(6, 10))),
    ],
)
def test_read_after_at_boundaries(
    slog: SignalLog, offset: int, limit: int | None, expected: list[int]
) -> None:
    fill_log(slog, [3, 3, 1, 3])  # files 0-2, 3-5, 6-6, 7-9
    got = slog.read_after(offset, limit=limit)
    assert [s.offset for s in got] == expected
    assert [s.target for s in got] == [float(k) for k in expected]
    assert [s.ts for s in got] == [NOW + k for k in expected]


def test_read_after_follows_offsets_not_dates(slog: SignalLog) -> None:
    """A late now_ns puts a newer file in an older date directory; reads stay in offset order."""
    slog.append([sig(0.0)], source="x", now_ns=NOW + 2 * NS_PER_DAY)
    slog.append([sig(1.0)], source="x", now_ns=NOW)
    slog.append([sig(2.0)], source="x", now_ns=NOW + NS_PER_DAY)
    assert [s.offset for s in slog.read_after(-1)] == [0, 1, 2]
    assert [s.target for s in slog.read_after(0)] == [1.0, 2.0]


def test_read_after_skips_a_missing_file_loudly(
    slog: SignalLog, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    fill_log(slog, [2, 2, 2])
    os.remove(f"{root}/signals/date=2023-11-14/part-{2:020d}-{3:020d}.parquet")
    with caplog.at_level(logging.WARNING, logger="shriven.signals.log"):
        assert [s.offset for s in slog.read_after(-1)] == [0, 1, 4, 5]
    assert "offsets 2..3 are missing" in caplog.text
    # The log's end never goes back, so offsets are never reused.
    assert slog.append([sig()], source="x", now_ns=NOW).first_offset == 6


def test_reads_never_go_past_the_committed_end(slog: SignalLog, root: str) -> None:
    """A file whose append has not committed (no head yet) is invisible to readers."""
    fill_log(slog, [2])
    src = f"{root}/signals/date=2023-11-14/part-{0:020d}-{1:020d}.parquet"
    table = pq.read_table(src)
    table = table.set_column(0, "offset", pa.array([2, 3], pa.int64()))
    pq.write_table(table, f"{root}/signals/date=2023-11-14/part-{2:020d}-{3:020d}.parquet")
    assert slog.last_offset() == 1
    assert [s.offset for s in slog.read_after(-1)] == [0, 1]


def test_files_are_readable_by_duckdb_with_hive_partitions(slog: SignalLog, root: str) -> None:
    slog.append([sig(1.0), sig(0.1, "BOLT", kind=TargetKind.WEIGHT)], source="x", now_ns=NOW)
    slog.append([sig(2.0)], source="y", now_ns=NOW + NS_PER_DAY)
    slog.append(
        [sig(math.nan)], source="y", now_ns=NOW
    )  # quarantine and lock files must not confuse the glob
    rows = duckdb.sql(
        f'SELECT "offset", symbol, kind, source, CAST(date AS VARCHAR) AS d '
        f"FROM read_parquet('{root}/signals/**/*.parquet', hive_partitioning=true) ORDER BY \"offset\""
    ).fetchall()
    assert rows == [
        (0, "ACME", "position", "x", "2023-11-14"),
        (1, "BOLT", "weight", "x", "2023-11-14"),
        (2, "ACME", "position", "y", "2023-11-15"),
    ]


# ---------------------------------------------------------------------------- crash safety


def test_a_crash_before_the_file_lands_leaves_no_gap(
    slog: SignalLog, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_log(slog, [2])

    def crash(path: str, write: object) -> None:
        raise OSError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(log_module, "write_atomic", crash)
        with pytest.raises(OSError, match="disk gone"):
            slog.append([sig(5.0)], source="x", now_ns=NOW)
    assert slog.last_offset() == 1
    result = slog.append([sig(6.0)], source="x", now_ns=NOW)
    assert result.first_offset == 2
    assert [s.target for s in slog.read_after(1)] == [6.0]


def test_the_end_is_found_from_the_files_without_a_head(slog: SignalLog, root: str) -> None:
    fill_log(slog, [2, 3])
    os.remove(f"{root}/signals/_head.json")
    assert slog.last_offset() == 4
    assert slog.append([sig()], source="x", now_ns=NOW).first_offset == 5
    assert [s.offset for s in slog.read_after(-1)] == list(range(6))


def test_other_instances_see_the_same_log(root: str) -> None:
    a, b = SignalLog(root), SignalLog(root)
    a.append([sig()], source="x", now_ns=NOW)
    assert b.append([sig(), sig()], source="y", now_ns=NOW).first_offset == 1
    assert a.last_offset() == 2
    assert [s.source for s in a.read_after(-1)] == ["x", "y", "y"]


def test_concurrent_processes_never_share_an_offset(root: str) -> None:
    workers, appends = 4, 50
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        results = pool.starmap(append_many, [(root, w, appends) for w in range(workers)])
    ranges = [r for per_worker in results for r in per_worker]
    assert len(ranges) == workers * appends
    total = sum(n for _, _, n in ranges)
    covered = sorted(k for first, last, n in ranges for k in range(first, last + 1))
    assert covered == list(range(total))  # dense and unique
    for first, last, n in ranges:
        assert last - first + 1 == n
    slog = SignalLog(root)
    assert slog.last_offset() == total - 1
    got = slog.read_after(-1)
    assert [s.offset for s in got] == list(range(total))
    # Each append's rows stayed together, under the offsets its worker was told.
    by_offset = {s.offset: s for s in got}
    for w, per_worker in enumerate(results):
        for i, (first, last, _) in enumerate(per_worker):
            batch = [by_offset[k] for k in range(first, last + 1)]
            assert {s.source for s in batch} == {f"w{w}"}
            assert [s.model_version for s in batch] == [f"{i}:{j}" for j in range(len(batch))]
    assert len(os.listdir(f"{root}/signals/date=2023-11-14")) == workers * appends


# ---------------------------------------------------------------------------- a reader's listing cache


def test_a_polling_reader_sees_every_append_of_another_writer(root: str) -> None:
    writer, reader = SignalLog(root), SignalLog(root)
    seen: list[int] = []
    committed = -1
    for step in range(12):
        for _ in range(step % 3):  # 0, 1 or 2 appends between polls, over three dates
            writer.append([sig(), sig()], source="x", now_ns=NOW + (step % 3) * NS_PER_DAY)
        got = reader.read_after(committed)
        seen += [s.offset for s in got]
        committed = seen[-1] if seen else -1
    assert seen == list(range(writer.last_offset() + 1))


def test_a_file_hidden_by_a_coarse_directory_mtime_is_still_found(root: str) -> None:
    writer, reader = SignalLog(root), SignalLog(root)
    writer.append([sig(0.0)], source="x", now_ns=NOW)
    writer.append([sig(1.0)], source="x", now_ns=NOW)
    assert [s.offset for s in reader.read_after(-1)] == [0, 1]  # two new files: the reader lists
    day = f"{root}/signals/date=2023-11-14"
    listed = os.stat(day)
    writer.append([sig(2.0)], source="x", now_ns=NOW)
    writer.append([sig(3.0)], source="x", now_ns=NOW)
    # As if both renames landed in the same mtime tick as the reader's listing.
    os.utime(day, ns=(listed.st_atime_ns, listed.st_mtime_ns))
    assert [s.target for s in reader.read_after(1)] == [2.0, 3.0]


def test_a_cached_file_removed_later_is_reported_and_skipped(
    root: str, caplog: pytest.LogCaptureFixture
) -> None:
    slog = SignalLog(root)
    fill_log(slog, [1, 1, 1])
    assert len(slog.read_after(-1)) == 3
    os.remove(f"{root}/signals/date=2023-11-14/part-{1:020d}-{1:020d}.parquet")
    with caplog.at_level(logging.WARNING, logger="shriven.signals.log"):
        assert [s.offset for s in slog.read_after(-1)] == [0, 2]
    assert "offsets 1..1 are missing" in caplog.text


def test_reads_open_only_the_files_they_need_and_a_poll_lists_nothing(
    root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slog = SignalLog(root)
    fill_log(slog, [2] * 20)
    assert len(slog.read_after(-1)) == 40
    opened: list[str] = []
    listed: list[str] = []
    parquet_file, scandir = pq.ParquetFile, os.scandir
    monkeypatch.setattr(
        log_module.pq,
        "ParquetFile",
        lambda p, *a, **k: opened.append(p) or parquet_file(p, *a, **k),
    )
    monkeypatch.setattr(log_module.os, "scandir", lambda p: listed.append(p) or scandir(p))
    assert [s.offset for s in slog.read_after(36)] == [37, 38, 39]
    # the newest file's rows come from the head
    assert [os.path.basename(p) for p in opened] == [f"part-{36:020d}-{37:020d}.parquet"]
    slog.append([sig()], source="x", now_ns=NOW)  # the usual poll: one new file
    assert [s.offset for s in slog.read_after(39)] == [40]
    assert listed == []


def test_table_timestamps_in_any_unit_and_zone(slog: SignalLog, root: str) -> None:
    seconds = NOW // 1_000_000_000
    table = pa.table(
        {
            "ts": pa.array([seconds, None, 2**62], pa.timestamp("s", tz="America/New_York")),
            "symbol": ["ACME"] * 3,
            "target": [1.0] * 3,
            "kind": ["position"] * 3,
        }
    )
    result = slog.append(table, source="x", now_ns=NOW)
    assert (result.appended, result.quarantined) == (1, 2)
    assert result.reasons == {"invalid_timestamp": 2}
    assert [s.ts for s in slog.read_after(-1)] == [seconds * 1_000_000_000]


def test_threads_sharing_one_log_never_share_an_offset(root: str) -> None:
    slog = SignalLog(root)
    results: list[tuple[int, int]] = []

    def work(worker: int) -> None:
        for i in range(25):
            r = slog.append([sig(float(worker))] * (1 + i % 2), source=f"t{worker}", now_ns=NOW)
            results.append((r.first_offset, r.last_offset))
            slog.read_after(max(r.first_offset - 3, -1))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    covered = sorted(k for first, last in results for k in range(first, last + 1))
    assert covered == list(range(slog.last_offset() + 1))
    assert [s.offset for s in slog.read_after(-1)] == covered


def test_a_reader_that_keeps_up_takes_small_appends_from_the_head(
    slog: SignalLog, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = SignalLog(root, symbols=SYMBOLS)
    opened: list[str] = []
    real = log_module.pq.ParquetFile

    def spy(path, *a, **kw):
        opened.append(str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(log_module.pq, "ParquetFile", spy)
    batch = [
        sig(1.5, "ACME", NOW + 1, kind=TargetKind.WEIGHT, model_version="m@3", source="ml"),
        sig(-2.0, "BOLT", NOW + 2),
    ]
    slog.append(batch, source="test", now_ns=NOW)
    head = json.loads((Path(root) / "signals" / "_head.json").read_bytes())
    assert head["pending"]["rows"]["symbol"] == ["ACME", "BOLT"]
    got = reader.read_after(-1)
    assert opened == []  # taken from the head
    monkeypatch.setattr(log_module.pq, "ParquetFile", real)
    from_parquet = SignalLog(root, symbols=SYMBOLS)
    from_parquet_rows = log_module._read_part(from_parquet._head().newest, 0, 1)
    assert got == from_parquet_rows
    assert [(s.offset, s.target, s.kind, s.model_version, s.source) for s in got] == [
        (0, 1.5, TargetKind.WEIGHT, "m@3", "ml"),
        (1, -2.0, TargetKind.POSITION, "", "test"),
    ]
    # Only the newest file is in the head; a reader behind it reads Parquet, a part from the head.
    slog.append([sig(3.0, ts=NOW + 3)], source="test", now_ns=NOW)
    monkeypatch.setattr(log_module.pq, "ParquetFile", spy)
    assert [s.target for s in SignalLog(root).read_after(0)] == [-2.0, 3.0]
    assert [os.path.basename(p) for p in opened] == [f"part-{0:020d}-{1:020d}.parquet"]


def test_a_large_append_is_not_copied_into_the_head(slog: SignalLog, root: str) -> None:
    n = log_module.INLINE_ROWS + 1
    fill_log(slog, [n])
    head = json.loads((Path(root) / "signals" / "_head.json").read_bytes())
    assert "rows" not in head["pending"]
    assert [s.target for s in SignalLog(root).read_after(-1)] == [float(k) for k in range(n)]


def test_small_file_reads_whole_files_of_any_size(tmp_path: Path) -> None:
    """One read for the usual head; files past the first read's size are read to their end."""
    from shriven.signals.log import _READ_BYTES, _read_small

    for size in (0, 10, _READ_BYTES - 1, _READ_BYTES, _READ_BYTES + 1, 3 * _READ_BYTES + 7):
        data = os.urandom(size)
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        assert _read_small(str(path)) == data, size
