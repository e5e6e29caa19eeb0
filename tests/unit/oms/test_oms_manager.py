"""The order manager: lifecycle, idempotency, fill dedup, positions, tables, the ack point."""

from __future__ import annotations

import logging
import math

import pyarrow as pa
import pytest
from oms_support import event, fill, request, working

from shriven.model.enums import Liquidity, OrderType, Side
from shriven.model.enums import OrderEventKind as K
from shriven.model.enums import OrderState as S
from shriven.oms import IllegalTransition, Journal, OrderManager
from shriven.oms import journal as journal_module
from shriven.schemas import FILLS, ORDERS, conform


def test_partial_fills_then_filled(manager: OrderManager) -> None:
    order, created = manager.create(request("a", quantity=10.0, strategy_id="mm"))
    assert created
    assert order.state == S.INITIALIZED
    assert not order.is_open
    manager.submit("a", "sim", 2)
    manager.apply(event("a", K.ACCEPTED, venue_order_id="v1"))
    assert order.state == S.ACCEPTED
    assert order.venue == "sim"
    assert order.venue_order_id == "v1"
    f1 = manager.apply(fill("a", 4.0, 100.0, "t1", fee=0.4, liquidity=Liquidity.MAKER))
    assert order.state == S.PARTIALLY_FILLED
    assert order.leaves_quantity == 6.0
    f2 = manager.apply(fill("a", 6.0, 101.0, "t2", fee=0.6))
    assert order.state == S.FILLED
    assert order.is_terminal
    assert not order.is_open
    assert order.filled_quantity == 10.0
    assert order.leaves_quantity == 0.0
    assert order.avg_fill_price == pytest.approx((4 * 100 + 6 * 101) / 10)
    assert order.fees == pytest.approx(1.0)
    assert order.previous_state == S.PARTIALLY_FILLED
    assert manager.fills == [f1, f2]
    assert (f1.symbol, f1.side, f1.strategy_id, f1.venue, f1.liquidity) == (
        "BTC",
        Side.BUY,
        "mm",
        "sim",
        Liquidity.MAKER,
    )
    assert manager.open_orders() == []


def test_fill_straight_after_submitted(manager: OrderManager) -> None:
    manager.create(request("a", quantity=2.0))
    manager.submit("a", "sim", 2)
    manager.apply(fill("a", 2.0, trade_id="t1"))
    assert manager.get("a").state == S.FILLED
    assert manager.illegal_transitions == 0


def test_float_partial_fills_complete_the_order(manager: OrderManager) -> None:
    working(manager, "a", quantity=0.3)
    manager.apply(fill("a", 0.1, trade_id="t1"))
    manager.apply(fill("a", 0.2, trade_id="t2"))
    assert manager.get("a").state == S.FILLED


def test_cancel_rejected_returns_to_the_previous_state(manager: OrderManager) -> None:
    working(manager, "a")
    order = manager.request_cancel("a", 3)
    assert order.state == S.PENDING_CANCEL
    assert order.previous_state == S.ACCEPTED
    manager.apply(event("a", K.CANCEL_REJECTED, reason="too_late"))
    assert order.state == S.ACCEPTED
    assert order.reason == ""
    manager.apply(fill("a", 1.0, trade_id="t1"))
    manager.request_cancel("a", 4)
    manager.apply(event("a", K.CANCEL_REJECTED))
    assert order.state == S.PARTIALLY_FILLED
    manager.request_cancel("a", 5)
    manager.apply(event("a", K.CANCELED, reason="requested"))
    assert order.state == S.CANCELED
    assert order.reason == "requested"
    assert order.leaves_quantity == 0.0


def test_cancel_from_submitted_restores_submitted(manager: OrderManager) -> None:
    manager.create(request("a"))
    manager.submit("a", "sim", 2)
    manager.request_cancel("a", 3)
    manager.apply(event("a", K.CANCEL_REJECTED))
    assert manager.get("a").state == S.SUBMITTED


def test_modify_updated_and_rejected(manager: OrderManager) -> None:
    working(manager, "a", quantity=10.0, price=100.0)
    order = manager.request_modify("a", 99.0, 8.0, 3)
    assert order.state == S.PENDING_UPDATE
    assert order.price == 100.0
    manager.apply(event("a", K.UPDATED, price=99.0, quantity=8.0))
    assert order.state == S.ACCEPTED
    assert (order.price, order.quantity) == (99.0, 8.0)
    manager.request_modify("a", 98.0, 8.0, 4)
    manager.apply(event("a", K.MODIFY_REJECTED, reason="post_only_would_cross"))
    assert order.state == S.ACCEPTED
    assert order.price == 99.0
    assert manager.request_modify("a", 97.0, 7.0, 5) is order
    assert manager.request_modify("a", 96.0, 7.0, 5) is None  # one request at a time
    with pytest.raises(ValueError, match="quantity"):
        manager.request_modify("a", 96.0, math.nan, 5)


