"""The manual kill switch: a small file the CLI writes and the running engine polls.

A file (not a socket) so that it works when the engine runs under a Prefect worker on another
process, survives restarts (an engine started while it is on starts HALTED) and leaves a record
of who set it and why. Written by temp file + rename, so a reader never sees half of it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec

__all__ = ["KillSwitch", "KillSwitchState"]


class KillSwitchState(msgspec.Struct, frozen=True, kw_only=True):
    """Whether trading is killed, since when, by whom and why."""

    on: bool
    ts: int
    reason: str = ""
    by: str = ""


class KillSwitch:
    """``<state_dir>/kill_switch.json``; reading costs one ``stat`` unless the file changed."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / "kill_switch.json"
        self._seen: tuple[int, int] | None = None
        self._state = KillSwitchState(on=False, ts=0)

    def set(self, on: bool, *, reason: str = "", by: str = "") -> KillSwitchState:
        """Turn the switch on or off (atomically) and return the new state."""
        state = KillSwitchState(on=on, ts=time.time_ns(), reason=reason, by=by)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(msgspec.json.encode(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return state

    def read(self) -> KillSwitchState:
        """The current state (off when the file does not exist)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen = None
            self._state = KillSwitchState(on=False, ts=0)
            return self._state
        key = (st.st_mtime_ns, st.st_size)
        if key != self._seen:
            try:
                self._state = msgspec.json.decode(self.path.read_bytes(), type=KillSwitchState)
            except msgspec.DecodeError as exc:
                # A corrupt switch file fails safe: treat it as ON.
                self._state = KillSwitchState(on=True, ts=time.time_ns(), reason=f"unreadable kill switch file: {exc}")
            self._seen = key
        return self._state
