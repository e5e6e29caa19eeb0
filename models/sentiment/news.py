"""Synthetic news and social posts driven by the synthetic market, so sentiment carries real signal.

Given bars, a symbol whose close moved more than ``threshold_sd`` standard deviations over
``horizon_bars`` bars gets, with probability ``story_probability / horizon_bars`` per such bar (a
big move spans several overlapping windows), a story: a positive headline for a rise, negative
for a fall, naming the symbol by ticker, ``$cashtag`` or company name. The story is published at a
uniform time from ``lead_fraction`` of the move window before the move's last bar closes to
``max_lag_s`` after it: most stories report a move just realised, some break while it is still
under way, so a point-in-time index both describes and slightly leads returns. A share
``flip_rate`` of stories get the opposite sign (misread markets, contrarian posts), so the signal
is strong but not perfect. Around them: neutral company news (a Poisson count per symbol-hour)
and off-topic noise that names no instrument (per hour), published uniformly over the bars' span.

Everything is a pure function of ``(bars, names, seed, config)``. The published rows follow the
NEWS schema; the generator's own truth (kind, intended sign, the move) is a separate frame for
tests and evaluation, never part of NEWS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import polars as pl
import pyarrow as pa

from models.sentiment.importer import text_id
from shriven.schemas import NEWS, conform

#: Sources of synthetic texts.
SOURCE_NEWSWIRE = "synthetic:newswire"
SOURCE_SOCIAL = "synthetic:social"


class NewsKind(StrEnum):
    """What a synthetic text is about."""

    MOVE = "move"
    NEUTRAL = "neutral"
    NOISE = "noise"


@dataclass(frozen=True)
class NewsConfig:
    """Rates and shapes of the synthetic news (see the module docstring)."""

    horizon_bars: int = 5
    threshold_sd: float = 1.5
    story_probability: float = 1.0
    lead_fraction: float = 0.5
    max_lag_s: float = 180.0
    flip_rate: float = 0.1
    neutral_per_symbol_hour: float = 1.0
    noise_per_hour: float = 3.0
    social_share: float = 0.4
    interval_ns: int = 60_000_000_000
    tag_symbols: bool = True

    def __post_init__(self) -> None:
        if self.horizon_bars < 1:
            raise ValueError(f"horizon_bars must be >= 1, got {self.horizon_bars}")
        if self.interval_ns <= 0:
            raise ValueError(f"interval_ns must be > 0, got {self.interval_ns}")
        for name in ("story_probability", "lead_fraction", "flip_rate", "social_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for name in ("threshold_sd", "max_lag_s", "neutral_per_symbol_hour", "noise_per_hour"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")


@dataclass(frozen=True)
class SyntheticNews:
    """Published texts (NEWS schema) and the generator's truth per (text_id, symbol)."""

    news: pl.DataFrame
    truth: pl.DataFrame


_POSITIVE_WIRE = (
    "{ref} shares jump {pct}% as buyers pile in",
    "{ref} rallies {pct}% on strong demand",
    "{ref} surges after upbeat outlook lifts the stock",
    "Analysts upgrade {ref} as shares climb {pct}%",
    "{ref} hits session high, up {pct}%",
)
_NEGATIVE_WIRE = (
    "{ref} shares slump {pct}% amid heavy selling",
    "{ref} tumbles {pct}% after weak outlook",
    "{ref} slides as investors dump the stock",
    "Analysts downgrade {ref} as shares fall {pct}%",
    "{ref} hits session low, down {pct}%",
)
_POSITIVE_SOCIAL = (
    "{ref} ripping higher today, up {pct}%",
    "loading up on {ref}, this breakout looks strong",
    "{ref} to the moon, great gains today",
)
_NEGATIVE_SOCIAL = (
    "{ref} getting crushed, down {pct}%",
    "dumped my {ref}, this is falling apart",
    "{ref} breaking down hard, ugly losses today",
)
_NEUTRAL_WIRE = (
    "{ref} to present at industry conference next week",
    "{ref} schedules annual shareholder meeting",
    "{ref} names new head of investor relations",
    "{ref} files quarterly report with regulator",
)
_NEUTRAL_SOCIAL = (
    "anyone watching {ref} today?",
    "{ref} trading sideways so far",
)
_NOISE = (
    "Heavy rain expected across the region this weekend",
    "Local team wins championship in overtime",
    "New coffee shop opens downtown",
    "Traffic delays reported on the main bridge",
    "City council approves new park budget",
    "Museum unveils new art exhibition",
)


