"""A deterministic :class:`~shriven.strategy.base.StrategyContext` for tests of strategies and engines.

Nothing happens behind the test's back: the clock moves only when the test moves it, orders rest
until the test fills, cancels or rejects them, and callbacks reach the strategy only through the
``feed_*``/``fill``/``order_event`` helpers. Everything the strategy asks for is recorded::

    ctx = FakeContext(strategy, tick_size=0.01)
    ctx.set_quote("ACME", bid=99.99, ask=100.01)        # seen by ctx.quote, no callback
    ctx.feed_quote("ACME", bid=99.98, ask=100.02)       # sets it and calls strategy.on_quote
    order = ctx.working("ACME")[0]
    ctx.fill(order.client_order_id, 99.98, 10)          # books the position, calls on_fill

Cancels take effect at once and send no event back (a strategy learns nothing it did not ask).
With ``strict`` (the default) an order off the tick or lot, or with a non-positive quantity,
raises: in a test that is a bug of the strategy under test, where a real engine would DENY it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import Bar, Fill, OrderEvent, Quote, Signal
from shriven.strategy.base import Strategy

__all__ = ["FakeContext", "FakeOrder"]

_TERMINAL_KINDS = frozenset(
    {
        OrderEventKind.DENIED,
        OrderEventKind.REJECTED,
        OrderEventKind.CANCELED,
        OrderEventKind.EXPIRED,
    }
)
#: Relative tolerance of the tick/lot checks (prices are floats).
_GRID_TOLERANCE = 1e-9


@dataclass
class FakeOrder:
    """One order a strategy submitted, with what has happened to it since (mutable, test-side)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float | None
    order_type: OrderType
    tag: str
    ts: int
    filled: float = 0.0
    is_open: bool = True
    #: Kinds of the order events sent for it, in order (fills included as FILLED).
    events: list[OrderEventKind] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        """Quantity not yet filled."""
        return self.quantity - self.filled

    @property
    def signed_remaining(self) -> float:
        """Remaining quantity signed by side (+ buy, - sell)."""
        return self.remaining if self.side == Side.BUY else -self.remaining


