"""Durable, atomic local file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader (or a process restarted after a crash) sees the old content or the new one, never a torn
file; the directory fsync makes the rename itself survive a power loss. ``private`` files (keys,
vaults) are 0600 before they get their name; ``sync=False`` keeps the atomic rename but skips the
fsyncs, for derived files rewritten every second (status, metrics snapshots).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

__all__ = ["exclusive_lock", "fsync_dir", "write_atomic", "write_bytes_atomic"]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory entry change (a rename or a new file) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], *, private: bool = False, sync: bool = True
) -> None:
    """Let ``write`` fill a temporary file, then make it ``path`` in one rename (durably)."""
    directory, name = os.path.split(os.path.abspath(path))
    # Hidden and not *.parquet: globs of readers (DuckDB, the lake) never pick a temp file up.
    tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if sync:
        fsync_dir(directory)


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, *, private: bool = False, sync: bool = True
) -> None:
    """Replace ``path`` with ``data`` atomically (and durably unless ``sync=False``)."""
    write_atomic(path, lambda fh: fh.write(data), private=private, sync=sync)  # type: ignore[arg-type, return-value]


@contextmanager
def exclusive_lock(lock_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an ``flock`` on ``lock_path`` (created 0600): writers in several processes take turns."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
