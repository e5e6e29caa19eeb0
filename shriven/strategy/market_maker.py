"""A two-sided quoter: a bid and an ask around the microprice, skewed against inventory.

For each quote of a symbol (or bar, when the engine runs on bars) with fair price ``f`` (the
microprice), tick ``t`` and position ``p``::

    skew = p * skew_ticks_per_unit                 # ticks; a long position lowers both quotes
    bid  = floor(f / t - half_spread_ticks - skew) * t
    ask  =  ceil(f / t + half_spread_ticks - skew) * t

then, post-only style, a bid at or above the best ask goes to ``best ask - t`` and an ask at or
below the best bid to ``best bid + t``. A side is not quoted while one more fill of
``quote_size`` would take ``|position|`` beyond ``max_position``. A working order is replaced
(cancel + new) only when its side's desired price moved by ``requote_ticks`` or more or the
touch moved onto it (it would now cross), and pulled when its side stops being quoted; an order that is gone (filled, canceled, rejected, denied,
expired) is quoted again at the next update. The strategy tracks its working ids itself from
``on_fill`` and ``on_order_event``; after a fill it re-quotes at once (the skew moved).
Without a two-sided quote (a bar with no book), it quotes around the bar's close with no touch.
The tick size of a symbol is read from the context once, at its first update.
"""

from __future__ import annotations

import math

from shriven.model.enums import OrderEventKind, OrderType, Side
from shriven.model.records import Bar, Fill, OrderEvent, Quote
from shriven.strategy.base import Strategy, StrategyContext

__all__ = ["MarketMaker"]

#: Relative slack when flooring/ceiling to the tick, so 100.0 / 0.01 lands on 10000, not 9999.
_SLACK = 1e-12
#: Absolute slack (ticks) added to the relative one.
_TICK_SLACK = 1e-9
_GONE = frozenset(
    {
        OrderEventKind.DENIED,
        OrderEventKind.REJECTED,
        OrderEventKind.CANCELED,
        OrderEventKind.EXPIRED,
    }
)


class _Working:
    """One side's working order: its id, price in ticks and unfilled quantity."""

    __slots__ = ("client_order_id", "remaining", "ticks")

    def __init__(self, client_order_id: str, ticks: int, remaining: float) -> None:
        self.client_order_id = client_order_id
        self.ticks = ticks
        self.remaining = remaining


class _Book:
    """Per-symbol quoting state: the tick (read once) and the working bid and ask (None: none)."""

    __slots__ = ("ask", "bid", "decimals", "tick")

    def __init__(self, tick: float) -> None:
        self.bid: _Working | None = None
        self.ask: _Working | None = None
        self.tick = tick
        self.decimals = _decimals(tick)


