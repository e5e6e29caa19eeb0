"""The journal: framing, group commit, torn tails, damage in the middle, locking, failures."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec
import pytest
from oms_support import event, fill, request

from shriven.model.enums import OrderEventKind as K
from shriven.model.enums import OrderState
from shriven.oms import Journal, JournalCorrupt, JournalLocked, SignalConsumed, Snapshot
from shriven.oms import journal as journal_module
from shriven.oms.journal import MAGIC, encode_frame
from shriven.oms.records import OrderSnapshot

RECORDS = [
    request("a", signal_offset=3, strategy_id="s"),
    event("a", K.SUBMITTED, venue="sim"),
    fill("a", 1.5, 101.25, "t1", fee=0.01),
    SignalConsumed(offset=3, ts=9),
    Snapshot(
        last_signal_offset=3,
        positions={"BTC": 1.5},
        orders=[
            OrderSnapshot(
                request=request("b"),
                state=OrderState.ACCEPTED,
                previous_state=OrderState.SUBMITTED,
                filled_quantity=0.0,
                avg_fill_price=float("nan"),
                fees=0.0,
                venue="sim",
                venue_order_id="v",
                reason="",
                created_ts=1,
                updated_ts=2,
                price=100.0,
                quantity=10.0,
            )
        ],
    ),
]


def _enc(records: list) -> bytes:
    """Records encoded: equal bytes mean equal records (NaN fields compare unequal otherwise)."""
    return msgspec.msgpack.encode(records)


def _frames_end(path: Path) -> int:
    """End of the last complete frame in the file (a synced journal has zeros after it)."""
    return journal_module._scan(memoryview(path.read_bytes()), path).good_end


def _write(path: Path, commits: list[list]) -> list[int]:
    """Write commits (one frame each); returns the file size after each."""
    sizes = []
    with Journal(path, fsync=False) as journal:
        for commit in commits:
            if len(commit) == 1:
                journal.append(commit[0])
            else:
                journal.append_many(commit)
            sizes.append(journal.size)
    return sizes


def test_records_round_trip_in_order(journal_path: Path) -> None:
    _write(journal_path, [[r] for r in RECORDS])
    back = list(Journal.replay(journal_path))
    assert [type(r) for r in back] == [type(r) for r in RECORDS]
    assert _enc(back) == _enc(RECORDS)
    assert journal_path.read_bytes().startswith(MAGIC)


def test_frame_layout(journal_path: Path) -> None:
    _write(journal_path, [[RECORDS[0]]])
    data = journal_path.read_bytes()
    frame = encode_frame([RECORDS[0]])
    assert data == MAGIC + frame
    length = int.from_bytes(frame[:4], "little")
    assert length == len(frame) - 8
    import zlib

    assert int.from_bytes(frame[4:8], "little") == zlib.crc32(frame[8:])


def test_append_rejects_foreign_objects(journal_path: Path) -> None:
    with Journal(journal_path, fsync=False) as journal, pytest.raises(TypeError):
        journal.append("not a record")  # type: ignore[arg-type]


def test_reopening_appends_after_the_existing_records(journal_path: Path) -> None:
    _write(journal_path, [[RECORDS[0]]])
    _write(journal_path, [[RECORDS[1]]])
    assert _enc(list(Journal.replay(journal_path))) == _enc(RECORDS[:2])


def test_torn_tail_at_every_byte_offset(tmp_path: Path, journal_path: Path) -> None:
    commits = [[RECORDS[0]], [RECORDS[1], RECORDS[2]], [RECORDS[3]], [RECORDS[4]]]
    sizes = _write(journal_path, commits)
    data = journal_path.read_bytes()
    for cut in range(len(data) + 1):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(data[:cut])
        complete = [c for c, size in zip(commits, sizes, strict=True) if size <= cut]
        expected = [r for c in complete for r in c]
        got = list(Journal.replay(path))
        assert _enc(got) == _enc(expected), cut
        good = max([len(MAGIC)] + [s for s in sizes if s <= cut]) if cut >= len(MAGIC) else cut
        assert path.stat().st_size == good, cut  # the torn tail is truncated away
        with Journal(path, fsync=False) as journal:  # and appending continues cleanly
            journal.append(RECORDS[3])
        assert len(list(Journal.replay(path))) == len(expected) + 1
        path.unlink()


def test_group_commit_is_all_or_nothing(journal_path: Path) -> None:
    sizes = _write(journal_path, [[RECORDS[0]], [RECORDS[1], RECORDS[2], RECORDS[3]]])
    data = journal_path.read_bytes()
    journal_path.write_bytes(data[: sizes[1] - 1])
    assert list(Journal.replay(journal_path)) == [RECORDS[0]]


def test_corrupt_last_frame_is_truncated_and_logged(
    journal_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sizes = _write(journal_path, [[RECORDS[0]], [RECORDS[1]]])
    data = bytearray(journal_path.read_bytes())
    data[-3] ^= 0xFF
    journal_path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="shriven.oms"):
        assert list(Journal.replay(journal_path)) == [RECORDS[0]]
    assert journal_path.stat().st_size == sizes[0]
    assert "torn tail" in caplog.text


def test_zero_filled_tail_is_free_space(journal_path: Path) -> None:
    sizes = _write(journal_path, [[RECORDS[0]]])
    with open(journal_path, "ab") as f:
        f.write(b"\0" * 4096)  # a preallocated tail (or a file extended, never written)
    assert list(Journal.replay(journal_path)) == [RECORDS[0]]
    assert journal_path.stat().st_size == sizes[0] + 4096  # not torn: left alone
    _write(journal_path, [[RECORDS[1]]])  # the next frame goes after the last one, not the zeros
    assert _enc(list(Journal.replay(journal_path))) == _enc(RECORDS[:2])
    data = journal_path.read_bytes()
    assert data.startswith(MAGIC + encode_frame([RECORDS[0]]) + encode_frame([RECORDS[1]]))


def test_synced_journal_is_preallocated_and_closed_to_its_frames(journal_path: Path) -> None:
    with Journal(journal_path, fsync=True) as journal:
        journal.append(RECORDS[0])
        size = os.stat(journal_path).st_size
        assert size >= journal.size + journal_module.SEGMENT_BYTES // 2
        assert journal_path.read_bytes()[journal.size :] == bytes(size - journal.size)
        assert list(Journal.replay(journal_path)) == [RECORDS[0]]  # a reader meanwhile
        journal.append(RECORDS[1])
        assert os.stat(journal_path).st_size == size  # written in place, no growth
    assert journal_path.read_bytes() == MAGIC + encode_frame([RECORDS[0]]) + encode_frame(
        [RECORDS[1]]
    )


def test_synced_journal_grows_by_segments(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 256)
    monkeypatch.setattr(journal_module, "_LOW_WATER", 64)
    written = []
    with Journal(journal_path, fsync=True) as journal:
        for i in range(40):
            r = RECORDS[i % 4]
            journal.append(r, sync=i % 3 == 0)
            if i % 5 == 0:
                journal.write_out()
            written.append(r)
        journal.sync()
        assert os.stat(journal_path).st_size >= journal.size
    assert _enc(list(Journal.replay(journal_path))) == _enc(written)


def _preallocated(path: Path, commits: list[list]) -> tuple[bytes, list[int]]:
    """A synced journal left as a crash leaves it (zero tail, not closed): bytes, frame ends."""
    journal = Journal(path, fsync=True)
    sizes = []
    for commit in commits:
        journal.append_many(commit)
        sizes.append(journal.size)
    data = path.read_bytes()
    journal._stop_background()
    os.close(journal._fd)  # no close(): it would cut the tail
    journal._fd = None
    return data, sizes


def test_torn_record_in_a_preallocated_tail(tmp_path: Path, journal_path: Path) -> None:
    commits = [[RECORDS[0]], [RECORDS[1], RECORDS[2]], [RECORDS[3]]]
    data, sizes = _preallocated(journal_path, commits)
    assert len(data) > sizes[-1]
    assert not data[sizes[-1] :].strip(b"\0")
    # the last frame torn at every byte: its prefix written over the zeros, the rest still zero
    for cut in range(sizes[-2], sizes[-1]):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(data[:cut] + bytes(len(data) - cut))
        got = list(Journal.replay(path))
        assert _enc(got) == _enc(RECORDS[:3]), cut
        # a prefix with a byte other than zero is torn and truncated; a zero prefix is free space
        torn = bool(data[sizes[-2] : cut].strip(b"\0"))
        assert path.stat().st_size == (sizes[-2] if torn else len(data)), cut
        with Journal(path, fsync=True) as journal:  # appending continues after the last frame
            assert journal.size == sizes[-2]
            journal.append(RECORDS[4])
        assert _enc(list(Journal.replay(path))) == _enc(RECORDS[:3] + [RECORDS[4]])
        path.unlink()


def test_torn_record_in_a_preallocated_tail_is_repaired_on_open(
    journal_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, sizes = _preallocated(journal_path, [[RECORDS[0]], [RECORDS[1]]])
    torn = bytearray(data)
    torn[sizes[-1] - 3] ^= 0xFF  # the last frame fails its CRC, zeros after it
    journal_path.write_bytes(bytes(torn))
    with caplog.at_level(logging.WARNING, logger="shriven.oms"):
        with Journal(journal_path, fsync=True) as journal:
            assert journal.size == sizes[0]
            journal.append(RECORDS[2])
    assert "torn tail" in caplog.text
    assert _enc(list(Journal.replay(journal_path))) == _enc([RECORDS[0], RECORDS[2]])


def test_damage_before_a_valid_frame_in_a_preallocated_file_is_corrupt(
    journal_path: Path,
) -> None:
    data, sizes = _preallocated(journal_path, [[RECORDS[0]], [RECORDS[1]], [RECORDS[2]]])
    bad = bytearray(data)
    bad[sizes[0] + 10] ^= 0xFF
    journal_path.write_bytes(bytes(bad))
    with pytest.raises(JournalCorrupt):
        list(Journal.replay(journal_path))
    assert journal_path.read_bytes() == bytes(bad)


@pytest.mark.parametrize("where", ["length", "crc", "payload"])
def test_damage_in_the_middle_raises(journal_path: Path, where: str) -> None:
    sizes = _write(journal_path, [[RECORDS[0]], [RECORDS[1]], [RECORDS[2]]])
    data = bytearray(journal_path.read_bytes())
    start = sizes[0]  # the second frame
    offset = {"length": start, "crc": start + 5, "payload": start + 12}[where]
    data[offset] ^= 0x40
    journal_path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match=f"corrupt frame at byte {start}"):
        list(Journal.replay(journal_path))
    with pytest.raises(JournalCorrupt):
        Journal(journal_path, fsync=False)
    assert journal_path.read_bytes() == bytes(data)  # nothing truncated


def test_a_foreign_file_is_refused(journal_path: Path) -> None:
    journal_path.write_bytes(b"hello world, not a journal")
    with pytest.raises(JournalCorrupt, match="not an OMS journal"):
        list(Journal.replay(journal_path))
    with pytest.raises(JournalCorrupt, match="not an OMS journal"):
        Journal(journal_path)


def test_a_torn_header_is_an_empty_journal(journal_path: Path) -> None:
    journal_path.write_bytes(MAGIC[:3])
    assert list(Journal.replay(journal_path)) == []
    with Journal(journal_path, fsync=False) as journal:
        journal.append(RECORDS[0])
    assert list(Journal.replay(journal_path)) == [RECORDS[0]]


def test_one_writer_at_a_time(journal_path: Path) -> None:
    with Journal(journal_path, fsync=False):
        with pytest.raises(JournalLocked):
            Journal(journal_path, fsync=False)
    Journal(journal_path, fsync=False).close()


def test_replay_leaves_the_tail_of_a_journal_in_use(journal_path: Path) -> None:
    sizes = _write(journal_path, [[RECORDS[0]]])
    with open(journal_path, "ab") as f:
        f.write(encode_frame([RECORDS[1]])[:-2])  # as if a write were in flight
    size = journal_path.stat().st_size
    # Journal() would itself truncate, so hold the lock the way a writer does.
    import fcntl

    fd = os.open(journal_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert list(Journal.replay(journal_path)) == [RECORDS[0]]
        assert journal_path.stat().st_size == size
    finally:
        os.close(fd)
    list(Journal.replay(journal_path))
    assert journal_path.stat().st_size == sizes[0]


def test_a_failed_write_leaves_no_partial_frame(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(journal_path, fsync=False)
    journal.append(RECORDS[0])
    real_write = journal_module._write

    def half_then_fail(fd: int, data: memoryview, offset: int) -> int:
        if len(data) > 10:
            return real_write(fd, data[: len(data) // 2], offset)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module, "_write", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        journal.append(RECORDS[1])
    monkeypatch.setattr(journal_module, "_write", real_write)
    with pytest.raises(OSError, match="unusable"):
        journal.append(RECORDS[2])  # refuse to write after an unknown outcome
    journal.close()
    assert list(Journal.replay(journal_path)) == [RECORDS[0]]


def test_a_failed_sync_makes_the_journal_unusable(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(journal_path, fsync=True)

    def failing_sync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal_module, "_sync", failing_sync)
    with pytest.raises(OSError, match="Input/output"):
        journal.append(RECORDS[0])
    with pytest.raises(OSError, match="unusable"):
        journal.append(RECORDS[0])
    journal.close()


def test_fsync_false_never_syncs(journal_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(journal_module, "_sync", calls.append)
    with Journal(journal_path, fsync=False) as journal:
        journal.append(RECORDS[0])
        journal.append_many(RECORDS[:3])
    assert calls == []


def test_append_many_syncs_once(journal_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(journal_path, fsync=True)
    calls: list[int] = []
    monkeypatch.setattr(journal_module, "_sync", calls.append)
    journal.append_many(RECORDS[:4])
    assert len(calls) == 1
    monkeypatch.undo()
    journal.close()
    assert _enc(list(Journal.replay(journal_path))) == _enc(RECORDS[:4])


def test_rewrite_replaces_the_contents(journal_path: Path) -> None:
    journal = Journal(journal_path, fsync=True)
    journal.append(RECORDS[0])
    journal.rewrite([RECORDS[3]])
    journal.append(RECORDS[1])
    assert journal.size == _frames_end(journal_path)
    with pytest.raises(JournalLocked):  # the lock moved to the new file
        Journal(journal_path, fsync=False)
    journal.close()
    assert _enc(list(Journal.replay(journal_path))) == _enc([RECORDS[3], RECORDS[1]])
    assert not list(journal_path.parent.glob("*.compact-tmp"))


def test_sync_makes_unsynced_appends_durable_once(tmp_path, monkeypatch):
    import shriven.oms.journal as journal_module
    from shriven.model.enums import OrderEventKind
    from shriven.model.records import OrderEvent

    calls = []
    real = journal_module._sync
    j = journal_module.Journal(tmp_path / "j.bin", fsync=True)  # its segment synced here
    monkeypatch.setattr(journal_module, "_sync", lambda fd: (calls.append(fd), real(fd)))
    for i in range(3):
        j.append(OrderEvent(ts=i, client_order_id="a", kind=OrderEventKind.ACCEPTED), sync=False)
    assert calls == []
    j.sync()
    j.sync()  # nothing new: no second sync
    assert len(calls) == 1
    j.close()
    assert len(list(journal_module.Journal.replay(tmp_path / "j.bin"))) == 3


def test_unsynced_records_wait_in_memory_and_land_with_the_next_synced_one(tmp_path):
    import os

    from shriven.model.enums import OrderEventKind
    from shriven.model.records import OrderEvent
    from shriven.oms.journal import Journal

    path = tmp_path / "j.bin"
    j = Journal(path, fsync=False)
    empty = os.path.getsize(path)
    j.append(OrderEvent(ts=1, client_order_id="a", kind=OrderEventKind.ACCEPTED), sync=False)
    assert os.path.getsize(path) == empty  # one write per commit, not per record
    assert j.size > empty
    j.append(OrderEvent(ts=2, client_order_id="a", kind=OrderEventKind.CANCELED))
    assert os.path.getsize(path) == j.size
    assert [r.ts for r in Journal.replay(path)] == [1, 2]
    j.append(OrderEvent(ts=3, client_order_id="a", kind=OrderEventKind.EXPIRED), sync=False)
    j.close()  # close writes what is pending
    assert [r.ts for r in Journal.replay(path)] == [1, 2, 3]


def test_write_out_reaches_the_file_now_and_the_disk_in_the_background(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    path = tmp_path / "j.bin"
    synced: list[tuple[str, int]] = []
    real = journal_module._sync

    def recording_sync(fd: int) -> None:
        real(fd)
        synced.append((threading.current_thread().name, _frames_end(path)))

    monkeypatch.setattr(journal_module, "_sync", recording_sync)
    journal = Journal(path, fsync=True)
    journal.append(SignalConsumed(offset=1, ts=1), sync=False)
    assert _frames_end(path) == len(MAGIC)  # still in memory
    journal.write_out()
    assert _frames_end(path) == journal.size  # in the kernel: survives a process crash
    journal.close()  # waits for the background sync, then syncs
    assert any(name.startswith("journal-sync") for name, _ in synced)
    assert all(size == journal.size or size == len(MAGIC) for _, size in synced)
    assert [r.offset for r in Journal.replay(path)] == [1]


def test_a_failed_background_sync_breaks_the_journal(tmp_path, monkeypatch) -> None:
    journal = Journal(tmp_path / "j.bin", fsync=True)

    def failing_sync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(journal_module, "_sync", failing_sync)
    journal.append(SignalConsumed(offset=1, ts=1), sync=False)
    journal.write_out()
    journal._background.stop()  # let the failure land
    with pytest.raises(OSError, match="background sync failed"):
        journal.append(SignalConsumed(offset=2, ts=2))
    monkeypatch.setattr(journal_module, "_sync", lambda fd: None)
    journal.close()


def test_background_sync_is_skipped_when_a_synced_append_covers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(journal_module, "BACKGROUND_DELAY_S", 3600.0)  # close() cuts it short
    journal = Journal(tmp_path / "j.bin", fsync=True)
    syncs: list[str] = []
    real = journal_module._sync

    def recording_sync(fd: int) -> None:
        syncs.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(journal_module, "_sync", recording_sync)
    journal.append(SignalConsumed(offset=1, ts=1), sync=False)
    journal.write_out()  # handed to the kernel; the background sync waits...
    journal.append(SignalConsumed(offset=2, ts=2))  # ...and this ack's sync covers it
    journal.close()
    assert not [name for name in syncs if name.startswith("journal-sync")]
    assert [r.offset for r in Journal.replay(tmp_path / "j.bin")] == [1, 2]


def test_background_sync_runs_when_nothing_covers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(journal_module, "BACKGROUND_DELAY_S", 0.0)
    journal = Journal(tmp_path / "j.bin", fsync=True)
    synced = threading.Event()
    real = journal_module._sync

    def recording_sync(fd: int) -> None:
        real(fd)
        if threading.current_thread().name.startswith("journal-sync"):
            synced.set()

    monkeypatch.setattr(journal_module, "_sync", recording_sync)
    journal.append(SignalConsumed(offset=1, ts=1), sync=False)
    journal.write_out()
    assert synced.wait(60.0)  # without waiting for close()
    journal.close()
