"""The health report: each component's states from a temp lake and state dir, real HTTP probes."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shriven.config import Settings, load_settings
from shriven.engine.killswitch import KillSwitch
from shriven.observability.health import (
    ComponentHealth,
    HealthReport,
    HealthStatus,
    check_health,
    worst_status,
)
from shriven.observability.metrics import (
    METRICS_DIR_NAME,
    MetricsRegistry,
    record_flow_outcome,
    write_snapshot,
)

NOW = 1_800_000_000.0
OK, DEGRADED, DOWN, UNKNOWN = (
    HealthStatus.OK,
    HealthStatus.DEGRADED,
    HealthStatus.DOWN,
    HealthStatus.UNKNOWN,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={"SHRIVEN_DATA_DIR": str(tmp_path)})


def report(settings: Settings, **kwargs) -> HealthReport:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("environ", {})
    return check_health(settings, **kwargs)


def write_bars(settings: Settings, interval: str, day: str, symbol: str, mtime: float) -> None:
    directory = Path(settings.lake_root) / f"bars_{interval}" / f"date={day}" / f"symbol={symbol}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "part-0-1.parquet"
    path.write_bytes(b"PAR1")
    os.utime(path, (mtime, mtime))


def write_execution_snapshot(settings: Settings, written_at: float) -> None:
    snapshot = MetricsRegistry().snapshot("execution", written_at)
    write_snapshot(Path(settings.state_dir) / METRICS_DIR_NAME, snapshot)


# lake


def test_lake_unknown_without_bars(settings):
    lake = report(settings).component("lake")
    assert lake.status is UNKNOWN
    assert "no bars" in lake.detail


def test_lake_ok_when_recent_bars_exist(settings):
    write_bars(settings, "1m", "2026-01-04", "HALO", NOW - 10 * 86_400)
    write_bars(settings, "1m", "2026-01-05", "HALO", NOW - 2 * 3_600)
    lake = report(settings).component("lake")
    assert lake.status is OK
    assert "2.0 h" in lake.detail


def test_lake_degraded_when_bars_are_older_than_two_days(settings):
    write_bars(settings, "1d", "2026-01-05", "DYNA", NOW - 3 * 86_400)
    lake = report(settings).component("lake")
    assert lake.status is DEGRADED
    assert "3.0 days" in lake.detail


def test_lake_ignores_other_datasets(settings):
    trades = Path(settings.lake_root) / "trades" / "date=2026-01-05"
    trades.mkdir(parents=True)
    (trades / "x.parquet").write_bytes(b"PAR1")
    assert report(settings).component("lake").status is UNKNOWN


# execution


@pytest.mark.parametrize(
    ("age_s", "status"),
    [(5.0, OK), (119.0, OK), (121.0, DEGRADED), (14 * 60.0, DEGRADED), (16 * 60.0, DOWN)],
)
def test_execution_by_snapshot_age(settings, age_s, status):
    write_execution_snapshot(settings, NOW - age_s)
    assert report(settings).component("execution").status is status


def test_execution_unknown_when_never_written(settings):
    write_snapshot(
        Path(settings.state_dir) / METRICS_DIR_NAME, MetricsRegistry().snapshot("gateway", NOW)
    )
    execution = report(settings).component("execution")
    assert execution.status is UNKNOWN


def test_execution_corrupt_snapshot_is_degraded(settings):
    metrics = Path(settings.state_dir) / METRICS_DIR_NAME
    metrics.mkdir(parents=True)
    (metrics / "execution.json").write_text("{not json")
    assert report(settings).component("execution").status is DEGRADED


# kill switch


def test_kill_switch_off_is_ok(settings):
    assert report(settings).component("kill_switch").status is OK
    KillSwitch(settings.state_dir).set(False, by="ops")
    assert report(settings).component("kill_switch").status is OK


def test_kill_switch_on_is_degraded_with_reason(settings):
    KillSwitch(settings.state_dir).set(True, reason="runaway strategy", by="alice")
    switch = report(settings).component("kill_switch")
    assert switch.status is DEGRADED
    assert "runaway strategy" in switch.detail
    assert "alice" in switch.detail


# flows


def test_flows_unknown_without_outcomes(settings):
    assert report(settings).component("flows").status is UNKNOWN


def test_flows_ok_when_latest_runs_succeeded(settings):
    metrics = Path(settings.state_dir) / METRICS_DIR_NAME
    record_flow_outcome(metrics, "ingest", "Failed", 1.0)
    record_flow_outcome(metrics, "ingest", "Completed", 1.0)
    record_flow_outcome(metrics, "aggregate", "Completed", 1.0)
    flows = report(settings).component("flows")
    assert flows.status is OK


@pytest.mark.parametrize("state", ["Failed", "crashed"])
def test_flows_degraded_when_a_latest_run_failed(settings, state):
    metrics = Path(settings.state_dir) / METRICS_DIR_NAME
    record_flow_outcome(metrics, "ingest", "Completed", 1.0)
    record_flow_outcome(metrics, "aggregate", state, 1.0)
    flows = report(settings).component("flows")
    assert flows.status is DEGRADED
    assert "aggregate" in flows.detail
    assert "ingest" not in flows.detail


# prefect and gateway over real HTTP


class _Handler(BaseHTTPRequestHandler):
    """Answers ``/health`` with the server's ``status`` and anything else with 404."""

    def do_GET(self) -> None:
        code = self.server.status if self.path.endswith("/health") else 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def url_of(server: ThreadingHTTPServer, path: str = "") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.mark.parametrize("component", ["prefect", "gateway"])
