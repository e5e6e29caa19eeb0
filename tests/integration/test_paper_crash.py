"""Paper trading killed with SIGKILL at random points, restarted each time, loses and repeats nothing.

A real process trades the synthetic session on a fast clock, following a signal log, with an
fsync'd journal; it is killed 25 times at random moments (start-up, recovery, trading,
checkpoints) and then runs to the end of the session (``shriven.testing.paper_crash``). Then:

* every order the process acknowledged (printed after the journal fsync) is in the journal;
* no fill is booked twice (trade ids are unique) and positions equal the sum of fills;
* every signal is consumed exactly once, in offset order, and the follower ends on each symbol's
  last target, so no signal was skipped or acted on twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import duckdb
import pytest

from shriven.lake.views import create_views
from shriven.oms.journal import Journal
from shriven.oms.manager import OrderManager
from shriven.oms.records import SignalConsumed
from shriven.testing.paper_crash import run_crash_trial
from tests.conftest import SMALL_CONFIG

pytestmark = pytest.mark.slow

DAY = date(2026, 1, 5)


def test_sigkill_at_random_points_loses_no_acknowledged_order(tmp_path):
    trial = run_crash_trial(tmp_path, SMALL_CONFIG, DAY, kills=25, seed=20261125)
    assert trial.final_exit == 0
    assert trial.kills >= 20
    assert any(line.startswith("DONE") for line in trial.lines)

    consumed = [r.offset for r in Journal.replay(trial.journal_path) if isinstance(r, SignalConsumed)]
    assert consumed == list(range(len(trial.signals))), "each signal consumed exactly once, in order"
    oms = OrderManager.recover(trial.journal_path, fsync=False, account="paper")
    try:
        known = {o.request.client_order_id for o in oms.orders}
        assert trial.acks, "the child acknowledged orders"
        assert trial.acks <= known, f"acknowledged orders lost: {sorted(trial.acks - known)[:5]}"
        trade_ids = [f.trade_id for f in oms.fills]
        assert len(trade_ids) == len(set(trade_ids)), "a fill was booked twice"
        fills_by_symbol: dict[str, float] = defaultdict(float)
        for f in oms.fills:
            fills_by_symbol[f.symbol] += f.signed_quantity
        positions = oms.positions()
        for symbol, target in {s.symbol: s.target for s in trial.signals}.items():
            assert positions.get(symbol, 0.0) == pytest.approx(fills_by_symbol[symbol])
            assert positions.get(symbol, 0.0) == pytest.approx(target), f"{symbol} did not end on its last target"
        assert not oms.open_orders()
    finally:
        oms.journal.close()

    con = duckdb.connect()
    create_views(con, trial.settings.lake_root)
    lake_positions = dict(con.sql("SELECT symbol, quantity FROM positions WHERE account = 'paper'").fetchall())
    assert lake_positions == pytest.approx({s: positions.get(s, 0.0) for s in lake_positions})
    fills = con.sql("SELECT count(*), count(DISTINCT trade_id) FROM fills WHERE account = 'paper'").fetchall()[0]
    assert fills == (len(trade_ids), len(trade_ids))
