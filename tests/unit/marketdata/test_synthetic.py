"""The synthetic exchange: determinism, windowing, schema, book consistency and market statistics."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shriven.config import Settings, SymbolConfig, SyntheticConfig
from shriven.marketdata.source import MarketBatch, MarketDataSource
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.schemas import BOOK, TRADES

DAY = (date(2024, 3, 4) - date(1970, 1, 1)).days
MINUTE_NS = 60 * 1_000_000_000


def _symbol(symbol: str, sector: str, price: float, volatility: float, **kw: float) -> SymbolConfig:
    return SymbolConfig(
        symbol=symbol, name=symbol.title(), sector=sector, price=price, volatility=volatility, **kw
    )


def _small_settings(seed: int = 7) -> Settings:
    """Two symbols with different grids over a one-hour session: quick, and exercises jumps and sweeps."""
    return Settings(
        symbols=(
            _symbol("WIDE", "tech", 612.30, 0.6, daily_trades=6000),
            _symbol("TICK", "energy", 23.45, 0.4, tick_size=0.05, lot_size=10.0, daily_trades=4000),
        ),
        synthetic=SyntheticConfig(
            seed=seed,
            session_open="14:00",
            session_close="15:00",
            book_levels=5,
            snapshot_every_s=900,
            jump_rate_per_day=3.0,
            jump_size=0.01,
        ),
    )


def _sector_settings() -> Settings:
    """Three sectors of three symbols over the default 6.5-hour session."""
    symbols = []
    for sector, prices in {
        "alpha": (50.0, 80.0, 120.0),
        "beta": (40.0, 95.0, 150.0),
        "gamma": (30.0, 60.0, 210.0),
    }.items():
        for i, price in enumerate(prices):
            symbols.append(
                _symbol(f"{sector[:3].upper()}{i}", sector, price, 0.3, daily_trades=20_000)
            )
    return Settings(symbols=tuple(symbols), synthetic=SyntheticConfig(seed=11))


def _day_batch(exchange: SyntheticExchange, settings: Settings, day: int = DAY) -> MarketBatch:
    open_ns, close_ns = session_window(settings, day)
    return exchange.fetch(open_ns, close_ns, settings.universe)


def _ns(table: pa.Table) -> np.ndarray:
    return table["ts"].cast(pa.int64()).to_numpy()


@pytest.fixture(scope="module")
def small() -> tuple[Settings, MarketBatch]:
    settings = _small_settings()
    return settings, _day_batch(SyntheticExchange(settings), settings)


@pytest.fixture(scope="module")
def sector_days() -> tuple[Settings, list[MarketBatch]]:
    settings = _sector_settings()
    exchange = SyntheticExchange(settings)
    return settings, [_day_batch(exchange, settings, DAY + d) for d in range(3)]


def _minute_closes(batch: MarketBatch, settings: Settings, day: int, symbol: str) -> np.ndarray:
    """Last trade price at or before the end of each session minute (the open price before any trade)."""
    open_ns, close_ns = session_window(settings, day)
    trades = batch.trades.filter(pc.equal(batch.trades["symbol"], symbol))
    ts, price = _ns(trades), trades["price"].to_numpy()
    ends = np.arange(open_ns + MINUTE_NS, close_ns + 1, MINUTE_NS)
    last = np.searchsorted(ts, ends, "left") - 1
    return price[np.maximum(last, 0)]


def _minute_returns(batch: MarketBatch, settings: Settings, day: int) -> dict[str, np.ndarray]:
    return {s: np.diff(np.log(_minute_closes(batch, settings, day, s))) for s in settings.universe}


# -- interface, schema, determinism --------------------------------------------------------


def test_implements_the_source_protocol() -> None:
    exchange = SyntheticExchange(_small_settings())
    assert isinstance(exchange, MarketDataSource)
    assert exchange.name == "synthetic"
    assert exchange.live is True


def test_tables_have_exactly_the_schemas(small: tuple[Settings, MarketBatch]) -> None:
    _, batch = small
    assert batch.trades.schema.equals(TRADES, check_metadata=True)
    assert batch.book.schema.equals(BOOK, check_metadata=True)
    assert batch.trades.num_rows > 1000
    assert batch.book.num_rows > batch.trades.num_rows


def test_sorted_by_symbol_then_time_and_seq(small: tuple[Settings, MarketBatch]) -> None:
    _, batch = small
    for table, key in ((batch.trades, "ts"), (batch.book, "seq")):
        symbols = table["symbol"].to_numpy(zero_copy_only=False)
        assert list(symbols) == sorted(symbols)
        for symbol in np.unique(symbols):
            part = table.filter(pc.equal(table["symbol"], symbol))
            assert np.all(np.diff(part[key].cast(pa.int64()).to_numpy()) >= 0)
            assert np.all(np.diff(_ns(part)) >= 0)


def test_same_seed_gives_identical_tables_and_another_seed_differs() -> None:
    settings = _small_settings(seed=3)
    first = _day_batch(SyntheticExchange(settings), settings)
    second = _day_batch(SyntheticExchange(settings), settings)
    assert first.trades.equals(second.trades)
    assert first.book.equals(second.book)
    other = _day_batch(SyntheticExchange(_small_settings(seed=4)), _small_settings(seed=4))
    assert not first.trades.equals(other.trades)
    assert not np.array_equal(
        first.trades["price"].to_numpy(), other.trades["price"].to_numpy()[: first.trades.num_rows]
    )


def test_consecutive_windows_concatenate_to_the_day(small: tuple[Settings, MarketBatch]) -> None:
    settings, day = small
    exchange = SyntheticExchange(settings)
    open_ns, close_ns = session_window(settings, DAY)
    # uneven windows, the first starting before the open and the last ending after the close
    edges = [open_ns - 5 * MINUTE_NS, open_ns + 1, open_ns + 7 * MINUTE_NS + 123]
    edges += list(range(edges[-1] + MINUTE_NS, close_ns, 3 * MINUTE_NS)) + [close_ns + MINUTE_NS]
    batches = [
        exchange.fetch(a, b, settings.universe) for a, b in zip(edges, edges[1:], strict=False)
    ]
    for name in ("trades", "book"):
        whole = getattr(day, name)
        pieces = pa.concat_tables([getattr(b, name) for b in batches])
        for symbol in settings.universe:
            mask = pc.equal(pieces["symbol"], symbol)
            assert pieces.filter(mask).equals(whole.filter(pc.equal(whole["symbol"], symbol)))


def test_window_spanning_two_days_is_each_day_per_symbol() -> None:
    settings = _small_settings()
    exchange = SyntheticExchange(settings, cache_days=1)
    start, _ = session_window(settings, DAY)
    _, end = session_window(settings, DAY + 1)
    both = exchange.fetch(start, end, ["TICK", "WIDE"])
    days = [_day_batch(SyntheticExchange(settings), settings, DAY + d) for d in range(2)]
    for symbol in settings.universe:
        expected = pa.concat_tables(
            [d.trades.filter(pc.equal(d.trades["symbol"], symbol)) for d in days]
        )
        assert both.trades.filter(pc.equal(both.trades["symbol"], symbol)).equals(expected)
    assert both.book.num_rows == sum(d.book.num_rows for d in days)
    assert days[0].trades["trade_id"][0].as_py() < days[1].trades["trade_id"][0].as_py()


def test_evicted_days_regenerate_identically() -> None:
    settings = _small_settings()
    exchange = SyntheticExchange(settings, cache_days=1)
    first = _day_batch(exchange, settings, DAY)
    _day_batch(exchange, settings, DAY + 1)
    assert _day_batch(exchange, settings, DAY).book.equals(first.book)


def test_symbol_subset_matches_universe_rows(small: tuple[Settings, MarketBatch]) -> None:
    settings, day = small
    open_ns, close_ns = session_window(settings, DAY)
    only = SyntheticExchange(settings).fetch(open_ns, close_ns, ["TICK"])
    assert only.trades.equals(day.trades.filter(pc.equal(day.trades["symbol"], "TICK")))


def test_unknown_symbol_raises_key_error() -> None:
    exchange = SyntheticExchange(_small_settings())
    with pytest.raises(KeyError, match="NOPE"):
        exchange.fetch(0, 10**18, ["WIDE", "NOPE"])


def test_windows_outside_the_session_are_empty() -> None:
    settings = _small_settings()
    exchange = SyntheticExchange(settings)
    open_ns, close_ns = session_window(settings, DAY)
    for start, end in (
        (open_ns - MINUTE_NS, open_ns),
        (close_ns, close_ns + 3 * MINUTE_NS),
        (open_ns, open_ns),
    ):
        batch = exchange.fetch(start, end, settings.universe)
        assert batch.trades.num_rows == 0
        assert batch.book.num_rows == 0
        assert batch.trades.schema.equals(TRADES, check_metadata=True)
        assert batch.book.schema.equals(BOOK, check_metadata=True)


def test_a_weekend_day_trades_too() -> None:
    settings = _small_settings()
    saturday = (date(2024, 3, 9) - date(1970, 1, 1)).days
    assert _day_batch(SyntheticExchange(settings), settings, saturday).trades.num_rows > 0


# -- the book and the trades ---------------------------------------------------------------


def _replay(trades: pa.Table, book: pa.Table, levels: int) -> int:
    """Replay one symbol-day through a plain dict L2 book; assert every consistency rule; return checks."""
    events: list[tuple[int, int, int, dict]] = []
    for row in trades.to_pylist():
        events.append((row["ts"].value, 0, row["trade_id"], row))
    for row in book.to_pylist():
        events.append((row["ts"].value, 1, row["seq"], row))
    events.sort(key=lambda e: e[:3])  # at one instant a trade precedes the deltas it causes
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    last_seq = None
    checks = 0
    for i, (ts, kind, key, row) in enumerate(events):
        if kind == 0:
            assert bids, "trade with an empty bid side"
            assert asks, "trade with an empty ask side"
            if row["side"] == 1:
                assert row["price"] == min(asks), f"buy at {row['price']} but best ask {min(asks)}"
                assert row["size"] <= asks[row["price"]]
            else:
                assert row["side"] == -1
                assert row["price"] == max(bids), f"sell at {row['price']} but best bid {max(bids)}"
                assert row["size"] <= bids[row["price"]]
            assert row["size"] > 0
            checks += 1
            continue
        side = bids if row["side"] == 1 else asks
        if row["is_snapshot"]:
            if key != last_seq:
                assert last_seq is None or key == last_seq + 1, "seq gap before a snapshot"
                bids.clear()
                asks.clear()
            side[row["price"]] = row["size"]
        else:
            assert key == last_seq + 1, f"seq gap {last_seq} -> {key}"
            if row["size"] == 0:
                assert row["price"] in side, "removing a level that is not there"
                del side[row["price"]]
            else:
                side[row["price"]] = row["size"]
        last_seq = key
        if bids and asks:
            assert max(bids) < min(asks), f"crossed book at seq {key}"
        if i + 1 == len(events) or events[i + 1][0] != ts:
            # after all events of an instant: full depth on both sides
            assert len(bids) == levels
            assert len(asks) == levels
    return checks


@pytest.mark.parametrize("symbol", ["WIDE", "TICK"])
def test_book_replay_is_consistent_with_every_trade(
    small: tuple[Settings, MarketBatch], symbol: str
) -> None:
    settings, batch = small
    trades = batch.trades.filter(pc.equal(batch.trades["symbol"], symbol))
    book = batch.book.filter(pc.equal(batch.book["symbol"], symbol))
    assert _replay(trades, book, settings.synthetic.book_levels) == trades.num_rows


def test_snapshots_open_the_session_and_repeat(small: tuple[Settings, MarketBatch]) -> None:
    settings, batch = small
    open_ns, _ = session_window(settings, DAY)
    levels = settings.synthetic.book_levels
    for symbol in settings.universe:
        book = batch.book.filter(pc.equal(batch.book["symbol"], symbol))
        snaps = book.filter(book["is_snapshot"])
        assert book["is_snapshot"][0].as_py()
        assert _ns(book)[0] == open_ns
        ts = np.unique(_ns(snaps))
        assert list(ts) == [open_ns + i * 900 * 1_000_000_000 for i in range(4)]
        seqs, counts = np.unique(snaps["seq"].to_numpy(), return_counts=True)
        assert len(seqs) == 4
        assert np.all(counts == 2 * levels)


def test_ids_are_unique_increasing_and_seq_contiguous(small: tuple[Settings, MarketBatch]) -> None:
    settings, batch = small
    for symbol in settings.universe:
        ids = batch.trades.filter(pc.equal(batch.trades["symbol"], symbol))["trade_id"].to_numpy()
        assert np.all(np.diff(ids) == 1)
        assert ids[0] == DAY * 10**9
        seqs = np.unique(
            batch.book.filter(pc.equal(batch.book["symbol"], symbol))["seq"].to_numpy()
        )
        assert np.all(np.diff(seqs) == 1)


def test_trades_lie_within_the_session_and_their_second(
    small: tuple[Settings, MarketBatch],
) -> None:
    settings, batch = small
    open_ns, close_ns = session_window(settings, DAY)
    ts = _ns(batch.trades)
    assert ts.min() > open_ns
    assert ts.max() < close_ns
    assert np.all(ts % 1_000_000_000 != 0)  # strictly inside a second, never on its boundary


def test_prices_on_the_tick_grid_and_sizes_in_lots(small: tuple[Settings, MarketBatch]) -> None:
    settings, batch = small
    for cfg in settings.symbols:
        for table in (batch.trades, batch.book):
            part = table.filter(pc.equal(table["symbol"], cfg.symbol))
            price, size = part["price"].to_numpy(), part["size"].to_numpy()
            assert np.all(price > 0)
            ticks = np.rint(price / cfg.tick_size)
            assert np.array_equal(price, np.round(ticks * cfg.tick_size, 2))
            lots = size / cfg.lot_size
            assert np.allclose(lots, np.rint(lots), rtol=0, atol=1e-9)
        trade_sizes = batch.trades.filter(pc.equal(batch.trades["symbol"], cfg.symbol))[
            "size"
        ].to_numpy()
        assert trade_sizes.min() >= cfg.lot_size


def test_trade_sizes_are_heavy_tailed_and_cluster_at_round_lots(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    _, days = sector_days
    size = np.concatenate([d.trades["size"].to_numpy() for d in days])
    assert size.min() >= 1
    counts = {s: int(np.sum(size == s)) for s in (99, 100, 101, 499, 500, 501, 999, 1000, 1001)}
    for round_lot in (100, 500, 1000):
        assert counts[round_lot] > 5 * (counts[round_lot - 1] + counts[round_lot + 1])
    # heavy tail: the largest prints are many times the median, and the kurtosis is far above normal
    assert np.quantile(size, 0.999) > 10 * np.median(size)
    standard = (size - size.mean()) / size.std()
    assert np.mean(standard**4) - 3 > 10


def test_spread_is_at_least_a_tick_and_depth_is_full(small: tuple[Settings, MarketBatch]) -> None:
    settings, batch = small
    levels = settings.synthetic.book_levels
    snaps = batch.book.filter(batch.book["is_snapshot"])
    for cfg in settings.symbols:
        part = snaps.filter(pc.equal(snaps["symbol"], cfg.symbol))
        seq, side, price = (part[c].to_numpy() for c in ("seq", "side", "price"))
        for s in np.unique(seq):
            bid, ask = price[(seq == s) & (side == 1)], price[(seq == s) & (side == -1)]
            assert bid.size == levels
            assert ask.size == levels
            assert ask.min() - bid.max() >= cfg.tick_size - 1e-9


# -- market statistics ---------------------------------------------------------------------


def test_daily_trade_count_matches_the_configuration(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    settings, days = sector_days
    configured = sum(s.daily_trades for s in settings.symbols)
    mean = np.mean([d.trades.num_rows for d in days])
    assert 0.8 * configured < mean < 1.2 * configured


def test_realised_volatility_matches_the_configuration(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    settings, days = sector_days
    variances = []
    for d, batch in enumerate(days):
        for returns in _minute_returns(batch, settings, DAY + d).values():
            variances.append(np.sum(returns**2) * 252)
    assert 0.3 * 0.7 < math.sqrt(np.mean(variances)) < 0.3 * 1.4


def test_same_sector_correlation_exceeds_cross_sector(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    settings, days = sector_days
    sector = {s.symbol: s.sector for s in settings.symbols}
    within, across = [], []
    for d, batch in enumerate(days):
        returns = _minute_returns(batch, settings, DAY + d)
        names = sorted(returns)
        corr = np.corrcoef(np.array([returns[n] for n in names]))
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                (within if sector[names[i]] == sector[names[j]] else across).append(corr[i, j])
    assert np.mean(across) > 0.15  # the market factor correlates everything
    assert np.mean(within) > np.mean(across) + 0.1


def test_volume_is_u_shaped_over_the_session(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    settings, days = sector_days
    per_minute = np.zeros(390)
    for d, batch in enumerate(days):
        open_ns, _ = session_window(settings, DAY + d)
        minute = (_ns(batch.trades) - open_ns) // MINUTE_NS
        per_minute += np.bincount(minute, weights=batch.trades["size"].to_numpy(), minlength=390)
    midday = per_minute[150:240].mean()
    assert per_minute[:30].mean() > 1.5 * midday
    assert per_minute[-30:].mean() > 1.5 * midday


def _mean_autocorrelation(x: np.ndarray, lags: range = range(1, 6)) -> float:
    x = x - x.mean()
    return float(np.mean([np.sum(x[lag:] * x[:-lag]) / np.sum(x * x) for lag in lags]))


def test_volatility_clusters(sector_days: tuple[Settings, list[MarketBatch]]) -> None:
    settings, days = sector_days
    rng = np.random.default_rng(0)
    clustered, shuffled = [], []
    for d, batch in enumerate(days):
        for returns in _minute_returns(batch, settings, DAY + d).values():
            size = np.abs(
                returns[60:330]
            )  # away from the open and close, where seasonality is flat
            clustered.append(_mean_autocorrelation(size))
            shuffled.append(_mean_autocorrelation(rng.permutation(size)))
    assert np.mean(clustered) > 0.03
    assert np.mean(clustered) > np.mean(shuffled) + 0.03


def test_day_opens_drift_near_the_configured_price(
    sector_days: tuple[Settings, list[MarketBatch]],
) -> None:
    settings, days = sector_days
    for cfg in settings.symbols:
        opens = [
            _minute_closes(batch, settings, DAY + d, cfg.symbol)[0] for d, batch in enumerate(days)
        ]
        assert len(set(opens)) == len(opens)
        assert all(abs(math.log(o / cfg.price)) < cfg.volatility for o in opens)
