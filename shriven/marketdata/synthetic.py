"""The synthetic exchange: a deterministic, correlated, seven-day market of trades and L2 books.

Everything is a pure function of ``(settings, UTC day)``: a day is generated for the whole universe
at once and a window is a slice of its days, so polling consecutive windows concatenates to exactly
the day. Random streams are seeded from ``SeedSequence([seed, day, stream, crc32(name)])`` per
factor and per symbol, so adding a symbol to the universe changes no other symbol's data.

Model, per UTC day (every calendar day has a session, weekends included):

- **Open price.** Days are generated independently, so the open is not the previous close: it is
  ``price * exp(sum_k a_k sin(2 pi day / T_k + phi_k))`` with periods ``T_k`` of 23 to 373 days,
  phases drawn once per ``(seed, symbol)`` and a total log-deviation of about a quarter of the
  annual volatility. Consecutive opens are close; the overnight gap is about one day's move.
- **Returns** at 1-second steps: ``r = sigma_s * sqrt(season) * (a_m z_m + a_s z_s + a_i z_i) +
  beta J_m + J_i``. ``z_m``, ``z_s`` (one per sector) and ``z_i`` are unit-variance GARCH(1,1)
  shock paths (10-minute half-life of a volatility shock) times a slow log-normal volatility
  regime (20-minute half-life), so volatility clusters at every horizon. The market factor explains
  ``min(45 %, (market_vol / vol)^2)`` of a symbol's variance (``beta = a_m vol / market_vol``), its
  sector 25 %, the rest is idiosyncratic. ``J_m`` are Poisson market jumps (``jump_rate_per_day``,
  normal sizes of sd ``jump_size``; each also lifts market volatility for a while), ``J_i`` rarer
  idiosyncratic jumps. ``sigma_s`` makes the annualised volatility (252 sessions a year, jumps
  included) equal ``SymbolConfig.volatility``. ``season`` is a mild U-shape of variance.
- **Activity.** Trade orders arrive as a Poisson process with per-second intensity
  ``base * U(t) * (GARCH variance and |return| surprise)``: U-shaped over the session and higher
  when the market moves, scaled so a symbol-day has about ``daily_trades`` prints. Order sizes mix
  odd lots (lognormal), round lots (100, 200, 300, 500, 1000 shares) and a power-law tail, in
  multiples of ``lot_size``; an order larger than the touch sweeps up to three levels (one print per
  level, one nanosecond apart). The aggressor side leans toward where the fair price is heading, so
  order flow co-moves with returns.
- **Book.** ``book_levels`` contiguous tick levels per side; see ``_synthetic_kernels`` for the
  event rules. The target spread is about ``1 + 4 * vol`` basis points (at least one tick) and
  widens with volatility. A snapshot opens the session and repeats every ``snapshot_every_s``.

Identifiers: ``trade_id`` and ``seq`` are ``day * 10**9 + n`` with ``day`` the days since
1970-01-01, so both increase across days; ``seq`` is contiguous within a symbol-day, and the day's
opening snapshot starts it afresh (a consumer resets its book on any snapshot).
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from shriven.config import Settings, SymbolConfig
from shriven.marketdata import _synthetic_kernels as k
from shriven.marketdata.source import MarketBatch
from shriven.schemas import BOOK, TRADES

__all__ = ["SyntheticExchange", "day_of", "session_window"]

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
#: Sessions per year used to turn an annualised volatility into a per-session one.
SESSIONS_PER_YEAR = 252
#: trade_id and seq of day ``d`` count from ``d * ID_DAY_STRIDE``.
ID_DAY_STRIDE = 10**9

# random stream kinds (second-to-last word of every SeedSequence)
_STREAM_MARKET = 0
_STREAM_SECTOR = 1
_STREAM_SYMBOL = 2
_STREAM_ANCHOR = 3

#: Half-life of a volatility shock; alpha is 80 % of the largest with a finite fourth moment.
_GARCH_HALF_LIFE_S = 600.0
_GARCH_PERSISTENCE = 1.0 - math.log(2.0) / _GARCH_HALF_LIFE_S
_GARCH_ALPHA = 0.8 * math.sqrt((1.0 - _GARCH_PERSISTENCE**2) / 2.0)
_GARCH_BETA = _GARCH_PERSISTENCE - _GARCH_ALPHA
_GARCH_BURN_IN_S = 3600
#: Slow volatility regime multiplying the GARCH variance: log-sd and per-second AR(1) coefficient
#: (20-minute half-life), so volatility also clusters over tens of minutes.
_REGIME_SIGMA = 0.8
_REGIME_PHI = 1.0 - math.log(2.0) / 1200.0
#: Variance added to the market GARCH state by a market jump (a jump raises volatility).
_JUMP_VOL_IMPULSE = 1.5
_MARKET_SHARE_MAX = 0.45
_SECTOR_SHARE = 0.25
#: Idiosyncratic jumps per day relative to ``jump_rate_per_day``, and their size relative to ``jump_size``.
_IDIO_JUMP_RATE = 0.25
_IDIO_JUMP_SIZE = 1.5
#: Random book events (adds, cancels, improvements) per trade order.
_BOOK_EVENTS_PER_ORDER = 1.0
#: Prints per trade order (sweeps add prints); measured on the default universe, divides the order rate.
_PRINTS_PER_ORDER = 1.20
_INTENSITY_SURPRISE_CAP = 20.0
_SPREAD_BPS_BASE = 1.0
_SPREAD_BPS_PER_VOL = 4.0
#: Median resting size at the touch, in shares (grows 35 % per level away from it).
_DEPTH_SHARES = 500.0
_MAX_SWEEP_LEVELS = 3
_ANCHOR_PERIODS_DAYS = (23.0, 61.0, 157.0, 373.0)
_ANCHOR_VOL_FRACTION = 0.25
_ROUND_LOTS = np.array([100.0, 200.0, 300.0, 500.0, 1000.0])
_ROUND_LOT_CDF = np.cumsum([0.45, 0.2, 0.1, 0.15, 0.1])[:-1]
#: Order mix: odd lots (lognormal, median 40 shares), round lots, and the rest a power-law tail.
_ODD_LOT_SHARE = 0.5
_ROUND_LOT_SHARE = 0.38


def day_of(ts_ns: int) -> int:
    """The UTC day (days since 1970-01-01) holding the timestamp."""
    return ts_ns // NS_PER_DAY


def session_window(settings: Settings, day: date | int) -> tuple[int, int]:
    """``[open_ns, close_ns)`` of the synthetic session on a UTC day (a date or days since epoch)."""
    ordinal = day if isinstance(day, int) else (day - date(1970, 1, 1)).days
    open_s, close_s = settings.synthetic.session_bounds_s()
    return (
        ordinal * NS_PER_DAY + open_s * NS_PER_SECOND,
        ordinal * NS_PER_DAY + close_s * NS_PER_SECOND,
    )


@dataclass(frozen=True)
class _Day:
    """One generated day of the whole universe, per symbol code (integer ticks and lots)."""

    trades: tuple[np.ndarray, ...]  # TRADE_DTYPE rows in time order
    book: tuple[np.ndarray, ...]  # BOOK_DTYPE rows in seq (and time) order


class SyntheticExchange:
    """A ``MarketDataSource`` generating a realistic, reproducible market from the settings.

    Parameters
    ----------
    settings
        The universe (``settings.symbols``) and the exchange (``settings.synthetic``).
    cache_days
        How many generated days to keep on this instance (a day of the 20 default symbols holds
        about 4 M rows, some 200 MB); one suffices for live polling of the current session.
    """

    name = "synthetic"
    live = True

    def __init__(self, settings: Settings, *, cache_days: int = 1) -> None:
        if cache_days < 1:
            raise ValueError(f"cache_days must be >= 1, got {cache_days}")
        self._settings = settings
        self._open_s, self._close_s = settings.synthetic.session_bounds_s()
        self._symbols: tuple[SymbolConfig, ...] = tuple(
            sorted(settings.symbols, key=lambda s: s.symbol)
        )
        self._code = {s.symbol: i for i, s in enumerate(self._symbols)}
        self._cache_days = cache_days
        self._cache: OrderedDict[int, _Day] = OrderedDict()
        self._tick_grid = [_grid(s.tick_size) for s in self._symbols]
        self._lot_grid = [_grid(s.lot_size) for s in self._symbols]
        self._dictionary = pa.array([s.symbol for s in self._symbols], type=pa.string())

    def fetch(self, start_ns: int, end_ns: int, symbols: Sequence[str]) -> MarketBatch:
        """Trades and book events in ``[start_ns, end_ns)`` for the symbols, sorted by symbol then time."""
        wanted = sorted({self._settings.symbol(s).symbol for s in symbols})
        codes = [self._code[s] for s in wanted]
        trades: list[tuple[int, np.ndarray]] = []
        book: list[tuple[int, np.ndarray]] = []
        if codes and end_ns > start_ns:
            for day in range(day_of(start_ns), day_of(end_ns - 1) + 1):
                open_ns = day * NS_PER_DAY + self._open_s * NS_PER_SECOND
                close_ns = day * NS_PER_DAY + self._close_s * NS_PER_SECOND
                if close_ns <= start_ns or open_ns >= end_ns:
                    continue
                data = self._day(day)
                for code in codes:
                    trades.append((code, _window(data.trades[code], start_ns, end_ns)))
                    book.append((code, _window(data.book[code], start_ns, end_ns)))
        # symbol-major, days in order within a symbol (the sort is stable)
        trades.sort(key=lambda part: part[0])
        book.sort(key=lambda part: part[0])
        return MarketBatch(trades=self._trades_table(trades), book=self._book_table(book))

    # -- generation ---------------------------------------------------------------------------

    def _day(self, day: int) -> _Day:
        data = self._cache.get(day)
        if data is None:
            data = self._generate_day(day)
            self._cache[day] = data
            while len(self._cache) > self._cache_days:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(day)
        return data

    def _generate_day(self, day: int) -> _Day:
        syn = self._settings.synthetic
        n_sec = self._close_s - self._open_s
        open_ns = day * NS_PER_DAY + self._open_s * NS_PER_SECOND
        profile = _intraday_profile(n_sec)
        season = 0.5 + 0.5 * profile  # variance seasonality, mean 1
        sqrt_season = np.sqrt(season)

        rng = _rng(syn.seed, day, _STREAM_MARKET, 0)
        n_jumps = rng.poisson(syn.jump_rate_per_day)
        jump_at = rng.integers(0, n_sec, n_jumps)
        jump_size = (
            rng.normal(0.0, syn.jump_size, n_jumps) if syn.jump_size > 0 else np.zeros(n_jumps)
        )
        market_jumps = np.zeros(n_sec)
        np.add.at(market_jumps, jump_at, jump_size)
        impulse = np.zeros(n_sec)
        impulse[jump_at] = _JUMP_VOL_IMPULSE
        market_z, market_h = _garch(rng, n_sec, impulse)

        sectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sector in sorted({s.sector for s in self._symbols}):
            rng = _rng(syn.seed, day, _STREAM_SECTOR, _crc(sector))
            sectors[sector] = _garch(rng, n_sec, np.zeros(n_sec))

        trade_parts: list[np.ndarray] = []
        book_parts: list[np.ndarray] = []
        for cfg in self._symbols:
            rng = _rng(syn.seed, day, _STREAM_SYMBOL, _crc(cfg.symbol))
            sector_z, sector_h = sectors[cfg.sector]
            idio_z, idio_h = _garch(rng, n_sec, np.zeros(n_sec))
            vol = cfg.volatility
            market_share = min(_MARKET_SHARE_MAX, (syn.market_vol / vol) ** 2)
            a_m, a_s = math.sqrt(market_share), math.sqrt(_SECTOR_SHARE)
            a_i = math.sqrt(1.0 - market_share - _SECTOR_SHARE)
            beta = a_m * vol / syn.market_vol

            idio_rate = _IDIO_JUMP_RATE * syn.jump_rate_per_day
            idio_size = _IDIO_JUMP_SIZE * syn.jump_size
            n_idio = rng.poisson(idio_rate)
            idio_jumps = np.zeros(n_sec)
            np.add.at(
                idio_jumps, rng.integers(0, n_sec, n_idio), rng.normal(0.0, 1.0, n_idio) * idio_size
            )
            session_var = vol * vol / SESSIONS_PER_YEAR
            jump_var = (
                beta * beta * syn.jump_rate_per_day * syn.jump_size**2 + idio_rate * idio_size**2
            )
            diffusive_var = max(session_var - jump_var, 0.25 * session_var)
            sigma_s = math.sqrt(diffusive_var / n_sec)

            garch_var = a_m * a_m * market_h + a_s * a_s * sector_h + a_i * a_i * idio_h
            scale = sigma_s * sqrt_season
            diffusive = scale * (a_m * market_z + a_s * sector_z + a_i * idio_z)
            returns = diffusive + beta * market_jumps + idio_jumps
            log_open = math.log(cfg.price) + _anchor(syn.seed, cfg.symbol, day, vol)
            log_price = np.empty(n_sec + 1)
            log_price[0] = log_open
            np.cumsum(returns, out=log_price[1:])
            log_price[1:] += log_open

            # trade-order and book-event arrivals
            surprise = np.abs(returns) / (scale * np.sqrt(garch_var) * math.sqrt(2.0 / math.pi))
            activity = 0.5 * garch_var + 0.5 * np.minimum(surprise, _INTENSITY_SURPRISE_CAP)
            order_rate = (cfg.daily_trades / _PRINTS_PER_ORDER / n_sec) * profile * activity
            reserve = _MAX_SWEEP_LEVELS
            counts = rng.poisson(order_rate * (1.0 + _BOOK_EVENTS_PER_ORDER))
            counts = np.minimum(counts, (NS_PER_SECOND - 2) // reserve - 1)
            offsets = _event_offsets(rng, counts, reserve)
            is_trade = rng.random(offsets.size) < 1.0 / (1.0 + _BOOK_EVENTS_PER_ORDER)
            n_orders = int(is_trade.sum())
            order_lots = _order_lots(rng, n_orders, cfg.lot_size)
            side_u = rng.random(n_orders)
            kernel_seed = int(rng.integers(0, 2**63, dtype=np.int64))

            tick = cfg.tick_size
            fair_ticks = np.exp(log_price) / tick
            spread_bps = _SPREAD_BPS_BASE + _SPREAD_BPS_PER_VOL * vol
            natural = cfg.price * spread_bps * 1e-4 / tick
            spread_ticks = np.maximum(1, np.rint(natural * (season * garch_var) ** 0.25)).astype(
                np.int64
            )
            levels = syn.book_levels
            min_bid = 1
            floor_ticks = float(levels + spread_ticks.max() + 2 * _MAX_SWEEP_LEVELS + 2)
            np.maximum(fair_ticks, floor_ticks, out=fair_ticks)
            depth_lots = max(1.0, _DEPTH_SHARES / cfg.lot_size)

            moves = np.abs(np.diff(fair_ticks[:n_sec]))
            book_cap = int(
                1.1 * (2.0 * offsets.size + 0.7 * np.minimum(4 * levels, 2 * moves).sum())
                + 2 * levels * (n_sec // syn.snapshot_every_s + 1)
                + 1024
            )
            trade_cap = int(1.3 * n_orders) + 1024
            while True:  # buffers sized from estimates; a rare overflow doubles one and reruns
                trades = np.empty(trade_cap, k.TRADE_DTYPE)
                book = np.empty(book_cap, k.BOOK_DTYPE)
                nt, nb, status = k.simulate_symbol_day(
                    fair_ticks,
                    spread_ticks,
                    counts,
                    offsets,
                    is_trade,
                    order_lots,
                    side_u,
                    levels,
                    syn.snapshot_every_s,
                    depth_lots,
                    _MAX_SWEEP_LEVELS,
                    min_bid,
                    kernel_seed,
                    open_ns,
                    day * ID_DAY_STRIDE,
                    trades,
                    book,
                )
                if status == k.STATUS_OK:
                    break
                if status == k.STATUS_BOOK_FULL:
                    book_cap *= 2
                else:
                    trade_cap *= 2
            trade_parts.append(_trim(trades, nt))
            book_parts.append(_trim(book, nb))
        return _Day(trades=tuple(trade_parts), book=tuple(book_parts))

    # -- output -------------------------------------------------------------------------------

    def _symbol_column(self, parts: list[tuple[int, np.ndarray]]) -> pa.Array:
        codes = np.repeat(
            np.array([code for code, _ in parts], dtype=np.int32), [rows.size for _, rows in parts]
        )
        return pa.DictionaryArray.from_arrays(pa.array(codes), self._dictionary).cast(pa.string())

    def _scaled(
        self, parts: list[tuple[int, np.ndarray]], field: str, grids: list[tuple[int, int]]
    ) -> pa.Array:
        """Integer ticks (lots) to prices (sizes) exactly on the symbol's grid: ``units * step / 10**d``."""
        chunks = [(rows[field] * grids[code][0]) / grids[code][1] for code, rows in parts]
        return pa.array(np.concatenate(chunks) if chunks else np.empty(0, np.float64))

    def _trades_table(self, parts: list[tuple[int, np.ndarray]]) -> pa.Table:
        parts = [part for part in parts if part[1].size]
        columns = [
            _column(parts, "ts", np.int64).cast(TRADES.field("ts").type),
            self._symbol_column(parts),
            _column(parts, "trade_id", np.int64),
            self._scaled(parts, "price_ticks", self._tick_grid),
            self._scaled(parts, "lots", self._lot_grid),
            _column(parts, "side", np.int8),
        ]
        return pa.Table.from_arrays(columns, schema=TRADES)

    def _book_table(self, parts: list[tuple[int, np.ndarray]]) -> pa.Table:
        parts = [part for part in parts if part[1].size]
        columns = [
            _column(parts, "ts", np.int64).cast(BOOK.field("ts").type),
            self._symbol_column(parts),
            _column(parts, "seq", np.int64),
            _column(parts, "side", np.int8),
            self._scaled(parts, "price_ticks", self._tick_grid),
            self._scaled(parts, "lots", self._lot_grid),
            _column(parts, "is_snapshot", np.bool_),
        ]
        return pa.Table.from_arrays(columns, schema=BOOK)


