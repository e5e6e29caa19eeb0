"""Kill paper trading with SIGKILL at random points and collect what must have survived.

Shared by the crash test (25 kills) and ``bench/bench_crash.py`` (100 kills): a child process
(:mod:`shriven.testing.paper_child`) follows a signal log on a fast clock with an fsync'd journal;
it is killed ``kills`` times at random moments (start-up, recovery, trading, checkpoints), then
runs to the end of the session. :class:`CrashTrial` holds what the checks need.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shriven.config import Settings, load_settings
from shriven.lake.layout import day_start_ns
from shriven.marketdata.synthetic import session_window
from shriven.model.enums import TargetKind
from shriven.model.records import Signal
from shriven.signals.log import SignalLog

__all__ = ["CrashTrial", "run_crash_trial"]

_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CrashTrial:
    """What a trial did: the settings it ran with, the signals, what was acknowledged, kills."""

    settings: Settings
    signals: list[Signal]
    acks: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    kills: int = 0
    runs: int = 0
    final_exit: int | None = None
    wall_s: float = 0.0

    @property
    def journal_path(self) -> str:
        """The paper account's OMS journal."""
        return self.settings.trading_dir + "/paper/journal.bin"


def _start(env: dict[str, str], trial: CrashTrial, day: date, speed: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shriven.testing.paper_child", day.isoformat(), str(speed)],
        cwd=_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip

    def read() -> None:
        for line in proc.stdout:
            trial.lines.append(line.strip())
            if line.startswith("ACK "):
                trial.acks.add(line.split()[1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.reader = reader  # type: ignore[attr-defined]
    return proc


def run_crash_trial(
    workdir: Path,
    config_text: str,
    day: date,
    *,
    kills: int = 25,
    seed: int = 0,
    speed: float = 360.0,
    n_signals: int = 34,
    max_alive_s: float = 2.2,
) -> CrashTrial:
    """Append signals, then start/kill the child ``kills`` times and let a last run finish."""
    config = workdir / "shriven.toml"
    config.write_text(config_text + "\n[trading]\njournal_fsync = true\n")
    env = {**os.environ, "SHRIVEN_CONFIG": str(config), "SHRIVEN_DATA_DIR": str(workdir / "data"),
           "PYTHONPATH": str(_ROOT)}  # fmt: skip
    settings = load_settings(environ=env)
    rng = random.Random(seed)
    open_ns, close_ns = session_window(settings, day)
    step = (close_ns - open_ns - 120 * 10**9) // n_signals
    signals = [
        Signal(ts=open_ns + 60 * 10**9 + i * step, symbol=rng.choice(settings.universe),
               target=float(rng.randint(-60, 60)), kind=TargetKind.POSITION, source="crash-trial")
        for i in range(n_signals)
    ]  # fmt: skip
    SignalLog(settings.signal_log_root, symbols=settings.universe).append(
        signals, source="crash-trial", now_ns=day_start_ns(day)
    )
    trial = CrashTrial(settings, signals)
    started = time.perf_counter()
    for _ in range(kills):
        proc = _start(env, trial, day, speed)
        trial.runs += 1
        try:
            proc.wait(timeout=rng.uniform(0.3, max_alive_s))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            trial.kills += 1
        proc.reader.join(timeout=5)
    final = _start(env, trial, day, speed)
    trial.runs += 1
    trial.final_exit = final.wait(timeout=300)
    final.reader.join(timeout=5)
    trial.wall_s = time.perf_counter() - started
    return trial


def verify(trial: CrashTrial) -> dict[str, object]:
    """The trial's outcome in numbers: lost acknowledgements, repeated fills and signals, targets missed."""
    from shriven.oms.journal import Journal
    from shriven.oms.manager import OrderManager
    from shriven.oms.records import SignalConsumed

    consumed = [r.offset for r in Journal.replay(trial.journal_path) if isinstance(r, SignalConsumed)]
    oms = OrderManager.recover(trial.journal_path, fsync=False, account="paper")
    try:
        known = {o.request.client_order_id for o in oms.orders}
        trade_ids = [f.trade_id for f in oms.fills]
        positions = oms.positions()
        targets = {s.symbol: s.target for s in trial.signals}
        return {
            "kills": trial.kills,
            "runs": trial.runs,
            "wall_s": round(trial.wall_s, 1),
            "acknowledged_orders": len(trial.acks),
            "orders_in_journal": len(known),
            "lost_acknowledged": len(trial.acks - known),
            "fills": len(trade_ids),
            "fills_booked_twice": len(trade_ids) - len(set(trade_ids)),
            "signals": len(trial.signals),
            "signals_consumed_once_in_order": consumed == list(range(len(trial.signals))),
            "symbols_off_target": sorted(s for s, t in targets.items() if abs(positions.get(s, 0.0) - t) > 1e-9),
            "orders_left_open": len(oms.open_orders()),
            "final_exit": trial.final_exit,
        }
    finally:
        oms.journal.close()
