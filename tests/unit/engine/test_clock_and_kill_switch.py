"""Clocks never go back; the kill switch file is atomic, persistent and fails safe."""

from __future__ import annotations

import pytest

from shriven.engine.clock import ScaledWallClock, SimulatedClock
from shriven.engine.killswitch import KillSwitch


def test_simulated_clock_moves_only_forward() -> None:
    clock = SimulatedClock(10)
    clock.set(20)
    assert clock.now() == 20
    with pytest.raises(ValueError, match="back"):
        clock.set(19)


def test_scaled_wall_clock_runs_faster_from_its_start() -> None:
    clock = ScaledWallClock(1_000, speed=60.0)
    a = clock.now()
    assert a >= 1_000
    assert clock.wall_delay_s(a - 1) == 0.0
    assert clock.wall_delay_s(a + 60_000_000_000) == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="speed"):
        ScaledWallClock(0, speed=0)


def test_kill_switch_round_trip_and_second_reader_sees_it(tmp_path) -> None:
    writer, reader = KillSwitch(tmp_path), KillSwitch(tmp_path)
    assert reader.read().on is False
    writer.set(True, reason="fat finger", by="ops")
    state = reader.read()
    assert (state.on, state.reason, state.by) == (True, "fat finger", "ops")
    writer.set(False)
    assert reader.read().on is False
    assert not list(tmp_path.glob("*.tmp-*"))


def test_unreadable_kill_switch_fails_safe_as_on(tmp_path) -> None:
    (tmp_path / "kill_switch.json").write_text("{not json")
    state = KillSwitch(tmp_path).read()
    assert state.on is True
    assert "unreadable" in state.reason