def test_cancel_while_modify_pending_then_cancel_rejected(manager: OrderManager) -> None:
    working(manager, "a")
    manager.request_modify("a", 99.0, 10.0, 3)
    order = manager.request_cancel("a", 4)
    assert order.state == S.PENDING_CANCEL
    assert order.previous_state == S.ACCEPTED
    manager.apply(event("a", K.CANCEL_REJECTED))
    assert order.state == S.ACCEPTED
    manager.apply(event("a", K.MODIFY_REJECTED))  # the crossed answer: a no-op
    assert order.state == S.ACCEPTED
    assert manager.illegal_transitions == 0


def test_fills_while_cancel_pending(manager: OrderManager) -> None:
    working(manager, "a", quantity=10.0)
    manager.request_cancel("a", 3)
    manager.apply(fill("a", 4.0, trade_id="t1"))
    order = manager.get("a")
    assert order.state == S.PARTIALLY_FILLED
    manager.apply(event("a", K.CANCELED))
    assert order.state == S.CANCELED
    assert order.filled_quantity == 4.0
    manager.apply(event("a", K.CANCEL_REJECTED))  # a late answer to a crossed request
    assert order.state == S.CANCELED
    assert manager.illegal_transitions == 0


def test_fill_completing_the_order_while_cancel_pending(manager: OrderManager) -> None:
    working(manager, "a", quantity=10.0)
    manager.request_cancel("a", 3)
    manager.apply(fill("a", 10.0, trade_id="t1"))
    assert manager.get("a").state == S.FILLED
    manager.apply(event("a", K.CANCEL_REJECTED, reason="already_filled"))
    assert manager.get("a").state == S.FILLED
    assert manager.illegal_transitions == 0


def test_request_cancel_returns_none_when_nothing_to_cancel(manager: OrderManager) -> None:
    manager.create(request("init"))
    working(manager, "done")
    manager.apply(event("done", K.CANCELED))
    working(manager, "pending")
    manager.request_cancel("pending", 3)
    size = manager.journal.size
    for cid in ("init", "done", "pending", "never"):
        assert manager.request_cancel(cid, 4) is None
        assert manager.request_modify(cid, 1.0, 1.0, 4) is None
    assert manager.journal.size == size


def test_create_is_idempotent(manager: OrderManager) -> None:
    order, created = manager.create(request("a", quantity=1.0))
    size = manager.journal.size
    again, created_again = manager.create(request("a", quantity=5.0))
    assert created
    assert not created_again
    assert again is order
    assert order.quantity == 1.0
    assert manager.journal.size == size


def test_deny_and_submit_rules(manager: OrderManager) -> None:
    manager.create(request("a"))
    denied = manager.deny("a", "max_order_quantity", 2)
    assert denied.state == S.DENIED
    assert denied.reason == "max_order_quantity"
    size = manager.journal.size
    with pytest.raises(IllegalTransition):
        manager.submit("a", "sim", 3)
    manager.create(request("b"))
    manager.submit("b", "sim", 3)
    size = manager.journal.size
    with pytest.raises(IllegalTransition):
        manager.submit("b", "sim", 4)
    with pytest.raises(IllegalTransition):
        manager.deny("b", "late", 4)
    with pytest.raises(KeyError):
        manager.submit("nope", "sim", 4)
    assert manager.journal.size == size


def test_fills_are_deduplicated_by_trade_id(manager: OrderManager) -> None:
    working(manager, "a", quantity=10.0)
    working(manager, "b", quantity=10.0)
    assert manager.apply(fill("a", 2.0, trade_id="t1")) is not None
    size = manager.journal.size
    assert manager.apply(fill("a", 2.0, trade_id="t1")) is None
    assert manager.journal.size == size
    assert manager.duplicate_fills == 1
    assert manager.apply(fill("b", 2.0, trade_id="t1")) is not None  # per order
    assert manager.get("a").filled_quantity == 2.0
    assert len(manager.fills) == 2
    manager.apply(fill("a", 8.0, trade_id="t2"))
    assert manager.apply(fill("a", 8.0, trade_id="t2")) is None  # replayed on a filled order
    assert manager.duplicate_fills == 2
    assert manager.illegal_transitions == 0


def test_unknown_orders_and_invalid_fills_are_counted(
    manager: OrderManager, caplog: pytest.LogCaptureFixture
) -> None:
    working(manager, "a")
    size = manager.journal.size
    with caplog.at_level(logging.WARNING, logger="shriven.oms"):
        assert manager.apply(event("ghost", K.ACCEPTED)) is None
        for bad in (fill("a", 0.0), fill("a", -1.0), fill("a", math.nan), fill("a", 1.0, math.nan)):
            assert manager.apply(bad) is None
    assert manager.unknown_orders == 1
    assert manager.invalid_events == 4
    assert manager.journal.size == size
    assert "ghost" in caplog.text


