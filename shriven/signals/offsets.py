"""A consumer's committed offset in one small file, for consumers without a journal of their own.

The execution engine journals the offsets it consumed in its OMS journal; a simpler consumer
(a notebook, a one-off flow) commits here after acting on a signal and resumes after
:meth:`OffsetStore.load` on restart.
"""

from __future__ import annotations

import os
import re
from numbers import Integral

from shriven.durable import write_bytes_atomic

__all__ = ["OffsetStore"]

_OFFSET_TEXT = re.compile(r"-?\d+")


class OffsetStore:
    """The last offset a consumer acted on, committed atomically (temp + fsync + rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def load(self) -> int:
        """The committed offset; -1 (read from the start) when nothing was ever committed."""
        try:
            with open(self.path, encoding="ascii") as fh:
                text = fh.read().strip()
        except FileNotFoundError:
            return -1
        # Never fall back to -1 on a bad file: that would replay the whole log and act twice.
        if not _OFFSET_TEXT.fullmatch(text) or int(text) < -1:
            raise ValueError(f"offset file {self.path} is corrupt: {text[:40]!r}")
        return int(text)

    def commit(self, offset: int) -> None:
        """Record that every signal up to ``offset`` was acted on; an offset never goes back."""
        if not isinstance(offset, Integral) or isinstance(offset, bool) or offset < -1:
            raise ValueError(f"offset must be an integer >= -1, got {offset!r}")
        current = self.load()
        if offset < current:
            raise ValueError(
                f"offset {offset} is before the committed {current} in {self.path}; "
                "delete the file to replay the log on purpose"
            )
        if offset == current:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        write_bytes_atomic(self.path, f"{int(offset)}\n".encode("ascii"))