class MarketMaker(Strategy):
    """Quotes both sides of each symbol with inventory skew, a position cap and requote hysteresis."""

    def __init__(
        self,
        strategy_id: str,
        symbols: tuple[str, ...] = (),
        *,
        quote_size: float,
        half_spread_ticks: float,
        skew_ticks_per_unit: float = 0.0,
        max_position: float,
        requote_ticks: int = 1,
        post_only: bool = False,
    ) -> None:
        super().__init__(strategy_id, symbols)
        if not quote_size > 0:
            raise ValueError(f"quote_size must be positive, got {quote_size}")
        if not half_spread_ticks > 0:
            raise ValueError(f"half_spread_ticks must be positive, got {half_spread_ticks}")
        if not skew_ticks_per_unit >= 0:
            raise ValueError(f"skew_ticks_per_unit must be >= 0, got {skew_ticks_per_unit}")
        if not max_position >= quote_size:
            raise ValueError(
                f"max_position ({max_position}) must be at least quote_size ({quote_size})"
            )
        if requote_ticks < 1:
            raise ValueError(f"requote_ticks must be at least 1, got {requote_ticks}")
        self.quote_size = float(quote_size)
        self.half_spread_ticks = float(half_spread_ticks)
        self.skew_ticks_per_unit = float(skew_ticks_per_unit)
        self.max_position = float(max_position)
        self.requote_ticks = int(requote_ticks)
        self.order_type = OrderType.POST_ONLY if post_only else OrderType.LIMIT
        self._cap = self.max_position + self.quote_size * 1e-9
        self._accepts = frozenset(self.symbols)
        self._books: dict[str, _Book] = {}
        #: client order id -> symbol, for the ids this strategy has working.
        self._symbol_of: dict[str, str] = {}

    def working_ids(self, symbol: str) -> tuple[str | None, str | None]:
        """(bid id, ask id) this strategy believes are working for ``symbol``."""
        book = self._books.get(symbol)
        if book is None:
            return None, None
        return (
            None if book.bid is None else book.bid.client_order_id,
            None if book.ask is None else book.ask.client_order_id,
        )

    # --- callbacks -------------------------------------------------------------------------

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> None:
        """Re-price both sides around the new microprice."""
        book = self._books.get(quote.symbol)
        if book is None:
            book = self._open_book(ctx, quote.symbol)
            if book is None:
                return
        fair = quote.microprice
        if fair - fair == 0.0:  # finite: NaN and inf give NaN
            self._requote(ctx, quote.symbol, book, fair, quote.bid, quote.ask)
        else:
            self._pull(ctx, quote.symbol)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Fallback when the engine runs on bars: the last quote if two-sided, else the close."""
        symbol = bar.symbol
        book = self._books.get(symbol)
        if book is None:
            book = self._open_book(ctx, symbol)
            if book is None:
                return
        quote = ctx.quote(symbol)
        if quote is not None and math.isfinite(quote.microprice):
            self._requote(ctx, symbol, book, quote.microprice, quote.bid, quote.ask)
        elif bar.close > 0:
            self._requote(ctx, symbol, book, bar.close, math.nan, math.nan)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """Forget a completed order, then re-quote with the new inventory."""
        book = self._books.get(fill.symbol)
        if book is None:
            return
        working = book.bid if fill.side == Side.BUY else book.ask
        if working is not None and working.client_order_id == fill.client_order_id:
            working.remaining -= fill.quantity
            if working.remaining <= self.quote_size * 1e-9:
                self._forget(book, fill.side)
        quote = ctx.quote(fill.symbol)
        if quote is not None and math.isfinite(quote.microprice):
            self._requote(ctx, fill.symbol, book, quote.microprice, quote.bid, quote.ask)

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> None:
        """Forget an order the venue or risk ended; the next update quotes that side again."""
        if event.kind not in _GONE:
            return
        symbol = self._symbol_of.get(event.client_order_id)
        if symbol is None:
            return
        book = self._books[symbol]
        if book.bid is not None and book.bid.client_order_id == event.client_order_id:
            self._forget(book, Side.BUY)
        elif book.ask is not None and book.ask.client_order_id == event.client_order_id:
            self._forget(book, Side.SELL)

    def on_stop(self, ctx: StrategyContext) -> None:
        """Leave nothing working."""
        for symbol in list(self._books):
            self._pull(ctx, symbol)

    # --- quoting ---------------------------------------------------------------------------

    def _open_book(self, ctx: StrategyContext, symbol: str) -> _Book | None:
        if self._accepts and symbol not in self._accepts:
            return None
        book = self._books[symbol] = _Book(ctx.tick_size(symbol))
        return book

    def _requote(
        self,
        ctx: StrategyContext,
        symbol: str,
        book: _Book,
        fair: float,
        best_bid: float,
        best_ask: float,
    ) -> None:
        tick = book.tick
        position = ctx.position(symbol)
        center = fair / tick - position * self.skew_ticks_per_unit
        slack = _TICK_SLACK + _SLACK * abs(center)
        requote = self.requote_ticks

        if position + self.quote_size <= self._cap:
            bid = math.floor(center - self.half_spread_ticks + slack)
            touch_ticks = best_ask / tick
            if bid + 0.5 >= touch_ticks:  # near or through the ask (False for NaN: no book)
                touch = round(touch_ticks)
                if bid >= touch:
                    bid = touch - 1
            working = book.bid
            if bid <= 0:
                self._cancel_side(ctx, book, Side.BUY)
            elif (
                working is None
                or abs(bid - working.ticks) >= requote
                or (working.ticks + 0.5 >= touch_ticks and working.ticks >= round(touch_ticks))
            ):  # new, moved enough, or the market came to it: it would now take the ask
                self._replace(ctx, symbol, book, Side.BUY, bid)
        elif book.bid is not None:
            self._cancel_side(ctx, book, Side.BUY)

        if self.quote_size - position <= self._cap:
            ask = math.ceil(center + self.half_spread_ticks - slack)
            touch_ticks = best_bid / tick
            if ask - 0.5 <= touch_ticks:  # near or through the bid
                touch = round(touch_ticks)
                if ask <= touch:
                    ask = touch + 1
            working = book.ask
            if (
                working is None
                or abs(ask - working.ticks) >= requote
                or (working.ticks - 0.5 <= touch_ticks and working.ticks <= round(touch_ticks))
            ):
                self._replace(ctx, symbol, book, Side.SELL, ask)
        elif book.ask is not None:
            self._cancel_side(ctx, book, Side.SELL)

    def _replace(
        self, ctx: StrategyContext, symbol: str, book: _Book, side: Side, ticks: int
    ) -> None:
        self._cancel_side(ctx, book, side)
        price = round(ticks * book.tick, book.decimals)
        tag = "bid" if side == Side.BUY else "ask"
        client_order_id = ctx.submit(symbol, side, self.quote_size, price, self.order_type, tag=tag)
        new = _Working(client_order_id, ticks, self.quote_size)
        if side == Side.BUY:
            book.bid = new
        else:
            book.ask = new
        self._symbol_of[client_order_id] = symbol

    def _cancel_side(self, ctx: StrategyContext, book: _Book, side: Side) -> None:
        working = book.bid if side == Side.BUY else book.ask
        if working is not None:
            self._forget(book, side)
            ctx.cancel(working.client_order_id)

    def _pull(self, ctx: StrategyContext, symbol: str) -> None:
        book = self._books.get(symbol)
        if book is not None:
            self._cancel_side(ctx, book, Side.BUY)
            self._cancel_side(ctx, book, Side.SELL)

    def _forget(self, book: _Book, side: Side) -> None:
        working = book.bid if side == Side.BUY else book.ask
        if working is None:
            return
        self._symbol_of.pop(working.client_order_id, None)
        if side == Side.BUY:
            book.bid = None
        else:
            book.ask = None


def _decimals(step: float) -> int:
    """Decimals to round ``n * step`` to, so 10001 * 0.01 prints as 100.01."""
    text = repr(step)
    if "e-" in text:
        mantissa, exponent = text.split("e-")
        return int(exponent) + (len(mantissa.split(".")[1]) if "." in mantissa else 0)
    return len(text.split(".")[1]) if "." in text else 0
