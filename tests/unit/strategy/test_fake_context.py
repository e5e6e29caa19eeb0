"""FakeContext: what it records and what it calls back, so strategy tests can trust it."""

from __future__ import annotations

import math

import pytest

from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import Bar, Fill, OrderEvent, Quote, Signal
from shriven.strategy.base import Strategy, StrategyContext
from shriven.testing.fake_context import FakeContext


class Recorder(Strategy):
    """Remembers every callback in order."""

    def __init__(self) -> None:
        super().__init__("rec", ("ACME", "BOLT"))
        self.calls: list[tuple[str, object]] = []

    def on_start(self, ctx: StrategyContext) -> None:
        self.calls.append(("start", None))

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self.calls.append(("bar", bar))

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        self.calls.append(("quote", quote))

    def on_signal(self, ctx: StrategyContext, signal: Signal) -> None:
        self.calls.append(("signal", signal))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.calls.append(("fill", fill))

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> None:
        self.calls.append(("event", event))

    def on_timer(self, ctx: StrategyContext, ts: int) -> None:
        self.calls.append(("timer", ts))

    def on_stop(self, ctx: StrategyContext) -> None:
        self.calls.append(("stop", None))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ctx(recorder: Recorder) -> FakeContext:
    return FakeContext(recorder, equity=50_000.0, tick_size=0.01, lot_sizes={"BOLT": 0.1})


def test_reads_what_the_test_set(ctx: FakeContext) -> None:
    assert ctx.symbols == ("ACME", "BOLT")
    assert ctx.position("ACME") == 0.0
    assert ctx.quote("ACME") is None
    ctx.set_position("ACME", -3)
    ctx.set_equity(10.0)
    ctx.set_now(5)
    quote = ctx.set_quote("ACME", 9.99, 10.01, bid_size=2, ask_size=1)
    assert ctx.position("ACME") == -3.0
    assert ctx.equity() == 10.0
    assert ctx.now == 5
    assert ctx.quote("ACME") is quote
    assert quote.ts == 5
    assert ctx.lot_size("BOLT") == 0.1
    assert ctx.lot_size("ACME") == 1.0
    assert ctx.tick_size("ACME") == 0.01
    ctx.clear_quote("ACME")
    assert ctx.quote("ACME") is None


def test_submit_records_working_orders_and_open_quantity(ctx: FakeContext) -> None:
    buy = ctx.submit("ACME", Side.BUY, 10, 99.5, tag="x")
    sell = ctx.submit("ACME", Side.SELL, 4, 100.5)
    other = ctx.submit("BOLT", Side.BUY, 0.3, 20.0)
    assert [buy, sell, other] == ["rec-1", "rec-2", "rec-3"]
    assert ctx.orders[buy].tag == "x"
    assert ctx.orders[buy].order_type == OrderType.LIMIT
    assert ctx.open_quantity("ACME") == 6.0
    assert [o.client_order_id for o in ctx.working("ACME", Side.SELL)] == [sell]
    ctx.cancel(sell)
    assert ctx.open_quantity("ACME") == 10.0
    ctx.cancel("nope")
    assert ctx.cancels == [sell, "nope"]
    ctx.cancel_all("ACME")
    assert ctx.working("ACME") == []
    assert [o.client_order_id for o in ctx.working()] == [other]
    assert ctx.cancel_all_calls == ["ACME"]


@pytest.mark.parametrize(
    ("symbol", "quantity", "price", "order_type"),
    [
        ("ACME", 0, 10.0, OrderType.LIMIT),
        ("ACME", -1, 10.0, OrderType.LIMIT),
        ("ACME", 1.5, 10.0, OrderType.LIMIT),
        ("BOLT", 0.25, 10.0, OrderType.LIMIT),
        ("ACME", 1, 10.005, OrderType.LIMIT),
        ("ACME", 1, None, OrderType.LIMIT),
        ("ACME", 1, math.nan, OrderType.POST_ONLY),
    ],
)
def test_strict_context_refuses_malformed_orders(
    ctx: FakeContext, symbol: str, quantity: float, price: float | None, order_type: OrderType
) -> None:
    with pytest.raises(ValueError, match=symbol):
        ctx.submit(symbol, Side.BUY, quantity, price, order_type)
    assert ctx.orders == {}


def test_lenient_context_records_malformed_orders(recorder: Recorder) -> None:
    ctx = FakeContext(recorder, strict=False)
    ctx.submit("ACME", Side.BUY, 1.5, 10.005)
    assert len(ctx.submitted) == 1


def test_market_orders_need_no_price(ctx: FakeContext) -> None:
    ctx.submit("ACME", Side.SELL, 2, order_type=OrderType.MARKET)
    assert ctx.open_quantity("ACME") == -2.0


