"""A ccxt-shaped exchange over the synthetic market, for end-to-end tests of live trading.

The live path (``CcxtSource`` for trades, ``CcxtVenue`` for orders) only ever talks to a ccxt
exchange object; this one answers the calls it makes with ccxt's unified structures, from the
synthetic exchange's session and a clock the test moves. Markets are named by the lake symbol.

Matching, simply and deterministically: the touch is the last trade price ± one tick; a market
order, or a limit at or through the touch, fills at once at the touch (taker); a resting limit
fills at its price (maker) once a later trade prints at or through it. Fees are charged in the
quote currency. Nothing here is a venue model for research: that is ``shriven.venue``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import ccxt
import numpy as np

from shriven.config import Settings
from shriven.marketdata.synthetic import SyntheticExchange, session_window

__all__ = ["SimulatedCcxtExchange"]

_MS = 1_000_000


class SimulatedCcxtExchange:
    """Quacks like the parts of ``ccxt.Exchange`` that ShrivenQuant's live path calls."""

    id = "shriven-sim"
    has: Mapping[str, bool] = {"fetchTrades": True, "fetchOHLCV": False, "editOrder": False}

    def __init__(
        self, settings: Settings, day, clock_ns: Callable[[], int], *, maker_fee: float = 0.0, taker_fee: float = 0.0005
    ) -> None:
        open_ns, close_ns = session_window(settings, day)
        batch = SyntheticExchange(settings).fetch(open_ns, close_ns, settings.universe)
        t = batch.trades
        self._trades: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        symbols = t.column("symbol").to_numpy(zero_copy_only=False)
        for sym in settings.universe:
            mask = symbols == sym
            ts = t.column("ts").cast("int64").to_numpy()[mask]
            order = np.argsort(ts, kind="stable")
            self._trades[sym] = (
                ts[order], t.column("price").to_numpy()[mask][order], t.column("size").to_numpy()[mask][order],
                t.column("side").to_numpy()[mask][order], t.column("trade_id").to_numpy()[mask][order],
            )  # fmt: skip
        self._tick = {s.symbol: s.tick_size for s in settings.symbols}
        self._clock = clock_ns
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self._ids = itertools.count(1)
        self._orders: dict[str, dict[str, Any]] = {}
        self._fills: list[dict[str, Any]] = []
        self._position: dict[str, float] = {}
        self._checked: dict[str, int] = {}
        self.calls: list[str] = []

    # -- market data ------------------------------------------------------------------------------

    def fetch_trades(self, symbol: str, since: int | None = None, limit: int | None = None, params=None) -> list[dict]:
        """Public trades at or after ``since`` (ms) that have happened by now."""
        self.calls.append("fetch_trades")
        ts, price, size, side, ids = self._known(symbol)
        now = self._clock()
        a = 0 if since is None else int(np.searchsorted(ts, since * _MS, "left"))
        b = int(np.searchsorted(ts, now, "right"))
        if limit is not None:
            b = min(b, a + limit)
        return [
            {"id": str(ids[i]), "timestamp": int(ts[i] // _MS), "symbol": symbol, "price": float(price[i]),
             "amount": float(size[i]), "side": "buy" if side[i] > 0 else "sell", "order": None}
            for i in range(a, b)
        ]  # fmt: skip

    def fetch_ticker(self, symbol: str, params=None) -> dict[str, Any]:
        """Last price ± one tick as the touch."""
        self.calls.append("fetch_ticker")
        last = self._last(symbol)
        tick = self._tick[symbol]
        if last is None:
            return {"symbol": symbol, "bid": None, "ask": None, "timestamp": self._clock() // _MS}
        return {"symbol": symbol, "bid": round(last - tick, 10), "ask": round(last + tick, 10), "bidVolume": 100.0,
                "askVolume": 100.0, "last": last, "timestamp": self._clock() // _MS}  # fmt: skip

    # -- trading ----------------------------------------------------------------------------------

    def create_order(self, symbol: str, type: str, side: str, amount: float, price=None, params=None) -> dict:  # noqa: A002
        """Place an order; marketable ones fill at once."""
        self.calls.append("create_order")
        self._match()
        client_id = (params or {}).get("clientOrderId", "")
        if any(o["clientOrderId"] == client_id and o["status"] == "open" for o in self._orders.values()):
            raise ccxt.InvalidOrder("Duplicate order sent.")
        if symbol not in self._trades:
            raise ccxt.BadSymbol(f"unknown market {symbol}")
        oid = str(next(self._ids))
        now_ms = self._clock() // _MS
        order = {"id": oid, "clientOrderId": client_id, "symbol": symbol, "type": type, "side": side,
                 "price": price, "amount": float(amount), "filled": 0.0, "remaining": float(amount),
                 "status": "open", "timestamp": now_ms, "lastTradeTimestamp": None, "average": None}  # fmt: skip
        self._orders[oid] = order
        ticker = self.fetch_ticker(symbol)
        touch = ticker["ask"] if side == "buy" else ticker["bid"]
        if touch is not None and (
            type == "market" or (side == "buy" and price >= touch) or (side == "sell" and price <= touch)
        ):
            self._fill(order, touch, "taker")
        return dict(order)

    def cancel_order(self, id: str | None, symbol: str | None = None, params=None) -> dict:  # noqa: A002
        """Cancel an open order (``OrderNotFound`` when it is not open)."""
        self.calls.append("cancel_order")
        self._match()
        order = self._find(id, params)
        if order is None or order["status"] != "open":
            raise ccxt.OrderNotFound(f"order {id} not open")
        order["status"] = "canceled"
        return dict(order)

    def fetch_order(self, id: str | None, symbol: str | None = None, params=None) -> dict:  # noqa: A002
        """One order by id or clientOrderId."""
        self.calls.append("fetch_order")
        self._match()
        order = self._find(id, params)
        if order is None:
            raise ccxt.OrderNotFound(f"order {id or params} not found")
        return dict(order)

    def fetch_open_orders(self, symbol: str | None = None, since=None, limit=None, params=None) -> list[dict]:
        """Open orders of a market."""
        self.calls.append("fetch_open_orders")
        self._match()
        return [dict(o) for o in self._orders.values() if o["status"] == "open" and symbol in (None, o["symbol"])]

    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None, limit=None, params=None) -> list[dict]:
        """Our fills at or after ``since`` (ms)."""
        self.calls.append("fetch_my_trades")
        self._match()
        return [dict(f) for f in self._fills if symbol in (None, f["symbol"]) and (since is None or f["timestamp"] >= since)]

    def fetch_balance(self, params=None) -> dict[str, Any]:
        """Positions as base-asset balances."""
        self.calls.append("fetch_balance")
        self._match()
        return {"total": dict(self._position), "free": dict(self._position), "used": {}}

    # -- internals --------------------------------------------------------------------------------

    def _known(self, symbol: str):
        if symbol not in self._trades:
            raise ccxt.BadSymbol(f"unknown market {symbol}")
        return self._trades[symbol]

    def _last(self, symbol: str) -> float | None:
        ts, price, *_ = self._known(symbol)
        i = int(np.searchsorted(ts, self._clock(), "right"))
        return float(price[i - 1]) if i else None

    def _find(self, id: str | None, params) -> dict[str, Any] | None:  # noqa: A002
        if id is not None:
            return self._orders.get(str(id))
        client_id = (params or {}).get("clientOrderId")
        return next((o for o in self._orders.values() if o["clientOrderId"] == client_id), None)

    def _fill(self, order: dict[str, Any], price: float, liquidity: str) -> None:
        qty = order["remaining"]
        now_ms = self._clock() // _MS
        rate = self.taker_fee if liquidity == "taker" else self.maker_fee
        self._fills.append({
            "id": f"f{len(self._fills) + 1}", "order": order["id"], "symbol": order["symbol"], "side": order["side"],
            "price": price, "amount": qty, "timestamp": now_ms, "takerOrMaker": liquidity,
            "fee": {"cost": price * qty * rate, "currency": "USD"},
        })  # fmt: skip
        order.update(filled=order["amount"], remaining=0.0, status="closed", average=price, lastTradeTimestamp=now_ms)
        signed = qty if order["side"] == "buy" else -qty
        self._position[order["symbol"]] = self._position.get(order["symbol"], 0.0) + signed

    def _match(self) -> None:
        """Resting limits fill once a trade prints at or through their price."""
        now = self._clock()
        for order in self._orders.values():
            if order["status"] != "open" or order["type"] != "limit":
                continue
            ts, price, *_ = self._trades[order["symbol"]]
            a = int(np.searchsorted(ts, order["timestamp"] * _MS, "right"))
            b = int(np.searchsorted(ts, now, "right"))
            seen = price[a:b]
            if seen.size and (
                (order["side"] == "buy" and seen.min() <= order["price"])
                or (order["side"] == "sell" and seen.max() >= order["price"])
            ):
                self._fill(order, float(order["price"]), "maker")
