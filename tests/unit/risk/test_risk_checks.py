"""Every risk reason: triggered by a minimal case, not triggered just inside its limit."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from risk_support import OTHER, SECOND_NS, SYMBOL, build, kernel_reason, order

from shriven.book.orders import OrderType, Side
from shriven.model.enums import RiskReason, TradingState
from shriven.model.records import OrderRequest
from shriven.risk import CHECK_ORDER, RiskEngine, RiskEventKind

R = RiskReason


def _noop(engine: RiskEngine) -> None:
    pass


@dataclass
class Case:
    """An engine, a set-up, an order denied with ``reason`` and one just inside the limit."""

    reason: RiskReason
    denied: OrderRequest
    inside: OrderRequest
    build: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[RiskEngine], None] = _noop
    #: Build arguments of the just-inside engine when they differ.
    inside_build: dict[str, Any] | None = None


def _halt(e: RiskEngine) -> None:
    e.set_state(TradingState.HALTED, "test", 0)


def _reducing_long_5(e: RiskEngine) -> None:
    e.position_changed(SYMBOL, 5.0)
    e.set_state(TradingState.REDUCING, "test", 0)


def _daily_breach_then_active(e: RiskEngine) -> None:
    e.start_day(1_000_000.0, 0)
    e.position_changed(SYMBOL, 5.0)
    e.equity_changed(1_000_000.0 - 1_000.5, 1)
    e.set_state(TradingState.ACTIVE, "operator", 2)


def _drawdown_breach_then_active(e: RiskEngine) -> None:
    e.start_day(1_000.0, 0)
    e.position_changed(SYMBOL, 5.0)
    e.equity_changed(749.0, 1)
    e.set_state(TradingState.ACTIVE, "operator", 2)


def _position_4_working_buy_3(e: RiskEngine) -> None:
    e.position_changed(SYMBOL, 4.0)
    e.order_opened(order(3.0, client_order_id="w1"))


def _short_4_working_sell_3(e: RiskEngine) -> None:
    e.position_changed(SYMBOL, -4.0)
    e.order_opened(order(3.0, side=Side.SELL, client_order_id="w1"))


def _other_long_6(e: RiskEngine) -> None:
    e.position_changed(OTHER, 6.0)  # 600 gross and net


def _other_short_6(e: RiskEngine) -> None:
    e.position_changed(OTHER, -6.0)


def _bp_used_1000(e: RiskEngine) -> None:
    e.start_day(1_000.0, 0)  # leverage 3: buying power 3000
    e.position_changed(OTHER, 5.0)  # gross 500
    e.order_opened(order(5.0, symbol=OTHER, client_order_id="w1"))  # open notional 500


def _two_working(e: RiskEngine) -> None:
    e.order_opened(order(1.0, symbol=OTHER, client_order_id="w1"))
    e.order_opened(order(1.0, symbol=OTHER, side=Side.SELL, client_order_id="w2"))


def _three_passed(e: RiskEngine) -> None:
    for i, ts in enumerate((0, SECOND_NS // 2, SECOND_NS - 1)):
        assert e.check(order(client_order_id=f"r{i}", ts=ts)) is R.NONE


CASES = {
    "unknown_symbol": Case(R.UNKNOWN_SYMBOL, order(symbol="ZZZ"), order(symbol=OTHER)),
    "bad_side_int": Case(R.BAD_SIDE, order(side=3), order(side=Side.SELL)),
    "bad_side_zero": Case(R.BAD_SIDE, order(side=0), order(side=2)),
    "unknown_order_type": Case(R.UNKNOWN_ORDER_TYPE, order(order_type=6), order(order_type=5)),
    "bad_quantity_zero": Case(R.BAD_QUANTITY, order(0.0), order(1.0)),
    "bad_quantity_negative": Case(R.BAD_QUANTITY, order(-1.0), order(1.0)),
    "bad_quantity_nan": Case(R.BAD_QUANTITY, order(math.nan), order(1.0)),
    "bad_quantity_inf": Case(R.BAD_QUANTITY, order(math.inf), order(1.0)),
    "bad_price_missing": Case(
        R.BAD_PRICE, order(price=None), order(price=None, order_type=OrderType.MARKET)
    ),
    "bad_price_zero": Case(R.BAD_PRICE, order(price=0.0), order(price=100.0)),
    "bad_price_negative": Case(R.BAD_PRICE, order(price=-100.0), order(price=100.0)),
    "bad_price_nan": Case(R.BAD_PRICE, order(price=math.nan), order(price=100.0)),
    "bad_price_inf": Case(
        R.BAD_PRICE,
        order(price=math.inf),
        order(price=100.0),
        build={"limits": {"price_collar": math.inf}},
    ),
    "price_not_on_tick": Case(
        R.PRICE_NOT_ON_TICK, order(price=100.005), order(price=100.0 + 0.01 * 3)
    ),
    "price_on_tick_within_tolerance": Case(
        R.PRICE_NOT_ON_TICK, order(price=100.0 + 1e-6), order(price=100.0 + 1e-9)
    ),
    "quantity_not_on_lot": Case(R.QUANTITY_NOT_ON_LOT, order(1.5), order(2.0)),
    "quantity_not_on_small_lot": Case(
        R.QUANTITY_NOT_ON_LOT,
        order(0.0015),
        order(0.1 + 0.2),
        build={"instrument": {"lot_size": 0.001}},
    ),
    "quantity_below_min": Case(
        R.QUANTITY_BELOW_MIN, order(4.0), order(5.0), build={"instrument": {"min_quantity": 5.0}}
    ),
    "quantity_above_max": Case(
        R.QUANTITY_ABOVE_MAX, order(11.0), order(10.0), build={"instrument": {"max_quantity": 10.0}}
    ),
    "halted": Case(R.HALTED, order(), order(), setup=_halt),
    "restricted": Case(
        R.RESTRICTED_SYMBOL,
        order(),
        order(symbol=OTHER),
        build={"limits": {"restricted": (SYMBOL,)}},
    ),
    "reduce_only_state": Case(
        R.REDUCE_ONLY,
        order(6.0, side=Side.SELL),
        order(5.0, side=Side.SELL),
        setup=_reducing_long_5,
    ),
    "reduce_only_flag": Case(
        R.REDUCE_ONLY,
        order(1.0, reduce_only=True),
        order(5.0, side=Side.SELL, reduce_only=True),
        setup=lambda e: e.position_changed(SYMBOL, 5.0),
    ),
    "daily_loss": Case(
        R.DAILY_LOSS,
        order(1.0),
        order(5.0, side=Side.SELL),
        build={"limits": {"daily_loss_limit": 1_000.0}},
        setup=_daily_breach_then_active,
    ),
    "drawdown": Case(
        R.DRAWDOWN,
        order(1.0),
        order(5.0, side=Side.SELL),
        build={"limits": {"max_drawdown": 0.25}},
        setup=_drawdown_breach_then_active,
    ),
    "max_order_quantity": Case(
        R.MAX_ORDER_QUANTITY,
        order(11.0),
        order(10.0),
        build={"instrument": {"max_order_quantity": 10.0}},
    ),
    "no_reference_market": Case(
        R.NO_REFERENCE_PRICE,
        order(price=None, order_type=OrderType.MARKET),
        order(price=100.0),
        build={"mark": None, "limits": {"price_collar": math.inf}},
    ),
    "no_reference_collar": Case(
        R.NO_REFERENCE_PRICE,
        order(price=100.0),
        order(price=100.0, symbol=OTHER),
        build={"mark": None},
        setup=lambda e: e.mark(OTHER, 100.0),
    ),
    "price_collar_above": Case(R.PRICE_COLLAR, order(price=110.01), order(price=110.0)),
    "price_collar_below": Case(R.PRICE_COLLAR, order(price=89.99), order(price=90.0)),
    "max_order_notional": Case(
        R.MAX_ORDER_NOTIONAL,
        order(11.0),
        order(10.0),
        build={"instrument": {"max_order_notional": 1_000.0}},
    ),
    "max_order_notional_market_at_reference": Case(
        R.MAX_ORDER_NOTIONAL,
        order(11.0, price=None, order_type=OrderType.MARKET),
        order(10.0, price=None, order_type=OrderType.MARKET),
        build={"instrument": {"max_order_notional": 1_000.0}},
    ),
    "position_limit_buy": Case(
        R.POSITION_LIMIT,
        order(4.0),
        order(3.0),
        build={"instrument": {"max_position": 10.0}},
        setup=_position_4_working_buy_3,
    ),
    "position_limit_sell": Case(
        R.POSITION_LIMIT,
        order(4.0, side=Side.SELL),
        order(3.0, side=Side.SELL),
        build={"instrument": {"max_position": 10.0}},
        setup=_short_4_working_sell_3,
    ),
    "gross_exposure": Case(
        R.GROSS_EXPOSURE,
        order(5.0, side=Side.SELL),
        order(4.0, side=Side.SELL),
        build={"limits": {"max_gross_exposure": 1_000.0}},
        setup=_other_long_6,
    ),
    "net_exposure": Case(
        R.NET_EXPOSURE,
        order(5.0),
        order(4.0),
        build={"limits": {"max_net_exposure": 1_000.0}},
        setup=_other_long_6,
    ),
    "net_exposure_short": Case(
        R.NET_EXPOSURE,
        order(5.0, side=Side.SELL),
        order(4.0, side=Side.SELL),
        build={"limits": {"max_net_exposure": 1_000.0}},
        setup=_other_short_6,
    ),
    "buying_power": Case(
        R.BUYING_POWER,
        order(21.0),
        order(20.0),
        build={"limits": {"max_leverage": 3.0}},
        setup=_bp_used_1000,
    ),
    "max_open_orders": Case(
        R.MAX_OPEN_ORDERS,
        order(),
        order(),
        build={"limits": {"max_open_orders": 2}},
        setup=_two_working,
        inside_build={"limits": {"max_open_orders": 3}},
    ),
    "order_rate": Case(
        R.ORDER_RATE,
        order(ts=SECOND_NS - 1),
        order(ts=SECOND_NS),
        build={"limits": {"max_orders_per_second": 3}},
        setup=_three_passed,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reason_triggered_by_minimal_case(name: str, events: list) -> None:
    case = CASES[name]
    engine = build(listener=events.append, **case.build)
    case.setup(engine)
    assert kernel_reason(engine, case.denied) == case.reason
    assert engine.check(case.denied) is case.reason


@pytest.mark.parametrize("name", [n for n in CASES if n != "halted"])
def test_reason_not_triggered_just_inside(name: str) -> None:
    case = CASES[name]
    engine = build(**(case.build if case.inside_build is None else case.inside_build))
    case.setup(engine)
    assert kernel_reason(engine, case.inside) == R.NONE
    assert engine.check(case.inside) is R.NONE


def test_every_reason_has_a_case() -> None:
    covered = {c.reason for c in CASES.values()}
    assert covered == set(RiskReason) - {R.NONE}
    assert set(CHECK_ORDER) == covered
    assert len(CHECK_ORDER) == len(set(CHECK_ORDER))


def test_halted_denies_everything_even_reducing_orders() -> None:
    engine = build()
    engine.position_changed(SYMBOL, 5.0)
    _halt(engine)
    for request in (
        order(5.0, side=Side.SELL),
        order(1.0, side=Side.SELL, reduce_only=True),
        order(1.0, price=None, order_type=OrderType.MARKET),
        order(1.0, symbol=OTHER),
    ):
        assert engine.check(request) is R.HALTED


# ---------------------------------------------------------------- the documented order


def _chain_engine(step: dict[str, Any]) -> RiskEngine:
    limits: dict[str, Any] = {
        "price_collar": 0.1,
        "max_gross_exposure": step.get("max_gross", 1e9),
        "max_net_exposure": step.get("max_net", 1e9),
        "max_leverage": step.get("leverage", 1e6),
        "max_open_orders": step.get("max_open", 1),
        "max_orders_per_second": 1,
        "daily_loss_limit": 100.0,
        "max_drawdown": 0.5,
        "restricted": (SYMBOL,) if step.get("restricted") else (),
    }
    instrument = {
        "min_quantity": 2.0,
        "max_quantity": 40.0,
        "max_order_quantity": 20.0,
        "max_order_notional": 1_000.0,
        "max_position": step.get("max_position", 5.0),
    }
    engine = build(limits=limits, instrument=instrument, mark=None, equity=None)
    engine.mark(OTHER, 100.0)
    engine.start_day(1_000.0, 0)
    if step.get("mark"):
        engine.mark(SYMBOL, 100.0)
    base = 1_000.0
    if step.get("drawdown"):
        engine.equity_changed(400.0, 0)  # 60 % below the peak of 1000
        engine.start_day(400.0, 0)  # a new baseline: no daily loss
        base = 400.0
    if step.get("daily"):
        engine.equity_changed(base - 101.0, 0)  # loss 101 > 100
    engine.order_opened(order(1.0, symbol=OTHER, side=Side.SELL, client_order_id="w1"))
    engine.set_state(step.get("state", TradingState.ACTIVE), "test", 0)
    # one order in the rate window at ts 0 when it passes (denials are not counted)
    engine.check(order(2.0, symbol=OTHER, side=Side.SELL, client_order_id="x"))
    return engine


def test_check_order_is_the_documented_order() -> None:
    """Start with an order that fails every check; fixing the first failure exposes the next."""
    step: dict[str, Any] = {
        "symbol": "ZZZ",
        "side": 7,
        "order_type": 9,
        "quantity": -1.0,
        "price": None,
        "state": TradingState.HALTED,
        "restricted": True,
        "daily": 1,
        "drawdown": True,
        "mark": False,
        "max_position": 5.0,
        "max_gross": 10.0,
        "max_net": 10.0,
        "leverage": 0.001,
        "max_open": 1,
        "ts": 0,
    }
    fixes: list[dict[str, Any]] = [
        {"symbol": SYMBOL},
        {"side": Side.BUY},
        {"order_type": OrderType.LIMIT},
        {"quantity": 2.5},
        {"price": 100.005},
        {"price": 150.0},
        {"quantity": 1.0},
        {"quantity": 50.0},
        {"quantity": 30.0},
        {"state": TradingState.REDUCING},
        {"restricted": False},
        {"state": TradingState.ACTIVE},
        {"daily": 0},
        {"drawdown": False},
        {"quantity": 12.0},
        {"mark": True},
        {"price": 100.0},
        {"quantity": 6.0},
        {"max_position": 100.0},
        {"max_gross": 1e9},
        {"max_net": 1e9},
        {"leverage": 1e6},
        {"max_open": 5},
        {"ts": 2 * SECOND_NS},
    ]
    seen = []
    for fix in [{}, *fixes]:
        step.update(fix)
        engine = _chain_engine(step)
        request = order(
            step["quantity"],
            step["price"],
            side=step["side"],
            symbol=step["symbol"],
            order_type=step["order_type"],
            ts=step["ts"],
        )
        compiled = kernel_reason(engine, request)
        seen.append(engine.check(request))
        assert compiled == seen[-1]
    assert tuple(seen) == (*CHECK_ORDER, R.NONE)


# ---------------------------------------------------------------- REDUCING semantics


@pytest.mark.parametrize(
    ("position", "working", "request_", "expected"),
    [
        (10.0, 0.0, order(10.0, side=Side.SELL), R.NONE),  # to flat
        (10.0, 0.0, order(11.0, side=Side.SELL), R.REDUCE_ONLY),  # through zero
        (10.0, 0.0, order(1.0, side=Side.BUY), R.REDUCE_ONLY),  # adds
        (10.0, 6.0, order(4.0, side=Side.SELL), R.NONE),  # with the working sell: to flat
        (10.0, 6.0, order(5.0, side=Side.SELL), R.REDUCE_ONLY),  # with the working sell: through
        (-10.0, 0.0, order(10.0, side=Side.BUY), R.NONE),
        (-10.0, 0.0, order(10.0, side=Side.SELL), R.REDUCE_ONLY),
        (0.0, 0.0, order(1.0, side=Side.SELL), R.REDUCE_ONLY),
        (0.0, 0.0, order(1.0, side=Side.BUY), R.REDUCE_ONLY),
        (10.0, 0.0, order(5.0, price=None, side=Side.SELL, order_type=OrderType.MARKET), R.NONE),
    ],
)
def test_reducing_lets_through_only_orders_towards_zero(
    position, working, request_, expected
) -> None:
    engine = build(instrument={"max_position": 1.0}, limits={"max_gross_exposure": 1.0})
    engine.position_changed(SYMBOL, position)
    if working:
        side = Side.SELL if position > 0 else Side.BUY
        engine.order_opened(order(working, side=side, client_order_id="w"))
    engine.set_state(TradingState.REDUCING, "test", 0)
    # a reducing order passes even the position and gross limits it is curing
    assert kernel_reason(engine, request_) == expected
    assert engine.check(request_) is expected


def test_working_order_fill_and_close_free_the_reduce_budget() -> None:
    engine = build()
    engine.position_changed(SYMBOL, 10.0)
    engine.order_opened(order(8.0, side=Side.SELL, client_order_id="w"))
    engine.set_state(TradingState.REDUCING, "test", 0)
    assert engine.check(order(3.0, side=Side.SELL)) is R.REDUCE_ONLY
    engine.order_filled("w", 4.0)  # 4 working; the position moves separately
    engine.position_changed(SYMBOL, 6.0)
    assert engine.check(order(2.0, side=Side.SELL)) is R.NONE
    assert engine.check(order(3.0, side=Side.SELL)) is R.REDUCE_ONLY
    engine.order_closed("w")
    assert engine.working_orders == 0
    assert engine.check(order(6.0, side=Side.SELL)) is R.NONE


def test_full_fill_ends_the_working_order() -> None:
    engine = build()
    engine.order_opened(order(2.0, client_order_id="w"))
    engine.order_opened(order(2.0, client_order_id="w"))  # a repeat is ignored
    assert engine.working_orders == 1
    engine.order_filled("w", 1.0)
    assert engine.working_orders == 1
    engine.order_filled("w", 1.0)
    assert engine.working_orders == 0
    engine.order_closed("w")  # closing a finished order is harmless
    engine.order_filled("nope", 1.0)
    assert engine.exposure()["open_notional"] == 0.0


# ---------------------------------------------------------------- rate throttle


def test_rate_window_slides_and_denials_are_not_counted() -> None:
    engine = build(limits={"max_orders_per_second": 2})
    assert engine.check(order(ts=0)) is R.NONE
    assert engine.check(order(ts=400_000_000)) is R.NONE
    assert engine.check(order(ts=999_999_999)) is R.ORDER_RATE
    assert engine.check(order(-1.0, ts=999_999_999)) is R.BAD_QUANTITY  # not counted either
    assert engine.check(order(ts=SECOND_NS)) is R.NONE  # the order at 0 left the window
    assert engine.check(order(ts=SECOND_NS + 1)) is R.ORDER_RATE
    assert engine.check(order(ts=1_400_000_000)) is R.NONE
    assert engine.usage()["order_rate"] == 1.0


def test_max_open_orders_counts_working_orders_only() -> None:
    engine = build(limits={"max_open_orders": 1})
    assert engine.check(order()) is R.NONE
    assert engine.check(order()) is R.NONE  # checks do not open orders
    engine.order_opened(order(client_order_id="a"))
    assert engine.check(order()) is R.MAX_OPEN_ORDERS
    engine.order_closed("a")
    assert engine.check(order()) is R.NONE


# ---------------------------------------------------------------- listener


def test_listener_receives_denied_events(events: list) -> None:
    engine = build(listener=events.append, instrument={"max_order_quantity": 10.0})
    assert engine.check(order(11.0, ts=7, client_order_id="c-1")) is R.MAX_ORDER_QUANTITY
    assert engine.check(order(1.0, ts=8)) is R.NONE
    assert len(events) == 1
    (event,) = events
    assert event.kind is RiskEventKind.DENIED
    assert event.reason is R.MAX_ORDER_QUANTITY
    assert (event.ts, event.symbol, event.client_order_id) == (7, SYMBOL, "c-1")
    assert event.trading_state is TradingState.ACTIVE
    assert "11" in event.detail
    assert "10" in event.detail


def test_no_listener_no_error() -> None:
    engine = build()
    assert engine.check(order(symbol="ZZZ")) is R.UNKNOWN_SYMBOL


# ---------------------------------------------------------------- usage


def test_usage_fractions_of_limits() -> None:
    engine = build(
        limits={
            "max_gross_exposure": 2_000.0,
            "max_net_exposure": 4_000.0,
            "max_open_orders": 4,
            "daily_loss_limit": 100.0,
            "max_drawdown": 0.5,
            "max_leverage": 2.0,
        },
        equity=None,
    )
    engine.start_day(1_000.0, 0)
    engine.position_changed(SYMBOL, 10.0)  # 1000 gross and net
    engine.order_opened(order(1.0, client_order_id="a"))  # 100 open notional
    engine.equity_changed(975.0, 1)
    usage = engine.usage()
    assert usage["gross_exposure"] == pytest.approx(0.5)
    assert usage["net_exposure"] == pytest.approx(0.25)
    assert usage["open_orders"] == pytest.approx(0.25)
    assert usage["daily_loss"] == pytest.approx(0.25)
    assert usage["drawdown"] == pytest.approx(0.05)
    assert usage["buying_power"] == pytest.approx(1_100.0 / 1_950.0)
    assert build().usage()["gross_exposure"] == 0.0  # no limit: no usage
    assert build().usage()["order_rate"] == 0.0


def test_no_equity_means_no_buying_power() -> None:
    engine = build(limits={"max_leverage": 10.0}, equity=None)
    assert engine.check(order()) is R.BUYING_POWER
    engine.equity_changed(10.0, 0)
    assert engine.check(order()) is R.NONE
