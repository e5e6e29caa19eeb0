"""The transition table: every legal pair, every illegal pair, and the manager's use of it."""

from __future__ import annotations

import itertools
import logging

import msgspec
import pytest
from oms_support import event, request, working

from shriven.model.enums import OrderEventKind as K
from shriven.model.enums import OrderState as S
from shriven.oms import TRANSITIONS, IllegalTransition, OrderManager, next_state
from shriven.oms.state import PENDING_STATES, RESTORING

ALL_PAIRS = list(itertools.product(S, K))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


@pytest.mark.parametrize(("state", "kind"), sorted(TRANSITIONS))
def test_every_legal_pair_gives_the_table_state(state: S, kind: K) -> None:
    assert next_state(state, kind) == TRANSITIONS[(state, kind)]


@pytest.mark.parametrize(("state", "kind"), ILLEGAL)
def test_every_pair_outside_the_table_raises(state: S, kind: K) -> None:
    with pytest.raises(IllegalTransition, match=f"{state.name} \\+ {kind.name}"):
        next_state(state, kind)


def test_the_table_has_the_expected_shape() -> None:
    # Nothing but an answer to a crossed request happens to a finished order; DENIED never left.
    for (state, kind), target in TRANSITIONS.items():
        if state.is_terminal:
            assert kind in (K.CANCEL_REJECTED, K.MODIFY_REJECTED)
            assert target == state
    assert not [pair for pair in TRANSITIONS if pair[0] == S.DENIED]
    # Only the engine's commands leave INITIALIZED.
    assert {k for s, k in TRANSITIONS if s == S.INITIALIZED} == {K.DENIED, K.SUBMITTED}
    # A FILLED event never maps straight to FILLED: the manager promotes by quantity.
    assert {v for (s, k), v in TRANSITIONS.items() if k == K.FILLED} == {S.PARTIALLY_FILLED}
    # Fills are legal in every open state, ACCEPTED may be skipped.
    for state in S:
        assert ((state, K.FILLED) in TRANSITIONS) == state.is_open
    assert TRANSITIONS[(S.SUBMITTED, K.FILLED)] == S.PARTIALLY_FILLED


@pytest.mark.parametrize(("state", "kind"), sorted(RESTORING))
@pytest.mark.parametrize("previous", [S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.TRIGGERED])
def test_rejected_requests_restore_the_previous_state(state: S, kind: K, previous: S) -> None:
    assert state in PENDING_STATES
    assert next_state(state, kind, previous) == previous
    assert next_state(state, kind) == state  # without the order, the table's placeholder


def test_previous_does_not_change_ordinary_rows() -> None:
    assert next_state(S.PENDING_CANCEL, K.CANCELED, S.ACCEPTED) == S.CANCELED
    assert next_state(S.ACCEPTED, K.CANCEL_REJECTED, S.SUBMITTED) == S.ACCEPTED


@pytest.mark.parametrize(
    ("kind", "setup"),
    [
        (K.ACCEPTED, "accepted"),  # a duplicate ack
        (K.SUBMITTED, "accepted"),
        (K.REJECTED, "partially_filled"),
        (K.TRIGGERED, "partially_filled"),
        (K.CANCELED, "filled"),
        (K.FILLED, "canceled"),
        (K.UPDATED, "canceled"),
        (K.ACCEPTED, "initialized"),  # never submitted
        (K.FILLED, "initialized"),
        (K.CANCEL_REJECTED, "denied"),
    ],
)
def test_manager_rejects_illegal_events_without_journaling(
    manager: OrderManager, caplog: pytest.LogCaptureFixture, kind: K, setup: str
) -> None:
    if setup == "initialized":
        manager.create(request("a"))
    elif setup == "denied":
        manager.create(request("a"))
        manager.deny("a", "max_order_quantity", 2)
    else:
        working(manager, "a")
        if setup == "partially_filled":
            manager.apply(event("a", K.FILLED, quantity=1.0, price=100.0, trade_id="t1"))
        elif setup == "filled":
            manager.apply(event("a", K.FILLED, quantity=10.0, price=100.0, trade_id="t1"))
        elif setup == "canceled":
            manager.apply(event("a", K.CANCELED))
    before = msgspec.msgpack.encode(manager.get("a").to_snapshot())
    size = manager.journal.size
    with caplog.at_level(logging.WARNING, logger="shriven.oms"):
        assert manager.apply(event("a", kind, quantity=1.0, price=100.0, trade_id="t9")) is None
    assert manager.illegal_transitions == 1
    assert manager.journal.size == size
    assert msgspec.msgpack.encode(manager.get("a").to_snapshot()) == before
    assert "illegal transition" in caplog.text
    assert kind.name in caplog.text
