"""Polling connector to a ccxt exchange: trades and vendor OHLCV bars for a window, raw.

Every exchange call goes through :func:`~shriven.marketdata.resilience.call_with_retry` with the
source's one :class:`~shriven.marketdata.resilience.CircuitBreaker`: transient errors (network,
timeout, unavailable, rate limit) are retried with capped exponential backoff and full jitter,
anything else surfaces at once, and after ``breaker_failures`` consecutive failures the breaker
rejects calls without touching the exchange until ``breaker_reset_s`` has passed.

Symbols: lake symbols map to ccxt markets through ``CcxtConfig.symbol_map`` (unmapped symbols
pass as they are) and back. ``fetch`` with no symbols polls every symbol of the map.

Trades come out as :data:`~shriven.schemas.RAW_TRADES` (the contract validation reads):

* ``ts``: ccxt ``timestamp`` (ms) x 1e6; null when ccxt has none.
* ``trade_id``: ccxt ``id`` as an integer when it is one (decimal digits, fits int64); any
  other id is hashed deterministically: the first 8 bytes of ``blake2b(id as UTF-8)``, big
  endian, shifted right one bit (so ids stay in ``[0, 2**63)``); null when ccxt has no id.
* ``price``/``size``: ccxt ``price``/``amount`` as floats, NaN and negatives kept; null if absent.
* ``side``: ``buy`` 1, ``sell`` -1, missing 0, anything else null.
* ``symbol``: the lake symbol of ccxt's ``symbol`` (the requested one when ccxt gives none).
* ``_row_number``: 0-based position in the returned table; ``_raw``: JSON of ccxt's unified
  fields ``id, timestamp, datetime, symbol, side, price, amount`` (non-finite floats as text).

Pagination: ``fetch_trades(market, since, limit)`` is called forward from the window start;
the next page starts at the last timestamp seen, so it repeats the trades already taken at that
millisecond: as many copies of each (id, timestamp) as were taken are skipped, so page overlaps
never duplicate a trade while the exchange's own duplicates are kept for validation. A full
page whose trades all share one already-taken millisecond cannot advance: the cursor steps 1 ms
and a warning says trades of that millisecond may be missing. Paging stops at the window end or at a
page with nothing new. Trades without a timestamp are kept (validation quarantines them).

OHLCV bars are returned in the OHLCV schema (``interval`` = ``CcxtConfig.timeframe``); a bar
belongs to the window of its open time. The bar still forming at "now" is incomplete: poll with
``end_ns`` at or before the start of the current bar to get closed bars only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from shriven.config import CcxtConfig
from shriven.marketdata.resilience import (
    CircuitBreaker,
    RetryPolicy,
    call_with_retry,
    is_transient_exchange_error,
)
from shriven.marketdata.source import MarketBatch
from shriven.schemas import OHLCV, RAW_TRADES, SIDE_BUY, SIDE_SELL, SIDE_UNKNOWN

logger = logging.getLogger("shriven.marketdata.ccxt_source")

_NS_PER_MS = 1_000_000
_INT64_MAX = 2**63 - 1
_SIDES = {"buy": SIDE_BUY, "sell": SIDE_SELL, None: SIDE_UNKNOWN}
_RAW_FIELDS = ("id", "timestamp", "datetime", "symbol", "side", "price", "amount")


class CcxtSource:
    """A live :class:`~shriven.marketdata.source.MarketDataSource` over one ccxt exchange.

    ``exchange`` is a ccxt exchange instance (tests pass a recorded one); when None it is built
    on first use as ``getattr(ccxt, config.exchange)({"enableRateLimit": True})``, so
    constructing the source never touches the network. ``clock`` (monotonic seconds) drives the
    circuit breaker, ``sleep`` the backoff, ``rng`` the jitter.
    """

    live = True

    def __init__(
        self,
        config: CcxtConfig,
        exchange: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        rng: random.Random | None = None,
        page_limit: int = 1000,
    ) -> None:
        if page_limit < 1:
            raise ValueError(f"page_limit must be >= 1, got {page_limit}")
        self.config = config
        self.name = f"ccxt:{config.exchange}"
        self.page_limit = page_limit
        self.policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff_base_s=config.backoff_base_s,
            backoff_max_s=config.backoff_max_s,
            jitter=True,
        )
        self.breaker = CircuitBreaker(
            config.breaker_failures, config.breaker_reset_s, clock, name=self.name
        )
        self._exchange = exchange
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._to_market = dict(config.symbol_map)
        self._to_lake = {market: lake for lake, market in self._to_market.items()}
        if len(self._to_lake) != len(self._to_market):
            raise ValueError(
                f"ccxt symbol_map maps several lake symbols to one market: {self._to_market}"
            )

    @property
    def exchange(self) -> Any:
        """The ccxt exchange, built on first use when none was injected."""
        if self._exchange is None:
            import ccxt

            if self.config.exchange not in ccxt.exchanges:
                raise ValueError(
                    f"ccxt has no exchange {self.config.exchange!r} (see ccxt.exchanges)"
                )
            self._exchange = getattr(ccxt, self.config.exchange)({"enableRateLimit": True})
        return self._exchange

    def market(self, symbol: str) -> str:
        """The ccxt market of a lake symbol."""
        return self._to_market.get(symbol, symbol)

    def lake_symbol(self, market: str) -> str:
        """The lake symbol of a ccxt market."""
        return self._to_lake.get(market, market)

    def fetch(self, start_ns: int, end_ns: int, symbols: Sequence[str]) -> MarketBatch:
        """Trades and vendor bars of ``[start_ns, end_ns)`` for the symbols, raw."""
        if end_ns < start_ns:
            raise ValueError(f"window end {end_ns} is before its start {start_ns}")
        symbols = list(symbols) or list(self._to_market)
        if not symbols:
            raise ValueError(f"{self.name}: no symbols given and no ccxt.symbol_map to poll")
        trades: list[dict[str, Any]] = []
        bars: list[dict[str, Any]] = []
        want_bars = bool(getattr(self.exchange, "has", {}).get("fetchOHLCV"))
        for symbol in symbols:
            market = self.market(symbol)
            for trade in self._fetch_trades(market, start_ns, end_ns):
                trades.append(self._trade_row(trade, symbol))
            if want_bars:
                bars.extend(self._fetch_bars(market, symbol, start_ns, end_ns))
        for position, row in enumerate(trades):
            row["_row_number"] = position
        return MarketBatch(
            trades=pa.Table.from_pylist(trades, schema=RAW_TRADES),
            ohlcv=pa.Table.from_pylist(bars, schema=OHLCV),
        )

    # ----------------------------------------------------------------------------------------

    def _call(self, method: str, market: str, *args: Any, **kwargs: Any) -> Any:
        bound = getattr(self.exchange, method)
        return call_with_retry(
            lambda: bound(market, *args, **kwargs),
            self.policy,
            self.breaker,
            self._sleep,
            is_transient_exchange_error,
            rng=self._rng,
            operation=f"{self.name} {method} {market}",
        )

    def _fetch_trades(self, market: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        since = start_ns // _NS_PER_MS
        end_ms = -(-end_ns // _NS_PER_MS)  # ceiling: the ms holding end_ns is still asked for
        taken: Counter[tuple[Any, Any]] = Counter()  # (id, ms) of trades returned at >= since
        kept: list[dict[str, Any]] = []
        while since < end_ms:
            page = self._call("fetch_trades", market, since=since, limit=self.page_limit) or []
            # a page starting at `since` repeats the trades already taken at that millisecond:
            # skip as many of each as were taken (more copies are the exchange's own duplicates)
            repeats = Counter(taken)
            fresh = []
            for trade in page:
                key = _key(trade)
                if _before(trade.get("timestamp"), since):
                    continue
                if repeats[key] > 0:
                    repeats[key] -= 1
                    continue
                fresh.append(trade)
            taken.update(_key(t) for t in fresh)
            kept.extend(t for t in fresh if _in_window(t.get("timestamp"), start_ns, end_ns))
            stamps = [ms for ms in (_ms(t.get("timestamp")) for t in fresh) if ms is not None]
            if stamps and max(stamps) > since:
                since = max(stamps)
                taken = Counter({k: n for k, n in taken.items() if k[1] is None or k[1] >= since})
            elif fresh:
                continue  # new trades at the cursor's millisecond: ask again from there
            elif len(page) >= self.page_limit and any(
                _ms(t.get("timestamp")) == since for t in page
            ):
                logger.warning(
                    "%s fetch_trades %s: a full page of %d trades at %d ms brought nothing new; "
                    "stepping 1 ms, trades of that millisecond beyond the page may be missing",
                    self.name,
                    market,
                    len(page),
                    since,
                )
                since += 1
            else:
                break  # an empty page, or nothing new: the exchange has no more
        return kept

    def _fetch_bars(
        self, market: str, symbol: str, start_ns: int, end_ns: int
    ) -> Iterable[dict[str, Any]]:
        import ccxt

        timeframe = self.config.timeframe
        step_ms = int(ccxt.Exchange.parse_timeframe(timeframe) * 1000)
        since = start_ns // _NS_PER_MS
        end_ms = -(-end_ns // _NS_PER_MS)
        seen: set[Any] = set()
        rows: list[dict[str, Any]] = []
        while since < end_ms:
            page = self._call("fetch_ohlcv", market, timeframe, since=since, limit=self.page_limit)
            fresh = [bar for bar in page or [] if _ms(_at(bar, 0)) not in seen]
            stamps = [ms for ms in (_ms(_at(bar, 0)) for bar in fresh) if ms is not None]
            seen.update(stamps)
            for bar in fresh:
                if _in_window(_at(bar, 0), start_ns, end_ns):
                    rows.append(_bar_row(bar, symbol, timeframe))
            if not stamps or max(stamps) + step_ms <= since:
                break
            since = max(stamps) + step_ms
        return rows

    def _trade_row(self, trade: dict[str, Any], requested: str) -> dict[str, Any]:
        market = trade.get("symbol")
        return {
            "ts": _to_ns(trade.get("timestamp")),
            "symbol": self.lake_symbol(market) if isinstance(market, str) else requested,
            "trade_id": trade_id_of(trade.get("id")),
            "price": _float(trade.get("price")),
            "size": _float(trade.get("amount")),
            "side": _SIDES.get(trade.get("side")) if _hashable(trade.get("side")) else None,
            "_raw": json.dumps(
                {k: _json_safe(trade.get(k)) for k in _RAW_FIELDS}, allow_nan=False, default=str
            ),
        }


def trade_id_of(venue_id: Any) -> int | None:
    """A venue trade id as int64: the number itself, or a deterministic 63-bit hash of its text."""
    if venue_id is None:
        return None
    if isinstance(venue_id, int) and not isinstance(venue_id, bool) and 0 <= venue_id <= _INT64_MAX:
        return venue_id
    text = str(venue_id)
    if text.isascii() and text.isdigit() and int(text) <= _INT64_MAX:
        return int(text)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _bar_row(bar: Any, symbol: str, timeframe: str) -> dict[str, Any]:
    return {
        "ts": _to_ns(_at(bar, 0)),
        "symbol": symbol,
        "interval": timeframe,
        "open": _float(_at(bar, 1)),
        "high": _float(_at(bar, 2)),
        "low": _float(_at(bar, 3)),
        "close": _float(_at(bar, 4)),
        "volume": _float(_at(bar, 5)),
    }


def _at(row: Any, index: int) -> Any:
    try:
        return row[index]
    except (IndexError, KeyError, TypeError):
        return None


def _key(trade: dict[str, Any]) -> tuple[Any, Any]:
    trade_id = trade.get("id")
    return (trade_id if _hashable(trade_id) else repr(trade_id), _ms(trade.get("timestamp")))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _ms(value: Any) -> int | None:
    """A ccxt millisecond timestamp as int, or None when absent or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _to_ns(value: Any) -> int | None:
    if _ms(value) is None:
        return None
    ns = int(value) * _NS_PER_MS if isinstance(value, int) else round(value * _NS_PER_MS)
    return ns if -(2**63) <= ns <= _INT64_MAX else None


def _before(value: Any, since_ms: int) -> bool:
    ms = _ms(value)
    return ms is not None and ms < since_ms


def _in_window(value: Any, start_ns: int, end_ns: int) -> bool:
    ns = _to_ns(value)
    return ns is None or start_ns <= ns < end_ns


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
