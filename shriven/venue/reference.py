"""Plain-Python reference of the simulated venue's matching rules, for tests and benchmarks.

Implements the rules of ``shriven.venue.simulated`` (same clock, latencies, queue and cancel
models, snapshot handling, fills) for LIMIT orders and cancels, with dicts and lists instead of
numba kernels, and drives the re-quoting strategy of ``SimulatedVenue.run_requote``. Tests hold
the two to identical fills; the benchmark times it as the pure-Python baseline.
"""

from __future__ import annotations

import numpy as np

from shriven.venue import _kernels as k
from shriven.venue.simulated import _decimal_grid

__all__ = ["reference_requote"]


class _Book:
    def __init__(self) -> None:
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}

    def apply(self, kind: int, side: int, tick: int, qty: float) -> None:
        if kind == k.FEED_SNAPSHOT_START:
            self.bids.clear()
            self.asks.clear()
        levels = self.bids if side == 1 else self.asks
        if qty > 0.0:
            levels[tick] = qty
        else:
            levels.pop(tick, None)

    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None


class _Order:
    __slots__ = ("ahead", "buy", "leaves", "level", "oid", "tick", "traded")

    def __init__(self, oid: int, buy: bool, tick: int, leaves: float, ahead: float) -> None:
        self.oid, self.buy, self.tick, self.leaves = oid, buy, tick, leaves
        self.ahead = self.level = ahead
        self.traded = 0.0


def reference_requote(
    rows: np.ndarray,
    *,
    feed_latency_ns: int,
    order_latency_ns: int,
    response_latency_ns: int,
    tick_size: float,
    lot_size: float,
    maker_fee: float,
    taker_fee: float,
    proportional: bool,
    buy: bool,
    quantity: float,
) -> list[tuple[int, int, float, float, int]]:
    """Replay ``FEED_DTYPE`` rows with the re-quoting strategy; return the fills.

    Each fill as ``(exchange ts, order id, price, quantity, liquidity)``.
    """
    ts = rows["ts"].tolist()
    tick_col = rows["tick"].tolist()
    qty_col = rows["qty"].tolist()
    kind_col = rows["kind"].tolist()
    side_col = rows["side"].tolist()
    n = len(ts)
    exchange, local = _Book(), _Book()
    orders: list[_Order] = []
    requests: list[tuple[int, int, int, int]] = []  # (arrival, action, id, tick)
    head = 0
    fills: list[tuple[int, int, float, float, int]] = []
    tolerance = 1e-9 * lot_size
    in_snapshot = False
    xcur = lcur = 0
    now = ts[0] - 1 if n else 0
    quote_id = 0

    units, scale = _decimal_grid(tick_size)

    def price_of(tick: int) -> float:
        return tick * units / scale

    def fill(t: int, order: _Order, qty: float) -> bool:
        fills.append((t, order.oid, price_of(order.tick), qty, k.L_MAKER))
        order.leaves -= qty
        if order.leaves <= tolerance:
            orders.remove(order)
            return True
        return False

    def on_level(order: _Order, new: float) -> None:
        old, ahead = order.level, order.ahead
        if new < old:
            traded = min(order.traded, old - new)
            canceled = old - new - traded
            rest = old - traded
            if canceled > 0.0 and proportional and rest > 0.0:
                ahead -= canceled * ahead / rest
        if ahead > new:
            ahead = new
        order.ahead = ahead if ahead > 0.0 else 0.0
        order.level = new
        order.traded = 0.0

    def check_cross(t: int) -> None:
        bid, ask = exchange.best_bid(), exchange.best_ask()
        for order in list(orders):
            if (order.buy and ask is not None and ask <= order.tick) or (
                not order.buy and bid is not None and bid >= order.tick
            ):
                fill(t, order, order.leaves)

    def end_snapshot(t: int) -> None:
        nonlocal in_snapshot
        in_snapshot = False
        for order in orders:
            levels = exchange.bids if order.buy else exchange.asks
            on_level(order, levels.get(order.tick, 0.0))
        check_cross(t)

    def exchange_row(r: int) -> None:
        nonlocal in_snapshot
        t, kind, tick, z = ts[r], kind_col[r], tick_col[r], qty_col[r]
        if kind == k.FEED_TRADE:
            if in_snapshot:
                end_snapshot(t)
            for order in list(orders):
                q = 0.0
                if (order.buy and tick < order.tick) or (not order.buy and tick > order.tick):
                    q = order.leaves
                elif tick == order.tick:
                    order.traded += z
                    if z > order.ahead:
                        q = min(order.leaves, z - order.ahead)
                        order.ahead = 0.0
                    else:
                        order.ahead -= z
                if q > 0.0:
                    fill(t, order, q)
            return
        if kind == k.FEED_SNAPSHOT_START:
            in_snapshot = True
        elif kind == k.FEED_BOOK and in_snapshot:
            end_snapshot(t)
        exchange.apply(kind, side_col[r], tick, z)
        if not in_snapshot and orders:
            for order in orders:
                if order.buy == (side_col[r] == 1) and order.tick == tick:
                    on_level(order, z if z > 0.0 else 0.0)
            check_cross(t)

    def request(arrival: int, action: int, oid: int, tick: int) -> None:
        if in_snapshot:
            end_snapshot(arrival)
        if action == k.A_CANCEL:
            for order in orders:
                if order.oid == oid:
                    orders.remove(order)
                    break
            return
        leaves = quantity
        if buy:
            ask = exchange.best_ask()
            if ask is not None and ask <= tick:
                for level in sorted(exchange.asks):
                    if level > tick or leaves <= 0.0:
                        break
                    q = min(leaves, exchange.asks[level])
                    fills.append((arrival, oid, price_of(level), q, k.L_TAKER))
                    leaves -= q
                    leaves = 0.0 if leaves <= tolerance else leaves
        else:
            bid = exchange.best_bid()
            if bid is not None and bid >= tick:
                for level in sorted(exchange.bids, reverse=True):
                    if level < tick or leaves <= 0.0:
                        break
                    q = min(leaves, exchange.bids[level])
                    fills.append((arrival, oid, price_of(level), q, k.L_TAKER))
                    leaves -= q
                    leaves = 0.0 if leaves <= tolerance else leaves
        if leaves > 0.0:
            levels = exchange.bids if buy else exchange.asks
            orders.append(_Order(oid, buy, tick, leaves, levels.get(tick, 0.0)))

    def advance(until: int) -> None:
        nonlocal xcur, lcur, head, now
        while True:
            xt = ts[xcur] if xcur < n else None
            rt = requests[head][0] if head < len(requests) else None
            if xt is not None and (rt is None or xt <= rt):
                if xt > until:
                    break
                exchange_row(xcur)
                xcur += 1
            elif rt is not None:
                if rt > until:
                    break
                request(*requests[head])
                head += 1
            else:
                break
        while lcur < n and ts[lcur] + feed_latency_ns <= until:
            if kind_col[lcur] != k.FEED_TRADE:
                local.apply(kind_col[lcur], side_col[lcur], tick_col[lcur], qty_col[lcur])
            lcur += 1
        now = max(now, until)

    while lcur < n:
        advance(max(ts[lcur] + feed_latency_ns, now))
        touch = local.best_bid() if buy else local.best_ask()
        if touch is None:
            continue
        if quote_id:
            requests.append((now + order_latency_ns, k.A_CANCEL, quote_id, 0))
        quote_id += 1
        requests.append((now + order_latency_ns, k.A_SUBMIT, quote_id, touch))
    del maker_fee, taker_fee, response_latency_ns  # fees/response times do not change fills
    return fills
