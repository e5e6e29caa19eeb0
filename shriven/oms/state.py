"""The order state machine as a table of legal (state, event kind) pairs (after nautilus_trader).

Any pair not in :data:`TRANSITIONS` is illegal. Three kinds of rows need the order, not just the
table, and the manager resolves them:

* ``FILLED`` maps to ``PARTIALLY_FILLED``; the manager promotes the order to ``FILLED`` once its
  cumulative quantity reaches its quantity.
* ``CANCEL_REJECTED`` in ``PENDING_CANCEL`` and ``MODIFY_REJECTED`` / ``UPDATED`` in
  ``PENDING_UPDATE`` return to the order's ``previous_state`` (the working state it left for
  the pending one). The table holds the pending state itself for these rows;
  :func:`next_state` returns ``previous`` when it is given.
* A late ``CANCEL_REJECTED`` / ``MODIFY_REJECTED`` (the order already moved on: a fill or a
  cancel crossed the request) is a legal no-op, so ordinary venue races are not counted as
  illegal.

An event that arrives while a request is pending (a fill, an ack, a trigger) moves the order to
the state the event names; the pending request's answer is then a no-op or applies as usual.
"""

from __future__ import annotations

from shriven.model.enums import OrderEventKind, OrderState

__all__ = ["PENDING_STATES", "RESTORING", "TRANSITIONS", "IllegalTransition", "next_state"]

S = OrderState
K = OrderEventKind

#: States that wait for a venue's answer to a request; ``previous_state`` keeps the one before.
PENDING_STATES = frozenset({S.PENDING_CANCEL, S.PENDING_UPDATE})

#: (pending state, kind) rows that return the order to its previous state.
RESTORING = frozenset(
    {
        (S.PENDING_CANCEL, K.CANCEL_REJECTED),
        (S.PENDING_UPDATE, K.MODIFY_REJECTED),
        (S.PENDING_UPDATE, K.UPDATED),
    }
)


def _working(
    state: OrderState, *, triggered: bool
) -> dict[tuple[OrderState, OrderEventKind], OrderState]:
    rows = {
        (state, K.PENDING_UPDATE): S.PENDING_UPDATE,
        (state, K.PENDING_CANCEL): S.PENDING_CANCEL,
        (state, K.FILLED): S.PARTIALLY_FILLED,
        (state, K.CANCELED): S.CANCELED,
        (state, K.EXPIRED): S.EXPIRED,
        (state, K.UPDATED): state,
        (state, K.CANCEL_REJECTED): state,
        (state, K.MODIFY_REJECTED): state,
    }
    if triggered:
        rows[(state, K.TRIGGERED)] = S.TRIGGERED
    return rows


TRANSITIONS: dict[tuple[OrderState, OrderEventKind], OrderState] = {
    (S.INITIALIZED, K.DENIED): S.DENIED,
    (S.INITIALIZED, K.SUBMITTED): S.SUBMITTED,
    # SUBMITTED: ACCEPTED may be skipped (venues fill or cancel an IOC straight away).
    **_working(S.SUBMITTED, triggered=True),
    (S.SUBMITTED, K.ACCEPTED): S.ACCEPTED,
    (S.SUBMITTED, K.REJECTED): S.REJECTED,
    **_working(S.ACCEPTED, triggered=True),
    **_working(S.PARTIALLY_FILLED, triggered=False),
    **_working(S.TRIGGERED, triggered=False),
    (S.TRIGGERED, K.REJECTED): S.REJECTED,
    # PENDING_UPDATE: a request sent from a working state; the answer restores or moves on.
    (S.PENDING_UPDATE, K.UPDATED): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, K.MODIFY_REJECTED): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, K.CANCEL_REJECTED): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, K.PENDING_CANCEL): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, K.ACCEPTED): S.ACCEPTED,
    (S.PENDING_UPDATE, K.REJECTED): S.REJECTED,
    (S.PENDING_UPDATE, K.TRIGGERED): S.TRIGGERED,
    (S.PENDING_UPDATE, K.FILLED): S.PARTIALLY_FILLED,
    (S.PENDING_UPDATE, K.CANCELED): S.CANCELED,
    (S.PENDING_UPDATE, K.EXPIRED): S.EXPIRED,
    # PENDING_CANCEL: a modify answer is a no-op (the cancel superseded it), an UPDATED applies.
    (S.PENDING_CANCEL, K.CANCEL_REJECTED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, K.MODIFY_REJECTED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, K.UPDATED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, K.ACCEPTED): S.ACCEPTED,
    (S.PENDING_CANCEL, K.REJECTED): S.REJECTED,
    (S.PENDING_CANCEL, K.TRIGGERED): S.TRIGGERED,
    (S.PENDING_CANCEL, K.FILLED): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, K.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, K.EXPIRED): S.EXPIRED,
    # Terminal states accept only the answer to a request that crossed the end (a no-op);
    # DENIED never left the process, so nothing can answer it.
    **{
        (state, kind): state
        for state in (S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED)
        for kind in (K.CANCEL_REJECTED, K.MODIFY_REJECTED)
    },
}


class IllegalTransition(Exception):
    """An event that the order's current state does not allow."""

    def __init__(self, current: OrderState, kind: OrderEventKind) -> None:
        super().__init__(
            f"illegal transition: {OrderState(current).name} + {OrderEventKind(kind).name}"
        )
        self.current = current
        self.kind = kind


def next_state(
    current: OrderState, kind: OrderEventKind, previous: OrderState | None = None
) -> OrderState:
    """The state after ``kind`` in ``current``, so callers never hand-code transitions.

    For the restoring rows (see :data:`RESTORING`) pass the order's ``previous`` state to get
    the state it returns to; without it the table's value (the pending state) is returned.
    Raises :class:`IllegalTransition` for a pair not in the table.
    """
    try:
        target = TRANSITIONS[(current, kind)]
    except KeyError:
        raise IllegalTransition(current, kind) from None
    if previous is not None and (current, kind) in RESTORING:
        return previous
    return target
