"""A stand-in for a ccxt exchange that replays recorded responses and can be scripted to fail.

Fixtures are JSON files holding one recorded response each, in ccxt's unified structures::

    {"exchange": "binance", "method": "fetch_trades", "symbol": "BTC/USDT", "response": [trade, ...]}
    {"exchange": "binance", "method": "fetch_ohlcv", "symbol": "BTC/USDT", "timeframe": "1m",
     "response": [[timestamp_ms, open, high, low, close, volume], ...]}

The recording is served the way an exchange serves its history: ``since`` keeps the entries whose
timestamp is at or after it, ``limit`` cuts the page, so pagination is exercised for real. Every
call is recorded in :attr:`RecordedExchange.calls`. Errors are scripted per method with
:meth:`RecordedExchange.fail` and raised (in order) before the method answers normally.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RecordedCall:
    """One call made to the recorded exchange."""

    method: str
    symbol: str
    since: int | None
    limit: int | None
    timeframe: str | None = None


@dataclass
class RecordedExchange:
    """Replays recorded ccxt responses; quacks like the parts of ``ccxt.Exchange`` sources use."""

    id: str = "binance"
    #: ccxt market symbol -> recorded unified trades
    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (ccxt market symbol, timeframe) -> recorded OHLCV rows
    ohlcv: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    _failures: dict[str, deque[BaseException]] = field(default_factory=dict)

    @property
    def has(self) -> dict[str, bool]:
        """ccxt's capability map, for the recorded methods."""
        return {"fetchTrades": True, "fetchOHLCV": bool(self.ohlcv)}

    @classmethod
    def from_fixtures(cls, paths: Iterable[str | Path]) -> RecordedExchange:
        """An exchange serving the recorded responses of the given fixture files."""
        exchange: RecordedExchange | None = None
        for path in paths:
            recording = json.loads(Path(path).read_text())
            if exchange is None:
                exchange = cls(id=recording["exchange"])
            elif recording["exchange"] != exchange.id:
                raise ValueError(f"{path}: recorded on {recording['exchange']}, not {exchange.id}")
            method = recording["method"]
            if method == "fetch_trades":
                exchange.trades.setdefault(recording["symbol"], []).extend(recording["response"])
            elif method == "fetch_ohlcv":
                key = (recording["symbol"], recording["timeframe"])
                exchange.ohlcv.setdefault(key, []).extend(recording["response"])
            else:
                raise ValueError(f"{path}: cannot replay method {method!r}")
        if exchange is None:
            raise ValueError("no fixture files given")
        return exchange

    @classmethod
    def from_directory(
        cls, directory: str | Path, exchange_id: str = "binance"
    ) -> RecordedExchange:
        """An exchange serving every ``<exchange_id>-*.json`` fixture of a directory."""
        paths = sorted(Path(directory).glob(f"{exchange_id}-*.json"))
        if not paths:
            raise FileNotFoundError(f"no {exchange_id}-*.json fixtures in {directory}")
        return cls.from_fixtures(paths)

    def fail(
        self, method: str, errors: BaseException | Sequence[BaseException], times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` raise ``errors`` (one, or a list in order)."""
        queue = self._failures.setdefault(method, deque())
        if isinstance(errors, BaseException):
            queue.extend([errors] * times)
        else:
            queue.extend(errors)

    def calls_of(self, method: str) -> list[RecordedCall]:
        """The recorded calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    def fetch_trades(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded trades at or after ``since`` (ms), at most ``limit``, oldest first."""
        self.calls.append(RecordedCall("fetch_trades", symbol, since, limit))
        self._raise_scripted("fetch_trades")
        if symbol not in self.trades:
            raise _bad_symbol(self.id, symbol)
        rows = [t for t in self.trades[symbol] if _at_or_after(t.get("timestamp"), since)]
        rows.sort(key=lambda t: _sort_key(t.get("timestamp")))
        return copy.deepcopy(rows[:limit] if limit is not None else rows)

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[list[Any]]:
        """Recorded bars opening at or after ``since`` (ms), at most ``limit``, oldest first."""
        self.calls.append(RecordedCall("fetch_ohlcv", symbol, since, limit, timeframe))
        self._raise_scripted("fetch_ohlcv")
        if (symbol, timeframe) not in self.ohlcv:
            raise _bad_symbol(self.id, f"{symbol} {timeframe}")
        rows = [r for r in self.ohlcv[(symbol, timeframe)] if _at_or_after(r[0], since)]
        rows.sort(key=lambda r: _sort_key(r[0]))
        return copy.deepcopy(rows[:limit] if limit is not None else rows)

    def _raise_scripted(self, method: str) -> None:
        queue = self._failures.get(method)
        if queue:
            raise queue.popleft()


def _at_or_after(timestamp: Any, since: int | None) -> bool:
    if since is None:
        return True
    return timestamp is None or (isinstance(timestamp, int | float) and timestamp >= since)


def _sort_key(timestamp: Any) -> float:
    return float(timestamp) if isinstance(timestamp, int | float) else float("-inf")


def _bad_symbol(exchange_id: str, what: str) -> Exception:
    import ccxt

    return ccxt.BadSymbol(f"{exchange_id} has no recording for {what}")