def test_positions_are_the_sum_of_signed_fills(manager: OrderManager) -> None:
    working(manager, "b1", symbol="BTC", side=Side.BUY, quantity=3.0)
    working(manager, "s1", symbol="BTC", side=Side.SELL, quantity=5.0)
    working(manager, "e1", symbol="ETH", side=Side.SELL, quantity=2.0)
    manager.apply(fill("b1", 3.0, trade_id="1"))
    manager.apply(fill("s1", 1.5, trade_id="2"))
    manager.apply(fill("s1", 1.0, trade_id="3"))
    manager.apply(fill("e1", 2.0, trade_id="4"))
    expected: dict[str, float] = {}
    for f in manager.fills:
        expected[f.symbol] = expected.get(f.symbol, 0.0) + f.signed_quantity
    assert manager.positions() == expected == {"BTC": 0.5, "ETH": -2.0}


def test_open_orders_by_symbol(manager: OrderManager) -> None:
    working(manager, "a", symbol="BTC")
    working(manager, "b", symbol="ETH")
    manager.create(request("c", symbol="BTC"))  # INITIALIZED is not open
    assert [o.client_order_id for o in manager.open_orders()] == ["a", "b"]
    assert [o.client_order_id for o in manager.open_orders("BTC")] == ["a"]


def test_signal_offsets(manager: OrderManager) -> None:
    assert manager.last_signal_offset == -1
    manager.signal_consumed(0, 1)
    manager.signal_consumed(5, 2)
    size = manager.journal.size
    manager.signal_consumed(5, 3)  # a repeat is a no-op
    assert manager.journal.size == size
    assert manager.last_signal_offset == 5
    with pytest.raises(ValueError, match="below"):
        manager.signal_consumed(4, 4)


def test_tables_conform_to_the_lake_schemas(manager: OrderManager) -> None:
    working(manager, "a", side=Side.SELL, strategy_id="s", signal_offset=7)
    manager.apply(fill("a", 4.0, 100.0, "t1", fee=-0.1, liquidity=Liquidity.MAKER))
    manager.create(request("m", order_type=OrderType.MARKET, price=None))
    manager.deny("m", "no_reference_price", 5)
    orders, fills = manager.orders_table(), manager.fills_table()
    assert orders.schema.equals(ORDERS, check_metadata=True)
    assert fills.schema.equals(FILLS, check_metadata=True)
    assert conform(orders, ORDERS).equals(orders)
    assert conform(fills, FILLS).equals(fills)
    rows = {r["client_order_id"]: r for r in orders.to_pylist()}
    assert rows["a"]["state"] == "partially_filled"
    assert rows["a"]["side"] == "sell"
    assert rows["a"]["signal_offset"] == 7
    assert rows["a"]["avg_fill_price"] == 100.0
    assert rows["m"]["order_type"] == "market"
    assert rows["m"]["price"] is None
    assert rows["m"]["avg_fill_price"] is None
    assert rows["m"]["venue"] == ""
    assert rows["m"]["state"] == "denied"
    assert rows["m"]["reason"] == "no_reference_price"
    assert fills.column("liquidity").to_pylist() == ["maker"]
    assert fills.column("side").to_pylist() == ["sell"]
    assert fills.column("ts").type == pa.timestamp("ns", tz="UTC")


def test_empty_tables_conform(manager: OrderManager) -> None:
    assert manager.orders_table().schema.equals(ORDERS, check_metadata=True)
    assert manager.fills_table().num_rows == 0


def test_submit_is_synced_before_it_returns_and_create_is_not(
    journal_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_sizes: list[int] = []
    real_sync = journal_module._sync

    def recording_sync(fd: int) -> None:
        real_sync(fd)
        data = journal_module.os.pread(fd, journal_module.os.fstat(fd).st_size, 0)
        synced_sizes.append(journal_module._scan(memoryview(data), journal_path).good_end)

    oms = OrderManager(Journal(journal_path, fsync=True))
    monkeypatch.setattr(journal_module, "_sync", recording_sync)
    oms.create(request("a"))
    assert synced_sizes == []
    oms.submit("a", "sim", 2)
    assert synced_sizes == [oms.journal.size]  # the request and the submit, both on disk
    oms.apply(event("a", K.ACCEPTED))
    oms.signal_consumed(1, 3)
    assert len(synced_sizes) == 3
    oms.journal.close()


def test_manager_refuses_a_journal_with_records(journal_path) -> None:
    oms = OrderManager(Journal(journal_path, fsync=False))
    oms.create(request("a"))
    oms.journal.close()
    with pytest.raises(ValueError, match="recover"):
        OrderManager(Journal(journal_path, fsync=False))
