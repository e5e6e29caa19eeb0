"""Synthetic news: tied to the synthetic market's moves, deterministic, NEWS-shaped, mappable."""

from __future__ import annotations

import tomllib

import msgspec
import numpy as np
import polars as pl
import pytest

from models.sentiment.entities import EntityOutcome, default_entity_map
from models.sentiment.index import sentiment_index
from models.sentiment.news import NewsConfig, NewsKind, generate_news, news_table
from shriven.aggregation.bars import aggregate_trades
from shriven.config import Settings
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.schemas import NEWS
from shriven.testing.small_config import SMALL_CONFIG

MINUTE = 60_000_000_000
HORIZON = 5
SEEDS = range(12)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return msgspec.convert(tomllib.loads(SMALL_CONFIG), Settings)


@pytest.fixture(scope="module")
def bars(settings: Settings) -> pl.DataFrame:
    """One synthetic session of 1m bars for the three-symbol universe."""
    exchange = SyntheticExchange(settings)
    start, end = session_window(settings, 19_700)
    frames = [
        pl.from_arrow(aggregate_trades(exchange.fetch(start, end, [s]).trades, ["1m"])["1m"])
        for s in settings.universe
    ]
    return pl.concat(frames)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def names(settings: Settings) -> dict[str, str]:
    return {s.symbol: s.name for s in settings.symbols}


def _price_at(bars: pl.DataFrame, query: pl.DataFrame) -> pl.Series:
    """Close of the last bar closed by each query row's ``t`` (null before the first close)."""
    closes = bars.select(
        t=pl.col("ts").dt.epoch("ns") + MINUTE, symbol=pl.col("symbol"), close=pl.col("close")
    ).sort("symbol", "t")
    q = query.with_row_index("_i").sort("symbol", "t")
    joined = q.join_asof(closes, on="t", by="symbol", strategy="backward", check_sortedness=False)
    return joined.sort("_i").get_column("close")


def test_headline_sign_correlates_with_the_concurrent_return(
    bars: pl.DataFrame, names: dict[str, str]
) -> None:
    signs, returns = [], []
    for seed in SEEDS:
        out = generate_news(
            bars, seed=seed, names=names, config=NewsConfig(horizon_bars=HORIZON, threshold_sd=1.0)
        )
        moves = (
            out.news.join(out.truth, on=["text_id", "symbol"])
            .filter(pl.col("kind") == NewsKind.MOVE)
            .select("symbol", "true_sign", t=pl.col("ts").dt.epoch("ns"))
        )
        before = _price_at(bars, moves.with_columns(pl.col("t") - HORIZON * MINUTE))
        after = _price_at(bars, moves.with_columns(pl.col("t") + HORIZON * MINUTE))
        ok = before.is_not_null() & after.is_not_null()
        signs.append(moves.get_column("true_sign").filter(ok).to_numpy().astype(float))
        returns.append(np.log(after.filter(ok).to_numpy() / before.filter(ok).to_numpy()))
    sign, ret = np.concatenate(signs), np.concatenate(returns)
    assert sign.size >= 60
    assert set(np.unique(sign)) == {-1.0, 1.0}
    assert np.corrcoef(sign, ret)[0, 1] > 0.3
    # most stories agree with the move; the configured 10 % flips keep it imperfect
    assert 0.7 < np.mean(np.sign(ret) == sign) < 1.0


def test_decayed_index_of_headlines_tracks_the_symbols_returns(
    bars: pl.DataFrame, names: dict[str, str]
) -> None:
    scored = []
    for seed in SEEDS:
        out = generate_news(bars, seed=seed, names=names)
        scored.append(
            out.news.join(out.truth, on=["text_id", "symbol"])
            .filter(pl.col("kind") == NewsKind.MOVE)
            .select("ts", "symbol", score=pl.col("true_sign").cast(pl.Float64))
        )
    close_time = pl.col("ts") + pl.duration(nanoseconds=MINUTE)
    grid = bars.select(close_time, "symbol")
    index = sentiment_index(pl.concat(scored), grid, half_life_s=180.0)
    past = (
        bars.sort("symbol", "ts")
        .with_columns(ret=pl.col("close").log().diff(HORIZON).over("symbol"), ts=close_time)
        .select("ts", "symbol", "ret")
    )
    joined = index.join(past, on=["ts", "symbol"]).drop_nulls("ret").filter(pl.col("n_texts") > 0)
    assert joined.height > 50
    assert np.corrcoef(joined["index"].to_numpy(), joined["ret"].to_numpy())[0, 1] > 0.2


