"""A small, realistic demo lake for tests and screenshots: random-walk trades and their bars.

This is a **test fixture, not the production aggregation**. Bars are computed here with a plain
numpy group-by (one bar per non-empty bucket of each interval, following the column definitions
of :data:`shriven.schemas.BARS`) so that dashboard and view tests do not depend on
``shriven.aggregation``. A later pass may switch this module to the production aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from shriven.config import INTERVALS_NS
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.schemas import BAR_INTERVALS, BARS, SIDE_BUY, SIDE_SELL, TRADES

#: Session open of every demo day, seconds after midnight UTC (as the synthetic exchange: 13:30).
SESSION_OPEN_S = 13 * 3600 + 30 * 60
#: Mean number of trades per minute and symbol.
TRADES_PER_MINUTE = 20
#: Daily volatility of the random walk (log return).
DAILY_VOLATILITY = 0.02
#: Price of a symbol that is not in ``_START_PRICES``.
DEFAULT_START_PRICE = 100.0
_START_PRICES = {"ACME": 182.40, "BOLT": 47.15}
_TICK = 0.01


def write_demo_lake(
    lake_root: str,
    symbols: Sequence[str] = ("ACME", "BOLT"),
    day: date = date(2026, 1, 5),
    minutes: int = 390,
    *,
    days: int = 1,
    seed: int = 7,
) -> None:
    """Write trades and bars of every interval for ``symbols`` into the lake at ``lake_root``.

    Each of ``days`` weekdays from ``day`` gets a session of ``minutes`` minutes from 13:30 UTC
    with about ``TRADES_PER_MINUTE`` random-walk trades per minute and symbol (prices on a 0.01
    tick, integer sizes, aggressor side mostly following the tick direction). The walk continues
    from one day to the next, so a day's change against the previous close is meaningful. The
    same arguments always write the same lake.
    """
    if minutes < 1 or minutes > 24 * 60 - SESSION_OPEN_S // 60:
        raise ValueError(f"minutes must be in [1, {24 * 60 - SESSION_OPEN_S // 60}], got {minutes}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    rng = np.random.default_rng(seed)
    lake = Lake(lake_root)
    prices = {s: _START_PRICES.get(s, DEFAULT_START_PRICE) for s in symbols}
    next_trade_id = dict.fromkeys(symbols, 1)
    for session_day in _weekdays(day, days):
        tables = []
        for symbol in symbols:
            table = _session_trades(
                rng, symbol, session_day, minutes, prices[symbol], next_trade_id[symbol]
            )
            prices[symbol] = table.column("price")[-1].as_py()
            next_trade_id[symbol] += table.num_rows
            tables.append(table)
        trades = pa.concat_tables(tables)
        window = Window.days(session_day)
        lake.write_window("trades", trades, window)
        for interval in BAR_INTERVALS:
            lake.write_window(f"bars_{interval}", demo_bars(trades, interval), window)


def demo_bars(trades: pa.Table, interval: str) -> pa.Table:
    """Bars of ``interval`` from trades (TRADES schema), by a numpy group-by; fixture use only.

    A bar's ``ts`` is the left edge of its bucket; buckets without trades have no bar; the
    realised volatility sums squared log returns between consecutive trades inside the bar.
    """
    width = INTERVALS_NS[interval]
    parts = []
    symbols = trades.column("symbol").to_numpy(zero_copy_only=False)
    for symbol in sorted(set(symbols.tolist())):
        rows = trades.filter(pa.array(symbols == symbol)).sort_by(
            [("ts", "ascending"), ("trade_id", "ascending")]
        )
        parts.append(_symbol_bars(rows, symbol, width))
    if not parts:
        return BARS.empty_table()
    return pa.concat_tables(parts)


def _symbol_bars(trades: pa.Table, symbol: str, width: int) -> pa.Table:
    ts = trades.column("ts").combine_chunks().cast(pa.int64()).to_numpy()
    price = trades.column("price").to_numpy()
    size = trades.column("size").to_numpy()
    side = trades.column("side").to_numpy()
    bucket = ts // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(ts)]
    volume = np.add.reduceat(size, starts)
    notional = np.add.reduceat(price * size, starts)
    buy = np.add.reduceat(np.where(side == SIDE_BUY, size, 0.0), starts)
    sell = np.add.reduceat(np.where(side == SIDE_SELL, size, 0.0), starts)
    squared_returns = np.r_[0.0, np.diff(np.log(price)) ** 2]
    squared_returns[starts] = 0.0  # a bar's first trade has no return inside the bar
    columns = {
        "ts": pa.array(bucket[starts] * width, pa.int64()).cast(BARS.field("ts").type),
        "symbol": pa.array([symbol] * len(starts), pa.string()),
        "open": price[starts],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "close": price[ends - 1],
        "volume": volume,
        "notional": notional,
        "vwap": notional / volume,
        "trades": (ends - starts).astype(np.int64),
        "buy_volume": buy,
        "sell_volume": sell,
        "realized_vol": np.sqrt(np.add.reduceat(squared_returns, starts)),
        "ofi": (buy - sell) / volume,
    }
    return pa.table(columns).cast(BARS)


def _session_trades(
    rng: np.random.Generator,
    symbol: str,
    day: date,
    minutes: int,
    start_price: float,
    first_trade_id: int,
) -> pa.Table:
    count = int(rng.poisson(TRADES_PER_MINUTE * minutes))
    count = max(count, 1)
    open_ns = day_start_ns(day) + SESSION_OPEN_S * 1_000_000_000
    ts = np.sort(open_ns + rng.integers(0, minutes * 60_000_000_000, size=count))
    step = DAILY_VOLATILITY / np.sqrt(TRADES_PER_MINUTE * 390)
    overnight = rng.normal(0.0, DAILY_VOLATILITY / 4)
    log_price = np.log(start_price) + overnight + np.cumsum(rng.normal(0.0, step, size=count))
    price = np.maximum(np.round(np.exp(log_price) / _TICK) * _TICK, _TICK)
    price = np.round(price, 2)
    tick = np.sign(np.diff(np.r_[start_price, price]))
    random_side = rng.choice([SIDE_BUY, SIDE_SELL], size=count)
    follows_tick = rng.random(count) < 0.8
    side = np.where((tick != 0) & follows_tick, tick, random_side).astype(np.int8)
    size = rng.integers(1, 20, size=count) * rng.choice([1, 5, 25], size=count, p=[0.7, 0.25, 0.05])
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()).cast(TRADES.field("ts").type),
            "symbol": pa.array([symbol] * count, pa.string()),
            "trade_id": np.arange(first_trade_id, first_trade_id + count, dtype=np.int64),
            "price": price,
            "size": size.astype(np.float64),
            "side": side,
        }
    ).cast(TRADES)


def _weekdays(first: date, count: int) -> list[date]:
    out: list[date] = []
    d = first
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out
