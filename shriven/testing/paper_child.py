"""A paper-trading process for crash tests: ``python -m shriven.testing.paper_child DAY SPEED``.

The journal is not compacted at the session's end, so the test can audit its whole history
(every consumed signal); compaction after a crash is tested on its own.

Settings come from the environment (``SHRIVEN_CONFIG``, ``SHRIVEN_DATA_DIR``) as for any run.
It follows the signal log with a :class:`SignalFollower` and prints ``ACK <client order id>``
(flushed) each time the OMS acknowledges an order, i.e. after the journal is fsync'd: what a
client would have been told. A test kills it at random points and checks that every ACK survives.
"""

from __future__ import annotations

import sys
from datetime import date

from shriven.config import load_settings
from shriven.engine.wiring import open_paper_session
from shriven.strategy.signal_follower import SignalFollower


def main(argv: list[str]) -> int:
    """Run one paper session (resuming from the journal) to its end."""
    day, speed = date.fromisoformat(argv[0]), float(argv[1])
    settings = load_settings()
    follower = SignalFollower("follow", settings.universe)
    session = open_paper_session(settings, day=day, speed=speed, strategies=[follower])
    oms = session.stack.oms
    submit = oms.submit

    def acknowledged(client_order_id: str, venue: str, ts: int):
        order = submit(client_order_id, venue, ts)
        sys.stdout.write(f"ACK {client_order_id}\n")
        sys.stdout.flush()
        return order

    oms.submit = acknowledged
    print("STARTED", flush=True)
    status = session.run(poll_s=0.005, checkpoint_every_s=0.5, compact=False)
    print(f"DONE {status['signals']} {status['orders']} {status['fills']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
