"""A real venue through ccxt, behind the ``ExecutionVenue`` interface.

The ccxt exchange object is passed in (built and authenticated at the edge, e.g.
``ccxt.binance({...})``); nothing here opens a connection by itself or reads secrets.

Requests
    ``submit`` -> ``create_order(market, type, side, amount, price, {"clientOrderId": id})``
    (IOC/FOK as ``timeInForce``, POST_ONLY as ``postOnly``). Its answer becomes an ACCEPTED event;
    a refusal (insufficient funds, bad symbol, post-only would cross...) a REJECTED event with
    the reason named after ccxt's error class. A *transient* failure (timeout, network, rate
    limit) is never blindly retried, because the order may have reached the venue: the
    ``clientOrderId`` is looked up first (``fetch_open_orders``, then ``fetch_order`` by client
    id) and the order is adopted if found; only when the venue says it does not exist is
    ``create_order`` sent again (up to the ``RetryPolicy``). When the lookup itself keeps
    failing the order is *in doubt*: it is looked up again on every ``poll`` and becomes ACCEPTED
    (found) or REJECTED ``VENUE_UNAVAILABLE`` (not there). When every attempt was confirmed not
    placed, ``submit`` raises :class:`VenueUnavailable` (the router counts it on the breaker).
    ``cancel`` is retried freely (it is idempotent; an ``OrderNotFound`` after a lost answer is
    taken as done), ``modify`` uses ``edit_order`` where ccxt has it and is not retried.

Outcomes
    ``poll`` reads, per market with live orders, ``fetch_my_trades`` since the last trade seen
    (FILLED events, deduplicated by trade id, fee converted to the quote currency when ccxt
    reports it in base; other fee assets such as BNB are passed through as their amount),
    ``fetch_open_orders``, and ``fetch_order`` for live orders no longer open (CANCELED,
    EXPIRED, REJECTED). A terminal event waits until every fill the order reports has been
    emitted, so fills never follow their order's CANCELED. Transient read failures are retried;
    a read that still fails raises from ``poll`` (nothing is lost: the next poll resumes).

Times: ccxt millisecond timestamps become ns; events made here use the injected ``clock_ns``.
Symbols: engine symbols map to ccxt markets through ``symbol_map`` (unmapped ones pass as they
are); ``positions`` reports the ``total`` balance of each symbol's base asset (spot).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shriven.execution.venue import VenueOrder
from shriven.marketdata.resilience import RetryPolicy, call_with_retry, is_transient_exchange_error
from shriven.model.enums import Liquidity, OrderEventKind, OrderType, Side
from shriven.model.records import OrderEvent, OrderRequest, Quote

__all__ = ["CcxtVenue", "VenueUnavailable"]

logger = logging.getLogger("shriven.execution.ccxt_venue")

_MS = 1_000_000
_EPS = 1e-12


class VenueUnavailable(ConnectionError):
    """The venue could not be reached and the request is known not to have taken effect."""


class _Live:
    """What we know of one of our orders at the venue (mutable, private)."""

    __slots__ = (
        "cancel_requested", "client_order_id", "done", "filled", "in_doubt", "market", "order_type",
        "price", "quantity", "request", "side", "symbol", "venue_order_id",
    )  # fmt: skip

    def __init__(self, request: OrderRequest, market: str) -> None:
        self.request = request
        self.client_order_id = request.client_order_id
        self.symbol = request.symbol
        self.market = market
        self.side = Side(request.side)
        self.order_type = OrderType(request.order_type)
        self.price = math.nan if request.price is None else float(request.price)
        self.quantity = float(request.quantity)
        self.venue_order_id = ""
        self.filled = 0.0  # what our FILLED events have reported
        self.in_doubt = False
        self.cancel_requested = False
        self.done = False


def _reason(exc: BaseException) -> str:
    """A ccxt refusal as a reason name (most specific class first)."""
    import ccxt

    for cls, name in (
        (ccxt.OrderImmediatelyFillable, "POST_ONLY_WOULD_CROSS"),
        (ccxt.DuplicateOrderId, "DUPLICATE_ORDER_ID"),
        (ccxt.OrderNotFound, "UNKNOWN_ORDER"),
        (ccxt.InsufficientFunds, "INSUFFICIENT_FUNDS"),
        (ccxt.BadSymbol, "UNKNOWN_SYMBOL"),
        (ccxt.InvalidOrder, "INVALID_ORDER"),
        (ccxt.AuthenticationError, "AUTHENTICATION"),
        (ccxt.BadRequest, "BAD_REQUEST"),
    ):
        if isinstance(exc, cls):
            return name
    return "EXCHANGE_ERROR"


def _is_refusal(exc: BaseException) -> bool:
    """The venue answered no (a ccxt ExchangeError), as opposed to a transport failure or a bug."""
    import ccxt

    return isinstance(exc, ccxt.ExchangeError) and not is_transient_exchange_error(exc)


def _ns(ms: Any, default: int) -> int:
    return int(ms) * _MS if isinstance(ms, int | float) and math.isfinite(ms) else default


def _float(value: Any, default: float = math.nan) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else default


class CcxtVenue:
    """An ``ExecutionVenue`` over a ccxt exchange object.

    Parameters
    ----------
    name
        Venue name in events (``OrderEvent.venue``).
    exchange
        A ccxt exchange (or a stand-in with the same methods), authenticated elsewhere.
    symbols
        Engine symbols traded here (``open_orders`` and ``positions`` cover these).
    symbol_map
        Engine symbol -> ccxt market (``"BTCUSDT" -> "BTC/USDT"``); unmapped pass as they are.
    retry
        Backoff for transient errors; ``sleep`` and ``rng`` are injected for tests.
    clock_ns
        Time of events made here (refusals, in-doubt resolutions).
    """

    def __init__(
        self,
        name: str,
        exchange: Any,
        symbols: Sequence[str],
        *,
        symbol_map: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self._to_market = {s: (symbol_map or {}).get(s, s) for s in self.symbols}
        self._to_symbol = {m: s for s, m in self._to_market.items()}
        self.retry = retry if retry is not None else RetryPolicy(max_retries=3)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random(0)
        self._clock_ns = clock_ns
        self._orders: dict[str, _Live] = {}
        self._by_venue_id: dict[str, _Live] = {}
        self._queued: list[OrderEvent] = []
        self._seen_trades: set[str] = set()
        self._since_ms: dict[str, int] = {}

    # -- plumbing ---------------------------------------------------------------------------------

    def market(self, symbol: str) -> str:
        """The ccxt market of an engine symbol."""
        return self._to_market.get(symbol, symbol)

    def _read(self, operation: str, fn: Callable[[], Any]) -> Any:
        """A read (or an idempotent call), retried on transient errors."""
        return call_with_retry(
            fn, self.retry, sleep=self._sleep, rng=self._rng, operation=f"{self.name} {operation}"
        )

    def _event(self, live: _Live, kind: OrderEventKind, ts: int, **fields: Any) -> OrderEvent:
        return OrderEvent(
            ts=ts, client_order_id=live.client_order_id, kind=kind, symbol=live.symbol,
            venue=self.name, venue_order_id=live.venue_order_id, **fields,
        )  # fmt: skip

    def _refuse(self, request: OrderRequest, reason: str) -> None:
        self._queued.append(
            OrderEvent(
                ts=self._clock_ns(), client_order_id=request.client_order_id,
                kind=OrderEventKind.REJECTED, symbol=request.symbol, venue=self.name,
                price=math.nan if request.price is None else float(request.price),
                quantity=float(request.quantity), reason=reason,
            )
        )  # fmt: skip

    # -- submit -----------------------------------------------------------------------------------

    def _order_args(self, live: _Live) -> tuple[str, str, float, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": live.client_order_id}
        otype = live.order_type
        if otype is OrderType.MARKET:
            return "market", live.side.name.lower(), live.quantity, None, params
        if otype is OrderType.IOC:
            params["timeInForce"] = "IOC"
        elif otype is OrderType.FOK:
            params["timeInForce"] = "FOK"
        elif otype is OrderType.POST_ONLY:
            params["postOnly"] = True
        return "limit", live.side.name.lower(), live.quantity, live.price, params

    def submit(self, request: OrderRequest) -> None:
        """Place the order once; see the module docs for what happens on a timeout."""
        if request.client_order_id in self._orders:
            self._refuse(request, "DUPLICATE_ORDER_ID")
            return
        live = _Live(request, self.market(request.symbol))
        otype, side, amount, price, params = self._order_args(live)
        if otype == "limit" and not (price is not None and math.isfinite(price) and price > 0):
            self._refuse(request, "BAD_PRICE")
            return
        for attempt in range(self.retry.max_retries + 1):
            try:
                order = self.exchange.create_order(live.market, otype, side, amount, price, params)
            except Exception as exc:
                if _is_refusal(exc):
                    # a re-send refused (e.g. "Duplicate order sent."): the first may have landed
                    found = self._lookup(live) if attempt > 0 else None
                    if found is not None:
                        self._adopt(live, found)
                    else:
                        self._refuse(request, _reason(exc))
                    return
                if not is_transient_exchange_error(exc):
                    raise
                logger.warning("%s create_order failed with %s; looking the order up",
                               self.name, type(exc).__name__)  # fmt: skip
                try:
                    found = self._lookup(live)
                except Exception as lookup_exc:
                    if _is_refusal(lookup_exc) or not is_transient_exchange_error(lookup_exc):
                        raise
                    live.in_doubt = True
                    self._remember(live)
                    logger.warning(
                        "%s order in doubt after %s", self.name, type(lookup_exc).__name__
                    )
                    return
                if found is not None:
                    self._adopt(live, found)
                    return
                if attempt < self.retry.max_retries:
                    self._sleep(self.retry.delay_s(attempt, self._rng))
                continue
            self._adopt(live, order)
            return
        raise VenueUnavailable(
            f"{self.name}: create_order failed and the order is not at the venue"
        )

    def _lookup(self, live: _Live) -> dict[str, Any] | None:
        """The venue's order of our client id, or None when the venue says there is none."""
        import ccxt

        for order in self._read(
            "fetch_open_orders", lambda: self.exchange.fetch_open_orders(live.market)
        ):
            if order.get("clientOrderId") == live.client_order_id:
                return order
        try:
            return self._read(
                "fetch_order",
                lambda: self.exchange.fetch_order(
                    None, live.market, {"clientOrderId": live.client_order_id}
                ),
            )
        except ccxt.OrderNotFound:
            return None

    def _remember(self, live: _Live) -> None:
        self._orders[live.client_order_id] = live
        self._since_ms.setdefault(live.market, self._clock_ns() // _MS - 60_000)

    def _adopt(self, live: _Live, order: dict[str, Any]) -> None:
        """The venue has the order: record its id and queue ACCEPTED (or REJECTED)."""
        live.in_doubt = False
        live.venue_order_id = str(order.get("id") or "")
        self._remember(live)
        if live.venue_order_id:
            self._by_venue_id[live.venue_order_id] = live
        ts = _ns(order.get("timestamp"), self._clock_ns())
        if isinstance(order.get("timestamp"), int | float):
            since = int(order["timestamp"])
            self._since_ms[live.market] = min(self._since_ms.get(live.market, since), since)
        if order.get("status") == "rejected":
            live.done = True
            self._queued.append(self._event(live, OrderEventKind.REJECTED, ts, price=live.price,
                                            quantity=live.quantity, reason="VENUE_REJECTED"))  # fmt: skip
            return
        self._queued.append(
            self._event(live, OrderEventKind.ACCEPTED, ts, price=live.price, quantity=live.quantity)
        )

    # -- cancel / modify --------------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> None:
        """Cancel (retried: idempotent); CANCELED follows on a later poll, after any fills."""
        import ccxt

        live = self._orders.get(client_order_id)
        if live is None or live.done:
            self._queued.append(
                OrderEvent(
                    ts=self._clock_ns(), client_order_id=client_order_id,
                    kind=OrderEventKind.CANCEL_REJECTED, venue=self.name, reason="UNKNOWN_ORDER",
                    symbol=live.symbol if live else "",
                )
            )  # fmt: skip
            return
        attempts = 0

        def call() -> Any:
            nonlocal attempts
            attempts += 1
            if live.venue_order_id:
                return self.exchange.cancel_order(live.venue_order_id, live.market)
            return self.exchange.cancel_order(None, live.market, {"clientOrderId": client_order_id})

        try:
            self._read("cancel_order", call)
        except ccxt.OrderNotFound:
            if attempts == 1:  # the first answer: it is not open (filled, or never placed)
                self._queued.append(self._event(live, OrderEventKind.CANCEL_REJECTED,
                                                self._clock_ns(), reason="UNKNOWN_ORDER"))  # fmt: skip
                return
        except Exception as exc:
            if not _is_refusal(exc):
                raise
            self._queued.append(self._event(live, OrderEventKind.CANCEL_REJECTED,
                                            self._clock_ns(), reason=_reason(exc)))  # fmt: skip
            return
        live.cancel_requested = True

    def modify(self, client_order_id: str, price: float, quantity: float) -> None:
        """``edit_order`` where ccxt supports it (else MODIFY_REJECTED ``NOT_SUPPORTED``)."""
        live = self._orders.get(client_order_id)
        has = getattr(self.exchange, "has", {}) or {}
        reason = ""
        if live is None or live.done or not live.venue_order_id:
            reason = "UNKNOWN_ORDER"
        elif not has.get("editOrder"):
            reason = "NOT_SUPPORTED"
        if reason:
            self._queued.append(
                OrderEvent(
                    ts=self._clock_ns(), client_order_id=client_order_id, venue=self.name,
                    kind=OrderEventKind.MODIFY_REJECTED, price=float(price),
                    quantity=float(quantity), reason=reason,
                )
            )  # fmt: skip
            return
        assert live is not None
        otype, side, _, _, _ = self._order_args(live)
        try:
            order = self.exchange.edit_order(
                live.venue_order_id, live.market, otype, side, live.filled + quantity, price
            )
        except Exception as exc:
            if not _is_refusal(exc):
                raise
            self._queued.append(self._event(live, OrderEventKind.MODIFY_REJECTED, self._clock_ns(),
                                            price=price, quantity=quantity, reason=_reason(exc)))  # fmt: skip
            return
        new_id = str(order.get("id") or live.venue_order_id)
        self._by_venue_id[new_id] = live
        live.venue_order_id, live.price, live.quantity = (
            new_id,
            float(price),
            live.filled + quantity,
        )
        self._queued.append(self._event(live, OrderEventKind.UPDATED,
                                        _ns(order.get("timestamp"), self._clock_ns()),
                                        price=float(price), quantity=float(quantity)))  # fmt: skip

    # -- poll -------------------------------------------------------------------------------------

    def poll(self) -> list[OrderEvent]:
        """New outcomes: queued answers, then fills (by time), then terminal states."""
        for live in [o for o in self._orders.values() if o.in_doubt]:
            found = self._lookup(live)
            if found is not None:
                self._adopt(live, found)
            else:
                live.in_doubt, live.done = False, True
                self._queued.append(self._event(live, OrderEventKind.REJECTED, self._clock_ns(),
                                                price=live.price, quantity=live.quantity,
                                                reason="VENUE_UNAVAILABLE"))  # fmt: skip
        events, self._queued = self._queued, []
        live_orders = [o for o in self._orders.values() if not o.done and not o.in_doubt]
        markets = sorted({o.market for o in live_orders})
        # reads first: a failure raises before anything is marked seen, so nothing is lost
        try:
            trades = {m: self._read("fetch_my_trades", lambda m=m: self.exchange.fetch_my_trades(
                m, self._since_ms.get(m))) for m in markets}  # fmt: skip
            open_ids = {m: {str(o["id"]) for o in self._read(
                "fetch_open_orders", lambda m=m: self.exchange.fetch_open_orders(m))} for m in markets}  # fmt: skip
            finals: dict[str, dict[str, Any]] = {}
            for live in live_orders:
                if live.venue_order_id and live.venue_order_id not in open_ids[live.market]:
                    finals[live.client_order_id] = self._read(
                        "fetch_order",
                        lambda live=live: self.exchange.fetch_order(
                            live.venue_order_id, live.market
                        ),
                    )
        except Exception:
            self._queued = events + self._queued
            raise
        fills = []
        for market, rows in trades.items():
            for trade in rows:
                fill = self._fill(trade)
                if fill is not None:
                    fills.append(fill)
                if isinstance(trade.get("timestamp"), int | float):
                    self._since_ms[market] = max(
                        self._since_ms.get(market, 0), int(trade["timestamp"])
                    )
        fills.sort(key=lambda e: e.ts)
        events += fills
        for live in live_orders:
            order = finals.get(live.client_order_id)
            if order is not None:
                terminal = self._terminal(live, order)
                if terminal is not None:
                    events.append(terminal)
            if live.filled >= live.quantity - _EPS:
                live.done = True
        for live in [o for o in self._orders.values() if o.done]:
            self._by_venue_id.pop(live.venue_order_id, None)
        return events

    def _fill(self, trade: dict[str, Any]) -> OrderEvent | None:
        """A ccxt trade of one of our live orders as a FILLED event (None: seen, or not ours)."""
        trade_id = str(trade.get("id"))
        live = self._by_venue_id.get(str(trade.get("order")))
        if live is None or trade_id in self._seen_trades:
            return None
        self._seen_trades.add(trade_id)
        return self._fill_event(live.client_order_id, live.symbol, live.venue_order_id, trade, live)

    def _fill_event(
        self, client_order_id: str, symbol: str, venue_order_id: str, trade: dict[str, Any],
        live: _Live | None = None,
    ) -> OrderEvent:  # fmt: skip
        price = _float(trade.get("price"))
        quantity = _float(trade.get("amount"), 0.0)
        fee = 0.0
        fee_info = trade.get("fee") or {}
        cost = _float(fee_info.get("cost"), 0.0)
        currency = str(fee_info.get("currency") or "")
        market = str(trade.get("symbol") or "")
        base = market.partition("/")[0]
        if currency == base and math.isfinite(price):
            fee = cost * price
        else:  # quote currency, or another asset (BNB) passed through as its amount
            fee = cost
        taker_or_maker = trade.get("takerOrMaker")
        liquidity = {"maker": Liquidity.MAKER, "taker": Liquidity.TAKER}.get(
            taker_or_maker, Liquidity.NONE
        )
        if live is not None:
            live.filled += quantity
        return OrderEvent(
            ts=_ns(trade.get("timestamp"), self._clock_ns()), client_order_id=client_order_id,
            kind=OrderEventKind.FILLED, symbol=symbol, venue=self.name,
            venue_order_id=venue_order_id, price=price, quantity=quantity, fee=fee,
            liquidity=liquidity, trade_id=trade_id_of(trade),
        )  # fmt: skip

    def _terminal(self, live: _Live, order: dict[str, Any]) -> OrderEvent | None:
        """CANCELED / EXPIRED / REJECTED for an order that left the book, once its fills are in."""
        status = order.get("status")
        if status in ("open", "closed", None):
            return None
        if _float(order.get("filled"), 0.0) > live.filled + _EPS:
            return None  # fills not yet seen: wait for them
        ts = (
            max(
                _ns(order.get("lastUpdateTimestamp") or order.get("timestamp"), 0),
                _ns(order.get("lastTradeTimestamp"), 0),
            )
            or self._clock_ns()
        )
        leaves = max(0.0, live.quantity - live.filled)
        live.done = True
        if status == "rejected":
            return self._event(live, OrderEventKind.REJECTED, ts, price=live.price,
                               quantity=live.quantity, reason="VENUE_REJECTED")  # fmt: skip
        ioc = live.order_type in (OrderType.IOC, OrderType.FOK, OrderType.MARKET)
        if status == "expired" and not ioc:
            return self._event(live, OrderEventKind.EXPIRED, ts, price=live.price,
                               quantity=leaves, reason="EXPIRED")  # fmt: skip
        reason = (
            "REQUESTED" if live.cancel_requested else ("IOC_REMAINDER" if ioc else "VENUE_CANCELED")
        )
        return self._event(live, OrderEventKind.CANCELED, ts, price=live.price, quantity=leaves,
                           reason=reason)  # fmt: skip

    # -- views ------------------------------------------------------------------------------------

    def advance_to(self, ts: int) -> None:
        """Real time moves by itself: nothing to do."""

    def quote(self, symbol: str) -> Quote | None:
        """Top of book from ``fetch_ticker`` (None when the ticker has neither side)."""
        ticker = self._read("fetch_ticker", lambda: self.exchange.fetch_ticker(self.market(symbol)))
        bid, ask = _float(ticker.get("bid")), _float(ticker.get("ask"))
        if math.isnan(bid) and math.isnan(ask):
            return None
        return Quote(
            ts=_ns(ticker.get("timestamp"), self._clock_ns()), symbol=symbol, bid=bid,
            bid_size=_float(ticker.get("bidVolume"), 0.0) if not math.isnan(bid) else 0.0,
            ask=ask, ask_size=_float(ticker.get("askVolume"), 0.0) if not math.isnan(ask) else 0.0,
        )  # fmt: skip

    def open_orders(self) -> list[VenueOrder]:
        """Every open order of our symbols at the venue (ours or not: reconciliation decides)."""
        out = []
        for symbol in self.symbols:
            market = self.market(symbol)
            for o in self._read(
                "fetch_open_orders", lambda m=market: self.exchange.fetch_open_orders(m)
            ):
                out.append(
                    VenueOrder(
                        client_order_id=str(o.get("clientOrderId") or ""), symbol=symbol,
                        side=Side.BUY if o.get("side") == "buy" else Side.SELL,
                        price=_float(o.get("price")), quantity=_float(o.get("remaining"), 0.0),
                        venue_order_id=str(o.get("id") or ""),
                    )
                )  # fmt: skip
        return out

    def positions(self) -> dict[str, float]:
        """Total balance of each symbol's base asset (spot holdings, whatever their origin)."""
        balance = self._read("fetch_balance", self.exchange.fetch_balance)
        totals = balance.get("total") or {}
        return {s: _float(totals.get(self.market(s).split("/")[0]), 0.0) for s in self.symbols}

    def fills_since(self, ts: int) -> list[OrderEvent]:
        """Every fill of our symbols at or after ``ts`` (ns), with client ids (reconciliation)."""
        out = []
        for symbol in self.symbols:
            market = self.market(symbol)
            rows = self._read("fetch_my_trades",
                              lambda m=market: self.exchange.fetch_my_trades(m, ts // _MS))  # fmt: skip
            for trade in rows:
                venue_id = str(trade.get("order"))
                live = self._by_venue_id.get(venue_id)
                cid = live.client_order_id if live else self._client_id_of(market, venue_id)
                out.append(self._fill_event(cid, symbol, venue_id, trade))
        out.sort(key=lambda e: e.ts)
        return out

    def _client_id_of(self, market: str, venue_order_id: str) -> str:
        for live in self._orders.values():
            if live.venue_order_id == venue_order_id:
                return live.client_order_id
        order = self._read("fetch_order", lambda: self.exchange.fetch_order(venue_order_id, market))
        return str(order.get("clientOrderId") or "")


def trade_id_of(trade: Mapping[str, Any]) -> str:
    """The venue's trade id of a ccxt trade (what FILLED events carry)."""
    return str(trade.get("id") or "")
