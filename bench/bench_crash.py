"""Paper trading killed with SIGKILL 100 times at random points: nothing acknowledged is lost.

Not a speed benchmark: the reliability figure the issue asks for (100 kills in a bench script,
the test suite does 25). Prints the trial's counts; every "lost"/"twice"/"off target" must be 0.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shriven.testing.paper_crash import run_crash_trial, verify  # noqa: E402
from shriven.testing.small_config import SMALL_CONFIG  # noqa: E402


def run(kills: int = 100, seed: int = 1) -> dict[str, object]:
    """One trial of ``kills`` SIGKILLs on a one-hour session replayed at 120x."""
    with tempfile.TemporaryDirectory() as tmp:
        trial = run_crash_trial(Path(tmp), SMALL_CONFIG, date(2026, 1, 5), kills=kills, seed=seed, speed=120.0, n_signals=60)
        return verify(trial)


def print_result(result: dict[str, object]) -> None:
    """One line per figure."""
    for key, value in result.items():
        print(f"  {key:32s} {value}")


def main() -> None:
    """Run the trial and print it."""
    print_result(run())


if __name__ == "__main__":
    main()