def test_fill_books_position_and_calls_back(ctx: FakeContext, recorder: Recorder) -> None:
    order_id = ctx.submit("ACME", Side.SELL, 10, 100.0)
    ctx.set_position("ACME", 2)
    first = ctx.fill(order_id, 100.0, 4)
    assert ctx.position("ACME") == -2.0
    assert ctx.orders[order_id].remaining == 6.0
    assert ctx.open_quantity("ACME") == -6.0
    assert first.side == Side.SELL
    assert first.strategy_id == "rec"
    second = ctx.fill(order_id, 100.0)
    assert second.quantity == 6.0
    assert ctx.position("ACME") == -8.0
    assert ctx.working() == []
    assert recorder.calls == [("fill", first), ("fill", second)]
    assert ctx.fills == [first, second]
    with pytest.raises(ValueError, match="not open"):
        ctx.fill(order_id, 100.0, 1)


def test_fill_cannot_exceed_remaining(ctx: FakeContext) -> None:
    order_id = ctx.submit("ACME", Side.BUY, 3, 10.0)
    with pytest.raises(ValueError, match="remaining"):
        ctx.fill(order_id, 10.0, 4)


def test_order_events_close_terminal_orders(ctx: FakeContext, recorder: Recorder) -> None:
    order_id = ctx.submit("ACME", Side.BUY, 3, 10.0)
    accepted = ctx.order_event(order_id, OrderEventKind.ACCEPTED)
    assert ctx.orders[order_id].is_open
    rejected = ctx.order_event(order_id, OrderEventKind.REJECTED, reason="POST_ONLY")
    assert not ctx.orders[order_id].is_open
    assert rejected.reason == "POST_ONLY"
    assert rejected.symbol == "ACME"
    assert recorder.calls == [("event", accepted), ("event", rejected)]
    assert ctx.orders[order_id].events == [OrderEventKind.ACCEPTED, OrderEventKind.REJECTED]


def test_feeds_move_the_clock_and_call_back(ctx: FakeContext, recorder: Recorder) -> None:
    ctx.start()
    bar = Bar(
        ts=0, end_ts=60, symbol="ACME", open=1, high=1, low=1, close=1, volume=0, vwap=1, trades=0
    )
    ctx.feed_bar(bar)
    assert ctx.now == 60
    quote = ctx.feed_quote(Quote(ts=70, symbol="ACME", bid=1, bid_size=1, ask=2, ask_size=1))
    assert ctx.now == 70
    assert ctx.quote("ACME") is quote
    signal = Signal(ts=80, symbol="ACME", target=1.0)
    ctx.feed_signal(signal)
    ctx.stop()
    assert [name for name, _ in recorder.calls] == ["start", "bar", "quote", "signal", "stop"]


def test_timers_fire_in_time_order_once(ctx: FakeContext, recorder: Recorder) -> None:
    ctx.set_timer(300)
    ctx.set_timer(100)
    ctx.set_timer(200)
    assert ctx.advance(250) == [100, 200]
    assert ctx.advance(250) == []
    assert ctx.timers == [300]
    assert recorder.calls == [("timer", 100), ("timer", 200)]


def test_target_position_is_recorded_only(ctx: FakeContext) -> None:
    ctx.target_position("ACME", 5.0)
    assert ctx.targets == [("ACME", 5.0)]
    assert ctx.position("ACME") == 0.0


def test_apply_targets_moves_the_position(recorder: Recorder) -> None:
    ctx = FakeContext(recorder, apply_targets=True)
    ctx.target_position("ACME", -4.0)
    assert ctx.position("ACME") == -4.0
    assert ctx.targets == [("ACME", -4.0)]


def test_without_strategy_records_but_cannot_feed() -> None:
    ctx = FakeContext(symbols=("X",))
    order_id = ctx.submit("X", Side.BUY, 1, 1.0)
    assert order_id == "order-1"
    ctx.fill(order_id, 1.0)
    assert ctx.position("X") == 1.0
    with pytest.raises(RuntimeError, match="no strategy"):
        ctx.feed_signal(Signal(ts=0, symbol="X", target=1.0))


def test_is_a_strategy_context(ctx: FakeContext) -> None:
    def takes(context: StrategyContext) -> tuple[str, ...]:
        return context.symbols

    assert takes(ctx) == ("ACME", "BOLT")


def test_fake_context_records_algo_parents() -> None:
    from shriven.model.enums import Side
    from shriven.testing.fake_context import FakeContext

    ctx = FakeContext(symbols=("ACME",))
    parent = ctx.execute("ACME", Side.BUY, 10.0, "twap", slices=2)
    assert parent == "order-twap-1"
    assert ctx.algos == [("order-twap-1", "ACME", Side.BUY, 10.0, "twap", {"slices": 2})]
