"""A crash loses no acknowledged order: a child process submits with fsync and is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from shriven.model.enums import OrderState
from shriven.oms import OrderManager

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import sys
from shriven.model.enums import Side
from shriven.model.records import OrderRequest
from shriven.oms import OrderManager

path, prefix = sys.argv[1], sys.argv[2]
oms = OrderManager.recover(path, fsync=True)
offset = oms.last_signal_offset
i = 0
while True:
    cid = f"{prefix}-{i}"
    oms.create(OrderRequest(client_order_id=cid, symbol="BTC", side=Side.BUY, quantity=1.0,
                            price=100.0, ts=i, signal_offset=offset + 1))
    oms.submit(cid, "sim", i)
    print("acked", cid, flush=True)  # only after submit returned: the acknowledgement
    offset += 1
    oms.signal_consumed(offset, i)
    print("consumed", offset, flush=True)
    i += 1
"""


def _run_and_kill(path: Path, prefix: str, acks_before_kill: int) -> tuple[list[str], int]:
    """Start the child, SIGKILL it after some acks; the ids and offset it acknowledged."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), prefix],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    acked: list[str] = []
    consumed = -1
    try:
        for line in child.stdout:
            kind, value = line.split()
            if kind == "acked":
                acked.append(value)
            else:
                consumed = int(value)
            if len(acked) == acks_before_kill:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        rest, _ = child.communicate(timeout=60)
    for line in rest.splitlines():  # acknowledged before the kill, still in the pipe
        kind, value = line.split()
        if kind == "acked":
            acked.append(value)
        else:
            consumed = int(value)
    assert child.returncode == -signal.SIGKILL
    return acked, consumed


def test_sigkill_loses_no_acknowledged_order(tmp_path: Path) -> None:
    path = tmp_path / "oms.journal"
    all_acked: list[str] = []
    for round_ in range(3):
        acked, consumed = _run_and_kill(path, f"r{round_}", 40)
        all_acked += acked
        oms = OrderManager.recover(path, fsync=False)
        for cid in all_acked:
            order = oms.get(cid)
            assert order is not None, cid
            assert order.state == OrderState.SUBMITTED
            assert order.venue == "sim"
        assert oms.last_signal_offset >= consumed
        # Whatever else survived is a prefix of what the child did: no holes.
        ids = [o.client_order_id for o in oms.orders if o.client_order_id.startswith(f"r{round_}-")]
        assert ids == [f"r{round_}-{i}" for i in range(len(ids))]
        assert len(ids) >= len(acked)
        assert all(oms.get(cid).state == OrderState.SUBMITTED for cid in ids[:-1])
        oms.journal.close()
