"""The trading commands of ``shriven``: kill switch, signals, backtests (through the real flow)."""

from __future__ import annotations

from datetime import date

import pytest

from cli.main import main
from shriven.engine.killswitch import KillSwitch
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from shriven.signals.log import SignalLog

DAY = date(2026, 1, 5)


def test_kill_switch_on_show_off(small_platform, capsys):
    assert main(["kill-switch", "on", "--reason", "desk says stop"]) == 0
    assert "kill switch ON: desk says stop" in capsys.readouterr().out
    assert KillSwitch(small_platform.state_dir).read().on
    assert main(["kill-switch"]) == 0
    assert "ON" in capsys.readouterr().out
    assert main(["kill-switch", "off"]) == 0
    assert "kill switch off" in capsys.readouterr().out
    assert not KillSwitch(small_platform.state_dir).read().on


def test_signal_appends_to_the_log_and_rejects_unknown_symbols(small_platform, capsys):
    assert main(["signal", "ACME", "100"]) == 0
    assert "signal 0: ACME position 100.0" in capsys.readouterr().out
    assert main(["signal", "BOLT", "0.05", "--weight"]) == 0
    assert main(["signal", "NOPE", "1"]) == 2
    assert "unknown_symbol" in capsys.readouterr().err
    signals = SignalLog(small_platform.lake_root).read_after(-1)
    assert [(s.symbol, s.target, s.kind.name) for s in signals] == [("ACME", 100.0, "POSITION"), ("BOLT", 0.05, "WEIGHT")]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_backtest_command_runs_and_refuses_a_used_run_id_or_a_day_without_data(small_platform, capsys):
    ingest_window(SyntheticExchange(small_platform), Lake(small_platform.lake_root), Window.days(DAY),
                  small_platform.universe, small_platform.universe)  # fmt: skip
    assert main(["backtest", "--start", DAY.isoformat(), "--run-id", "cli"]) == 0
    assert '"account": "backtest-cli"' in capsys.readouterr().out
    assert main(["backtest", "--start", DAY.isoformat(), "--run-id", "cli"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["backtest", "--start", "2020-01-01", "--run-id", "empty"]) == 2
    assert "no market data" in capsys.readouterr().err
