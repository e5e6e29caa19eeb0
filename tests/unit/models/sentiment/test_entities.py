"""Entity mapping: tickers, cashtags and names to symbols, on word boundaries, with the right case."""

from __future__ import annotations

import polars as pl
import pytest

from models.sentiment.entities import (
    MARKET_WIDE,
    AliasKind,
    EntityMap,
    EntityOutcome,
    alias_kind,
    default_entity_map,
)
from shriven.config import load_settings

CRYPTO_TOML = """
[entities]
"BTC-USD" = ["Bitcoin", "XBT"]
"ETH-USD" = ["Ether", "Ethereum"]
"""


@pytest.fixture(scope="module")
def crypto() -> EntityMap:
    return EntityMap.from_toml(CRYPTO_TOML)


@pytest.fixture(scope="module")
def universe() -> EntityMap:
    return default_entity_map(load_settings(environ={}).symbols)


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("ETH breaks out", ("ETH-USD",)),
        ("ETHICS committee meets on Monday", ()),
        ("SOMETHING about BETH", ()),
        ("ETH's rally continues", ("ETH-USD",)),
        ("Ether rallies", ("ETH-USD",)),
        ("ether rallies", ("ETH-USD",)),
        ("ETHER RALLIES", ("ETH-USD",)),
        ("Etherscan goes down", ()),
        ("Ethereum upgrade ships", ("ETH-USD",)),
        ("$eth and $BTC both up", ("BTC-USD", "ETH-USD")),
        ("BTC-USD hits a record", ("BTC-USD",)),
        ("BTC-USDT perpetual funding flips", ("BTC-USD",)),  # the base, not the full pair
        ("xbt is not a ticker in lower case", ()),
        ("XBT bid strongly", ("BTC-USD",)),
        ("Bitcoin,Ether and friends", ("BTC-USD", "ETH-USD")),
        ("US$BTC", ()),  # a cashtag needs its own word
        ("the $BTCX token", ()),
    ],
)
def test_crypto_word_boundaries_and_case(
    crypto: EntityMap, text: str, symbols: tuple[str, ...]
) -> None:
    assert crypto.find(text).symbols == symbols


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("GRID outage fears weigh on shares", ("GRID",)),
        ("the power grid held up during the storm", ()),  # tickers are case-sensitive
        ("the tide turned for echo chambers", ()),
        ("Grid Utilities raises its dividend", ("GRID",)),
        ("grid   utilities beats", ("GRID",)),  # names: any case, any whitespace
        ("$tide and $Halo rally", ("HALO", "TIDE")),
        ("Acme Corporation and Bolt Motors merge", ("ACME", "BOLT")),
        ("ACMEX and XACME are other tickers", ()),
        ("ACME-backed venture launches", ("ACME",)),
    ],
)
def test_universe_map_from_the_settings(
    universe: EntityMap, text: str, symbols: tuple[str, ...]
) -> None:
    assert universe.find(text).symbols == symbols


def test_default_map_covers_every_universe_symbol_with_ticker_cashtag_and_name(
    universe: EntityMap,
) -> None:
    settings = load_settings(environ={})
    assert universe.symbols == tuple(sorted(settings.universe))
    for s in settings.symbols:
        assert {s.symbol, f"${s.symbol}", s.name} <= set(universe.aliases[s.symbol])


def test_outcomes_and_matches(crypto: EntityMap) -> None:
    mapped = crypto.find("Bitcoin and $ETH up")
    assert mapped.outcome is EntityOutcome.MAPPED
    assert [(m.symbol, m.alias, m.kind) for m in mapped.matches] == [
        ("BTC-USD", "Bitcoin", AliasKind.NAME),
        ("ETH-USD", "$ETH", AliasKind.CASHTAG),
    ]
    assert crypto.find("Stocks slide as rates rise").outcome is EntityOutcome.NO_ENTITY
    unknown = crypto.find("$DOGE and SOL-USD moon")
    assert unknown.outcome is EntityOutcome.UNKNOWN_ENTITY
    assert unknown.symbols == ()
    assert unknown.unknown == ("$DOGE", "SOL-USD")
    assert crypto.find("Rent rises $5 a month").outcome is EntityOutcome.NO_ENTITY


def test_shared_pair_bases_are_not_guessed() -> None:
    m = EntityMap({"ETH-USD": [], "ETH-BTC": [], "BTC-USD": []})
    assert m.find("ETH rallies").outcome is EntityOutcome.NO_ENTITY
    assert m.find("BTC rallies").symbols == ("BTC-USD",)
    assert m.find("ETH-BTC ratio climbs").symbols == ("ETH-BTC",)


def test_an_alias_given_to_two_symbols_raises() -> None:
    with pytest.raises(ValueError, match="both"):
        EntityMap({"BTC-USD": ["Bitcoin"], "XBT-USD": ["bitcoin"]})


def test_toml_extends_a_base_map_and_rejects_bad_tables(universe: EntityMap) -> None:
    extended = EntityMap.from_toml(CRYPTO_TOML, base=universe)
    assert extended.find("Acme Corporation and Bitcoin").symbols == ("ACME", "BTC-USD")
    with pytest.raises(ValueError, match="no \\[entities\\]"):
        EntityMap.from_toml("[other]\nx = 1\n")
    with pytest.raises(ValueError, match="list of strings"):
        EntityMap.from_toml("[entities]\nACME = 3\n")


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("$BTC", AliasKind.CASHTAG),
        ("BTC-USD", AliasKind.TICKER),
        ("BRK.B", AliasKind.TICKER),
        ("Bitcoin", AliasKind.NAME),
        ("Grid Utilities", AliasKind.NAME),
    ],
)
def test_alias_kind_follows_spelling(alias: str, kind: AliasKind) -> None:
    assert alias_kind(alias) is kind


def test_assign_symbols_fans_out_keeps_tagged_rows_and_quarantines_unknown(
    crypto: EntityMap,
) -> None:
    news = pl.DataFrame(
        {
            "text_id": ["a", "b", "c", "d", "e"],
            "symbol": ["", "", "ETH-USD", "", ""],
            "text": [
                "Bitcoin and Ether rally",
                "$DOGE soars",
                "tagged by the source",
                "Stocks slide",
                "ETHICS probe",
            ],
        }
    )
    split = crypto.assign_symbols(news)
    assert split.mapped.columns == news.columns
    assert split.mapped.select("text_id", "symbol").rows() == [
        ("a", "BTC-USD"),
        ("a", "ETH-USD"),
        ("c", "ETH-USD"),
        ("d", MARKET_WIDE),
        ("e", MARKET_WIDE),
    ]
    assert split.quarantined.select("text_id", "reason").rows() == [("b", "unknown_entity")]
    assert split.outcomes == {"mapped": 1, "unknown_entity": 1, "no_entity": 2}
