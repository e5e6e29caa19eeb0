"""Which instruments a text is about: tickers, cashtags and names mapped onto the universe's symbols.

Aliases come in three kinds, told apart by their spelling:

- **cashtag** (``$BTC``, ``$acme``): starts with ``$``; matched case-insensitively.
- **ticker** (``BTC-USD``, ``ACME``, ``ETH``): upper-case letters and digits, optionally joined by
  ``-``, ``/`` or ``.``; matched **case-sensitively**, because many tickers are English words
  (``GRID``, ``TIDE``, ``ECHO``): "the tide turned" is not about TIDE.
- **name** (``Bitcoin``, ``Acme Corporation``): anything else; matched case-insensitively, any
  run of whitespace between its words.

Every alias must stand alone: no letter, digit or ``_`` on either side (and no ``$`` before a
ticker), so ``ETH`` is not found in ``ETHICS`` nor ``Ether`` in ``Etherscan``. Longer aliases win
where two overlap (``BTC-USD`` before ``BTC``).

The default map (:func:`default_entity_map`) gives every universe symbol its ticker, its cashtag
and its configured company name; a pair symbol (``BTC-USD``, ``ETH/USDT``) also gets its base
(``BTC``, ``$BTC``) unless another symbol claims the same base. Extra aliases come from a dict or
a TOML table (:meth:`EntityMap.from_toml`), e.g. ``"ETH-USD" = ["Ether", "Ethereum"]``.

**Outcome per text** (:class:`EntityOutcome`): ``mapped`` (one row per symbol found), ``no_entity``
(nothing instrument-like: kept as a **market-wide** text, symbol ``''``, because "rates rise" or
"stocks slide" moves the whole market) or ``unknown_entity`` (no known alias but a cashtag or a
pair-style ticker of an instrument outside the universe, e.g. ``$XYZ``, ``DOGE-USD``): these are
**quarantined**, since scoring a single-name story as market-wide would put one stock's crash into
everyone's index.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from models.sentiment._quarantine import REASON_COLUMN
from shriven.config import SymbolConfig

#: ``symbol`` of a text that names no instrument: it counts for the market as a whole.
MARKET_WIDE = ""


class AliasKind(StrEnum):
    """How an alias is written, which sets how it is matched."""

    TICKER = "ticker"
    CASHTAG = "cashtag"
    NAME = "name"


class EntityOutcome(StrEnum):
    """What mapping found in a text; ``unknown_entity`` is also the quarantine reason."""

    MAPPED = "mapped"
    NO_ENTITY = "no_entity"
    UNKNOWN_ENTITY = "unknown_entity"


@dataclass(frozen=True)
class EntityMatch:
    """One alias found in a text, with its span."""

    symbol: str
    alias: str
    kind: AliasKind
    start: int
    end: int


@dataclass(frozen=True)
class EntityResult:
    """The symbols of one text (sorted, unique), the outcome and what was matched."""

    symbols: tuple[str, ...]
    outcome: EntityOutcome
    matches: tuple[EntityMatch, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntitySplit:
    """NEWS rows with symbols filled in (one per text and symbol) and rejected rows with a reason."""

    mapped: pl.DataFrame
    quarantined: pl.DataFrame
    outcomes: dict[str, int] = field(default_factory=dict)


_TICKER = re.compile(r"[A-Z0-9]+(?:[-/.][A-Z0-9]+)*")
_CASHTAG = re.compile(r"\$[A-Za-z0-9]+(?:[-/.][A-Za-z0-9]+)*")
_PAIR_SEPARATORS = ("-", "/")
_BEFORE = r"(?<![\w$])"
_AFTER = r"(?![\w])"
#: Instrument-looking tokens: any cashtag, or a pair-style ticker such as DOGE-USD or SOL/USDT.
_ANY_INSTRUMENT = re.compile(
    _BEFORE
    + r"(?:\$[A-Za-z][A-Za-z0-9]{0,9}|[A-Z][A-Z0-9]{1,9}[-/](?:USD|USDT|USDC|EUR|BTC|ETH))"
    + _AFTER
)


def alias_kind(alias: str) -> AliasKind:
    """The kind of an alias from its spelling (see the module docstring)."""
    if _CASHTAG.fullmatch(alias):
        return AliasKind.CASHTAG
    if _TICKER.fullmatch(alias) and any(c.isalpha() for c in alias):
        return AliasKind.TICKER
    return AliasKind.NAME


def _key(alias: str, kind: AliasKind) -> str:
    """The lookup key of an alias: tickers as written, cashtags upper-case, names case-folded."""
    if kind is AliasKind.TICKER:
        return alias
    if kind is AliasKind.CASHTAG:
        return alias.upper()
    return " ".join(alias.split()).casefold()


class EntityMap:
    """Aliases → symbols, compiled into one regular expression, so a text is scanned once.

    Parameters
    ----------
    aliases
        Symbol → its aliases. Each symbol is also its own ticker and ``$``-cashtag, and a pair
        symbol (``BTC-USD``) its base (``BTC``, ``$BTC``) unless another symbol has the same base
        or claims it. An alias given for two symbols raises ValueError; an implied one that
        collides is simply not added.
    """

    def __init__(self, aliases: Mapping[str, Iterable[str]]) -> None:
        table: dict[tuple[AliasKind, str], str] = {}
        spelled: dict[tuple[AliasKind, str], str] = {}

        def add(symbol: str, alias: str, implied: bool) -> None:
            alias = alias.strip()
            if not alias or alias == "$":
                raise ValueError(f"empty alias for symbol {symbol!r}")
            kind = alias_kind(alias)
            key = (kind, _key(alias, kind))
            other = table.get(key)
            if other is not None and other != symbol:
                if implied:
                    return
                raise ValueError(f"alias {alias!r} maps to both {other!r} and {symbol!r}")
            table[key] = symbol
            spelled.setdefault(key, alias)

        for symbol, names in aliases.items():
            if not symbol or not symbol.strip():
                raise ValueError("entity map has an empty symbol")
            for alias in (symbol, *names):
                add(symbol, alias, implied=False)
        bases: dict[str, list[str]] = {}
        for symbol in aliases:
            base = _pair_base(symbol)
            if base:
                bases.setdefault(base, []).append(symbol)
        for symbol in aliases:
            implied = [f"${symbol}"]
            base = _pair_base(symbol)
            if base and len(bases[base]) == 1:
                implied += [base, f"${base}"]
            for alias in implied:
                if alias_kind(alias) is not AliasKind.NAME:
                    add(symbol, alias, implied=True)
        self._table = table
        self._aliases: dict[str, tuple[str, ...]] = {}
        for key, symbol in table.items():
            self._aliases[symbol] = (*self._aliases.get(symbol, ()), spelled[key])
        self._pattern = _compile(table)

    @classmethod
    def from_toml(
        cls, text: str, *, table: str = "entities", base: EntityMap | None = None
    ) -> EntityMap:
        """A map from a TOML table of ``symbol = [aliases]``, added to ``base`` (e.g. the default map)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"entity map is not valid TOML: {exc}") from None
        node: object = data
        for part in table.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"entity map TOML has no [{table}] table")
            node = node[part]
        if not isinstance(node, dict):
            raise ValueError(f"[{table}] must be a table of symbol = [aliases]")
        extra: dict[str, list[str]] = {}
        for symbol, names in node.items():
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"[{table}] {symbol!r} must be a string or a list of strings")
            extra[symbol] = names
        merged = {s: list(a) for s, a in (base.aliases.items() if base else ())}
        for symbol, names in extra.items():
            merged[symbol] = [*merged.get(symbol, []), *names]
        return cls(merged)

    @property
    def aliases(self) -> dict[str, tuple[str, ...]]:
        """Symbol → every alias it answers to (including its ticker and cashtag)."""
        return dict(self._aliases)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The mapped symbols, sorted."""
        return tuple(sorted(self._aliases))

    def find(self, text: str) -> EntityResult:
        """The symbols ``text`` is about, and whether it is market-wide or names unknown instruments."""
        matches = []
        taken: list[tuple[int, int]] = []
        if self._pattern is not None:
            for m in self._pattern.finditer(text):
                kind = AliasKind(m.lastgroup)
                symbol = self._table[(kind, _key(m.group(), kind))]
                matches.append(EntityMatch(symbol, m.group(), kind, m.start(), m.end()))
                taken.append(m.span())
        unknown = tuple(
            m.group()
            for m in _ANY_INSTRUMENT.finditer(text)
            if not any(s <= m.start() < e for s, e in taken)
        )
        symbols = tuple(sorted({m.symbol for m in matches}))
        if symbols:
            outcome = EntityOutcome.MAPPED
        elif unknown:
            outcome = EntityOutcome.UNKNOWN_ENTITY
        else:
            outcome = EntityOutcome.NO_ENTITY
        return EntityResult(symbols, outcome, tuple(matches), unknown)

    def assign_symbols(self, news: pl.DataFrame) -> EntitySplit:
        """Fill in the symbols of NEWS rows whose ``symbol`` is '' from their text.

        Rows that already carry a symbol (the source tagged it) are kept as they are. A text
        mapping to several symbols becomes one row per symbol; a ``no_entity`` text stays one
        market-wide row (symbol ''); an ``unknown_entity`` text goes to ``quarantined`` with
        ``reason`` ``unknown_entity``. Output keeps the input's columns and order of rows.
        """
        for column in ("symbol", "text"):
            if column not in news.columns:
                raise ValueError(f"news frame has no {column!r} column (columns: {news.columns})")
        untagged = pl.col("symbol").is_null() | (pl.col("symbol") == MARKET_WIDE)
        texts = news.filter(untagged).get_column("text").unique().to_list()
        results = {t: self.find(t) for t in texts if isinstance(t, str)}
        lookup = pl.DataFrame(
            {
                "text": list(results),
                "_symbols": [list(r.symbols) or [MARKET_WIDE] for r in results.values()],
                "_outcome": [r.outcome.value for r in results.values()],
            },
            schema={"text": pl.String, "_symbols": pl.List(pl.String), "_outcome": pl.String},
        )
        marked = news.with_row_index("_order").join(lookup, on="text", how="left")
        marked = marked.with_columns(
            pl.when(untagged)
            .then(pl.col("_outcome").fill_null(EntityOutcome.NO_ENTITY.value))
            .otherwise(pl.lit(EntityOutcome.MAPPED.value))
            .alias("_outcome"),
            pl.when(pl.col("_symbols").is_null())
            .then(pl.concat_list(pl.lit(MARKET_WIDE)))
            .otherwise(pl.col("_symbols"))
            .alias("_symbols"),
        )
        bad = pl.col("_outcome") == EntityOutcome.UNKNOWN_ENTITY.value
        quarantined = (
            marked.filter(bad)
            .sort("_order")
            .with_columns(pl.lit(EntityOutcome.UNKNOWN_ENTITY.value).alias(REASON_COLUMN))
            .select(*news.columns, REASON_COLUMN)
        )
        kept = marked.filter(bad.not_())
        mapped = (
            kept.with_columns(
                pl.when(untagged)
                .then(pl.col("_symbols"))
                .otherwise(pl.concat_list(pl.col("symbol")))
                .alias("symbol")
            )
            .explode("symbol")
            .sort("_order", "symbol", maintain_order=True)
            .select(news.columns)
        )
        outcomes = marked.filter(untagged).get_column("_outcome").value_counts()
        return EntitySplit(
            mapped=mapped,
            quarantined=quarantined,
            outcomes={str(k): int(n) for k, n in outcomes.iter_rows() if k is not None},
        )


def default_entity_map(
    symbols: Sequence[SymbolConfig], extra: Mapping[str, Iterable[str]] | None = None
) -> EntityMap:
    """The universe's map: each symbol's ticker, cashtag and company name, plus ``extra`` aliases.

    Pass ``settings.symbols``. Implied aliases (``$SYMBOL``; a pair's base ``BTC`` and ``$BTC``)
    are added by :class:`EntityMap`.
    """
    aliases: dict[str, list[str]] = {s.symbol: [s.name] if s.name.strip() else [] for s in symbols}
    for symbol, names in (extra or {}).items():
        aliases.setdefault(symbol, []).extend(names)
    return EntityMap(aliases)


def _pair_base(symbol: str) -> str | None:
    for sep in _PAIR_SEPARATORS:
        if sep in symbol:
            base = symbol.split(sep, 1)[0]
            return base if base else None
    return None


def _compile(table: Mapping[tuple[AliasKind, str], str]) -> re.Pattern[str] | None:
    """One pattern with a named group per kind, longest aliases first within each kind."""
    groups = []
    for kind in (AliasKind.CASHTAG, AliasKind.TICKER, AliasKind.NAME):
        keys = sorted((k for (kd, k) in table if kd is kind), key=lambda k: (-len(k), k))
        if not keys:
            continue
        if kind is AliasKind.NAME:
            body = "|".join(r"\s+".join(re.escape(w) for w in k.split()) for k in keys)
            body = f"(?i:{body})"
        elif kind is AliasKind.CASHTAG:
            body = "(?i:" + "|".join(re.escape(k) for k in keys) + ")"
        else:
            body = "|".join(re.escape(k) for k in keys)
        groups.append(f"(?P<{kind.value}>{_BEFORE}(?:{body}){_AFTER})")
    return re.compile("|".join(groups)) if groups else None
