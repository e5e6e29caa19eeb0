"""Workers the signal tests run in other processes (importable by name for the spawn start method)."""

from __future__ import annotations

import os
import sys

from shriven.model.records import Signal
from shriven.signals import OffsetStore, SignalLog

#: A fixed instant (2023-11-14 22:13:20 UTC) for appends.
NOW = 1_700_000_000_000_000_000


def append_many(root: str, worker: int, appends: int) -> list[tuple[int, int, int]]:
    """Append ``appends`` batches of 1-3 signals tagged with the worker; return (first, last, n) of each."""
    log = SignalLog(root)
    out = []
    for i in range(appends):
        n = 1 + (worker + i) % 3
        batch = [
            Signal(
                ts=NOW + i * 10 + j,
                symbol=f"S{j}",
                target=float(i),
                source=f"w{worker}",
                model_version=f"{i}:{j}",
            )
            for j in range(n)
        ]
        r = log.append(batch, source=f"w{worker}", now_ns=NOW + i)
        out.append((r.first_offset, r.last_offset, r.appended))
    return out


def commit_forever(path: str) -> None:
    """Commit rising offsets until killed (the crash-safety test kills it with SIGKILL)."""
    store = OffsetStore(path)
    offset = 0
    while True:
        store.commit(offset)
        offset += 1


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    commit_forever(sys.argv[1])
    os._exit(0)
