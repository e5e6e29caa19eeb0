"""The simulated venue: our orders against a historical (or synthetic) L2 + trades feed.

Used by backtests (a replay of the lake) and paper trading (the live feed). One instrument per
venue object. The feed is the symbol's BOOK and TRADES rows merged in exchange-time order
(:class:`VenueFeed`); :class:`SimulatedVenue` runs it on one clock (ns) shared by the exchange
and the strategy, with latencies between them.

Latency (``VenueConfig``)
    A feed event at exchange time ``e`` is seen by the strategy at ``e + feed_latency_ns`` (its
    view of the book, :meth:`SimulatedVenue.best_bid` etc., lags by that much). A request sent
    at ``t`` reaches the matching engine at ``t + order_latency_ns``; an outcome made there at
    ``x`` (ack, reject, fill, cancel) is seen at ``x + response_latency_ns`` (default: the order
    latency, so an order sent at ``t`` is acknowledged at ``t + 2 * order_latency_ns``). The
    engine applies feed rows of time ``<= a`` before a request arriving at ``a``; at equal
    exchange times trades come before book rows (the book row then shows the level after the
    trade).

Matching
    Our orders never change the historical book (the standard assumption of replay backtests:
    our size is small against the market's, and the feed cannot show how others would have
    reacted to it). So two of our orders may take the same liquidity, and our resting orders do
    not see each other in the queue.

    * A marketable order (MARKET, or a limit at or through the opposite touch) walks the
      opposite side of the book in force at its arrival, level by level, one fill per level at
      the level's price, ``TAKER``; the remainder of a LIMIT rests, of IOC/MARKET is canceled
      (``IOC_REMAINDER``). FOK fills entirely or is rejected; POST_ONLY that would cross is
      rejected.
    * A resting order joins the BACK of its level: queue ahead = the level's displayed size at
      arrival (0 inside the spread). A trade at its price first consumes the queue ahead; what
      exceeds it fills the order (partial fills allowed), ``MAKER``, at the order's price. A
      trade through its price (below a buy, above a sell) fills the whole order, and so does the
      opposite touch reaching its price (the market moved through it).
    * Cancel model, applied when the level's displayed size shrinks: the decrease net of the
      volume traded at that price since the level's last update counts as cancels.
      ``risk_averse`` (hftbacktest's RiskAdverseQueueModel): cancels are behind us; the queue
      ahead only shrinks to the new level size when it exceeds it. ``proportional`` (its
      ProbQueueModel with a linear probability): cancels are spread uniformly over the level,
      so ``c`` canceled remove ``c * ahead / level`` from the queue ahead. Additions join behind.
      After a snapshot each order looks at its level again the same way.
    * Validation on arrival: bad tick/lot/size/side/type (found when sending, reported by the
      exchange), duplicate id, no free order slot; each a ``REJECTED`` event with its reason.
      Cancel/modify of an order not resting: ``CANCEL_REJECTED``/``MODIFY_REJECTED``
      ``UNKNOWN_ORDER``. Modify: same price and a smaller quantity keeps the queue place,
      otherwise the order re-enters at the back of its new level (and may trade at once).

Fees: ``fee = price * quantity * rate`` per fill (taker or maker rate; negative = rebate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shriven.book.orders import (
    Action,
    CancelReason,
    EventKind,
    Liquidity,
    OrderType,
    RejectReason,
    Side,
)
from shriven.lake.writer import Lake
from shriven.marketdata.source import MarketBatch
from shriven.venue import _kernels as k
from shriven.venue._kernels import EVENT_DTYPE, FEED_DTYPE
from shriven.venue.config import InstrumentRules, VenueConfig

__all__ = [
    "EVENT_DTYPE",
    "FEED_DTYPE",
    "Account",
    "QuoteResult",
    "SimulatedVenue",
    "VenueEvent",
    "VenueFeed",
]

#: Ticks of room on each side of the feed's price range in the dense book window.
_MARGIN_TICKS = 64
_GRID_TOLERANCE = 1e-6
_QUEUE_MODELS = {"risk_averse": k.QUEUE_RISK_AVERSE, "proportional": k.QUEUE_PROPORTIONAL}
_SUPPORTED_TYPES = {int(t) for t in OrderType}


def _decimal_grid(step: float) -> tuple[int, int]:
    """A tick size as ``(units, 10**d)`` with ``step == units / 10**d`` (d <= 12)."""
    for d in range(13):
        scaled = step * 10**d
        if abs(round(scaled) - scaled) < 1e-9 * max(1.0, scaled):
            return round(scaled), 10**d
    return max(1, round(step * 10**12)), 10**12


# -- feed -----------------------------------------------------------------------------------------


def _ns(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _ticks(price: np.ndarray, tick_size: float, what: str) -> np.ndarray:
    exact = np.asarray(price, dtype=np.float64) / tick_size
    ticks = np.rint(exact)
    off = ~(np.abs(exact - ticks) <= _GRID_TOLERANCE)
    if off.any():
        first = float(np.asarray(price)[np.flatnonzero(off)[0]])
        raise ValueError(
            f"{int(off.sum())} {what} price(s) off the tick grid {tick_size} (first {first!r})"
        )
    return ticks.astype(np.int64)


class VenueFeed:
    """One symbol's BOOK and TRADES rows merged in exchange-time order, as ``FEED_DTYPE`` rows.

    Prices are in ticks of ``tick_size``. At equal times trades come first, then book rows in
    seq order. ``base_tick``/``n_ticks`` give the dense price window the books use (the feed's
    price range plus a margin).
    """

    def __init__(self, rows: np.ndarray, symbol: str, tick_size: float) -> None:
        if rows.dtype != FEED_DTYPE:
            raise TypeError(f"feed rows must have FEED_DTYPE, not {rows.dtype}")
        rows = np.ascontiguousarray(rows)
        if rows.size and np.any(np.diff(rows["ts"]) < 0):
            raise ValueError("feed rows must be in time order")
        if rows.size and np.any(rows["qty"] < 0):
            raise ValueError("feed sizes must be >= 0")
        self.rows = rows
        self.symbol = symbol
        self.tick_size = float(tick_size)
        lo = int(rows["tick"].min()) if rows.size else 0
        hi = int(rows["tick"].max()) if rows.size else 0
        self.base_tick = lo - _MARGIN_TICKS
        self.n_ticks = hi - lo + 1 + 2 * _MARGIN_TICKS

    def __len__(self) -> int:
        return int(self.rows.size)

    @classmethod
    def from_tables(
        cls, trades: pa.Table, book: pa.Table, symbol: str, tick_size: float
    ) -> VenueFeed:
        """Build from TRADES and BOOK tables (other symbols' rows are ignored)."""
        trades = trades.filter(pc.equal(trades.column("symbol"), symbol))
        book = book.filter(pc.equal(book.column("symbol"), symbol))
        b_order = np.lexsort((_ns(book.column("ts")), book.column("seq").to_numpy()))
        t_ts = _ns(trades.column("ts"))
        t_order = np.argsort(t_ts, kind="stable")
        nt, nb = trades.num_rows, book.num_rows
        rows = np.empty(nt + nb, FEED_DTYPE)
        rows["ts"][:nt] = t_ts[t_order]
        rows["tick"][:nt] = _ticks(trades.column("price").to_numpy()[t_order], tick_size, "trade")
        rows["qty"][:nt] = trades.column("size").to_numpy()[t_order]
        rows["kind"][:nt] = k.FEED_TRADE
        rows["side"][:nt] = trades.column("side").to_numpy()[t_order]
        seq = book.column("seq").to_numpy()[b_order]
        snap = book.column("is_snapshot").to_numpy(zero_copy_only=False)[b_order]
        start = snap.copy()
        start[1:] &= ~(snap[:-1] & (seq[1:] == seq[:-1]))
        rows["ts"][nt:] = _ns(book.column("ts"))[b_order]
        rows["tick"][nt:] = _ticks(book.column("price").to_numpy()[b_order], tick_size, "book")
        rows["qty"][nt:] = book.column("size").to_numpy()[b_order]
        rows["kind"][nt:] = np.where(
            start, k.FEED_SNAPSHOT_START, np.where(snap, k.FEED_SNAPSHOT, k.FEED_BOOK)
        )
        rows["side"][nt:] = book.column("side").to_numpy()[b_order]
        group = np.concatenate([np.zeros(nt, np.int8), np.ones(nb, np.int8)])
        order = np.lexsort((group, rows["ts"]))  # stable: keeps trade and seq order within a time
        return cls(rows[order], symbol, tick_size)

    @classmethod
    def from_batch(cls, batch: MarketBatch, rules: InstrumentRules) -> VenueFeed:
        """Build from a source's ``MarketBatch`` for the instrument ``rules.symbol``."""
        return cls.from_tables(batch.trades, batch.book, rules.symbol, rules.tick_size)

    @classmethod
    def from_lake(cls, lake: Lake, rules: InstrumentRules, dates: Sequence[str]) -> VenueFeed:
        """Build from the lake's trades and book of ``rules.symbol`` on some UTC dates (a backtest)."""
        symbols = [rules.symbol]
        return cls.from_tables(
            lake.read("trades", dates, symbols), lake.read("book", dates, symbols), rules.symbol, rules.tick_size
        )


# -- records --------------------------------------------------------------------------------------


class VenueEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An outcome of one of our requests, as the strategy sees it.

    ``ts`` is the exchange time of the outcome, ``ts_local`` when the strategy sees it.
    ``quantity`` is the filled, accepted, canceled or modified-to size by ``kind``;
    ``leaves_quantity`` stays open after it. ``reason`` is a ``RejectReason`` on rejections, a
    ``CancelReason`` on cancels, else None. ``fee`` is paid (negative: a rebate).
    """

    ts: int
    ts_local: int
    order_id: int
    kind: EventKind
    side: Side | None
    price: float
    quantity: float
    leaves_quantity: float
    fee: float
    liquidity: Liquidity
    reason: RejectReason | CancelReason | None


_KINDS = {int(v): v for v in EventKind}
_SIDES = {int(v): v for v in Side}
_LIQ = {int(v): v for v in Liquidity}
_REJECTS = {int(v): v for v in RejectReason}
_CANCELS = {int(v): v for v in CancelReason}
_REJECT_KINDS = {EventKind.REJECTED, EventKind.CANCEL_REJECTED, EventKind.MODIFY_REJECTED}


def _event(row: tuple) -> VenueEvent:
    ts, ts_local, oid, price, qty, leaves, fee, kind, side, liq, reason = row
    kind_e = _KINDS[kind]
    if kind_e in _REJECT_KINDS:
        why: RejectReason | CancelReason | None = _REJECTS[reason]
    elif kind_e is EventKind.CANCELED:
        why = _CANCELS[reason]
    else:
        why = None
    return VenueEvent(
        ts=ts, ts_local=ts_local, order_id=oid, kind=kind_e, side=_SIDES.get(side), price=price,
        quantity=qty, leaves_quantity=leaves, fee=fee, liquidity=_LIQ[liq], reason=why,
    )  # fmt: skip


class Account(NamedTuple):
    """What our fills did: position (base units), cash (quote, fees excluded), fees paid."""

    position: float
    cash: float
    fees: float
    maker_quantity: float
    taker_quantity: float
    maker_fills: int
    taker_fills: int


class QuoteResult(NamedTuple):
    """Result of :meth:`SimulatedVenue.run_requote`: the fills (``EVENT_DTYPE``) and the account."""

    fills: np.ndarray
    account: Account
    quotes: int
    feed_rows: int


# -- the venue ------------------------------------------------------------------------------------


class SimulatedVenue:
    """A simulated exchange for one instrument, driven by a :class:`VenueFeed`.

    Parameters
    ----------
    config
        Latencies, fees, queue model and the instrument's tick and lot size.
    feed
        The merged feed; its symbol must be one of ``config.instruments``.
    max_orders
        Resting orders at once (more are rejected with ``BOOK_FULL``).
    event_capacity
        Initial size of the outcome buffer (grown on demand).
    start_ns
        Initial clock; default just before the first feed row.

    Strategy loop: call :meth:`step` (or :meth:`advance_to`), read :meth:`events` and the book
    view, send :meth:`submit` / :meth:`cancel` / :meth:`modify`; or hand a callback to
    :meth:`run`. Nothing reads the wall clock.
    """

    def __init__(
        self,
        config: VenueConfig,
        feed: VenueFeed,
        *,
        max_orders: int = 1024,
        event_capacity: int = 1 << 16,
        start_ns: int | None = None,
    ) -> None:
        rules = config.instrument(feed.symbol)
        if abs(rules.tick_size - feed.tick_size) > 1e-12 * rules.tick_size:
            raise ValueError(
                f"feed tick size {feed.tick_size} != instrument tick {rules.tick_size}"
            )
        if max_orders < 1 or event_capacity < 16:
            raise ValueError("max_orders must be >= 1 and event_capacity >= 16")
        self.config = config
        self.rules = rules
        self.feed = feed
        self._rows = feed.rows
        self._par = np.zeros(k.N_PARAMS, np.int64)
        self._par[k.P_BASE] = feed.base_tick
        self._par[k.P_N] = feed.n_ticks
        self._par[k.P_FEED_LAT] = config.feed_latency_ns
        self._par[k.P_ORDER_LAT] = config.order_latency_ns
        self._par[k.P_RESP_LAT] = config.effective_response_latency_ns
        self._par[k.P_QUEUE_MODEL] = _QUEUE_MODELS[config.queue_model]
        units, scale = _decimal_grid(rules.tick_size)
        self._fpar = np.array(
            [units, scale, rules.lot_size, config.maker_fee, config.taker_fee], np.float64
        )
        self._st, self._acc = k.new_state()
        self._xq = np.zeros((2, feed.n_ticks))
        self._xb = np.zeros(4, np.int64)
        self._lq = np.zeros((2, feed.n_ticks))
        self._lb = np.zeros(4, np.int64)
        k.clear_book(self._xq, self._xb)
        k.clear_book(self._lq, self._lb)
        self._oi = np.zeros((max_orders, k.N_OI), np.int64)
        self._of = np.zeros((max_orders, k.N_OF))
        self._rq_i = np.zeros((256, k.N_RQ), np.int64)
        self._rq_f = np.zeros(256)
        self._ev = np.zeros(event_capacity, EVENT_DTYPE)
        self._delivered = 0
        if start_ns is None:
            start_ns = int(self._rows["ts"][0]) - 1 if len(feed) else 0
        self._st[k.S_NOW] = start_ns

    # -- clock ------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The clock (ns): everything up to it has happened."""
        return int(self._st[k.S_NOW])

    def _args(self) -> tuple:
        return (self._rows, self._ev, self._st, self._acc, self._par, self._fpar, self._xq,
                self._xb, self._lq, self._lb, self._oi, self._of, self._rq_i, self._rq_f)  # fmt: skip

    # -- for compiled loops that drive the kernels themselves (``shriven.engine.compiled``) --------

    def kernel_arrays(self) -> tuple:
        """The state arrays in the order ``_kernels.advance`` takes them (feed first): live views."""
        return self._args()

    def reserve(self, events: int, requests: int) -> None:
        """Room for ``events`` more outcomes and ``requests`` in flight: a compiled loop cannot grow them."""
        n = int(self._st[k.S_N_EVENTS])
        if self._ev.size - n < events:
            grown = np.zeros(n + events, EVENT_DTYPE)
            grown[:n] = self._ev[:n]
            self._ev = grown
        tail = int(self._st[k.S_RQ_TAIL])
        while self._rq_i.shape[0] - tail < requests:
            self._grow_requests()

    @property
    def delivered(self) -> int:
        """Outcomes already handed out; ``events()`` returns those after it."""
        return self._delivered

    @delivered.setter
    def delivered(self, count: int) -> None:
        if not 0 <= count <= int(self._st[k.S_N_EVENTS]):
            raise ValueError(f"delivered must be in 0..{int(self._st[k.S_N_EVENTS])}, got {count}")
        self._delivered = int(count)

    @property
    def round_trip_latency_ns(self) -> int:
        """Order latency plus response latency (0: outcomes come back in the same instant)."""
        return int(self._par[k.P_ORDER_LAT]) + int(self._par[k.P_RESP_LAT])

    @property
    def is_idle(self) -> bool:
        """Nothing in flight and nothing resting: a fresh venue, or one whose orders are all done."""
        st = self._st
        return int(st[k.S_RQ_TAIL]) == int(st[k.S_RQ_HEAD]) and int(st[k.S_N_ORDERS]) == 0

    def _make_room(self) -> None:
        n = int(self._st[k.S_N_EVENTS])
        if self._delivered > n // 2:
            rest = self._ev[self._delivered : n].copy()
            self._ev[: rest.size] = rest
            self._st[k.S_N_EVENTS] = rest.size
            self._delivered = 0
        else:
            grown = np.zeros(2 * self._ev.size, EVENT_DTYPE)
            grown[:n] = self._ev[:n]
            self._ev = grown

    def advance_to(self, ts: int) -> None:
        """Move the clock to ``ts`` (ns; never backwards) and process everything up to it."""
        if ts < self.now:
            raise ValueError(f"cannot go back in time: {ts} < now {self.now}")
        while k.advance(*self._args(), ts) == k.STATUS_EVENTS_FULL:
            self._make_room()

    def next_time(self) -> int | None:
        """The next time something may become visible to the strategy (None: nothing left).

        The earliest of: the next feed row it will see, an outcome already made that becomes
        visible later, the response to the next request in flight, or (while orders rest) a
        fill by the next feed row. Always later than :attr:`now`.
        """
        st, rows, par = self._st, self._rows, self._par
        candidates = []
        lcur, xcur, n = int(st[k.S_LCUR]), int(st[k.S_XCUR]), len(rows)
        if lcur < n:
            candidates.append(int(rows["ts"][lcur]) + int(par[k.P_FEED_LAT]))
        pending = self._ev["ts_local"][self._delivered : int(st[k.S_N_EVENTS])]
        later = int(np.searchsorted(pending, self.now, "right"))  # not yet visible
        if later < pending.size:
            candidates.append(int(pending[later]))
        if st[k.S_RQ_HEAD] < st[k.S_RQ_TAIL]:
            candidates.append(int(self._rq_i[st[k.S_RQ_HEAD], k.R_TS]) + int(par[k.P_RESP_LAT]))
        if st[k.S_N_ORDERS] and xcur < n:
            candidates.append(int(rows["ts"][xcur]) + int(par[k.P_RESP_LAT]))
        return min(candidates) if candidates else None

    def step(self) -> bool:
        """Advance to :meth:`next_time`; False when nothing is left to happen."""
        t = self.next_time()
        if t is None:
            return False
        self.advance_to(t)
        return True

    def advance_to_next_feed(self) -> bool:
        """Advance to the time the strategy sees the next feed row; False at the feed's end."""
        lcur = int(self._st[k.S_LCUR])
        if lcur >= len(self._rows):
            return False
        self.advance_to(max(self.now, int(self._rows["ts"][lcur]) + int(self._par[k.P_FEED_LAT])))
        return True

    def run(self, strategy: Callable[[SimulatedVenue, list[VenueEvent]], None]) -> None:
        """Call ``strategy(venue, new_events)`` after every :meth:`step` until nothing is left."""
        while self.step():
            strategy(self, self.events())

    # -- requests ---------------------------------------------------------------------------------

    def _send(
        self, action: int, oid: int, side: int, otype: int, tick: int, qty: float, reason: int
    ) -> None:
        """Queue a request (numpy writes: a numba call from Python costs more than this)."""
        st = self._st
        head, tail = int(st[k.S_RQ_HEAD]), int(st[k.S_RQ_TAIL])
        if tail == self._rq_i.shape[0]:
            if head == 0:
                self._grow_requests()
            else:
                self._rq_i[: tail - head] = self._rq_i[head:tail]
                self._rq_f[: tail - head] = self._rq_f[head:tail]
                tail -= head
                st[k.S_RQ_HEAD] = 0
        arrival = int(st[k.S_NOW]) + int(self._par[k.P_ORDER_LAT])
        self._rq_i[tail] = (arrival, int(action), oid, side, otype, tick, int(reason))
        self._rq_f[tail] = qty
        st[k.S_RQ_TAIL] = tail + 1

    def _grow_requests(self) -> None:
        n = self._rq_i.shape[0]
        self._rq_i = np.concatenate([self._rq_i, np.zeros((n, k.N_RQ), np.int64)])
        self._rq_f = np.concatenate([self._rq_f, np.zeros(n)])

    def _tick_of(self, price: float) -> tuple[int, int]:
        """(tick, reason) of a limit price."""
        if not (isinstance(price, int | float) and math.isfinite(price)) or price <= 0:
            return 0, RejectReason.NON_POSITIVE_PRICE
        exact = price / self.rules.tick_size
        tick = round(exact)
        if abs(exact - tick) > _GRID_TOLERANCE:
            return tick, RejectReason.BAD_PRICE_TICK
        return tick, 0

    def _size_reason(self, quantity: float) -> int:
        if not (isinstance(quantity, int | float) and math.isfinite(quantity)) or quantity <= 0:
            return RejectReason.NON_POSITIVE_SIZE
        lots = quantity / self.rules.lot_size
        if abs(lots - round(lots)) > _GRID_TOLERANCE:
            return RejectReason.BAD_SIZE_LOT
        return 0

    def submit(
        self,
        order_id: int,
        side: Side,
        quantity: float,
        price: float | None = None,
        order_type: OrderType = OrderType.LIMIT,
    ) -> None:
        """Send a new order (``price`` ignored for MARKET); the outcome comes as events.

        A bad side, type, size or price is found here but reported like the exchange would: a
        ``REJECTED`` event after the round trip.
        """
        reason = 0
        if int(side) not in _SIDES:
            reason = RejectReason.UNKNOWN_SIDE
        elif int(order_type) not in _SUPPORTED_TYPES:
            reason = RejectReason.UNKNOWN_ORDER_TYPE
        else:
            reason = self._size_reason(quantity)
        tick = 0
        if order_type != OrderType.MARKET:
            tick, price_reason = self._tick_of(price if price is not None else math.nan)
            reason = reason or price_reason
        qty = float(quantity) if reason != RejectReason.NON_POSITIVE_SIZE else 0.0
        side_i = int(side) if int(side) in _SIDES else 0
        self._send(Action.SUBMIT, int(order_id), side_i, int(order_type), tick, qty, int(reason))

    def cancel(self, order_id: int) -> None:
        """Ask to cancel a resting order; ``CANCELED`` or ``CANCEL_REJECTED`` comes back."""
        self._send(Action.CANCEL, int(order_id), 0, 0, 0, 0.0, 0)

    def modify(self, order_id: int, price: float, quantity: float) -> None:
        """Ask to change a resting order's price and open quantity (``quantity`` = new leaves)."""
        tick, reason = self._tick_of(price)
        reason = self._size_reason(quantity) or reason
        qty = float(quantity) if reason != RejectReason.NON_POSITIVE_SIZE else 0.0
        self._send(Action.MODIFY, int(order_id), 0, 0, tick, qty, int(reason))

    # -- what the strategy sees ---------------------------------------------------------------------

    def events(self) -> list[VenueEvent]:
        """Outcomes that became visible since the last call, in order."""
        n = int(self._st[k.S_N_EVENTS])
        ts_local = self._ev["ts_local"]
        end = self._delivered
        now = self.now
        while end < n and ts_local[end] <= now:
            end += 1
        out = [_event(r) for r in self._ev[self._delivered : end].tolist()]
        self._delivered = end
        if end == n:
            self._st[k.S_N_EVENTS] = 0
            self._delivered = 0
        return out

    def _best(self, s: int) -> tuple[float, float]:
        b = self._lb
        if b[2 + s] == 0:
            return math.nan, 0.0
        i = int(b[s])
        units, scale = self._fpar[k.FP_UNITS], self._fpar[k.FP_SCALE]
        return float((self.feed.base_tick + i) * units / scale), float(self._lq[s, i])

    def best_bid(self) -> tuple[float, float]:
        """(price, size) of the best bid the strategy sees; (nan, 0.0) when there is none."""
        return self._best(0)

    def best_ask(self) -> tuple[float, float]:
        """(price, size) of the best ask the strategy sees; (nan, 0.0) when there is none."""
        return self._best(1)

    @property
    def open_orders(self) -> int:
        """Orders resting at the exchange now (the strategy learns of changes later)."""
        return int(self._st[k.S_N_ORDERS])

    @property
    def account(self) -> Account:
        """Position, cash and fees from the fills made so far (at the exchange)."""
        a, st = self._acc, self._st
        return Account(
            float(a[k.A_POSITION]), float(a[k.A_CASH]), float(a[k.A_FEES]),
            float(a[k.A_MAKER_QTY]), float(a[k.A_TAKER_QTY]),
            int(st[k.S_MAKER_FILLS]), int(st[k.S_TAKER_FILLS]),
        )  # fmt: skip

    # -- fast path --------------------------------------------------------------------------------

    def run_requote(self, quantity: float, side: Side = Side.BUY) -> QuoteResult:
        """Replay the whole feed with one quote re-sent at every feed time, all in numba.

        After each feed time the strategy sees: cancel the last quote and send a new LIMIT of
        ``quantity`` at its own touch (best bid for a BUY). Ids count up from 1. Only fills are
        kept. For benchmarks and as the template of compiled strategies.
        """
        if self._size_reason(quantity):
            raise ValueError(f"quantity {quantity} is not a positive multiple of the lot size")
        fills = []
        start_quotes = int(self._st[k.S_QUOTE_ID])
        self._deliver_pending(fills)
        self._par[k.P_FILLS_ONLY] = 1
        try:
            while True:
                status = k.run_requote(*self._args(), int(side), float(quantity))
                if status == k.STATUS_OK:
                    break
                if status == k.STATUS_REQUESTS_FULL:
                    self._grow_requests()
                else:
                    fills.append(self._ev[: int(self._st[k.S_N_EVENTS])].copy())
                    self._st[k.S_N_EVENTS] = 0
        finally:
            self._par[k.P_FILLS_ONLY] = 0
        fills.append(self._ev[: int(self._st[k.S_N_EVENTS])].copy())
        self._st[k.S_N_EVENTS] = 0
        self._delivered = 0
        return QuoteResult(
            fills=np.concatenate(fills),
            account=self.account,
            quotes=int(self._st[k.S_QUOTE_ID]) - start_quotes,
            feed_rows=len(self._rows),
        )

    def _deliver_pending(self, out: list[np.ndarray]) -> None:
        """Move the fills among the undelivered events to ``out`` and empty the buffer."""
        ev = self._ev[self._delivered : int(self._st[k.S_N_EVENTS])]
        out.append(ev[(ev["kind"] == k.E_FILLED) | (ev["kind"] == k.E_PARTIALLY_FILLED)].copy())
        self._st[k.S_N_EVENTS] = 0
        self._delivered = 0
