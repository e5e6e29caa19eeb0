"""Where each dataset's files live: ``<root>/<dataset>/<key>=<value>/.../part-<start>-<end>.parquet``.

Partition values and file names are derived only from (dataset, partition, window), so the same
window always lands in the same file and a re-run replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

NS_PER_DAY = 86_400_000_000_000
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
_PART_NAME = re.compile(r"^part-(-?\d+)-(-?\d+)\.parquet$")


@dataclass(frozen=True, order=True)
class Window:
    """A half-open time window [start_ns, end_ns) in nanoseconds since the epoch, UTC."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError(f"window end {self.end_ns} must be after start {self.start_ns}")

    @classmethod
    def days(cls, first: date, count: int = 1) -> Window:
        """The window covering ``count`` whole UTC days from ``first``."""
        if count < 1:
            raise ValueError(f"day count must be at least 1, got {count}")
        start = day_start_ns(first)
        return cls(start, start + count * NS_PER_DAY)

    def overlaps(self, other: Window) -> bool:
        """True when the two windows share any instant."""
        return self.start_ns < other.end_ns and other.start_ns < self.end_ns

    def dates(self) -> list[date]:
        """UTC dates the window touches."""
        first = self.start_ns // NS_PER_DAY
        last = (self.end_ns - 1) // NS_PER_DAY
        return [ns_to_date(d * NS_PER_DAY) for d in range(first, last + 1)]

    @property
    def file_name(self) -> str:
        """The deterministic file name of this window inside a partition."""
        return f"part-{self.start_ns}-{self.end_ns}.parquet"

    def __str__(self) -> str:
        return f"[{ns_to_iso(self.start_ns)}, {ns_to_iso(self.end_ns)})"


def window_of_file(name: str) -> Window | None:
    """The window a lake file name encodes, or None for a name the lake did not write."""
    m = _PART_NAME.fullmatch(name)
    if m is None or int(m.group(2)) <= int(m.group(1)):
        return None
    return Window(int(m.group(1)), int(m.group(2)))


def day_start_ns(d: date) -> int:
    """Midnight UTC of a date, in ns."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1_000_000_000


def ns_to_date(ns: int) -> date:
    """The UTC date of an instant."""
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).date()


def ns_to_iso(ns: int) -> str:
    """An instant as ISO-8601 UTC, for messages."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def check_partition_value(key: str, value: str) -> str:
    """Reject partition values that could escape the lake or break hive parsing."""
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"partition value {key}={value!r} is not a safe path component")
    return value


def partition_dir(root: str, dataset: str, partition: dict[str, str]) -> str:
    """Directory of one partition: ``<root>/<dataset>/k1=v1/k2=v2``."""
    parts = [f"{k}={check_partition_value(k, v)}" for k, v in partition.items()]
    return "/".join([root.rstrip("/"), dataset, *parts])


def dataset_glob(root: str, dataset: str, depth: int) -> str:
    """Glob matching every Parquet file of a dataset with ``depth`` partition levels."""
    return "/".join([root.rstrip("/"), dataset, *(["*"] * depth), "*.parquet"])
