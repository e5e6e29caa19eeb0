"""Execution algos inside the engine: children go through risk and the OMS and sum to the parent."""

from __future__ import annotations

import pytest

from shriven.engine.wiring import run_backtest
from shriven.model.enums import Side
from shriven.oms.manager import OrderManager
from shriven.strategy.base import Strategy
from tests.unit.engine.conftest import DAY


class OneParent(Strategy):
    """Starts one algo parent on its first bar."""

    def __init__(self, algo: str, **params) -> None:
        super().__init__("algo", ("ACME",))
        self.algo, self.params = algo, params
        self.parent: str | None = None
        self.filled = 0.0

    def on_bar(self, ctx, bar) -> None:
        if self.parent is None:
            price = None
            if self.algo == "iceberg":
                price = round(bar.close * 1.002, 2)  # marketable: each child fills on arrival
            self.parent = ctx.execute("ACME", Side.BUY, 100.0, self.algo, price=price, **self.params)

    def on_fill(self, ctx, fill) -> None:
        self.filled += fill.quantity


def _orders(settings, result):
    oms = OrderManager.recover(f"{settings.trading_dir}/{result.account}/journal.bin", fsync=False, account=result.account)
    try:
        return [(o.request.client_order_id, o.request.quantity, o.filled_quantity, o.created_ts) for o in oms.orders]
    finally:
        oms.journal.close()


@pytest.mark.parametrize(
    ("algo", "params", "children"),
    [("twap", {"duration_ns": 10 * 60 * 10**9, "slices": 5}, 5), ("iceberg", {"display_quantity": 25.0}, 4)],
)
def test_algo_children_sum_to_the_parent_and_follow_the_schedule(settings, algo, params, children) -> None:
    s = settings[0]
    strategy = OneParent(algo, **params)
    result = run_backtest(s, [DAY.isoformat()], strategies=[strategy], run_id=f"algo-{algo}")
    orders = _orders(s, result)
    assert [cid for cid, *_ in orders] == [f"{strategy.parent}-{i}" for i in range(1, children + 1)]
    assert sum(q for _, q, _, _ in orders) == 100.0
    assert strategy.filled == 100.0
    if algo == "twap":
        created = [ts for *_, ts in orders]
        assert len(set(created)) == children  # one slice per wake-up, two minutes apart
        assert created[-1] - created[0] >= 8 * 60 * 10**9


def test_vwap_participates_in_the_volume_and_completes_at_the_end(settings) -> None:
    s = settings[0]
    strategy = OneParent("vwap", duration_ns=20 * 60 * 10**9, participation=0.0002)
    result = run_backtest(s, [DAY.isoformat()], strategies=[strategy], run_id="algo-vwap")
    orders = _orders(s, result)
    assert len(orders) > 2
    assert sum(q for _, q, _, _ in orders) == 100.0
    assert strategy.filled == 100.0


def test_unknown_algo_is_a_clear_error(settings) -> None:
    with pytest.raises(ValueError, match="unknown execution algo"):
        run_backtest(settings[0], [DAY.isoformat()], strategies=[OneParent("pov")], run_id="algo-bad")