def generate_news(
    bars: pl.DataFrame | pl.LazyFrame,
    *,
    seed: int,
    names: Mapping[str, str] | None = None,
    config: NewsConfig | None = None,
) -> SyntheticNews:
    """Texts whose sentiment follows each symbol's moves in ``bars``, reproducible from ``seed``.

    Parameters
    ----------
    bars
        Bars with ``ts`` (bar open, datetime or int ns), ``symbol`` and ``close``, one interval
        (``config.interval_ns``), any order.
    seed
        Seed of every random draw: the same inputs and seed give the same texts.
    names
        Symbol → company name, e.g. ``{s.symbol: s.name for s in settings.symbols}``; symbols
        without a name are referred to by ticker or cashtag only.
    config
        Rates; defaults to :class:`NewsConfig`.

    Returns
    -------
    SyntheticNews
        ``news`` in NEWS columns sorted by (ts, text_id, symbol), symbol '' for noise (and for
        every row when ``tag_symbols`` is false, leaving it to the entity mapping); ``truth``
        with ``text_id``, ``symbol`` (the intended one, '' for noise), ``kind``, ``true_sign``
        (+1, -1, 0; flips included) and ``move_return`` (the log return that caused a story).
    """
    config = config or NewsConfig()
    names = dict(names or {})
    frame = _bars(bars)
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, str, str, str, str, int, float | None]] = []
    if frame.height:
        first = int(frame.get_column("ts").min())  # type: ignore[arg-type]
        last = int(frame.get_column("ts").max()) + config.interval_ns  # type: ignore[arg-type]
        rows += _move_stories(frame, rng, names, config)
        hours = (last - first) / 3.6e12
        for symbol in sorted(frame.get_column("symbol").unique().to_list()):
            n = int(rng.poisson(config.neutral_per_symbol_hour * hours))
            for t in np.sort(rng.integers(first, last, n, endpoint=False)) if n else ():
                social = bool(rng.random() < config.social_share)
                ref = _reference(rng, symbol, names.get(symbol), social)
                template = _pick(rng, _NEUTRAL_SOCIAL if social else _NEUTRAL_WIRE)
                rows.append(
                    (
                        int(t),
                        _source(social),
                        symbol,
                        template.format(ref=ref),
                        NewsKind.NEUTRAL,
                        0,
                        None,
                    )
                )
        n = int(rng.poisson(config.noise_per_hour * hours))
        for t in np.sort(rng.integers(first, last, n, endpoint=False)) if n else ():
            social = bool(rng.random() < config.social_share)
            rows.append((int(t), _source(social), "", _pick(rng, _NOISE), NewsKind.NOISE, 0, None))
    ids = [text_id(source, ts, text) for ts, source, _, text, *_ in rows]
    news = pl.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "text_id": ids,
            "source": [r[1] for r in rows],
            "symbol": [r[2] if config.tag_symbols else "" for r in rows],
            "text": [r[3] for r in rows],
        },
        schema={
            "ts": pl.Int64,
            "text_id": pl.String,
            "source": pl.String,
            "symbol": pl.String,
            "text": pl.String,
        },
    )
    table = news.with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC"))).to_arrow()
    news = pl.from_arrow(conform(table, NEWS)).sort("ts", "text_id", "symbol")  # type: ignore[union-attr]
    truth = pl.DataFrame(
        {
            "text_id": ids,
            "symbol": [r[2] for r in rows],
            "kind": [str(r[4]) for r in rows],
            "true_sign": [r[5] for r in rows],
            "move_return": [r[6] for r in rows],
        },
        schema={
            "text_id": pl.String,
            "symbol": pl.String,
            "kind": pl.String,
            "true_sign": pl.Int8,
            "move_return": pl.Float64,
        },
    ).sort("text_id")
    return SyntheticNews(news=news, truth=truth)  # type: ignore[arg-type]


