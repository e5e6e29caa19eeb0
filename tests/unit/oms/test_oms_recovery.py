"""Recovery: the journal alone rebuilds the exact state, after a torn tail, compaction, anything."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from oms_support import event, fill, request, state_bytes, working

from shriven.model.enums import Liquidity, OrderType, Side
from shriven.model.enums import OrderEventKind as K
from shriven.model.enums import OrderState as S
from shriven.oms import IllegalTransition, Journal, OrderManager


def _scenario(oms: OrderManager) -> list[tuple[int, bytes]]:
    """A small session; returns (journal size, state) after every operation."""
    states = [(oms.journal.size, state_bytes(oms))]

    def step(call, *args) -> None:
        call(*args)
        states.append((oms.journal.size, state_bytes(oms)))

    step(oms.create, request("a", quantity=3.0, signal_offset=0))
    step(oms.submit, "a", "sim", 2)
    step(oms.signal_consumed, 0, 2)
    step(oms.apply, event("a", K.ACCEPTED, venue_order_id="v1"))
    step(oms.apply, fill("a", 1.0, 100.0, "t1", fee=0.1))
    step(oms.request_cancel, "a", 4)
    step(oms.apply, event("a", K.CANCEL_REJECTED))
    step(oms.create, request("b", side=Side.SELL, quantity=2.0))
    step(oms.deny, "b", "position_limit", 5)
    step(oms.apply, fill("a", 2.0, 101.0, "t2"))
    return states


def test_recovery_after_a_cut_at_every_byte_offset(tmp_path: Path, journal_path: Path) -> None:
    oms = OrderManager(Journal(journal_path, fsync=False))
    states = _scenario(oms)
    oms.journal.close()
    data = journal_path.read_bytes()
    assert states[-1][0] == len(data)
    for cut in range(len(data) + 1):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(data[:cut])
        expected = [state for size, state in states if size <= max(cut, states[0][0])][-1]
        recovered = OrderManager.recover(path, fsync=False)
        assert state_bytes(recovered) == expected, cut
        # The recovered manager keeps going on the repaired file.
        recovered.create(request("z"))
        recovered.journal.close()
        assert OrderManager.recover(path, fsync=False).get("z") is not None
        path.unlink()


def test_recover_creates_a_missing_journal(journal_path: Path) -> None:
    oms = OrderManager.recover(journal_path, fsync=False)
    assert oms.orders == []
    assert oms.last_signal_offset == -1
    oms.create(request("a"))
    oms.journal.close()
    assert OrderManager.recover(journal_path, fsync=False).get("a") is not None


def test_recovered_state_after_a_session(journal_path: Path) -> None:
    oms = OrderManager(Journal(journal_path, fsync=False))
    _scenario(oms)
    working(oms, "c", symbol="ETH")
    oms.request_modify("c", 99.0, 5.0, 6)
    oms.journal.close()
    back = OrderManager.recover(journal_path, fsync=False, account="live")
    assert back.account == "live"
    assert state_bytes(back) == state_bytes(oms)
    assert back.get("a").state == S.FILLED
    assert back.get("a").previous_state == S.PARTIALLY_FILLED
    assert back.get("c").state == S.PENDING_UPDATE
    assert back.get("c").previous_state == S.ACCEPTED
    assert back.positions() == oms.positions() == {"BTC": 3.0}
    assert back.fills == oms.fills
    assert back.last_signal_offset == 0
    assert [o.client_order_id for o in back.open_orders()] == ["c"]
    assert back.orders_table().equals(oms.orders_table())
    assert back.fills_table().equals(oms.fills_table())
    # Recovered orders keep their idempotency and fill dedup.
    assert back.create(request("a"))[1] is False
    back.apply(event("c", K.UPDATED, price=99.0, quantity=5.0))
    assert back.apply(fill("c", 1.0, trade_id="x")) is not None
    assert back.apply(fill("c", 1.0, trade_id="x")) is None
    back.journal.close()


def test_compaction_keeps_open_orders_positions_and_signal_offset(journal_path: Path) -> None:
    oms = OrderManager(Journal(journal_path, fsync=False))
    _scenario(oms)  # "a" filled, "b" denied
    working(oms, "c", symbol="ETH", quantity=5.0)
    oms.apply(fill("c", 2.0, trade_id="e1"))
    oms.create(request("d"))  # INITIALIZED: kept
    oms.signal_consumed(4, 7)
    before = oms.journal.size
    positions, open_ids = oms.positions(), [o.client_order_id for o in oms.open_orders()]
    oms.compact()
    assert oms.journal.size < before
    assert [o.client_order_id for o in oms.orders] == ["c", "d"]
    assert [f.trade_id for f in oms.fills] == ["e1"]
    assert oms.positions() == positions == {"BTC": 3.0, "ETH": 2.0}
    oms.journal.close()
    back = OrderManager.recover(journal_path, fsync=False)
    assert state_bytes(back) == state_bytes(oms)
    assert back.positions() == positions
    assert back.last_signal_offset == 4
    assert [o.client_order_id for o in back.open_orders()] == open_ids
    # After compaction: dedup of kept orders, positions carry on, and it appends as before.
    assert back.apply(fill("c", 2.0, trade_id="e1")) is None
    back.apply(fill("c", 3.0, trade_id="e2"))
    assert back.positions() == {"BTC": 3.0, "ETH": 5.0}
    assert back.get("c").state == S.FILLED
    back.compact()
    back.journal.close()
    again = OrderManager.recover(journal_path, fsync=False)
    assert state_bytes(again) == state_bytes(back)
    assert again.positions() == {"BTC": 3.0, "ETH": 5.0}


# -- random sessions --------------------------------------------------------------------------

IDS = ["o0", "o1", "o2", "o3", "o4", "o5"]
ids = st.sampled_from(IDS[:4] * 3 + IDS[4:] + ["ghost"])  # mostly the orders of the prefix
trade_ids = st.sampled_from(["", "t0", "t1", "t2", "t3"])
quantities = st.sampled_from([1.0, 2.0, 2.5, 5.0, 0.1])
prices = st.sampled_from([99.0, 100.0, 100.5, math.nan])

creates = st.builds(
    lambda cid, side, qty, market, offset: (
        "create",
        request(
            cid,
            symbol="ETH" if cid in ("o3", "o5") else "BTC",
            side=side,
            quantity=qty,
            price=None if market else 100.0,
            order_type=OrderType.MARKET if market else OrderType.LIMIT,
            signal_offset=offset,
        ),
    ),
    st.sampled_from(IDS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([5.0, 3.0, 0.3]),
    st.booleans(),
    st.none() | st.integers(0, 5),
)
venue_events = st.builds(
    lambda cid, kind, qty, price, tid, fee, liq, ts: (
        "apply",
        event(
            cid,
            kind,
            ts=ts,
            quantity=qty,
            price=price,
            trade_id=tid,
            fee=fee,
            liquidity=liq,
            venue_order_id="v" + cid,
            reason="why" if kind in (K.REJECTED, K.CANCELED, K.EXPIRED) else "",
        ),
    ),
    ids,
    st.sampled_from(list(K)),
    quantities,
    prices,
    trade_ids,
    st.sampled_from([0.0, 0.01, -0.005]),
    st.sampled_from(list(Liquidity)),
    st.integers(0, 100),
)
fills = st.builds(
    lambda cid, qty, tid: ("apply", fill(cid, qty, 100.0, tid)), ids, quantities, trade_ids
)
submits = st.tuples(st.just("submit"), ids)
accepts = st.builds(lambda cid: ("apply", event(cid, K.ACCEPTED, venue_order_id="v" + cid)), ids)
commands = st.one_of(
    st.tuples(st.just("deny"), ids),
    st.tuples(st.just("cancel"), ids),
    st.tuples(st.just("modify"), ids, st.sampled_from([99.0, 101.0]), quantities),
    st.tuples(st.just("signal"), st.integers(0, 8)),
    st.tuples(st.just("compact")),
    st.tuples(st.just("restart")),
)
# Every session starts with four orders created, three submitted and one accepted, so the
# random operations reach deep states instead of mostly hitting unknown ids.
prefix = st.tuples(st.lists(creates, min_size=4, max_size=4)).map(
    lambda t: (
        [("create", request(IDS[i], **_fields(op[1]))) for i, op in enumerate(t[0])]
        + [("submit", "o0"), ("submit", "o1"), ("submit", "o2"), ("apply", event("o0", K.ACCEPTED))]
    )
)
operations = st.tuples(
    prefix,
    st.lists(
        st.one_of(creates, submits, accepts, fills, fills, venue_events, venue_events, commands),
        min_size=10,
        max_size=80,
    ),
).map(lambda t: t[0] + t[1])


def _fields(req) -> dict:
    return {
        "symbol": "ETH" if req.client_order_id in ("o3", "o5") else req.symbol,
        "side": req.side,
        "quantity": req.quantity,
        "price": req.price,
        "order_type": req.order_type,
        "signal_offset": req.signal_offset,
    }


def _run(oms: OrderManager, op: tuple, ts: int, path: Path) -> OrderManager:
    """Apply one random operation; a refused command must leave the journal untouched."""
    name = op[0]
    size = oms.journal.size
    try:
        if name == "create":
            oms.create(op[1])
        elif name == "apply":
            counts = (oms.duplicate_fills, oms.illegal_transitions)
            if oms.apply(op[1]) is not None:
                note_event("fill applied")
            if counts[0] != oms.duplicate_fills:
                note_event("duplicate fill ignored")
            if counts[1] != oms.illegal_transitions:
                note_event("illegal transition rejected")
        elif name == "deny":
            oms.deny(op[1], "risk", ts)
        elif name == "submit":
            oms.submit(op[1], "sim", ts)
        elif name == "cancel":
            oms.request_cancel(op[1], ts)
        elif name == "modify":
            oms.request_modify(op[1], op[2], op[3], ts)
        elif name == "signal":
            oms.signal_consumed(op[1], ts)
        elif name == "compact":
            oms.compact()
        elif name == "restart":
            oms.journal.close()
            recovered = OrderManager.recover(path, fsync=False)
            assert state_bytes(recovered) == state_bytes(oms)
            return recovered
    except (IllegalTransition, KeyError, ValueError):
        assert oms.journal.size == size
    return oms


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_recovery_equals_the_live_state(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oms.journal"
        oms = OrderManager(Journal(path, fsync=False))
        for ts, op in enumerate(ops):
            oms = _run(oms, op, ts, path)
        expected: dict[str, float] = {}
        if not any(op[0] == "compact" for op in ops):
            for f in oms.fills:
                expected[f.symbol] = expected.get(f.symbol, 0.0) + f.signed_quantity
            assert oms.positions() == expected
        for order in oms.orders:
            assert order.filled_quantity <= order.quantity + 1e-9 or order.state == S.FILLED
            assert order.is_open == (
                order.client_order_id in {o.client_order_id for o in oms.open_orders()}
            )
        for order in oms.orders:
            note_event(f"final state {order.state.name}")
        oms.journal.close()
        recovered = OrderManager.recover(path, fsync=False)
        assert state_bytes(recovered) == state_bytes(oms)
        assert recovered.orders_table().equals(oms.orders_table())
        assert recovered.fills_table().equals(oms.fills_table())
        recovered.compact()
        recovered.journal.close()
        compacted = OrderManager.recover(path, fsync=False)
        assert state_bytes(compacted) == state_bytes(recovered)
        assert compacted.positions() == oms.positions()
        assert compacted.last_signal_offset == oms.last_signal_offset
        live_open = [o.to_snapshot() for o in oms.orders if not o.is_terminal]
        assert [o.to_snapshot().request for o in compacted.orders] == [s.request for s in live_open]
        compacted.journal.close()


def test_a_compaction_that_fails_before_the_rename_changes_nothing(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    oms = OrderManager(Journal(journal_path, fsync=True))
    _scenario(oms)
    working(oms, "c")
    before, data = state_bytes(oms), journal_path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("shriven.oms.journal.os.replace", crash)
    with pytest.raises(OSError, match="Input/output"):
        oms.compact()
    monkeypatch.undo()
    assert state_bytes(oms) == before
    assert journal_path.read_bytes() == data
    oms.apply(fill("c", 1.0, trade_id="c1"))  # the journal is still the one in use
    oms.journal.close()
    assert state_bytes(OrderManager.recover(journal_path, fsync=False)) == state_bytes(oms)
