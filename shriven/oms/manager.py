"""The order management system: every order's state, journaled before it changes.

Each operation checks the transition first, then writes its record to the journal, then changes
the state, so a failed write changes nothing and the journal alone rebuilds the state
(:meth:`OrderManager.recover`). ``submit`` is the acknowledgement point: its record is synced
before it returns, and with it the order's request (written unsynced by ``create``, earlier in
the file). Venue outcomes go through :meth:`OrderManager.apply`, which rejects illegal
transitions, unknown orders, invalid fills and repeated trade ids without journaling them.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pyarrow as pa

from shriven.model.enums import OrderEventKind, OrderState, OrderType
from shriven.model.records import Fill, OrderEvent, OrderRequest
from shriven.oms.journal import MAGIC, Journal
from shriven.oms.order import Order
from shriven.oms.records import CommandConsumed, JournalRecord, SignalConsumed, Snapshot
from shriven.oms.state import PENDING_STATES, IllegalTransition, next_state
from shriven.schemas import FILLS, ORDERS

__all__ = ["OrderManager"]

log = logging.getLogger("shriven.oms")

K = OrderEventKind
#: Kinds whose ``reason`` becomes the order's (the ORDERS ``reason`` column).
_REASON_KINDS = frozenset({K.DENIED, K.REJECTED, K.CANCELED, K.EXPIRED})


def _tolerance(quantity: float) -> float:
    """Slack for float sums of partial fills (0.1 + 0.2 fills an order of 0.3)."""
    return 1e-9 * max(1.0, abs(quantity))


class OrderManager:
    """Owns every order of one account and its journal; the only writer of both.

    Counters (this session only, not recovered): ``illegal_transitions``, ``unknown_orders``
    (events for an id never created), ``duplicate_fills`` (a trade id seen before on the
    order), ``invalid_events`` (a fill with a non-positive or non-finite quantity or price).
    """

    def __init__(self, journal: Journal, *, account: str = "paper") -> None:
        if journal.size > len(MAGIC):
            raise ValueError(
                f"journal {journal.path} already has records: use OrderManager.recover(path)"
            )
        self._reset(account)
        self.journal = journal

    def _reset(self, account: str) -> None:
        self.account = account
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._fills: list[Fill] = []
        self._positions: dict[str, float] = {}
        self._last_signal_offset = -1
        self._last_command_offset = -1
        self.illegal_transitions = 0
        self.unknown_orders = 0
        self.duplicate_fills = 0
        self.invalid_events = 0
        #: Venue outcomes, denials and consumed signals are written unsynced, written out by
        #: :meth:`flush` and made durable in the background (or by the next synced record);
        #: ``submit`` and cancel/modify requests always sync. Off by default: every record synced.
        self.group_commit = False

    # -- commands of the engine -----------------------------------------------------------

    def create(self, request: OrderRequest) -> tuple[Order, bool]:
        """Journal a new order once per ``client_order_id``; a repeat returns ``(existing, False)``.

        The request is written unsynced: it is durable once ``submit`` (or any synced record
        after it) returns.
        """
        existing = self._orders.get(request.client_order_id)
        if existing is not None:
            return existing, False
        self.journal.append(request, sync=False)
        return self._create(request), True

    def deny(self, client_order_id: str, reason: str, ts: int) -> Order:
        """Record the risk manager's refusal (INITIALIZED -> DENIED); raises IllegalTransition otherwise."""
        order = self._require(client_order_id)
        event = OrderEvent(
            ts=ts,
            client_order_id=client_order_id,
            kind=K.DENIED,
            symbol=order.symbol,
            reason=reason,
        )
        self._command(order, event, sync=not self.group_commit)  # nothing left the process
        return order

    def submit(self, client_order_id: str, venue: str, ts: int) -> Order:
        """Mark the order SUBMITTED, synced to disk before returning: only then may it be sent.

        Raises IllegalTransition unless the order is INITIALIZED, KeyError if unknown.
        """
        order = self._require(client_order_id)
        event = OrderEvent(
            ts=ts,
            client_order_id=client_order_id,
            kind=K.SUBMITTED,
            symbol=order.symbol,
            venue=venue,
        )
        self._command(order, event)
        return order

    def request_cancel(self, client_order_id: str, ts: int) -> Order | None:
        """Move an open order to PENDING_CANCEL (then send the cancel); None if unknown, not open
        or already pending cancel."""
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open or order.state == OrderState.PENDING_CANCEL:
            return None
        event = OrderEvent(
            ts=ts,
            client_order_id=client_order_id,
            kind=K.PENDING_CANCEL,
            symbol=order.symbol,
            venue=order.venue,
        )
        self._command(order, event)
        return order

    def request_modify(
        self, client_order_id: str, price: float, quantity: float, ts: int
    ) -> Order | None:
        """Move an open order to PENDING_UPDATE with the proposed price and total quantity;
        None if unknown, not open or a request is already pending."""
        if not (math.isfinite(quantity) and quantity > 0):
            raise ValueError(f"modify quantity must be finite and > 0, got {quantity}")
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open or order.state in PENDING_STATES:
            return None
        event = OrderEvent(
            ts=ts,
            client_order_id=client_order_id,
            kind=K.PENDING_UPDATE,
            symbol=order.symbol,
            venue=order.venue,
            price=price,
            quantity=quantity,
        )
        self._command(order, event)
        return order

    def flush(self, *, wait: bool = False) -> None:
        """Write out what ``group_commit`` left unsynced (the engine calls it once per wake-up).

        The records reach the kernel now and the disk soon, in the background
        (``Journal.write_out``): none of them is an acknowledgement. ``wait=True`` syncs before
        returning (at a stop).
        """
        if wait:
            self.journal.sync()
        else:
            self.journal.write_out()

    def signal_consumed(self, offset: int, ts: int) -> None:
        """Journal that the signal at ``offset`` was acted on, for exactly-once restarts.

        Synced, unless ``group_commit`` (then at the next :meth:`flush` or synced record): a lost
        record only re-delivers the signal, whose order ids the OMS answers idempotently.

        A repeat of the last offset is a no-op; a lower one raises ValueError.
        """
        if offset == self._last_signal_offset:
            return
        if offset < self._last_signal_offset:
            raise ValueError(
                f"signal offset {offset} is below the last consumed {self._last_signal_offset}"
            )
        self.journal.append(SignalConsumed(offset=offset, ts=ts), sync=not self.group_commit)
        self._last_signal_offset = offset

    def command_consumed(self, offset: int, ts: int) -> None:
        """Journal that the command-log entry at ``offset`` was acted on (as ``signal_consumed``).

        A lost record only re-delivers the command: its order id is a function of the principal
        and idempotency key, so the OMS answers the re-submit idempotently.
        """
        if offset == self._last_command_offset:
            return
        if offset < self._last_command_offset:
            raise ValueError(
                f"command offset {offset} is below the last consumed {self._last_command_offset}"
            )
        self.journal.append(CommandConsumed(offset=offset, ts=ts), sync=not self.group_commit)
        self._last_command_offset = offset

    # -- venue outcomes -------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> Fill | None:
        """Journal and apply a venue outcome; the Fill for a FILLED event, None otherwise.

        Rejected without journaling (logged on ``shriven.oms`` and counted): an unknown order,
        an illegal transition, an invalid fill; a fill whose trade id the order already has is
        ignored (reconciliation may replay fills).
        """
        return self._apply(event, write=True)

    # -- queries --------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        """The order with this id, None if unknown."""
        return self._orders.get(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (SUBMITTED .. TRIGGERED) in the order they opened, optionally of one symbol."""
        if symbol is None:
            return list(self._open.values())
        return [o for o in self._open.values() if o.symbol == symbol]

    @property
    def orders(self) -> list[Order]:
        """Every order kept (all since start, or since the last compaction), in creation order."""
        return list(self._orders.values())

    @property
    def fills(self) -> list[Fill]:
        """Every fill applied, in order (since start, or of the orders kept by compaction)."""
        return list(self._fills)

    @property
    def last_signal_offset(self) -> int:
        """Offset of the last signal consumed; -1 if none."""
        return self._last_signal_offset

    @property
    def last_command_offset(self) -> int:
        """Offset of the last command-log entry consumed; -1 if none."""
        return self._last_command_offset

    def positions(self) -> dict[str, float]:
        """Signed position per symbol: the sum of signed fills (carried through compaction)."""
        return dict(self._positions)

    def snapshot(self, *, include_terminal: bool = True) -> Snapshot:
        """The whole state as one immutable record (compaction writes it; tests compare it)."""
        kept = [o for o in self._orders.values() if include_terminal or not o.is_terminal]
        ids = {o.client_order_id for o in kept}
        return Snapshot(
            last_signal_offset=self._last_signal_offset,
            last_command_offset=self._last_command_offset,
            positions=dict(sorted(self._positions.items())),
            orders=[o.to_snapshot() for o in kept],
            fills=[f for f in self._fills if f.client_order_id in ids],
        )

    def orders_table(self) -> pa.Table:
        """One row per order in its latest state, as the ORDERS lake dataset."""
        orders = list(self._orders.values())
        columns: dict[str, list] = {
            "ts": [o.created_ts for o in orders],
            "updated_ts": [o.updated_ts for o in orders],
            "client_order_id": [o.client_order_id for o in orders],
            "strategy_id": [o.request.strategy_id for o in orders],
            "symbol": [o.symbol for o in orders],
            "venue": [o.venue for o in orders],
            "venue_order_id": [o.venue_order_id for o in orders],
            "side": [o.request.side.name.lower() for o in orders],
            "order_type": [o.request.order_type.name.lower() for o in orders],
            "price": [
                None
                if o.request.order_type == OrderType.MARKET
                or o.price is None
                or math.isnan(o.price)
                else o.price
                for o in orders
            ],
            "quantity": [o.quantity for o in orders],
            "filled_quantity": [o.filled_quantity for o in orders],
            "avg_fill_price": [
                None if math.isnan(o.avg_fill_price) else o.avg_fill_price for o in orders
            ],
            "fees": [o.fees for o in orders],
            "state": [o.state.name.lower() for o in orders],
            "reason": [o.reason for o in orders],
            "signal_offset": [o.request.signal_offset for o in orders],
        }
        return pa.Table.from_pydict(columns, schema=ORDERS)

    def fills_table(self) -> pa.Table:
        """Every fill, as the FILLS lake dataset."""
        fills = self._fills
        columns: dict[str, list] = {
            "ts": [f.ts for f in fills],
            "client_order_id": [f.client_order_id for f in fills],
            "strategy_id": [f.strategy_id for f in fills],
            "symbol": [f.symbol for f in fills],
            "venue": [f.venue for f in fills],
            "trade_id": [f.trade_id for f in fills],
            "side": [f.side.name.lower() for f in fills],
            "price": [f.price for f in fills],
            "quantity": [f.quantity for f in fills],
            "fee": [f.fee for f in fills],
            "liquidity": [f.liquidity.name.lower() for f in fills],
        }
        return pa.Table.from_pydict(columns, schema=FILLS)

    # -- recovery and compaction ----------------------------------------------------------

    @classmethod
    def recover(
        cls, path: str | Path, *, fsync: bool = True, account: str = "paper"
    ) -> OrderManager:
        """Rebuild the exact state from the journal at ``path`` (created if missing) and keep
        appending to it; a torn tail is truncated (and logged) first."""
        manager = cls.__new__(cls)
        manager._reset(account)
        path = Path(path)
        if path.exists():
            for record in Journal.replay(path):
                manager._replay(record)
        manager.illegal_transitions = manager.unknown_orders = 0
        manager.duplicate_fills = manager.invalid_events = 0
        manager.journal = Journal(path, fsync=fsync)
        return manager

    def compact(self) -> None:
        """Rewrite the journal as one snapshot of the non-terminal orders, positions and signal
        offset, and drop terminal orders and their fills from memory (write them to the lake
        first: ``orders_table`` / ``fills_table``). Atomic: temp file, rename, directory sync."""
        snapshot = self.snapshot(include_terminal=False)
        self.journal.rewrite([snapshot])
        self._orders = {o.client_order_id: o for o in self._orders.values() if not o.is_terminal}
        self._open = {k: o for k, o in self._orders.items() if o.is_open}  # as recovery orders them
        self._fills = list(snapshot.fills)

    # -- internals ------------------------------------------------------------------------

    def _require(self, client_order_id: str) -> Order:
        order = self._orders.get(client_order_id)
        if order is None:
            raise KeyError(f"unknown client_order_id {client_order_id!r}")
        return order

    def _create(self, request: OrderRequest) -> Order:
        order = Order(request)
        self._orders[request.client_order_id] = order
        return order

    def _command(self, order: Order, event: OrderEvent, *, sync: bool = True) -> None:
        """An engine command: raise if illegal, else journal (synced unless told) and apply."""
        target = self._target(order, event)
        self.journal.append(event, sync=sync)
        self._change(order, event, target)

    def _target(self, order: Order, event: OrderEvent) -> OrderState:
        """The state ``event`` moves ``order`` to (raises IllegalTransition)."""
        target = next_state(order.state, event.kind, order.previous_state)
        kind = event.kind
        if kind == K.FILLED:
            if order.filled_quantity + event.quantity >= order.quantity - _tolerance(
                order.quantity
            ):
                target = OrderState.FILLED
        elif kind == K.UPDATED and not target.is_terminal and order.filled_quantity > 0:
            quantity = event.quantity if event.quantity > 0 else order.quantity
            if order.filled_quantity >= quantity - _tolerance(quantity):
                target = OrderState.FILLED  # reduced to what has filled: nothing left working
        return target

    def _apply(self, event: OrderEvent, *, write: bool) -> Fill | None:
        order = self._orders.get(event.client_order_id)
        if order is None:
            self.unknown_orders += 1
            log.warning(
                "event %s for unknown order %r ignored", event.kind.name, event.client_order_id
            )
            return None
        if event.kind == K.FILLED:
            if not (
                math.isfinite(event.quantity)
                and event.quantity > 0
                and math.isfinite(event.price)
                and event.price > 0
            ):
                self.invalid_events += 1
                log.warning("invalid fill for %r ignored: %r", event.client_order_id, event)
                return None
            if event.trade_id and event.trade_id in order._trade_ids:
                self.duplicate_fills += 1
                log.info(
                    "fill %r of %r already applied; ignored", event.trade_id, event.client_order_id
                )
                return None
        try:
            target = self._target(order, event)
        except IllegalTransition as exc:
            self.illegal_transitions += 1
            log.warning("order %r: %s; event ignored", event.client_order_id, exc)
            return None
        if write:
            # a venue outcome lost in a crash is found again by reconciliation with the venue
            self.journal.append(event, sync=not self.group_commit)
        return self._change(order, event, target)

    def _change(self, order: Order, event: OrderEvent, target: OrderState) -> Fill | None:
        """Apply a checked event to the order (and fills, positions); the journal has it."""
        kind = event.kind
        fill = None
        if kind == K.FILLED:
            quantity, price = float(event.quantity), float(event.price)
            before = order.filled_quantity
            total = before + quantity
            order.avg_fill_price = (
                price if before == 0 else (order.avg_fill_price * before + price * quantity) / total
            )
            order.filled_quantity = total
            fee = float(event.fee)
            order.fees += fee
            if event.trade_id:
                order._trade_ids.add(event.trade_id)
            request = order.request
            fill = Fill(
                ts=event.ts,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
                price=price,
                quantity=quantity,
                fee=fee,
                liquidity=event.liquidity,
                venue=event.venue or order.venue,
                trade_id=event.trade_id,
                strategy_id=request.strategy_id,
            )
            self._fills.append(fill)
            self._positions[request.symbol] = (
                self._positions.get(request.symbol, 0.0) + fill.signed_quantity
            )
        elif kind == K.UPDATED:
            if not math.isnan(event.price):
                order.price = float(event.price)
            if event.quantity > 0:
                order.quantity = float(event.quantity)
        if event.venue:
            order.venue = event.venue
        if event.venue_order_id:
            order.venue_order_id = event.venue_order_id
        if kind in _REASON_KINDS and event.reason:
            order.reason = event.reason
        order.updated_ts = event.ts
        current = order.state
        if target != current:
            if current not in PENDING_STATES:
                order.previous_state = current
            order.state = target
            if target.is_open:
                self._open[order.client_order_id] = order
            else:
                self._open.pop(order.client_order_id, None)
        return fill

    def _replay(self, record: JournalRecord) -> None:
        """Apply one journal record during recovery (the same checks as live, no writes)."""
        if isinstance(record, OrderEvent):
            self._apply(record, write=False)
        elif isinstance(record, OrderRequest):
            if record.client_order_id not in self._orders:
                self._create(record)
        elif isinstance(record, SignalConsumed):
            self._last_signal_offset = max(self._last_signal_offset, record.offset)
        elif isinstance(record, CommandConsumed):
            self._last_command_offset = max(self._last_command_offset, record.offset)
        elif isinstance(record, Snapshot):
            self._load(record)
        else:  # pragma: no cover - the journal decodes only the types above
            raise TypeError(f"unexpected journal record {record!r}")

    def _load(self, snapshot: Snapshot) -> None:
        """Replace the state by a compaction snapshot."""
        self._reset(self.account)
        self._last_signal_offset = snapshot.last_signal_offset
        self._last_command_offset = snapshot.last_command_offset
        self._positions = dict(snapshot.positions)
        for item in snapshot.orders:
            order = Order.from_snapshot(item)
            self._orders[order.client_order_id] = order
            if order.is_open:
                self._open[order.client_order_id] = order
        self._fills = list(snapshot.fills)
