"""The health summary of the platform, which the gateway serves and the dashboards show.

Each component is checked cheaply (a listing of the lake's newest partitions, a small file, one
HTTP GET with a short timeout) and a failing check becomes that component's UNKNOWN, never an
exception, so a health endpoint answers even when the thing it reports on is broken.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec
from fsspec import AbstractFileSystem

from shriven.config import Settings
from shriven.engine.killswitch import KillSwitch
from shriven.lake.storage import lake_filesystem, modified_at
from shriven.observability.metrics import METRICS_DIR_NAME, MetricsSnapshot, read_flow_outcomes

__all__ = [
    "EXECUTION_COMPONENT",
    "ComponentHealth",
    "HealthReport",
    "HealthStatus",
    "check_health",
    "worst_status",
]

#: Component name of the execution flow's metrics snapshot.
EXECUTION_COMPONENT = "execution"
#: Bars younger than this keep the lake OK.
LAKE_FRESH_S = 2 * 86_400.0
#: An execution snapshot younger than this is OK; younger than EXECUTION_STALE_S, DEGRADED.
EXECUTION_FRESH_S = 120.0
#: An execution snapshot older than this means the execution flow is DOWN.
EXECUTION_STALE_S = 15 * 60.0
#: Probes go straight to the service: a proxy from the environment would answer for it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: Flow end states that make the ``flows`` component DEGRADED.
FAILED_FLOW_STATES = frozenset({"failed", "crashed"})


class HealthStatus(StrEnum):
    """How a component (or the whole platform) is doing."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


#: Severity for the overall status: UNKNOWN weighs as DEGRADED.
_SEVERITY = {
    HealthStatus.OK: 0,
    HealthStatus.UNKNOWN: 1,
    HealthStatus.DEGRADED: 1,
    HealthStatus.DOWN: 2,
}


@dataclass(frozen=True)
class ComponentHealth:
    """The state of one component, with a human-readable reason."""

    name: str
    status: HealthStatus
    detail: str
    checked_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "checked_at": self.checked_at,
        }


def worst_status(statuses: list[HealthStatus] | tuple[HealthStatus, ...]) -> HealthStatus:
    """The overall status: the worst one, where UNKNOWN counts as DEGRADED (OK when empty)."""
    severity = max((_SEVERITY[s] for s in statuses), default=0)
    return (HealthStatus.OK, HealthStatus.DEGRADED, HealthStatus.DOWN)[severity]