# -- helpers ------------------------------------------------------------------------------------


def _rng(seed: int, day: int, stream: int, key: int) -> np.random.Generator:
    mask = 2**64 - 1
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed & mask, day & mask, stream, key]))
    )


def _crc(name: str) -> int:
    return zlib.crc32(name.encode())


def _grid(step: float) -> tuple[int, int]:
    """A grid step as ``(units, 10**d)`` with ``step == units / 10**d`` (d <= 12 decimals)."""
    for d in range(13):
        scaled = step * 10**d
        if abs(round(scaled) - scaled) < 1e-9 * max(1.0, scaled):
            return round(scaled), 10**d
    return round(step * 10**12), 10**12


def _trim(rows: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows, copied when that frees much of an oversized buffer."""
    return rows[:n].copy() if n < 0.6 * rows.size else rows[:n]


def _window(rows: np.ndarray, start_ns: int, end_ns: int) -> np.ndarray:
    ts = rows["ts"]
    return rows[
        int(np.searchsorted(ts, start_ns, "left")) : int(np.searchsorted(ts, end_ns, "left"))
    ]


def _column(parts: list[tuple[int, np.ndarray]], field: str, dtype: type) -> pa.Array:
    chunks = [rows[field] for _, rows in parts]
    return pa.array(np.concatenate(chunks) if chunks else np.empty(0, dtype))


def _intraday_profile(n_sec: int) -> np.ndarray:
    """U-shaped activity over the session (fraction of session ``x``), mean 1."""
    x = (np.arange(n_sec) + 0.5) / n_sec
    u = 0.55 + 1.6 * np.exp(-x / 0.06) + 1.1 * np.exp(-(1.0 - x) / 0.05)
    return u / u.mean()


def _garch(
    rng: np.random.Generator, n_sec: int, impulse: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-variance factor shocks with clustered volatility, and their conditional variance."""
    eps = rng.standard_normal(_GARCH_BURN_IN_S + n_sec)
    eta = rng.standard_normal(_GARCH_BURN_IN_S + n_sec)
    shock = np.empty(n_sec)
    var = np.empty(n_sec)
    k.garch_path(
        eps,
        eta,
        _GARCH_ALPHA,
        _GARCH_BETA,
        _REGIME_PHI,
        _REGIME_SIGMA,
        impulse,
        _GARCH_BURN_IN_S,
        shock,
        var,
    )
    return shock, var


def _anchor(seed: int, symbol: str, day: int, vol: float) -> float:
    """Log-deviation of a day's open from the configured price: smooth in the day, fixed per symbol."""
    rng = _rng(seed, 0, _STREAM_ANCHOR, _crc(symbol))
    phases = rng.uniform(0.0, 2.0 * math.pi, len(_ANCHOR_PERIODS_DAYS))
    amplitude = _ANCHOR_VOL_FRACTION * vol / math.sqrt(len(_ANCHOR_PERIODS_DAYS) / 2.0)
    return float(
        sum(
            amplitude * math.sin(2.0 * math.pi * day / p + ph)
            for p, ph in zip(_ANCHOR_PERIODS_DAYS, phases, strict=True)
        )
    )


def _event_offsets(rng: np.random.Generator, counts: np.ndarray, reserve: int) -> np.ndarray:
    """Offsets in their second of ``counts[t]`` events per second: sorted, >= 1, ``reserve`` ns apart."""
    total = int(counts.sum())
    second = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    rank = np.arange(total, dtype=np.int64) - first[second]
    room = (NS_PER_SECOND - 1 - counts * reserve)[second]
    raw = 1 + (rng.random(total) * room).astype(np.int64)
    keys = second * NS_PER_SECOND + raw
    keys.sort()
    return keys - second * NS_PER_SECOND + rank * reserve


def _order_lots(rng: np.random.Generator, n: int, lot_size: float) -> np.ndarray:
    """Order sizes in lots: odd lots (lognormal), round lots and a power-law tail; never 0."""
    kind = rng.random(n)
    odd = kind < _ODD_LOT_SHARE
    tail = kind >= _ODD_LOT_SHARE + _ROUND_LOT_SHARE
    round_lot = ~(odd | tail)
    shares = np.empty(n)
    shares[odd] = rng.lognormal(math.log(40.0), 1.0, int(odd.sum()))
    shares[round_lot] = _ROUND_LOTS[
        np.searchsorted(_ROUND_LOT_CDF, rng.random(int(round_lot.sum())), "right")
    ]
    shares[tail] = np.minimum(
        100.0 * np.ceil(2.0 * (1.0 + rng.pareto(1.3, int(tail.sum())))), 100_000.0
    )
    return np.maximum(1, np.rint(shares / lot_size)).astype(np.int64)
