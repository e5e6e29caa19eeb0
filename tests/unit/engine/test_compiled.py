"""The compiled order-every-bar replay equals the event-driven engine on the same data."""

from __future__ import annotations

import numpy as np
import pytest

from shriven.engine.clock import SimulatedClock
from shriven.engine.compiled import ORDER_STATES, replay_every_bar
from shriven.engine.wiring import _first_prices, _session, build_stack
from shriven.lake.writer import Lake
from shriven.model.enums import OrderType, Side, TradingMode
from shriven.strategy.base import Strategy
from shriven.venue import InstrumentRules, VenueFeed
from tests.unit.engine.conftest import DAY, _settings

QUANTITY = 3.0


class EveryBar(Strategy):
    """A market order on every bar: buy when flat or short, sell when long."""

    def on_bar(self, ctx, bar) -> None:
        side = Side.BUY if ctx.position(bar.symbol) <= 0 else Side.SELL
        ctx.submit(bar.symbol, side, QUANTITY, None, OrderType.MARKET)


def _feeds(settings) -> dict[str, VenueFeed]:
    lake = Lake(settings.lake_root)
    feeds = {}
    for sym in settings.universe:
        cfg = settings.symbol(sym)
        rules = InstrumentRules(symbol=sym, tick_size=cfg.tick_size, lot_size=cfg.lot_size)
        feed = VenueFeed.from_lake(lake, rules, [DAY.isoformat()])
        if len(feed):
            feeds[sym] = feed
    return feeds


def _stack(settings, feeds, journal, strategies):
    start = min(int(f.rows["ts"][0]) for f in feeds.values()) - 1
    clock = SimulatedClock(start)
    stack = build_stack(
        settings, account="t", mode=TradingMode.BACKTEST, clock=clock, strategies=strategies,
        symbols=list(feeds), prices=_first_prices(feeds), journal_path=journal, fsync=False,
    )  # fmt: skip
    router, bars, _ = _session(settings, feeds, clock, start)
    end = max(int(f.rows["ts"][-1]) + 1 for f in feeds.values())
    return stack, router, bars, start, end


@pytest.fixture(scope="module")
def runs(lake_dir, tmp_path_factory):
    # a tight order rate so that some orders are denied, and 1s bars for many orders
    settings = _settings(
        lake_dir, bar_interval="1s", risk={"max_orders_per_second": 2, "max_open_orders": 4}
    )
    feeds = _feeds(settings)
    tmp = tmp_path_factory.mktemp("compiled")
    # the event-driven engine
    stack, router, bars, start, end = _stack(
        settings, feeds, tmp / "a" / "j.bin", [EveryBar("every", tuple(feeds))]
    )
    engine = stack.engine
    engine.load_session(router, bars, start_ns=start)
    engine.start()
    stack.risk.start_day(stack.portfolio.equity, start)
    engine.run_until(end)
    python = stack
    # the compiled replay over a fresh exchange and risk manager
    stack2, router2, bars2, start2, end2 = _stack(settings, feeds, tmp / "b" / "j.bin", [])
    stack2.risk.start_day(stack2.portfolio.equity, start2)
    (exchange,) = router2.venues.values()
    compiled = replay_every_bar(
        exchange, bars2, stack2.risk, starting_cash=settings.trading.starting_cash,
        quantity=QUANTITY, start_ns=start2, end_ns=end2,
    )  # fmt: skip
    return python, compiled


def test_the_same_fills_in_the_same_order(runs) -> None:
    python, compiled = runs
    expected = [(f.ts, f.symbol, int(f.side), f.price, f.quantity, f.fee) for f in python.oms.fills]
    got = [
        (int(f["ts"]), compiled.symbols[f["symbol"]], int(f["side"]), float(f["price"]),
         float(f["quantity"]), float(f["fee"]))
        for f in compiled.fills
    ]  # fmt: skip
    assert len(expected) > 500
    assert got == expected


def test_the_same_orders_and_denials(runs) -> None:
    python, compiled = runs
    stats = python.engine.stats
    assert compiled.orders_submitted == stats.orders_submitted
    assert compiled.denials_by_reason() == stats.denials_by_reason
    assert stats.orders_denied > 0  # the order rate binds: the risk path is exercised
    states = {ORDER_STATES[int(s)] for s in compiled.orders["state"]}
    assert states <= {"denied", "filled", "canceled", "partially_filled"}


def test_the_same_portfolio(runs) -> None:
    python, compiled = runs
    for sym in compiled.symbols:
        pos = python.portfolio.get(sym)
        if pos is None:
            assert compiled.positions[sym] == 0.0
            continue
        assert compiled.positions[sym] == pos.quantity
        assert compiled.realized_pnl[sym] == pytest.approx(pos.realized_pnl, rel=1e-12, abs=1e-9)
        assert compiled.fees[sym] == pytest.approx(pos.fees, rel=1e-12, abs=1e-12)
        if not np.isnan(pos.avg_cost):
            assert compiled.avg_costs[sym] == pytest.approx(pos.avg_cost, rel=1e-12)
    assert compiled.cash == pytest.approx(python.portfolio.cash, rel=1e-12)


def test_bad_arguments_are_refused(runs, lake_dir, tmp_path) -> None:
    settings = _settings(lake_dir, bar_interval="1s")
    feeds = _feeds(settings)
    stack, router, bars, start, end = _stack(settings, feeds, tmp_path / "j.bin", [])
    (exchange,) = router.venues.values()
    with pytest.raises(ValueError, match="quantity"):
        replay_every_bar(exchange, bars, stack.risk, starting_cash=1.0, quantity=0.0,
                         start_ns=start, end_ns=end)  # fmt: skip
    with pytest.raises(ValueError, match="before"):
        replay_every_bar(exchange, bars, stack.risk, starting_cash=1.0, quantity=1.0,
                         start_ns=end, end_ns=start)  # fmt: skip


def test_each_sent_order_carries_its_latencies(runs) -> None:
    _, compiled = runs
    sent = compiled.orders["state"] != 0
    wake = compiled.latency_ns("wake_to_venue")
    bar = compiled.latency_ns("bar_to_venue")
    risk = compiled.latency_ns("risk_check")
    assert wake.size == bar.size == risk.size == int(sent.sum())
    assert (risk > 0).all()
    # the risk check is on the way from the bar to the venue, the bar inside the wake-up
    assert (bar >= risk).all()
    assert (wake >= bar).all()
    assert (compiled.orders["wake_to_venue"][~sent] == -1).all()
    assert (compiled.orders["bar_to_venue"][~sent] == -1).all()
    assert 0.01 < compiled.ns_per_cycle < 100.0
