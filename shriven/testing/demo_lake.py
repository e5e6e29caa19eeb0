"""A small, realistic demo lake for tests and screenshots: random-walk trades and their bars.

Bars come from the production aggregation, so dashboard tests see what the pipeline writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from shriven.aggregation.bars import aggregate_trades
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.schemas import BAR_INTERVALS, SIDE_BUY, SIDE_SELL, TRADES

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
        for symbol, table in zip(symbols, tables, strict=True):
            for interval, bars in aggregate_trades(table, BAR_INTERVALS).items():
                lake.write_window(f"bars_{interval}", bars, window, symbols=[symbol])


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