def test_http_component_ok_on_200(settings, http_server, component):
    url = url_of(http_server, "/api/")
    kwargs = {"prefect_api_url": url} if component == "prefect" else {"gateway_url": url}
    checked = report(settings, **kwargs).component(component)
    assert checked.status is OK
    assert "/api/health" in checked.detail


@pytest.mark.parametrize("component", ["prefect", "gateway"])
def test_http_component_down_on_500(settings, http_server, component):
    http_server.status = 500
    url = url_of(http_server, "/api")
    kwargs = {"prefect_api_url": url} if component == "prefect" else {"gateway_url": url}
    checked = report(settings, **kwargs).component(component)
    assert checked.status is DOWN
    assert "500" in checked.detail


@pytest.mark.parametrize("component", ["prefect", "gateway"])
def test_http_component_down_on_a_closed_port(settings, component):
    url = closed_port_url()
    kwargs = {"prefect_api_url": url} if component == "prefect" else {"gateway_url": url}
    checked = report(settings, timeout_s=0.5, **kwargs).component(component)
    assert checked.status is DOWN
    assert "unreachable" in checked.detail


def test_prefect_url_from_the_environment(settings, http_server):
    env = {"PREFECT_API_URL": url_of(http_server, "/api")}
    assert report(settings, environ=env).component("prefect").status is OK


def test_prefect_and_gateway_unknown_when_not_configured(settings):
    checked = report(settings)
    assert checked.component("prefect").status is UNKNOWN
    assert checked.component("prefect").detail == "no Prefect server configured"
    assert checked.component("gateway").status is UNKNOWN


def test_non_http_urls_are_not_fetched(settings, tmp_path):
    (tmp_path / "health").write_text("true")
    checked = report(settings, gateway_url=f"file://{tmp_path}").component("gateway")
    assert checked.status is DOWN


# overall


def test_overall_status_is_the_worst_and_unknown_counts_as_degraded():
    assert worst_status((OK, OK)) is OK
    assert worst_status((OK, UNKNOWN)) is DEGRADED
    assert worst_status((DEGRADED, DOWN, UNKNOWN)) is DOWN
    assert worst_status(()) is OK


def test_everything_healthy_is_ok_and_serialises(settings, http_server):
    write_bars(settings, "1m", "2026-01-05", "HALO", NOW - 60)
    write_execution_snapshot(settings, NOW - 10)
    record_flow_outcome(Path(settings.state_dir) / METRICS_DIR_NAME, "ingest", "Completed", 1.0)
    url = url_of(http_server)
    checked = report(settings, prefect_api_url=url, gateway_url=url)
    assert checked.status is OK, checked
    as_dict = checked.to_dict()
    assert as_dict["status"] == "ok"
    assert [c["name"] for c in as_dict["components"]] == [
        "lake",
        "execution",
        "kill_switch",
        "prefect",
        "gateway",
        "flows",
    ]
    assert all(c["checked_at"] == NOW for c in as_dict["components"])


def test_empty_platform_is_degraded_not_down(settings):
    checked = report(settings)
    assert checked.status is DEGRADED
    assert all(isinstance(c, ComponentHealth) for c in checked.components)


def test_a_stale_execution_makes_the_platform_down(settings):
    write_execution_snapshot(settings, NOW - 3_600)
    assert report(settings).status is DOWN


def test_a_failing_check_becomes_unknown(settings, monkeypatch):
    def broken(*args, **kwargs):
        raise PermissionError("no access")

    monkeypatch.setattr("shriven.observability.health.KillSwitch", broken)
    switch = report(settings).component("kill_switch")
    assert switch.status is UNKNOWN
    assert "no access" in switch.detail
