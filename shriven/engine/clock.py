"""Clocks: the engine reads time only through one of these, so a backtest is a replay."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "ScaledWallClock", "SimulatedClock", "WallClock"]


class Clock(Protocol):
    """Nanoseconds since the epoch (UTC)."""

    def now(self) -> int:
        """The current time."""
        ...


class SimulatedClock:
    """A clock the backtest moves: time passes only when the engine says so."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now(self) -> int:
        """The simulated time."""
        return self._now

    def set(self, ts: int) -> None:
        """Move to ``ts`` (never backwards)."""
        if ts < self._now:
            raise ValueError(f"simulated clock cannot go back: {ts} < {self._now}")
        self._now = ts


class WallClock:
    """The real time, for paper and live trading."""

    def now(self) -> int:
        """``time.time_ns()``."""
        return time.time_ns()


class ScaledWallClock:
    """Wall time mapped onto a market session: starts at ``start_ns`` and runs ``speed`` times faster.

    Paper trading outside the synthetic session (or faster than real time) replays the day's live
    feed at this pace; at ``speed=1`` and ``start_ns`` = now it is the wall clock.
    """

    def __init__(self, start_ns: int, speed: float = 1.0, *, wall_ns: int | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._start = start_ns
        self._speed = speed
        self._wall0 = time.time_ns() if wall_ns is None else wall_ns

    def now(self) -> int:
        """Session time now."""
        return self._start + int((time.time_ns() - self._wall0) * self._speed)

    def anchor(self, session_ns: int) -> None:
        """Restart from ``session_ns`` now (a session starts its clock when it starts trading)."""
        self._start = session_ns
        self._wall0 = time.time_ns()

    def wall_delay_s(self, session_ns: int) -> float:
        """Wall seconds until the session clock reaches ``session_ns`` (0 if already past)."""
        return max(0.0, (session_ns - self.now()) / self._speed / 1e9)
