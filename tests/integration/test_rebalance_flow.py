"""The rebalance flow under the real Prefect engine, over a small synthetic lake."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from shriven.config import load_settings
from shriven.model.enums import TargetKind
from shriven.signals.log import SignalLog
from shriven.testing.demo_lake import write_demo_lake
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

SYMBOLS = ("ACME", "BOLT", "CRUX")


@pytest.fixture
def platform(tmp_path, monkeypatch):
    """The small universe with eight short days of demo bars."""
    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    write_demo_lake(settings.lake_root, SYMBOLS, date(2026, 1, 5), minutes=30, days=8)
    return settings


def test_rebalance_flow_appends_weight_signals_and_publishes_the_weights(platform):
    from prefect.artifacts import Artifact

    from flows.rebalance import rebalance

    result = rebalance(method="equal_risk_contribution", lookback_days=6, covariance="sample")

    assert result["status"] == "ok", result["message"]
    assert result["observations"] == 6
    assert result["appended"] == 3
    signals = SignalLog(platform.lake_root).read_after(-1)
    assert [s.symbol for s in signals] == list(SYMBOLS)
    assert {s.kind for s in signals} == {TargetKind.WEIGHT}
    assert {s.source for s in signals} == {"rebalance:equal_risk_contribution"}
    assert {s.model_version for s in signals} == {result["model_version"]}
    weights = np.array([s.target for s in signals])
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(weights > 0)
    assert dict(zip(SYMBOLS, weights, strict=True)) == pytest.approx(result["targets"])

    artifact = Artifact.get("rebalance-weights")
    assert artifact is not None
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [row["symbol"] for row in table] == list(SYMBOLS)
    assert all(row["current_weight"] == 0.0 for row in table)


def test_rebalance_flow_without_history_appends_nothing(tmp_path, monkeypatch):
    from flows.rebalance import rebalance

    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(tmp_path / "data"))

    result = rebalance(lookback_days=5)

    assert result["status"] == "no_bars"
    assert result["appended"] == 0
    assert SignalLog(load_settings().lake_root).last_offset() == -1