def _bars(bars: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """ts (int ns), symbol, close, sorted by (symbol, ts)."""
    lazy = bars.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in ("ts", "symbol", "close") if c not in schema]
    if missing:
        raise ValueError(f"bars lack columns {missing} needed for synthetic news")
    ts = schema["ts"]
    if isinstance(ts, pl.Datetime):
        ts_ns = pl.col("ts").dt.cast_time_unit("ns").dt.epoch("ns")
    elif ts.is_integer():
        ts_ns = pl.col("ts").cast(pl.Int64)
    else:
        raise ValueError(f"bars column ts must be a datetime or integer ns, got {ts}")
    return (
        lazy.select(ts=ts_ns, symbol=pl.col("symbol"), close=pl.col("close").cast(pl.Float64))
        .filter(pl.col("close") > 0)
        .sort("symbol", "ts")
        .collect()
    )


def _move_stories(
    frame: pl.DataFrame, rng: np.random.Generator, names: Mapping[str, str], config: NewsConfig
) -> list[tuple[int, str, str, str, str, int, float | None]]:
    """One candidate story per bar closing a large ``horizon_bars`` move, drawn with a probability."""
    h = config.horizon_bars
    log_close = pl.col("close").log()
    moves = frame.with_columns(
        move=(log_close - log_close.shift(h)).over("symbol"),
        sd=(log_close.diff().std() * math.sqrt(h)).over("symbol"),
    ).filter(pl.col("move").is_not_null() & (pl.col("sd") > 0))
    moves = moves.filter(pl.col("move").abs() >= config.threshold_sd * pl.col("sd"))
    window = h * config.interval_ns
    out = []
    for ts, symbol, move in moves.select("ts", "symbol", "move").iter_rows():
        if rng.random() >= config.story_probability / h:
            continue
        end = ts + config.interval_ns
        lo = end - config.lead_fraction * window
        t = int(lo + rng.random() * (end + config.max_lag_s * 1e9 - lo))
        sign = 1 if move > 0 else -1
        if rng.random() < config.flip_rate:
            sign = -sign
        social = bool(rng.random() < config.social_share)
        if social:
            template = _pick(rng, _POSITIVE_SOCIAL if sign > 0 else _NEGATIVE_SOCIAL)
        else:
            template = _pick(rng, _POSITIVE_WIRE if sign > 0 else _NEGATIVE_WIRE)
        ref = _reference(rng, symbol, names.get(symbol), social)
        text = template.format(ref=ref, pct=f"{abs(move) * 100:.1f}")
        out.append((t, _source(social), symbol, text, NewsKind.MOVE, sign, float(move)))
    return out


def _reference(rng: np.random.Generator, symbol: str, name: str | None, social: bool) -> str:
    """How a text names the symbol: social posts mostly by cashtag, the wire by ticker or name."""
    cashtag = f"${symbol.split('-')[0].split('/')[0]}"
    if social:
        return cashtag if rng.random() < 0.8 else symbol
    options = [symbol, name] if name else [symbol, cashtag]
    return options[int(rng.integers(len(options)))]


def _pick(rng: np.random.Generator, templates: tuple[str, ...]) -> str:
    return templates[int(rng.integers(len(templates)))]


def _source(social: bool) -> str:
    return SOURCE_SOCIAL if social else SOURCE_NEWSWIRE


def news_table(synthetic: SyntheticNews) -> pa.Table:
    """The published texts as an Arrow table in the NEWS schema, for the lake writer."""
    return conform(synthetic.news.to_arrow(), NEWS)
