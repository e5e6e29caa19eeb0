"""Append-only, crash-safe journal of the OMS: the record an order is acknowledged from.

File layout: an 8-byte magic header, then frames ``[u32 length][u32 crc32][payload]``
(little-endian; the CRC is over the payload). One frame is one commit: ``append`` writes one
record per frame, ``append_many`` all its records in one frame, so a group commit is recovered
all or nothing. The payload is a msgpack array of ``[tag, record]`` pairs (msgspec): the shared
``OrderRequest``/``OrderEvent`` structs are stored as they are, without a tag field of their own.

A crash can only tear the last frame (an incomplete or CRC-failing frame with nothing valid
after it): replay drops it, truncates the file to the last complete frame and logs it. A bad
frame followed by a valid one is damage in the middle: :class:`JournalCorrupt` is raised rather
than silently dropping acknowledged records. One writer at a time: the journal holds an
exclusive ``flock`` while open.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec

from shriven.model.records import OrderEvent, OrderRequest
from shriven.oms.records import (
    CommandConsumed,
    JournalRecord,
    OrderSnapshot,
    SignalConsumed,
    Snapshot,
)

__all__ = [
    "MAGIC",
    "Journal",
    "JournalCorrupt",
    "JournalLocked",
    "JournalRecord",
    "OrderSnapshot",
    "SignalConsumed",
    "Snapshot",
    "encode_frame",
]

log = logging.getLogger("shriven.oms")

#: First bytes of every journal file (format version 1).
MAGIC = b"SQOMSJ1\n"
_HEAD = struct.Struct("<II")
_HEAD_SIZE = _HEAD.size
#: A frame longer than this is taken as a garbage length, never allocated.
_MAX_FRAME = 1 << 30

_TAGS: dict[type, int] = {OrderRequest: 1, OrderEvent: 2, SignalConsumed: 3, Snapshot: 4, CommandConsumed: 5}
_ENCODER = msgspec.msgpack.Encoder()
_FRAME_DECODER = msgspec.msgpack.Decoder(list[tuple[int, msgspec.Raw]])
_DECODERS = {tag: msgspec.msgpack.Decoder(cls) for cls, tag in _TAGS.items()}
_sync = getattr(os, "fdatasync", os.fsync)  # data + the size needed to read it back
_write = os.write  # module names, so tests can make a write or a sync fail


class JournalCorrupt(Exception):
    """The journal is damaged before its last frame (or is not a journal): recovery stops."""


class JournalLocked(Exception):
    """Another Journal (in this or another process) has the file open for writing."""


def encode_frame(records: Sequence[JournalRecord]) -> bytes:
    """The bytes one commit of ``records`` adds to the file (header and payload)."""
    try:
        payload = _ENCODER.encode([(_TAGS[type(r)], r) for r in records])
    except KeyError as exc:
        raise TypeError(f"not a journal record: {exc.args[0]!r}") from None
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _encode_one(record: JournalRecord) -> bytes:
    """:func:`encode_frame` of one record, without building a list (the per-event path)."""
    tag = _TAGS.get(type(record))
    if tag is None:
        raise TypeError(f"not a journal record: {type(record)!r}")
    payload = _ENCODER.encode(((tag, record),))
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _frame_end(buf: memoryview, pos: int) -> int:
    """End of the valid frame at ``pos``, or -1 if it is incomplete or fails its CRC."""
    size = len(buf)
    if pos + _HEAD_SIZE > size:
        return -1
    length, crc = _HEAD.unpack_from(buf, pos)
    end = pos + _HEAD_SIZE + length
    if length == 0 or length > _MAX_FRAME or end > size:
        return -1
    if zlib.crc32(buf[pos + _HEAD_SIZE : end]) != crc:
        return -1
    return end


def _valid_frame_after(buf: memoryview, start: int) -> int:
    """Offset of the first valid frame at or after ``start``, -1 if none (a torn tail)."""
    if not bytes(buf[start:]).strip(b"\0"):
        return -1
    for pos in range(start, len(buf) - _HEAD_SIZE):
        if _frame_end(buf, pos) > 0:
            return pos
    return -1


class _Scan(NamedTuple):
    frames: list[tuple[int, int]]  # payload (start, end)
    good_end: int  # end of the last complete frame (0: not even a complete header)


def _scan(buf: memoryview, path: Path) -> _Scan:
    """Locate the complete frames; raise on damage in the middle or a foreign file."""
    if len(buf) < len(MAGIC):
        if MAGIC.startswith(bytes(buf)):
            return _Scan([], 0)  # crashed while writing the header
        raise JournalCorrupt(f"{path} is not an OMS journal (bad header)")
    if bytes(buf[: len(MAGIC)]) != MAGIC:
        raise JournalCorrupt(f"{path} is not an OMS journal (bad header)")
    frames = []
    pos = len(MAGIC)
    while pos < len(buf):
        end = _frame_end(buf, pos)
        if end < 0:
            later = _valid_frame_after(buf, pos + 1)
            if later >= 0:
                raise JournalCorrupt(
                    f"{path}: corrupt frame at byte {pos} followed by a valid frame at byte "
                    f"{later}: the journal is damaged in the middle, not torn by a crash; "
                    "restore it from a copy or truncate it by hand at the damage"
                )
            break
        frames.append((pos + _HEAD_SIZE, end))
        pos = end
    return _Scan(frames, pos)


def _decode(payload: memoryview, path: Path, pos: int) -> list[JournalRecord]:
    try:
        return [_DECODERS[tag].decode(raw) for tag, raw in _FRAME_DECODER.decode(payload)]
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
        raise JournalCorrupt(
            f"{path}: frame at byte {pos - _HEAD_SIZE} passes its CRC but does not decode "
            f"({exc!r}): written by another version?"
        ) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _log_torn(path: Path, good_end: int, size: int) -> None:
    log.warning(
        "journal %s: torn tail of %d bytes after byte %d (crash mid-write) truncated",
        path,
        size - good_end,
        good_end,
    )


class _BackgroundSync:
    """A thread that makes written records durable soon after, off the writer's path.

    fdatasync releases the GIL, so the engine goes on while the disk works; requests made while
    a sync runs are coalesced into the next one.
    """

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self._cond = threading.Condition()
        self._dirty = False
        self._stopping = False
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name=f"journal-sync {name}", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Sync what was written so far, soon."""
        with self._cond:
            self._dirty = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                if not self._dirty:
                    return
                self._dirty = False
            try:
                _sync(self._fd)
            except OSError as exc:
                with self._cond:
                    self.error = exc
                return

    def stop(self) -> None:
        """Finish the requested syncs and end the thread (before the descriptor is closed)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()


class Journal:
    """Append-only, crash-safe record of everything the OMS did, fsync'd before acknowledging.

    ``fsync=False`` (backtests) writes without syncing: a process crash loses nothing (the data
    is in the kernel), a power loss may. Opening an existing journal truncates a torn tail.
    """

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._broken: str | None = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(f"{self.path} is open by another writer") from None
        try:
            size = os.fstat(fd).st_size
            if size:
                scan = _scan(memoryview(os.pread(fd, size, 0)), self.path)
                if scan.good_end < size:
                    _log_torn(self.path, scan.good_end, size)
                    size = scan.good_end if scan.good_end >= len(MAGIC) else 0
                    os.ftruncate(fd, size)
                    _sync(fd)
            if size == 0:  # new, or a crash came before its header was complete
                os.write(fd, MAGIC)
                size = len(MAGIC)
                if fsync:
                    os.fsync(fd)
                    _fsync_dir(self.path)  # the file's name must survive a crash too
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self._size = size
        self._synced_size = size
        self._pending = bytearray()
        self._background: _BackgroundSync | None = None

    @property
    def fsync(self) -> bool:
        """Whether appends are synced to disk before they return."""
        return self._fsync

    @property
    def size(self) -> int:
        """Bytes in the file (header and complete frames), plus records waiting for the next sync."""
        return self._size + len(self._pending)

    def append(self, record: JournalRecord, *, sync: bool = True) -> None:
        """Write one record as one frame; synced before returning unless ``sync`` is False.

        ``sync=False`` is for records whose durability the next synced append covers (file
        order): the OMS writes a request unsynced and syncs at its submit, the ack point.
        """
        self._write(_encode_one(record), sync)

    def append_many(self, records: Sequence[JournalRecord]) -> None:
        """Write ``records`` as one frame with one sync (group commit: all or none recover)."""
        if records:
            self._write(encode_frame(records), True)

    def sync(self) -> None:
        """Write what unsynced appends left in memory and make everything durable (group commit)."""
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        if self._pending or (self._fsync and self._size != self._synced_size):
            self._flush(b"")

    def write_out(self) -> None:
        """Hand the unsynced records to the kernel now and sync them soon, in the background.

        After it returns they survive a crash of the process; a power cut in the next
        milliseconds may still lose them. For records another source can restore: the engine
        writes venue outcomes this way (reconciliation with the venue finds them again) and
        consumed signals (a re-delivered signal gets the same, idempotent order ids), while
        ``submit``, the ack point, always syncs before it returns.
        """
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        self._check_background()
        if not self._pending:
            return
        self._flush(b"", sync=False)
        if self._fsync:
            if self._background is None:
                self._background = _BackgroundSync(self._fd, self.path.name)
            self._background.request()

    def _check_background(self) -> None:
        if self._background is not None and self._background.error is not None:
            self._broken = f"background sync failed: {self._background.error!r}"

    def _stop_background(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._check_background()
            self._background = None

    def _write(self, data: bytes, sync: bool) -> None:
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        self._check_background()
        if self._broken is not None:
            raise OSError(
                f"journal {self.path} is unusable after an earlier failure: {self._broken}"
            )
        if not sync:
            # Unsynced records wait in memory for the next synced one (or sync()): one write
            # per commit instead of one per record. They were never promised to survive a crash.
            self._pending += data
            return
        self._flush(data)

    def _flush(self, data: bytes, *, sync: bool = True) -> None:
        """Write the pending records and ``data`` in one go and sync (if syncing and ``sync``)."""
        if self._pending:
            data = bytes(self._pending) + data
            self._pending.clear()
        fd = self._fd
        try:
            view = memoryview(data)
            while view:
                view = view[_write(fd, view) :]
            if self._fsync and sync:
                _sync(fd)
        except OSError as exc:
            # Leave no partial frame behind that later appends would follow; after a failed
            # sync the page cache state is unknown, so refuse further writes either way.
            self._broken = repr(exc)
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                pass
            raise
        self._size += len(data)
        if sync:
            self._synced_size = self._size

    def rewrite(self, records: Sequence[JournalRecord]) -> None:
        """Atomically replace the journal's contents by ``records`` (compaction).

        A temp file is written, synced, renamed over the journal and the directory synced: a
        crash leaves either the old or the new journal, never a mix.
        """
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        self._stop_background()  # it syncs the descriptor about to be replaced
        tmp = self.path.with_name(self.path.name + ".compact-tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            data = MAGIC + (encode_frame(records) if records else b"")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
            os.replace(tmp, self.path)
            if self._fsync:
                _fsync_dir(self.path)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd
        self._size = len(data)
        self._synced_size = self._size
        self._pending.clear()  # the snapshot already holds what they recorded
        self._broken = None

    def close(self) -> None:
        """Sync (if syncing) and release the file and its lock; idempotent."""
        if self._fd is None:
            return
        try:
            self._stop_background()
            if self._broken is None and self._pending:
                self._flush(b"")
            elif self._fsync and self._broken is None:
                _sync(self._fd)
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_background", None) is not None:
            self._background.stop()
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)  # no sync: a GC'd journal is a bug, not a commit point

    @staticmethod
    def replay(path: str | Path) -> Iterator[JournalRecord]:
        """Yield the journal's records in order; truncate (and log) a torn tail at the end.

        The tail is left alone (and only logged) while another Journal holds the file, since
        its frame may be in flight. Raises :class:`JournalCorrupt` on damage in the middle.
        """
        path = Path(path)
        with open(path, "rb") as f:
            data = f.read()
        buf = memoryview(data)
        scan = _scan(buf, path)
        for start, end in scan.frames:
            yield from _decode(buf[start:end], path, start)
        if scan.good_end < len(data) and scan.good_end >= len(MAGIC):
            _repair(path, scan.good_end, len(data))


def _repair(path: Path, good_end: int, size: int) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning(
                "journal %s: %d bytes after byte %d are incomplete; left alone (a writer holds it)",
                path,
                size - good_end,
                good_end,
            )
            return
        if os.fstat(fd).st_size != size:
            return  # a writer came and went since the read: it has checked the tail itself
        _log_torn(path, good_end, size)
        os.ftruncate(fd, good_end)
        _sync(fd)
    finally:
        os.close(fd)
