"""Cheap in-process metrics for the hot path, exported to Prometheus through snapshot files.

The engine handles an event in microseconds, so it never calls ``prometheus_client`` per event:
it feeds :class:`LatencyHistogram` and :class:`LabelledCounter` (a bisect and an array increment),
the long-running execution flow writes a :class:`MetricsSnapshot` of them at each checkpoint
(``<state_dir>/metrics/<component>.json``, temp file + rename), and the gateway's ``/metrics``
exposes every snapshot file through :class:`SnapshotCollector`. Flows add their outcomes to
``flows.json`` under a file lock, since several flows can finish at once.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.utils import floatToGoString

from shriven.durable import write_bytes_atomic

__all__ = [
    "DEFAULT_BOUNDS_NS",
    "FILLS",
    "FLOWS_FILE_NAME",
    "METRICS_DIR_NAME",
    "ORDERS_SUBMITTED",
    "ORDER_REJECTS",
    "RISK_CHECK_LATENCY",
    "TICK_TO_ORDER_LATENCY",
    "CounterSnapshot",
    "FlowOutcomes",
    "HistogramSnapshot",
    "LabelledCounter",
    "LatencyHistogram",
    "MetricsRegistry",
    "MetricsSnapshot",
    "SnapshotCollector",
    "bucket_quantile_ns",
    "read_flow_outcomes",
    "read_snapshots",
    "record_flow_outcome",
    "write_snapshot",
]

_log = logging.getLogger(__name__)

#: Directory of the snapshot files, under ``settings.state_dir``.
METRICS_DIR_NAME = "metrics"
#: File of the flow outcome counters inside the metrics directory.
FLOWS_FILE_NAME = "flows.json"
#: Prefix of every exported metric name.
PREFIX = "shriven_"

#: Latency of one pre-trade risk check (histogram).
RISK_CHECK_LATENCY = "risk_check_latency"
#: Latency from a market event to the order it caused (histogram).
TICK_TO_ORDER_LATENCY = "tick_to_order_latency"
#: Orders sent to venues (counter, label ``venue`` or ``strategy``).
ORDERS_SUBMITTED = "orders_submitted"
#: Orders refused by risk or a venue (counter, label ``reason``).
ORDER_REJECTS = "order_rejects"
#: Fills received (counter, label ``symbol``).
FILLS = "fills"

#: Bucket upper bounds in ns: 1-2-5 steps from 50 ns to 10 s (plus the implicit +Inf bucket).
DEFAULT_BOUNDS_NS: tuple[int, ...] = tuple(
    m * 10**e for e in range(1, 11) for m in (1, 2, 5) if 50 <= m * 10**e <= 10**10
)

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"metric name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
    return name


def bucket_quantile_ns(bounds_ns: Sequence[int], counts: Sequence[int], q: float) -> float:
    """The ``q`` quantile as the upper bound of its bucket (inf in the overflow bucket, nan if empty)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is not in [0, 1]")
    total = int(sum(counts))
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(q * total))
    cumulative = 0
    for index, count in enumerate(counts):
        cumulative += int(count)
        if cumulative >= rank:
            return float(bounds_ns[index]) if index < len(bounds_ns) else math.inf
    return math.inf


