"""The backtest and execution flows under the real Prefect engine."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shriven.config import load_settings
from shriven.engine.commands import CommandLog, commands_path
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.views import create_views
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.model.enums import OrderType, Side
from shriven.model.records import Signal
from shriven.signals.log import SignalLog
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

DAY = date(2026, 1, 5)
STRATEGIES = """
[[strategy]]
kind = "signal_follower"
id = "follow"
symbols = ["ACME", "BOLT"]

[[strategy]]
kind = "momentum"
id = "mom"
symbols = ["CRUX"]
[strategy.params]
fast = 3
slow = 8
quantity = 10
"""


@pytest.fixture
def trading_platform(tmp_path, monkeypatch):
    """SMALL_CONFIG with a strategies file, a tight daily loss limit and one day in the lake."""
    (tmp_path / "strategies.toml").write_text(STRATEGIES)
    config = tmp_path / "shriven.toml"
    config.write_text(
        SMALL_CONFIG
        + f'\n[trading]\nstrategies = "{tmp_path / "strategies.toml"}"\njournal_fsync = false\n'
        + "\n[trading.risk]\ndaily_loss_limit = 1.0\n"
    )
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    ingest_window(SyntheticExchange(settings), Lake(settings.lake_root), Window.days(DAY), settings.universe, settings.universe)
    open_ns, _ = session_window(settings, DAY)
    SignalLog(settings.lake_root, symbols=settings.universe).append(
        [Signal(ts=open_ns + 120 * 10**9, symbol="ACME", target=200.0), Signal(ts=open_ns + 300 * 10**9, symbol="BOLT", target=-150.0)],
        source="test", now_ns=day_start_ns(DAY),
    )  # fmt: skip
    return settings


def test_backtest_flow_writes_the_account_and_a_summary_artifact(trading_platform):
    from prefect.artifacts import Artifact

    from flows.backtest import backtest

    summary = backtest(start=DAY, days=1, run_id="flow")
    assert summary["account"] == "backtest-flow"
    assert summary["signals"] == 2
    assert summary["orders"] >= 1
    assert summary["orders"] + summary["denied"] >= 2  # the tight daily loss limit may halt the second
    con = duckdb.connect()
    create_views(con, trading_platform.lake_root)
    assert con.sql("SELECT count(*) FROM fills WHERE account = 'backtest-flow'").fetchall()[0][0] == summary["fills"]
    artifact = Artifact.get("backtest-summary")
    assert artifact is not None
    assert "backtest-flow" in artifact.data


def test_execution_flow_paper_trades_and_publishes_risk_breaches(trading_platform, asserting_events_worker):
    from flows.execution import execution

    # an order from the gateway, through its command log, tagged with the request's correlation id
    CommandLog(commands_path(trading_platform.trading_dir, "paper")).submit_order(
        principal="desk", idempotency_key="k-1", symbol="CRUX", side=Side.BUY, quantity=1,
        order_type=OrderType.MARKET, correlation_id="desk-7",
    )  # fmt: skip
    status = execution(mode="paper", day=DAY, speed=3600.0, checkpoint_every_s=0.5)
    assert status["signals"] == 2
    lines = [json.loads(line) for line in (Path(trading_platform.data_dir) / "logs" / "execution.jsonl").read_text().splitlines()]
    command = next(line for line in lines if line["message"].startswith("command 0"))
    assert command["correlation_id"] == "desk-7"
    assert command["component"] == "execution"
    assert status["fills"] >= 1  # the tight daily loss limit halts trading after the first fills
    asserting_events_worker.drain()
    names = [e.event for e in asserting_events_worker._client.events]
    assert "shriven.risk.breach" in names, names
    breach = next(e for e in asserting_events_worker._client.events if e.event == "shriven.risk.breach")
    assert breach.resource.id == "shriven.account.paper"
    assert breach.payload["reason"].lower() == "daily_loss"


def test_live_mode_says_what_it_needs(trading_platform, monkeypatch):
    from flows.execution import execution

    monkeypatch.delenv("SHRIVEN_CCXT_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SHRIVEN_CCXT_API_KEY"):
        execution(mode="live")
    with pytest.raises(ValueError, match="paper' or 'live"):
        execution(mode="dry-run")
