"""Durable, atomic local file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader (or a process restarted after a crash) sees the old content or the new one, never a torn
file; the directory fsync makes the rename itself survive a power loss.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["fsync_dir", "write_atomic", "write_bytes_atomic"]


def fsync_dir(directory: str) -> None:
    """Flush a directory entry change (a rename or a new file) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Let ``write`` fill a temporary file, then make it ``path`` in one rename (durably)."""
    directory, name = os.path.split(os.path.abspath(path))
    # Hidden and not *.parquet: globs of readers (DuckDB, the lake) never pick a temp file up.
    tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    write_atomic(path, lambda fh: fh.write(data))  # type: ignore[arg-type, return-value]