def test_same_seed_same_news_and_other_seed_other_news(
    bars: pl.DataFrame, names: dict[str, str]
) -> None:
    a = generate_news(bars, seed=3, names=names)
    b = generate_news(bars, seed=3, names=names)
    c = generate_news(bars, seed=4, names=names)
    assert a.news.equals(b.news)
    assert a.truth.equals(b.truth)
    assert not a.news.equals(c.news)


def test_output_is_in_the_news_schema_with_unique_text_ids(
    bars: pl.DataFrame, names: dict[str, str]
) -> None:
    out = generate_news(bars, seed=0, names=names)
    news = out.news
    assert news.columns == NEWS.names
    assert news_table(out).schema.equals(NEWS, check_metadata=True)
    assert news.height > 0
    assert news.get_column("text_id").n_unique() == news.height
    assert news.get_column("ts").is_sorted()
    assert "true_sign" not in news.columns


def test_every_kind_is_present_and_noise_names_no_symbol(
    bars: pl.DataFrame, names: dict[str, str]
) -> None:
    out = generate_news(bars, seed=0, names=names, config=NewsConfig(noise_per_hour=10.0))
    truth = out.truth
    assert set(truth.get_column("kind")) == {k.value for k in NewsKind}
    noise = truth.filter(pl.col("kind") == NewsKind.NOISE)
    assert set(noise.get_column("symbol")) == {""}
    assert set(noise.get_column("true_sign")) == {0}
    assert set(truth.filter(pl.col("kind") == NewsKind.NEUTRAL).get_column("true_sign")) == {0}


def test_texts_name_their_symbol_so_the_entity_map_recovers_it(
    bars: pl.DataFrame, names: dict[str, str], settings: Settings
) -> None:
    config = NewsConfig(tag_symbols=False, noise_per_hour=6.0)
    runs = [generate_news(bars, seed=seed, names=names, config=config) for seed in range(6)]
    news = pl.concat([r.news for r in runs])
    truth = pl.concat([r.truth for r in runs])
    assert set(news.get_column("symbol")) == {""}
    entity_map = default_entity_map(settings.symbols)
    split = entity_map.assign_symbols(news)
    assert split.quarantined.height == 0
    expected = truth.select("text_id", "symbol").sort("text_id", "symbol")
    got = split.mapped.select("text_id", "symbol").sort("text_id", "symbol")
    assert got.equals(expected)
    assert split.outcomes[EntityOutcome.MAPPED] > 0
    assert split.outcomes[EntityOutcome.NO_ENTITY] > 0
    refs = " ".join(news.get_column("text"))
    assert "$" in refs
    assert any(name in refs for name in names.values())


def test_flat_or_empty_bars_give_only_filler() -> None:
    ts = pl.datetime_range(
        pl.datetime(2024, 1, 2, 14, 30, time_zone="UTC"),
        pl.datetime(2024, 1, 2, 15, 29, time_zone="UTC"),
        "1m",
        eager=True,
    ).dt.cast_time_unit("ns")
    flat = pl.DataFrame({"ts": ts, "symbol": "ACME", "close": 100.0})
    truth = generate_news(flat, seed=1).truth
    assert NewsKind.MOVE not in set(truth.get_column("kind"))
    empty = generate_news(flat.clear(), seed=1)
    assert empty.news.height == 0
    assert news_table(empty).schema.equals(NEWS, check_metadata=True)


def test_bad_config_and_bars_raise() -> None:
    with pytest.raises(ValueError, match="flip_rate"):
        NewsConfig(flip_rate=1.5)
    with pytest.raises(ValueError, match="close"):
        generate_news(pl.DataFrame({"ts": [1], "symbol": ["A"]}), seed=0)