class LatencyHistogram:
    """Counts of latencies (ns) in fixed buckets; ``observe_ns`` is a bisect and an increment.

    The counts live in a Python list (a list increment costs half of a numpy element's, measured)
    and ``counts`` hands them out as a numpy int64 array.
    """

    def __init__(self, name: str, help: str, bounds_ns: Sequence[int] | None = None) -> None:
        bounds = tuple(int(b) for b in (DEFAULT_BOUNDS_NS if bounds_ns is None else bounds_ns))
        if not bounds or any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise ValueError(f"histogram {name!r} bounds must be non-empty and strictly increasing")
        self.name = _check_name(name)
        self.help = help
        self.bounds_ns = bounds
        self._bounds_array = np.asarray(bounds, dtype=np.int64)
        # _counts[i] for bounds[i-1] < v <= bounds[i]; the last one is the overflow (+Inf) bucket.
        self._counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum_ns = 0

    def observe_ns(self, value_ns: int) -> None:
        """Count one latency."""
        self._counts[bisect_left(self.bounds_ns, value_ns)] += 1
        self.count += 1
        self.sum_ns += value_ns

    def observe_many_ns(self, values_ns: np.ndarray) -> None:
        """Count a batch of latencies at once (vectorised)."""
        values = np.asarray(values_ns, dtype=np.int64).ravel()
        if values.size == 0:
            return
        indices = np.searchsorted(self._bounds_array, values, side="left")
        added = np.bincount(indices, minlength=len(self._counts)).tolist()
        self._counts = [a + b for a, b in zip(self._counts, added, strict=True)]
        self.count += int(values.size)
        self.sum_ns += int(values.sum())

    @property
    def counts(self) -> np.ndarray:
        """Count per bucket (int64): one per bound, then the overflow (+Inf) bucket."""
        return np.asarray(self._counts, dtype=np.int64)

    def quantile_ns(self, q: float) -> float:
        """The ``q`` quantile as its bucket's upper bound, for dashboards (inf past the last bound)."""
        return bucket_quantile_ns(self.bounds_ns, self._counts, q)

    def to_snapshot(self) -> HistogramSnapshot:
        """A frozen copy of the current counts."""
        return HistogramSnapshot(
            help=self.help,
            bounds_ns=self.bounds_ns,
            counts=tuple(self._counts),
            count=self.count,
            sum_ns=self.sum_ns,
        )


class LabelledCounter:
    """A counter per value of one label (rejects by reason, fills by symbol)."""

    def __init__(self, name: str, help: str, label: str) -> None:
        self.name = _check_name(name)
        self.help = help
        self.label = _check_name(label)
        self._values: dict[str, float] = {}

    def inc(self, label_value: str, amount: float = 1.0) -> None:
        """Add ``amount`` (not negative) to the counter of ``label_value``."""
        if amount < 0:
            raise ValueError(f"counter {self.name!r} cannot decrease (amount {amount})")
        self._values[label_value] = self._values.get(label_value, 0.0) + amount

    def values(self) -> dict[str, float]:
        """A copy of the counts by label value."""
        return dict(self._values)

    def to_snapshot(self) -> CounterSnapshot:
        """A frozen copy of the current counts."""
        return CounterSnapshot(help=self.help, label=self.label, values=self.values())


@dataclass(frozen=True)
class HistogramSnapshot:
    """A histogram as written to a snapshot file (counts has one more entry than bounds: +Inf)."""

    help: str
    bounds_ns: tuple[int, ...]
    counts: tuple[int, ...]
    count: int
    sum_ns: int

    def quantile_ns(self, q: float) -> float:
        """The ``q`` quantile as its bucket's upper bound (see :func:`bucket_quantile_ns`)."""
        return bucket_quantile_ns(self.bounds_ns, self.counts, q)


@dataclass(frozen=True)
class CounterSnapshot:
    """A labelled counter as written to a snapshot file."""

    help: str
    label: str
    values: dict[str, float]


@dataclass(frozen=True)
class MetricsSnapshot:
    """Every metric of one component at one moment (``written_at``: wall-clock epoch seconds)."""

    component: str
    written_at: float
    histograms: dict[str, HistogramSnapshot] = field(default_factory=dict)
    counters: dict[str, CounterSnapshot] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The snapshot as JSON."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> MetricsSnapshot:
        """Parse and validate a snapshot (msgspec.ValidationError / DecodeError when bad)."""
        return msgspec.json.decode(data, type=cls)


