"""The strategy API: callbacks the engine calls, and the context a strategy acts through.

A strategy never talks to a venue, the clock or the OMS directly: it reads and acts through the
:class:`StrategyContext` the engine passes in, so the same strategy runs in backtest, paper and
live. Every callback is optional.
"""

from __future__ import annotations

from typing import Protocol

from shriven.model.enums import OrderType, Side
from shriven.model.records import Bar, Fill, OrderEvent, Quote, Signal

__all__ = ["Strategy", "StrategyContext"]


class StrategyContext(Protocol):
    """What a strategy may see and do (implemented by the engine; by a fake in tests)."""

    @property
    def now(self) -> int:
        """The engine clock (ns): simulated in backtests, the wall clock otherwise."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """The instruments this strategy trades."""
        ...

    def position(self, symbol: str) -> float:
        """This strategy's signed position in base units (its filled orders; the account's is the sum)."""
        ...

    def open_quantity(self, symbol: str) -> float:
        """Signed quantity of this strategy's working orders (+ buys, - sells) not yet filled."""
        ...

    def quote(self, symbol: str) -> Quote | None:
        """Top of book as last seen, or None before the first book update."""
        ...

    def equity(self) -> float:
        """Cash plus marked positions (quote currency)."""
        ...

    def tick_size(self, symbol: str) -> float:
        """Price increment of the instrument."""
        ...

    def lot_size(self, symbol: str) -> float:
        """Quantity increment of the instrument."""
        ...

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
        """Send an order through risk and the OMS; returns its client order id.

        A denied order comes back to :meth:`Strategy.on_order_event` as DENIED, never raises.
        """
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel a working order (unknown or finished ids are ignored)."""
        ...

    def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every working order of this strategy (of one symbol)."""
        ...

    def target_position(self, symbol: str, target: float) -> None:
        """Trade this strategy's position towards ``target``: the engine sends the lot-rounded gap."""
        ...

    def set_timer(self, at_ns: int) -> None:
        """Call :meth:`Strategy.on_timer` once the clock reaches ``at_ns``."""
        ...

    def execute(
        self,
        symbol: str,
        side: Side,
        quantity: float,
        algo: str,
        *,
        price: float | None = None,
        duration_ns: int = 600_000_000_000,
        slices: int = 10,
        participation: float = 0.1,
        display_quantity: float | None = None,
    ) -> str:
        """Work a parent order with an execution algo (``twap``, ``vwap`` or ``iceberg``); returns its id.

        Children go through risk and the OMS like any order and come back as fills and events;
        the algo is worked at every engine wake-up (bar closes, quote samples).
        """
        ...


class Strategy:
    """Base class of strategies: override the callbacks you need.

    ``strategy_id`` names the strategy in orders, fills and the lake; ``symbols`` are the
    instruments it trades (empty: every instrument of the engine).
    """

    def __init__(self, strategy_id: str, symbols: tuple[str, ...] = ()) -> None:
        self.strategy_id = strategy_id
        self.symbols = tuple(symbols)

    def on_start(self, ctx: StrategyContext) -> None:
        """Before the first event."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """A bar of one of its symbols closed."""

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        """The top of book of one of its symbols changed (only when the engine runs per quote)."""

    def on_signal(self, ctx: StrategyContext, signal: Signal) -> None:
        """A signal for one of its symbols arrived from the signal log."""

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """One of its orders filled (partly)."""

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> None:
        """Any other event of one of its orders (accepted, denied, rejected, canceled...)."""

    def on_timer(self, ctx: StrategyContext, ts: int) -> None:
        """A timer set with :meth:`StrategyContext.set_timer` fired."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """After the last event."""