@dataclass(frozen=True)
class HealthReport:
    """The overall status and each component's, as served by ``/health``."""

    status: HealthStatus
    components: tuple[ComponentHealth, ...]

    @classmethod
    def of(cls, components: tuple[ComponentHealth, ...]) -> HealthReport:
        """A report whose status is the worst of ``components``."""
        return cls(worst_status(tuple(c.status for c in components)), components)

    def component(self, name: str) -> ComponentHealth:
        """The component ``name`` (KeyError when absent)."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"status": ..., "components": [...]}``."""
        return {"status": str(self.status), "components": [c.to_dict() for c in self.components]}


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _newest_mtime(fs: AbstractFileSystem, dataset_dir: str) -> float | None:
    """Newest file time in the latest ``date=`` partition of a dataset that has files."""
    try:
        dates = sorted(fs.ls(dataset_dir, detail=False), reverse=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for date_dir in dates:
        if not date_dir.rsplit("/", 1)[-1].startswith("date="):
            continue
        found = fs.find(date_dir, detail=True)
        times = [modified_at(info) for path, info in found.items() if path.endswith(".parquet")]
        if times:
            return max(times)
    return None


def check_lake(lake_root: str, now: float) -> ComponentHealth:
    """OK when some ``bars_*`` dataset got a file in the last 2 days; UNKNOWN without bars
    (local disk or object store alike)."""
    fs, root = lake_filesystem(lake_root)
    try:
        datasets = [
            p for p in fs.ls(root, detail=False) if p.rstrip("/").rsplit("/", 1)[-1].startswith("bars")
        ]
    except FileNotFoundError:
        datasets = []
    mtimes = [m for m in (_newest_mtime(fs, d) for d in datasets) if m is not None]
    if not mtimes:
        return ComponentHealth("lake", HealthStatus.UNKNOWN, f"no bars in {lake_root}", now)
    age = now - max(mtimes)
    detail = f"newest bars written {_age(age)} ago"
    status = HealthStatus.OK if age < LAKE_FRESH_S else HealthStatus.DEGRADED
    return ComponentHealth("lake", status, detail, now)


def check_execution(metrics_dir: Path, now: float) -> ComponentHealth:
    """The execution flow's liveness from the age of its metrics snapshot."""
    path = metrics_dir / f"{EXECUTION_COMPONENT}.json"
    try:
        snapshot = MetricsSnapshot.from_json(path.read_bytes())
    except FileNotFoundError:
        return ComponentHealth(
            "execution", HealthStatus.UNKNOWN, "no metrics snapshot written yet", now
        )
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        return ComponentHealth(
            "execution", HealthStatus.DEGRADED, f"unreadable snapshot: {exc}", now
        )
    age = now - snapshot.written_at
    if age < EXECUTION_FRESH_S:
        status = HealthStatus.OK
    elif age < EXECUTION_STALE_S:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.DOWN
    return ComponentHealth("execution", status, f"last snapshot {_age(age)} ago", now)


def check_kill_switch(state_dir: str, now: float) -> ComponentHealth:
    """DEGRADED with who and why while the kill switch is on."""
    state = KillSwitch(state_dir).read()
    if not state.on:
        return ComponentHealth("kill_switch", HealthStatus.OK, "off", now)
    since = f" since {_iso(state.ts / 1e9)}" if state.ts else ""
    by = f" by {state.by}" if state.by else ""
    reason = f": {state.reason}" if state.reason else ""
    return ComponentHealth("kill_switch", HealthStatus.DEGRADED, f"ON{since}{by}{reason}", now)


def check_http(name: str, base_url: str, timeout_s: float, now: float) -> ComponentHealth:
    """GET ``<base_url>/health``: OK on 2xx, DOWN on another status or no answer."""
    url = base_url.rstrip("/") + "/health"
    if not url.startswith(("http://", "https://")):
        return ComponentHealth(name, HealthStatus.DOWN, f"{url} is not an http(s) URL", now)
    try:
        with _OPENER.open(url, timeout=timeout_s) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        return ComponentHealth(name, HealthStatus.DOWN, f"{url} answered HTTP {exc.code}", now)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ComponentHealth(name, HealthStatus.DOWN, f"{url} unreachable: {reason}", now)
    if 200 <= code < 300:
        return ComponentHealth(name, HealthStatus.OK, f"{url} answered HTTP {code}", now)
    return ComponentHealth(name, HealthStatus.DOWN, f"{url} answered HTTP {code}", now)


def check_flows(metrics_dir: Path, now: float) -> ComponentHealth:
    """DEGRADED when the latest run of any flow failed or crashed."""
    outcomes = read_flow_outcomes(metrics_dir)
    if outcomes is None or not outcomes.latest_state:
        return ComponentHealth("flows", HealthStatus.UNKNOWN, "no flow outcomes recorded", now)
    failed = sorted(f for f, s in outcomes.latest_state.items() if s in FAILED_FLOW_STATES)
    if failed:
        listed = ", ".join(f"{f} ({outcomes.latest_state[f]})" for f in failed)
        return ComponentHealth("flows", HealthStatus.DEGRADED, f"latest run failed: {listed}", now)
    return ComponentHealth(
        "flows",
        HealthStatus.OK,
        f"latest runs of {len(outcomes.latest_state)} flows succeeded",
        now,
    )


def _guarded(name: str, now: float, check: Callable[[], ComponentHealth]) -> ComponentHealth:
    try:
        return check()
    except Exception as exc:  # a broken check must not break the health endpoint
        return ComponentHealth(name, HealthStatus.UNKNOWN, f"check failed: {exc!r}", now)


def check_health(
    settings: Settings,
    *,
    now: float | None = None,
    prefect_api_url: str | None = None,
    gateway_url: str | None = None,
    timeout_s: float = 1.0,
    environ: Mapping[str, str] | None = None,
) -> HealthReport:
    """Check lake, execution, kill switch, Prefect, gateway and flows; never raises.

    The Prefect API is ``prefect_api_url``, else ``PREFECT_API_URL`` from ``environ`` (default
    ``os.environ``). The gateway is only probed when ``gateway_url`` is given: the gateway's own
    ``/health`` must not pass its own URL (it would call itself).
    """
    now = time.time() if now is None else now
    env = os.environ if environ is None else environ
    metrics_dir = Path(settings.state_dir) / METRICS_DIR_NAME
    prefect_url = prefect_api_url or env.get("PREFECT_API_URL") or None

    def prefect() -> ComponentHealth:
        if prefect_url is None:
            return ComponentHealth(
                "prefect", HealthStatus.UNKNOWN, "no Prefect server configured", now
            )
        return check_http("prefect", prefect_url, timeout_s, now)

    def gateway() -> ComponentHealth:
        if gateway_url is None:
            return ComponentHealth("gateway", HealthStatus.UNKNOWN, "no gateway URL given", now)
        return check_http("gateway", gateway_url, timeout_s, now)

    components = (
        _guarded("lake", now, lambda: check_lake(settings.lake_root, now)),
        _guarded("execution", now, lambda: check_execution(metrics_dir, now)),
        _guarded("kill_switch", now, lambda: check_kill_switch(settings.state_dir, now)),
        _guarded("prefect", now, prefect),
        _guarded("gateway", now, gateway),
        _guarded("flows", now, lambda: check_flows(metrics_dir, now)),
    )
    return HealthReport.of(components)
