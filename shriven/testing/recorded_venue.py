"""A stand-in for a ccxt exchange's *trading* calls, replaying a recorded session.

A fixture is one JSON file in ccxt's unified structures (Binance-shaped)::

    {"exchange": "binance",
     "tickers": {"BTC/USDT": ticker, ...},
     "balance": balance,
     "orders": [order, ...],        # create_order responses, matched by clientOrderId
     "resting": [order, ...],       # orders already at the venue when the session starts
     "steps": [{"orders": [partial order, ...], "trades": [trade, ...], "balance": balance}, ...]}

``create_order`` answers with the recorded order of the request's ``clientOrderId`` (and checks
that symbol, side, type, amount and price match the recording) and puts it on the venue;
:meth:`RecordedVenueExchange.step` then plays the next recorded step: order updates (merged by
``id``: fills, cancels) and new trades, as if the venue moved on; updates and trades of orders
this run never placed are skipped. Reads answer from that state
the way Binance does: ``fetch_open_orders`` (status ``open``), ``fetch_order`` by id or
``clientOrderId`` (else ``OrderNotFound``), ``fetch_my_trades`` (timestamp >= ``since``),
``cancel_order`` (``open`` -> ``canceled``, else ``OrderNotFound``), ``fetch_balance``,
``fetch_ticker``. A second ``create_order`` with the clientOrderId of a live order raises
``InvalidOrder`` ("Duplicate order sent."), as Binance does.

Failures are scripted per method: :meth:`fail` raises before the call acts (the request never
reached the venue); :meth:`fail_after` lets the call act and then raises (the venue did it, the
answer was lost: the timed-out ``create_order`` that did place the order). Every call is
recorded in :attr:`calls`.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RecordedVenueExchange", "VenueCall"]


@dataclass(frozen=True)
class VenueCall:
    """One call made to the fake: method name and its arguments."""

    method: str
    args: tuple[Any, ...]


@dataclass
class RecordedVenueExchange:
    """Replays a recorded trading session; quacks like the trading parts of ``ccxt.Exchange``."""

    id: str = "binance"
    tickers: dict[str, dict[str, Any]] = field(default_factory=dict)
    balance: dict[str, Any] = field(default_factory=dict)
    #: clientOrderId -> recorded create_order response
    recorded_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: venue order id -> the order as the venue holds it now
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    calls: list[VenueCall] = field(default_factory=list)
    has: dict[str, bool] = field(
        default_factory=lambda: {"createOrder": True, "cancelOrder": True, "editOrder": False}
    )
    _before: dict[str, deque[BaseException]] = field(default_factory=dict)
    _after: dict[str, deque[BaseException]] = field(default_factory=dict)
    _step: int = 0

    @classmethod
    def from_fixture(cls, path: str | Path) -> RecordedVenueExchange:
        """The fake serving one recorded session file."""
        data = json.loads(Path(path).read_text())
        fake = cls(
            id=data["exchange"],
            tickers=data.get("tickers", {}),
            balance=data.get("balance", {}),
            recorded_orders={o["clientOrderId"]: o for o in data.get("orders", [])},
            steps=data.get("steps", []),
        )
        for order in data.get("resting", []):
            fake.orders[order["id"]] = copy.deepcopy(order)
        return fake

    # -- scripting --------------------------------------------------------------------------------

    def fail(
        self, method: str, errors: BaseException | Sequence[BaseException], times: int = 1
    ) -> None:
        """The next calls of ``method`` raise before acting (one error ``times`` times, or a list)."""
        _queue(self._before, method, errors, times)

    def fail_after(
        self, method: str, errors: BaseException | Sequence[BaseException], times: int = 1
    ) -> None:
        """The next calls of ``method`` act, then raise (the answer was lost on the way back)."""
        _queue(self._after, method, errors, times)

    def step(self) -> bool:
        """Play the next recorded step; False when none is left."""
        if self._step >= len(self.steps):
            return False
        step = self.steps[self._step]
        self._step += 1
        for update in step.get("orders", []):
            if update["id"] in self.orders:  # orders never placed in this run do not move
                self.orders[update["id"]].update(copy.deepcopy(update))
        self.trades.extend(
            copy.deepcopy(t) for t in step.get("trades", []) if t["order"] in self.orders
        )
        if "balance" in step:
            self.balance = copy.deepcopy(step["balance"])
        return True

    def calls_of(self, method: str) -> list[VenueCall]:
        """The recorded calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    # -- the ccxt surface -------------------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        type: str,  # noqa: A002 - ccxt's name
        side: str,
        amount: float,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place the recorded order of ``params['clientOrderId']``."""
        import ccxt

        params = dict(params or {})
        self._enter("create_order", symbol, type, side, amount, price, params)
        cid = params.get("clientOrderId")
        recorded = self.recorded_orders.get(cid)
        if recorded is None:
            raise ccxt.InvalidOrder(f"{self.id} has no recorded order {cid!r}")
        wanted = (recorded["symbol"], recorded["type"], recorded["side"], recorded["amount"])
        if wanted != (symbol, type, side, amount) or (
            type != "market" and recorded["price"] != price
        ):
            raise ccxt.InvalidOrder(f"request differs from the recording of {cid!r}")
        if any(
            o.get("clientOrderId") == cid and o["status"] == "open" for o in self.orders.values()
        ):
            raise ccxt.InvalidOrder(f'{self.id} {{"code":-2010,"msg":"Duplicate order sent."}}')
        self.orders[recorded["id"]] = copy.deepcopy(recorded)
        return self._leave("create_order", copy.deepcopy(recorded))

    def cancel_order(
        self,
        id: str | None,
        symbol: str | None = None,
        params: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> dict[str, Any]:
        """Cancel an open order by id or ``params['clientOrderId']``."""
        import ccxt

        self._enter("cancel_order", id, symbol, dict(params or {}))
        order = self._find(id, params)
        if order is None or order["status"] != "open":
            raise ccxt.OrderNotFound(f'{self.id} {{"code":-2011,"msg":"Unknown order sent."}}')
        order["status"] = "canceled"
        return self._leave("cancel_order", copy.deepcopy(order))

    def fetch_order(
        self,
        id: str | None,
        symbol: str | None = None,
        params: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> dict[str, Any]:
        """The order by id or ``params['clientOrderId']``."""
        import ccxt

        self._enter("fetch_order", id, symbol, dict(params or {}))
        order = self._find(id, params)
        if order is None:
            raise ccxt.OrderNotFound(f'{self.id} {{"code":-2013,"msg":"Order does not exist."}}')
        return self._leave("fetch_order", copy.deepcopy(order))

    def fetch_open_orders(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Open orders of ``symbol``, oldest first."""
        self._enter("fetch_open_orders", symbol)
        rows = [
            o for o in self.orders.values()
            if o["status"] == "open" and (symbol is None or o["symbol"] == symbol)
        ]  # fmt: skip
        rows.sort(key=lambda o: o["timestamp"])
        return self._leave("fetch_open_orders", copy.deepcopy(rows))

    def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Our trades of ``symbol`` at or after ``since`` (ms), oldest first, at most ``limit``."""
        self._enter("fetch_my_trades", symbol, since, limit)
        rows = [
            t for t in self.trades
            if (symbol is None or t["symbol"] == symbol) and (since is None or t["timestamp"] >= since)
        ]  # fmt: skip
        rows.sort(key=lambda t: t["timestamp"])
        return self._leave("fetch_my_trades", copy.deepcopy(rows[:limit] if limit else rows))

    def fetch_balance(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The recorded balance as it stands."""
        self._enter("fetch_balance")
        return self._leave("fetch_balance", copy.deepcopy(self.balance))

    def fetch_ticker(self, symbol: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The recorded ticker of ``symbol``."""
        import ccxt

        self._enter("fetch_ticker", symbol)
        if symbol not in self.tickers:
            raise ccxt.BadSymbol(f"{self.id} does not have market symbol {symbol}")
        return self._leave("fetch_ticker", copy.deepcopy(self.tickers[symbol]))

    # -- internals --------------------------------------------------------------------------------

    def _find(self, id: str | None, params: Mapping[str, Any] | None) -> dict[str, Any] | None:  # noqa: A002
        if id is not None:
            return self.orders.get(str(id))
        cid = (params or {}).get("clientOrderId")
        for order in self.orders.values():
            if cid is not None and order.get("clientOrderId") == cid:
                return order
        return None

    def _enter(self, method: str, *args: Any) -> None:
        self.calls.append(VenueCall(method, args))
        queue = self._before.get(method)
        if queue:
            raise queue.popleft()

    def _leave(self, method: str, result: Any) -> Any:
        queue = self._after.get(method)
        if queue:
            raise queue.popleft()
        return result


def _queue(
    table: dict[str, deque[BaseException]],
    method: str,
    errors: BaseException | Sequence[BaseException],
    times: int,
) -> None:
    queue = table.setdefault(method, deque())
    if isinstance(errors, BaseException):
        queue.extend([errors] * times)
    else:
        queue.extend(errors)