class MetricsRegistry:
    """The metrics of one process or component, by name; not thread-safe (one engine loop)."""

    def __init__(self) -> None:
        self._histograms: dict[str, LatencyHistogram] = {}
        self._counters: dict[str, LabelledCounter] = {}
        self._gauges: dict[str, float] = {}

    def histogram(
        self, name: str, help: str, bounds_ns: Sequence[int] | None = None
    ) -> LatencyHistogram:
        """The histogram ``name``, created on first use; other bounds for the same name raise."""
        existing = self._histograms.get(name)
        if existing is None:
            existing = self._histograms[name] = LatencyHistogram(name, help, bounds_ns)
        elif bounds_ns is not None and tuple(int(b) for b in bounds_ns) != existing.bounds_ns:
            raise ValueError(f"histogram {name!r} already exists with other bounds")
        return existing

    def counter(self, name: str, help: str, label: str) -> LabelledCounter:
        """The counter ``name``, created on first use; another label for the same name raises."""
        existing = self._counters.get(name)
        if existing is None:
            existing = self._counters[name] = LabelledCounter(name, help, label)
        elif existing.label != label:
            raise ValueError(f"counter {name!r} already exists with label {existing.label!r}")
        return existing

    def set_gauge(self, name: str, value: float) -> None:
        """Set gauge ``name`` (queue depth, open orders) to ``value``."""
        self._gauges[_check_name(name)] = float(value)

    def snapshot(self, component: str, now: float) -> MetricsSnapshot:
        """A copy of every metric, stamped with ``component`` and ``now``."""
        return MetricsSnapshot(
            component=component,
            written_at=float(now),
            histograms={n: h.to_snapshot() for n, h in self._histograms.items()},
            counters={n: c.to_snapshot() for n, c in self._counters.items()},
            gauges=dict(self._gauges),
        )


def write_snapshot(directory: str | os.PathLike[str], snapshot: MetricsSnapshot) -> Path:
    """Write ``<directory>/<component>.json`` atomically, so a reader never sees half of it."""
    component = snapshot.component
    if not _COMPONENT.fullmatch(component) or f"{component}.json" == FLOWS_FILE_NAME:
        raise ValueError(f"component {component!r} is not a safe snapshot file name")
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{component}.json"
    write_bytes_atomic(path, snapshot.to_json(), sync=False)  # rewritten every few seconds
    return path


def read_snapshots(directory: str | os.PathLike[str]) -> list[MetricsSnapshot]:
    """Every readable snapshot in ``directory`` (by component); a bad file is logged and skipped."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    snapshots = []
    for entry in entries:
        if (
            not entry.name.endswith(".json")
            or entry.name.startswith(".")
            or entry.name == FLOWS_FILE_NAME
        ):
            continue
        try:
            with open(entry.path, "rb") as f:
                snapshots.append(MetricsSnapshot.from_json(f.read()))
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            _log.warning("skipping unreadable metrics snapshot %s: %s", entry.path, exc)
    return snapshots


class FlowOutcomes(msgspec.Struct, kw_only=True):
    """``flows.json``: run counts by flow and state, durations, and each flow's latest outcome."""

    runs: dict[str, dict[str, int]] = {}
    duration_sum_s: dict[str, float] = {}
    duration_count: dict[str, int] = {}
    latest_state: dict[str, str] = {}
    latest_at: dict[str, float] = {}


