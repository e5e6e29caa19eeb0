"""The Health page through AppTest: the overall status, the components, the engine's metrics.

The Prefect API is a real closed port (refused at once, so Prefect is DOWN and the overall
status with it) and no gateway URL is given; the metrics snapshot and the kill switch are
written through their own modules, as the execution flow and ``shriven kill`` write them.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pyarrow as pa
import pytest

from shriven.config import load_settings
from shriven.engine.killswitch import KillSwitch
from shriven.observability.metrics import (
    ORDER_REJECTS,
    RISK_CHECK_LATENCY,
    TICK_TO_ORDER_LATENCY,
    MetricsRegistry,
    write_snapshot,
)


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


@pytest.fixture
def open_health(open_page, monkeypatch: pytest.MonkeyPatch):
    """``open_health(data_dir)``: the Health page, with Prefect on a closed port and no gateway."""
    monkeypatch.setenv("PREFECT_API_URL", _closed_port_url())
    monkeypatch.delenv("SHRIVEN_GATEWAY_URL", raising=False)
    return lambda data_dir: open_page(data_dir, "health")


def _state_dir(data_dir: Path) -> Path:
    return Path(load_settings(environ={"SHRIVEN_DATA_DIR": str(data_dir)}).state_dir)


def _components(app) -> dict[str, tuple[str, str]]:
    """The components table: name -> (status, detail)."""
    table = app.dataframe[0].value
    return {row.component: (row.status, row.detail) for row in table.itertuples()}


def _write_execution_metrics(data_dir: Path) -> None:
    registry = MetricsRegistry()
    risk = registry.histogram(RISK_CHECK_LATENCY, "pre-trade risk check")
    for _ in range(90):
        risk.observe_ns(800)  # the 1 µs bucket
    for _ in range(10):
        risk.observe_ns(3_000)  # the 5 µs bucket
    tick = registry.histogram(TICK_TO_ORDER_LATENCY, "tick to order")
    for _ in range(40):
        tick.observe_ns(40_000)  # the 50 µs bucket
    rejects = registry.counter(ORDER_REJECTS, "orders refused", "reason")
    rejects.inc("max_notional", 3)
    rejects.inc("kill_switch")
    write_snapshot(_state_dir(data_dir) / "metrics", registry.snapshot("execution", time.time()))


def test_empty_data_dir_shows_status_and_what_to_run(empty_data_dir, open_health) -> None:
    app = open_health(empty_data_dir)
    assert not app.exception
    assert app.title[0].value == "Health"
    (headline,) = app.error  # Prefect refused: DOWN, the worst status wins
    assert "Platform DOWN" in headline.value
    components = _components(app)
    assert list(components) == ["lake", "execution", "kill_switch", "prefect", "gateway", "flows"]
    assert components["prefect"][0] == "down"
    assert components["execution"] == ("unknown", "no metrics snapshot written yet")
    assert components["kill_switch"] == ("ok", "off")
    assert components["gateway"] == ("unknown", "no gateway URL given")
    assert len(app.dataframe) == 1  # no latency table
    (empty,) = app.info
    assert "No engine metrics yet" in empty.value
    assert "make serve" in empty.value
    assert "execution/paper" in empty.value
    assert str(_state_dir(empty_data_dir) / "metrics") in empty.value


def test_metrics_snapshot_shows_latency_quantiles_and_rejects(empty_data_dir, open_health) -> None:
    _write_execution_metrics(empty_data_dir)
    app = open_health(empty_data_dir)
    assert not app.exception
    assert not app.info
    execution_status, execution_detail = _components(app)["execution"]
    assert execution_status == "ok"
    assert execution_detail.startswith("last snapshot")
    latencies = app.dataframe[1].value
    shown = {row.metric: (row.count, row.p50_us, row.p99_us) for row in latencies.itertuples()}
    # quantiles are the upper bounds of their buckets, in µs
    assert shown == {"Risk check": (100, 1.0, 5.0), "Tick to order": (40, 50.0, 50.0)}
    assert set(latencies["component"]) == {"execution"}
    captions = [c.value for c in app.caption]
    assert "Order rejects by reason" in captions
    (chart,) = app.get("vega_lite_chart")
    (dataset,) = chart.proto.datasets
    plotted = pa.ipc.open_stream(dataset.data.data).read_all().to_pydict()
    # most rejects first
    assert plotted == {"reason": ["max_notional", "kill_switch"], "rejects": [3.0, 1.0]}


def test_kill_switch_on_is_degraded_with_its_reason(empty_data_dir, open_health) -> None:
    KillSwitch(_state_dir(empty_data_dir)).set(True, reason="drill", by="ops")
    app = open_health(empty_data_dir)
    assert not app.exception
    status, detail = _components(app)["kill_switch"]
    assert status == "degraded"
    assert detail.startswith("ON since")
    assert detail.endswith("by ops: drill")