class FakeContext:
    """Records what a strategy does and lets a test set what it sees; see the module docstring."""

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        symbols: tuple[str, ...] | None = None,
        equity: float = 1_000_000.0,
        tick_size: float = 0.01,
        lot_size: float = 1.0,
        tick_sizes: Mapping[str, float] | None = None,
        lot_sizes: Mapping[str, float] | None = None,
        now: int = 0,
        strict: bool = True,
        apply_targets: bool = False,
    ) -> None:
        self.strategy = strategy
        if symbols is None:
            symbols = strategy.symbols if strategy is not None else ()
        self._symbols = tuple(symbols)
        self._equity = float(equity)
        self._tick_size = float(tick_size)
        self._lot_size = float(lot_size)
        self._tick_sizes = dict(tick_sizes or {})
        self._lot_sizes = dict(lot_sizes or {})
        self._now = int(now)
        self.strict = strict
        #: When True, :meth:`target_position` sets the position at once (an instant, perfect fill).
        self.apply_targets = apply_targets
        self._positions: dict[str, float] = {}
        self._quotes: dict[str, Quote] = {}
        self._next_id = 0
        self._next_trade = 0
        #: Every order submitted, by client order id, in submission order.
        self.orders: dict[str, FakeOrder] = {}
        #: Ids passed to :meth:`cancel` (and those :meth:`cancel_all` canceled), in order.
        self.cancels: list[str] = []
        #: The ``symbol`` argument of each :meth:`cancel_all` call.
        self.cancel_all_calls: list[str | None] = []
        #: Each :meth:`target_position` call as (symbol, target).
        self.targets: list[tuple[str, float]] = []
        #: Timers set and not yet fired (ns), in the order they were set.
        self.timers: list[int] = []
        self.algos: list[tuple[str, str, Side, float, str, dict[str, object]]] = []
        #: Fills booked through :meth:`fill`.
        self.fills: list[Fill] = []

    # --- StrategyContext -------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The fake clock (ns); moved only by the test."""
        return self._now

    @property
    def symbols(self) -> tuple[str, ...]:
        """The instruments the strategy trades."""
        return self._symbols

    def position(self, symbol: str) -> float:
        """Signed position as set by the test and moved by fills."""
        return self._positions.get(symbol, 0.0)

    def open_quantity(self, symbol: str) -> float:
        """Signed remaining quantity of the open orders of ``symbol``."""
        return sum(
            o.signed_remaining for o in self.orders.values() if o.is_open and o.symbol == symbol
        )

    def quote(self, symbol: str) -> Quote | None:
        """The last quote the test set for ``symbol``."""
        return self._quotes.get(symbol)

    def equity(self) -> float:
        """Equity as set by the test (fills do not move it)."""
        return self._equity

    def tick_size(self, symbol: str) -> float:
        """Per-symbol tick if given, else the default."""
        return self._tick_sizes.get(symbol, self._tick_size)

    def lot_size(self, symbol: str) -> float:
        """Per-symbol lot if given, else the default."""
        return self._lot_sizes.get(symbol, self._lot_size)

    def submit(
        self,
        symbol: str,
        side: Side,
        quantity: float,
        price: float | None = None,
        order_type: OrderType = OrderType.LIMIT,
        *,
        tag: str = "",
    ) -> str:
        """Record a working order and return its id (``<strategy_id>-<n>``, n from 1)."""
        if self.strict:
            self._check_order(symbol, side, quantity, price, order_type)
        self._next_id += 1
        prefix = self.strategy.strategy_id if self.strategy is not None else "order"
        client_order_id = f"{prefix}-{self._next_id}"
        self.orders[client_order_id] = FakeOrder(
            client_order_id=client_order_id,
            symbol=symbol,
            side=Side(side),
            quantity=float(quantity),
            price=price,
            order_type=OrderType(order_type),
            tag=tag,
            ts=self._now,
        )
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        """Close the order at once (unknown or finished ids are recorded and ignored)."""
        self.cancels.append(client_order_id)
        order = self.orders.get(client_order_id)
        if order is not None:
            order.is_open = False

    def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order (of one symbol)."""
        self.cancel_all_calls.append(symbol)
        for order in self.working(symbol):
            self.cancel(order.client_order_id)

    def target_position(self, symbol: str, target: float) -> None:
        """Record the target; the position moves only when the test says so (or ``apply_targets``)."""
        self.targets.append((symbol, target))
        if self.apply_targets:
            self._positions[symbol] = float(target)

    def set_timer(self, at_ns: int) -> None:
        """Record a timer; :meth:`advance` fires it."""
        self.timers.append(int(at_ns))

    def execute(self, symbol: str, side: Side, quantity: float, algo: str, **params: object) -> str:
        """Record an algo parent order (nothing is worked: the engine's tests cover that)."""
        prefix = self.strategy.strategy_id if self.strategy is not None else "order"
        parent_id = f"{prefix}-{algo}-{len(self.algos) + 1}"
        self.algos.append((parent_id, symbol, side, quantity, algo, dict(params)))
        return parent_id

    # --- what the test sets ----------------------------------------------------------------

    def set_now(self, ts: int) -> None:
        """Move the clock without firing timers."""
        self._now = int(ts)

    def set_position(self, symbol: str, quantity: float) -> None:
        """Set the signed position of ``symbol``."""
        self._positions[symbol] = float(quantity)

    def set_equity(self, equity: float) -> None:
        """Set the equity the strategy sees."""
        self._equity = float(equity)

    def set_quote(
        self,
        symbol: str | Quote,
        bid: float = math.nan,
        ask: float = math.nan,
        *,
        bid_size: float = 1.0,
        ask_size: float = 1.0,
    ) -> Quote:
        """Set the top of book (a Quote, or its fields; the clock gives ``ts``) without a callback."""
        if isinstance(symbol, Quote):
            quote = symbol
        else:
            quote = Quote(
                ts=self._now, symbol=symbol, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size
            )
        self._quotes[quote.symbol] = quote
        return quote

    def clear_quote(self, symbol: str) -> None:
        """Forget the quote of ``symbol`` (as before the first book update)."""
        self._quotes.pop(symbol, None)

    # --- what the test reads ---------------------------------------------------------------

    def working(self, symbol: str | None = None, side: Side | None = None) -> list[FakeOrder]:
        """Open orders (of one symbol, of one side), in submission order."""
        return [
            o
            for o in self.orders.values()
            if o.is_open
            and (symbol is None or o.symbol == symbol)
            and (side is None or o.side == side)
        ]

    @property
    def submitted(self) -> list[FakeOrder]:
        """Every order submitted, in order."""
        return list(self.orders.values())

    # --- callbacks into the strategy -------------------------------------------------------

    def _strategy(self) -> Strategy:
        if self.strategy is None:
            raise RuntimeError("FakeContext has no strategy to call back")
        return self.strategy

    def start(self) -> None:
        """Call ``on_start``."""
        self._strategy().on_start(self)

    def stop(self) -> None:
        """Call ``on_stop``."""
        self._strategy().on_stop(self)

    def feed_bar(self, bar: Bar) -> None:
        """Move the clock to the bar's close and call ``on_bar``."""
        self._now = max(self._now, bar.end_ts)
        self._strategy().on_bar(self, bar)

    def feed_quote(
        self,
        symbol: str | Quote,
        bid: float = math.nan,
        ask: float = math.nan,
        *,
        bid_size: float = 1.0,
        ask_size: float = 1.0,
    ) -> Quote:
        """Set the quote (moving the clock to a given Quote's ts) and call ``on_quote``."""
        if isinstance(symbol, Quote):
            self._now = max(self._now, symbol.ts)
        quote = self.set_quote(symbol, bid, ask, bid_size=bid_size, ask_size=ask_size)
        self._strategy().on_quote(self, quote)
        return quote

    def feed_signal(self, signal: Signal) -> None:
        """Move the clock to the signal's ts and call ``on_signal``."""
        self._now = max(self._now, signal.ts)
        self._strategy().on_signal(self, signal)

    def advance(self, ts: int) -> list[int]:
        """Move the clock to ``ts`` and fire due timers in time order; returns the fired times."""
        self._now = max(self._now, int(ts))
        due = sorted(t for t in self.timers if t <= self._now)
        for t in due:
            self.timers.remove(t)
        for t in due:
            self._strategy().on_timer(self, t)
        return due

    def fill(
        self,
        client_order_id: str,
        price: float,
        quantity: float | None = None,
        *,
        fee: float = 0.0,
    ) -> Fill:
        """Fill (part of) an open order: book the position, close it when done, call ``on_fill``."""
        order = self.orders.get(client_order_id)
        if order is None or not order.is_open:
            raise ValueError(f"order {client_order_id!r} is not open")
        qty = order.remaining if quantity is None else float(quantity)
        if not 0 < qty <= order.remaining * (1 + _GRID_TOLERANCE):
            raise ValueError(
                f"fill of {qty} for order {client_order_id!r} with {order.remaining} remaining"
            )
        order.filled += qty
        if order.remaining <= order.quantity * _GRID_TOLERANCE:
            order.filled = order.quantity
            order.is_open = False
        order.events.append(OrderEventKind.FILLED)
        signed = qty if order.side == Side.BUY else -qty
        self._positions[order.symbol] = self._positions.get(order.symbol, 0.0) + signed
        self._next_trade += 1
        fill = Fill(
            ts=self._now,
            client_order_id=client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=float(price),
            quantity=qty,
            fee=fee,
            trade_id=f"T{self._next_trade}",
            strategy_id=self.strategy.strategy_id if self.strategy is not None else "",
        )
        self.fills.append(fill)
        if self.strategy is not None:
            self.strategy.on_fill(self, fill)
        return fill

    def order_event(
        self, client_order_id: str, kind: OrderEventKind, *, reason: str = ""
    ) -> OrderEvent:
        """Send an order event (ACCEPTED, REJECTED, CANCELED...); terminal kinds close the order."""
        order = self.orders.get(client_order_id)
        if order is None:
            raise ValueError(f"unknown order {client_order_id!r}")
        kind = OrderEventKind(kind)
        if kind in _TERMINAL_KINDS:
            order.is_open = False
        order.events.append(kind)
        event = OrderEvent(
            ts=self._now,
            client_order_id=client_order_id,
            kind=kind,
            symbol=order.symbol,
            price=math.nan if order.price is None else order.price,
            quantity=order.remaining,
            reason=reason,
        )
        if self.strategy is not None:
            self.strategy.on_order_event(self, event)
        return event

    # --- checks ----------------------------------------------------------------------------

    def _check_order(
        self, symbol: str, side: Side, quantity: float, price: float | None, order_type: OrderType
    ) -> None:
        if side not in (Side.BUY, Side.SELL):
            raise ValueError(f"bad side {side!r}")
        if not (math.isfinite(quantity) and quantity > 0):
            raise ValueError(f"order quantity {quantity} for {symbol} is not positive")
        if not _on_grid(quantity, self.lot_size(symbol)):
            raise ValueError(
                f"order quantity {quantity} for {symbol} is not on the lot {self.lot_size(symbol)}"
            )
        if order_type == OrderType.MARKET:
            return
        if price is None or not (math.isfinite(price) and price > 0):
            raise ValueError(f"limit order for {symbol} has bad price {price}")
        if not _on_grid(price, self.tick_size(symbol)):
            raise ValueError(
                f"order price {price} for {symbol} is not on the tick {self.tick_size(symbol)}"
            )


def _on_grid(value: float, step: float) -> bool:
    n = value / step
    return abs(n - round(n)) <= _GRID_TOLERANCE * max(1.0, abs(n))