def read_flow_outcomes(directory: str | os.PathLike[str]) -> FlowOutcomes | None:
    """The flow outcomes recorded in ``directory`` (None when none or unreadable, logged)."""
    path = Path(directory) / FLOWS_FILE_NAME
    try:
        return msgspec.json.decode(path.read_bytes(), type=FlowOutcomes)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        _log.warning("unreadable flow outcomes %s: %s", path, exc)
        return None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def record_flow_outcome(
    directory: str | os.PathLike[str],
    flow_name: str,
    state: str,
    duration_s: float,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Count one finished flow run in ``flows.json``; a file lock keeps concurrent flows' counts."""
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / FLOWS_FILE_NAME
    state = state.lower()
    with _locked(target_dir / f".{FLOWS_FILE_NAME}.lock"):
        outcomes = read_flow_outcomes(target_dir) or FlowOutcomes()
        by_state = outcomes.runs.setdefault(flow_name, {})
        by_state[state] = by_state.get(state, 0) + 1
        outcomes.duration_sum_s[flow_name] = outcomes.duration_sum_s.get(flow_name, 0.0) + float(
            duration_s
        )
        outcomes.duration_count[flow_name] = outcomes.duration_count.get(flow_name, 0) + 1
        outcomes.latest_state[flow_name] = state
        outcomes.latest_at[flow_name] = float(clock())
        write_bytes_atomic(path, msgspec.json.encode(outcomes))


def _seconds_name(name: str) -> str:
    return PREFIX + (name if name.endswith("_seconds") else f"{name}_seconds")


class SnapshotCollector:
    """A ``prometheus_client`` collector over every snapshot file of a directory and ``flows.json``.

    Histograms are exported in seconds as ``shriven_<name>_seconds``, counters as
    ``shriven_<name>_total`` and gauges as ``shriven_<name>``, each with a ``component`` label;
    ``shriven_snapshot_age_seconds{component}`` tells how stale each file is. Files are read at
    every scrape. ``describe()`` is empty so that registering never collects, and names that
    appear later never clash at registration.
    """

    def __init__(
        self, directory: str | os.PathLike[str], clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = Path(directory)
        self.clock = clock

    def describe(self) -> list[Metric]:  # noqa: D102 - prometheus_client API
        return []

    def collect(self) -> Iterator[Metric]:  # noqa: D102 - prometheus_client API
        snapshots = read_snapshots(self.directory)
        yield from self._histograms(snapshots)
        yield from self._counters(snapshots)
        yield from self._gauges(snapshots)
        age = GaugeMetricFamily(
            PREFIX + "snapshot_age_seconds",
            "Seconds since the component last wrote its metrics snapshot.",
            labels=["component"],
        )
        now = self.clock()
        for snapshot in snapshots:
            age.add_metric([snapshot.component], max(0.0, now - snapshot.written_at))
        yield age
        yield from self._flows()

    @staticmethod
    def _histograms(snapshots: list[MetricsSnapshot]) -> Iterator[Metric]:
        families: dict[str, HistogramMetricFamily] = {}
        for snapshot in snapshots:
            for name, h in sorted(snapshot.histograms.items()):
                if len(h.counts) != len(h.bounds_ns) + 1:
                    _log.warning(
                        "skipping histogram %s of %s: bad bucket counts", name, snapshot.component
                    )
                    continue
                family = families.get(name)
                if family is None:
                    family = families[name] = HistogramMetricFamily(
                        _seconds_name(name), h.help, labels=["component"]
                    )
                cumulative = np.cumsum(np.asarray(h.counts, dtype=np.int64)).tolist()
                buckets = [
                    (floatToGoString(bound / 1e9), float(c))
                    for bound, c in zip(h.bounds_ns, cumulative, strict=False)
                ]
                buckets.append(("+Inf", float(cumulative[-1])))
                family.add_metric([snapshot.component], buckets, sum_value=h.sum_ns / 1e9)
        yield from families.values()

    @staticmethod
    def _counters(snapshots: list[MetricsSnapshot]) -> Iterator[Metric]:
        families: dict[str, tuple[str, CounterMetricFamily]] = {}
        for snapshot in snapshots:
            for name, c in sorted(snapshot.counters.items()):
                if name not in families:
                    families[name] = (
                        c.label,
                        CounterMetricFamily(PREFIX + name, c.help, labels=["component", c.label]),
                    )
                label, family = families[name]
                if label != c.label:
                    _log.warning(
                        "skipping counter %s of %s: label %r, others use %r",
                        name,
                        snapshot.component,
                        c.label,
                        label,
                    )
                    continue
                for value_label, value in sorted(c.values.items()):
                    family.add_metric([snapshot.component, value_label], value)
        for _, family in families.values():
            yield family

    @staticmethod
    def _gauges(snapshots: list[MetricsSnapshot]) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for snapshot in snapshots:
            for name, value in sorted(snapshot.gauges.items()):
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        PREFIX + name,
                        f"Gauge {name} of the component's snapshot.",
                        labels=["component"],
                    )
                family.add_metric([snapshot.component], value)
        yield from families.values()

    def _flows(self) -> Iterator[Metric]:
        outcomes = read_flow_outcomes(self.directory)
        if outcomes is None:
            return
        runs = CounterMetricFamily(
            PREFIX + "flow_runs",
            "Finished flow runs by flow and final state.",
            labels=["flow", "state"],
        )
        for flow, by_state in sorted(outcomes.runs.items()):
            for state, count in sorted(by_state.items()):
                runs.add_metric([flow, state], count)
        yield runs
        durations = SummaryMetricFamily(
            PREFIX + "flow_duration_seconds", "Run time of finished flow runs.", labels=["flow"]
        )
        for flow, count in sorted(outcomes.duration_count.items()):
            durations.add_metric(
                [flow], count_value=count, sum_value=outcomes.duration_sum_s.get(flow, 0.0)
            )
        yield durations
