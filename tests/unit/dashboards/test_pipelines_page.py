"""The Pipelines page through AppTest: flow runs from the Prefect API, or how to start it.

The unreachable case talks to a real closed port. The page's table is checked with a
hand-written stand-in for ``data.flow_runs`` (a real Prefect server costs seconds to start);
``flow_runs`` itself is exercised against Prefect's test server in the browser test.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import polars as pl
import pytest

from dashboards import data


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def _runs(states: list[str]) -> pl.DataFrame:
    started = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    return pl.DataFrame(
        {
            "flow": [f"flow-{i}" for i in range(len(states))],
            "name": [f"run-{i}" for i in range(len(states))],
            "deployment_id": [""] * len(states),
            "state": states,
            "state_name": [s.capitalize() for s in states],
            "start_time": [started] * len(states),
            "end_time": [started] * len(states),
            "duration_s": [1.5] * len(states),
            "expected_start_time": [started] * len(states),
            "tags": ["trading"] * len(states),
        },
        schema=data._FLOW_RUN_COLUMNS,
    )


@pytest.fixture
def stub_flow_runs(monkeypatch: pytest.MonkeyPatch):
    """Replace the Prefect call with one returning ``frame``; records the URLs asked."""
    asked: list[str] = []

    def install(frame: pl.DataFrame) -> list[str]:
        def flow_runs(api_url: str, limit: int = 50, timeout_s: float = 5.0) -> pl.DataFrame:
            asked.append(api_url)
            return frame

        monkeypatch.setattr(data, "flow_runs", flow_runs)
        return asked

    return install


def test_unreachable_api_says_how_to_start_it(empty_data_dir, open_page, monkeypatch) -> None:
    url = _closed_port_url()
    monkeypatch.setenv("PREFECT_API_URL", url)
    app = open_page(empty_data_dir, "pipelines")
    assert not app.exception
    assert app.title[0].value == "Pipelines"
    (info,) = app.info
    assert "not reachable" in info.value
    assert url in info.value
    assert "make serve" in info.value
    assert not app.dataframe


def test_runs_are_listed_with_state_counts(empty_data_dir, open_page, monkeypatch, stub_flow_runs) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    asked = stub_flow_runs(_runs(["completed", "completed", "failed", "running"]))
    app = open_page(empty_data_dir, "pipelines")
    assert not app.exception
    assert asked == ["http://127.0.0.1:4200/api"]
    counts = {m.label: m.value for m in app.metric}
    assert counts == {"completed": "2", "failed": "1", "running": "1"}
    (table,) = app.dataframe
    assert len(table.value) == 4
    assert list(table.value["flow"]) == ["flow-0", "flow-1", "flow-2", "flow-3"]


def test_no_runs_yet(empty_data_dir, open_page, monkeypatch, stub_flow_runs) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    stub_flow_runs(_runs([]))
    app = open_page(empty_data_dir, "pipelines")
    assert not app.exception
    (info,) = app.info
    assert "No flow runs yet" in info.value


def test_the_environment_chooses_the_api(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    assert data.prefect_api_url() == "http://prefect.example:4200/api"


def test_auto_refresh_keeps_the_page_working(empty_data_dir, open_page, monkeypatch, stub_flow_runs) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    stub_flow_runs(_runs(["completed"]))
    app = open_page(empty_data_dir, "pipelines")
    app.toggle(key="pipelines_live").set_value(True).run()
    assert not app.exception
    assert any("Refreshed at" in c.value for c in app.caption)
