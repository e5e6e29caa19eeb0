"""prefect.yaml: every entrypoint resolves to a flow, and schedules equal the settings."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect import Flow

from shriven.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_entrypoint_resolves_to_a_flow():
    for dep in _deployments():
        module_path, _, attr = dep["entrypoint"].partition(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, attr), Flow), dep["name"]


def test_each_flow_file_is_one_deployment_flow():
    files = {d["entrypoint"].split(":")[0] for d in _deployments()}
    on_disk = {f"flows/{p.name}" for p in (ROOT / "flows").glob("*.py") if p.name != "__init__.py"}
    assert on_disk == files


def test_schedules_match_the_settings(monkeypatch):
    monkeypatch.delenv("SHRIVEN_CONFIG", raising=False)
    schedules = load_settings(environ={}).schedules
    by_flow = {
        "ingest_market_data.py": schedules.ingest_live,
        "aggregate_bars.py": schedules.aggregate_bars,
        "daily_pipeline.py": schedules.daily_pipeline,
        "options_analytics.py": schedules.options_analytics,
        "execution.py": schedules.execution_paper,
        "sentiment.py": schedules.sentiment,
        "ml_inference.py": schedules.ml_inference,
        "train_model.py": schedules.train_model,
        "reporting.py": schedules.reporting,
        "rebalance.py": schedules.rebalance,
    }
    seen = set()
    for dep in _deployments():
        for sched in dep.get("schedules") or []:
            flow_file = dep["entrypoint"].split(":")[0].split("/")[-1]
            assert sched["cron"] == by_flow[flow_file], dep["name"]
            assert sched["timezone"] == "UTC"
            seen.add(flow_file)
    assert seen == set(by_flow)
