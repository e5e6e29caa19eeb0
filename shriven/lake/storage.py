"""Where lake bytes live: a local directory or an object store, both reached through fsspec.

Every lake reader and writer gets its filesystem here, so a lake at ``s3://bucket/prefix`` (or
any fsspec URL) works wherever a local one does. Remote filesystems are opened without fsspec's
listing cache: other processes (flows, workers) add and replace files, and a cached listing would
hide them from a long-lived reader. DuckDB reads remote files through the same fsspec filesystem
(``register_filesystem``), so no DuckDB extension has to be downloaded.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from shriven.durable import write_atomic

__all__ = [
    "REPLACED_WHILE_READING",
    "is_remote",
    "lake_filesystem",
    "modified_at",
    "publish_file",
    "register_lake_filesystem",
]


def _replaced_errors() -> tuple[type[BaseException], ...]:
    try:
        from s3fs.utils import FileExpired
    except ImportError:  # no S3 support installed: nothing of the kind can be raised
        return ()
    return (FileExpired,)


#: What a store raises when an object is replaced between two reads of one open file (s3fs
#: checks the ETag on each ranged read rather than mix two versions): read the file again.
REPLACED_WHILE_READING = _replaced_errors()


def is_remote(location: str) -> bool:
    """True for a URL with a scheme other than ``file``; local paths and ``file://`` are local."""
    return "://" in location and not location.startswith("file://")


def lake_filesystem(location: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem holding ``location`` and the path inside it (listing cache off
    for remote stores, whose files other processes change)."""
    if is_remote(location):
        return url_to_fs(location, use_listings_cache=False)
    return url_to_fs(location)


def register_lake_filesystem(con: Any, location: str) -> None:
    """Let a DuckDB connection read ``location``'s files (remote ones through fsspec)."""
    if not is_remote(location):
        return
    fs, _ = lake_filesystem(location)
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if not any(con.filesystem_is_registered(p) for p in protocols):
        con.register_filesystem(fs)


def modified_at(info: dict[str, Any]) -> float:
    """Modification time (epoch seconds) from an fsspec ``ls``/``info`` entry, local or S3-like."""
    for key in ("mtime", "LastModified", "last_modified", "updated"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)) and value:
            return float(value)
    return 0.0


def publish_file(
    fs: AbstractFileSystem, path: str, write: Callable[[BinaryIO], None], *, sync: bool = False
) -> None:
    """Make ``path`` appear whole or not at all, replacing any old file in one step.

    Local disk: a temporary file renamed into place (fsync'd first when ``sync``). Object store:
    the finished bytes in one PUT, which the store publishes atomically; a ``write`` that fails
    has sent nothing (fsspec's writable files would upload a torn object when closed on error).
    """
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
        write_atomic(fs._strip_protocol(path), write, sync=sync)
        return
    buffer = io.BytesIO()
    write(buffer)
    fs.pipe_file(path, buffer.getvalue())
