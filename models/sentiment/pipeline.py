"""One scoring batch of the sentiment flow: texts in; news, scores, index and quarantine out.

A batch covers a time window ``[start, end)`` and takes texts from two sources:

- ``synthetic``: :func:`models.sentiment.news.generate_news` over the lake's 1m bars. Texts are
  generated per aligned chunk of ``chunk_ns`` (15 minutes) from the chunk's bars plus a lookback
  for the move horizon, with a seed derived from ``(seed, chunk)``, so a time always gets the
  same texts whatever window it is scored in (and a re-run of a window regenerates the same ones).
- ``inbox``: ``*.csv``, ``*.jsonl`` and ``*.ndjson`` files in the inbox directory (see
  :mod:`models.sentiment.importer` for the fields), imported whatever their times. After the lake
  writes succeed each file is moved to ``processed/``, or to ``failed/`` when none of its records
  could be scored, so a file is imported once; a crash before the move re-imports it on the next
  run, which the text-id dedupe below makes harmless.

Every text then passes the import checks, :mod:`models.sentiment.text_checks` and the entity
mapping (:mod:`models.sentiment.entities`); rejected texts go to ``lake/quarantine`` with their
reason (origin ``sentiment-synthetic`` or one origin per inbox file). Nothing is dropped:
``input_texts == scored_texts + already_scored + quarantined`` (:class:`BatchResult`).

**Incremental, idempotent.** News and scores are merged into the lake per window keyed by
``(text_id, symbol)``: the existing rows of the window are read, the new ones added, duplicates
dropped, and the window rewritten atomically, so re-running a window neither duplicates nor loses
rows, and inbox texts whose times fall in other windows join the rows already there. A text
already scored by the same model and version is not scored again (``already_scored``). The index
is recomputed on the grid of every bar close time in the span the batch touched (from the
earliest written window to the end of the run's window), from all scores back to
``lookback_half_lives`` half-lives before it; without bars, on a regular grid of the run's window.

Nothing here imports prefect or reads the clock or environment: the caller passes ``now_ns``,
the lake, directories and the loaded model.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

from models.sentiment._quarantine import REASON_COLUMN, frame_quarantine, quarantine_table
from models.sentiment.entities import MARKET_WIDE, default_entity_map
from models.sentiment.importer import ImportReason, import_news
from models.sentiment.index import regular_grid, sentiment_index
from models.sentiment.model_store import LoadedModel
from models.sentiment.news import NewsConfig, generate_news
from models.sentiment.text_checks import TextCheckConfig, split_scoreable
from shriven.config import INTERVALS_NS, SymbolConfig
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import origin_of
from shriven.schemas import NEWS, SENTIMENT_SCORES, conform

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
#: File suffixes the inbox imports.
INBOX_SUFFIXES = (".csv", ".jsonl", ".ndjson")
PROCESSED_DIR = "processed"
FAILED_DIR = "failed"
#: Quarantine origin of synthetic texts rejected by the checks.
SYNTHETIC_ORIGIN = "sentiment-synthetic"
#: Quarantine reasons for a whole inbox file (the file counts as one input record).
EMPTY_FILE = "empty_file"
UNREADABLE_FILE = "unreadable_file"

Source = Literal["synthetic", "inbox", "both"]
SOURCES: tuple[str, ...] = ("synthetic", "inbox", "both")
#: (batch number, batches, texts in this batch, texts scored so far, texts to score, seconds of this batch)
Progress = Callable[[int, int, int, int, int, float], None]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: str | float) -> float:
    """Seconds of ``"30m"``, ``"90s"``, ``"1.5h"``, ``"2d"`` or a plain number of seconds; > 0."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. '30m', '90s', '1h' or seconds)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not (np.isfinite(seconds) and seconds > 0):
        raise ValueError(f"duration must be > 0, got {value!r}")
    return seconds


@dataclass(frozen=True)
class PipelineConfig:
    """How a batch generates, checks, scores and indexes texts."""

    half_life_s: float = 1800.0
    prior_weight: float = 1.0
    #: texts per call of the model (and per progress report)
    batch_size: int = 64
    #: bars that drive the synthetic news and give the index its grid
    bar_interval: str = "1m"
    #: synthetic texts are generated per aligned chunk of this length
    chunk_ns: int = 15 * NS_PER_MINUTE
    #: scores older than this many half-lives before the span are left out of the index
    lookback_half_lives: float = 8.0
    seed: int = 0
    #: a story for about one bar in six of a 1-sd one-bar move: ~20 texts per symbol-hour with the
    #: filler, enough for an index that follows each symbol's returns within an hour or two
    news: NewsConfig = field(default_factory=lambda: NewsConfig(horizon_bars=1, threshold_sd=1.0))
    text_checks: TextCheckConfig = field(default_factory=TextCheckConfig)

    def __post_init__(self) -> None:
        parse_duration(self.half_life_s)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.bar_interval not in INTERVALS_NS:
            raise ValueError(f"unknown bar interval {self.bar_interval!r}")
        if self.chunk_ns <= 0 or self.chunk_ns % INTERVALS_NS[self.bar_interval]:
            raise ValueError("chunk_ns must be a positive multiple of the bar interval")
        if self.lookback_half_lives <= 0:
            raise ValueError("lookback_half_lives must be > 0")


@dataclass
class BatchResult:
    """What one batch did; ``input_texts == scored_texts + already_scored + quarantined``."""

    window: str
    source: str
    model: str
    model_version: str
    input_texts: int = 0
    scored_texts: int = 0
    already_scored: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    news_rows: int = 0
    score_rows: int = 0
    index_rows: int = 0
    files_processed: list[str] = field(default_factory=list)
    files_failed: list[str] = field(default_factory=list)
    scoring_seconds: float = 0.0
    seconds: float = 0.0
    #: per symbol ('' = market-wide): texts scored in this batch, their mean score, the last index
    per_symbol: list[dict[str, object]] = field(default_factory=list)

    @property
    def texts_per_second(self) -> float:
        """Scoring throughput of this batch (0 when nothing was scored)."""
        return self.scored_texts / self.scoring_seconds if self.scoring_seconds > 0 else 0.0


@dataclass
class _Inbox:
    news: list[pl.DataFrame] = field(default_factory=list)
    quarantine: dict[str, list[pa.Table]] = field(default_factory=dict)
    input_records: int = 0
    files: dict[str, Path] = field(default_factory=dict)  # origin -> file


# ---------------------------------------------------------------------------------- sources
def synthetic_news(
    lake: Lake,
    window: Window,
    symbols: Sequence[SymbolConfig],
    config: PipelineConfig,
) -> pl.DataFrame:
    """Synthetic NEWS rows with ts in ``window``, generated chunk by chunk from the lake's bars."""
    interval = INTERVALS_NS[config.bar_interval]
    news_config = NewsConfig(**{**config.news.__dict__, "interval_ns": interval})
    lookback = (
        news_config.horizon_bars * interval
        + int(np.ceil(news_config.max_lag_s * NS_PER_SECOND / interval)) * interval
    )
    first = window.start_ns // config.chunk_ns * config.chunk_ns
    bars = read_bars(
        lake, Window(first - lookback, window.end_ns + config.chunk_ns), symbols, config
    )
    names = {s.symbol: s.name for s in symbols}
    frames = []
    for chunk_start in range(first, window.end_ns, config.chunk_ns):
        chunk_end = chunk_start + config.chunk_ns
        ns = pl.col("ts").dt.epoch("ns")
        chunk_bars = bars.filter((ns >= chunk_start - lookback) & (ns < chunk_end))
        if chunk_bars.is_empty():
            continue
        seed = np.random.SeedSequence([config.seed & 0xFFFFFFFF, chunk_start // config.chunk_ns])
        out = generate_news(
            chunk_bars, seed=int(seed.generate_state(1)[0]), names=names, config=news_config
        )
        lo, hi = max(chunk_start, window.start_ns), min(chunk_end, window.end_ns)
        frames.append(out.news.filter((ns >= lo) & (ns < hi)))
    if not frames:
        return _empty_news()
    return pl.concat(frames).sort("ts", "text_id", "symbol")


def read_bars(
    lake: Lake, window: Window, symbols: Sequence[SymbolConfig], config: PipelineConfig
) -> pl.DataFrame:
    """``ts``, ``symbol``, ``close`` of the lake's bars opening in ``window``."""
    name = f"bars_{config.bar_interval}"
    table = lake.read(
        name, [d.isoformat() for d in window.dates()], [s.symbol for s in symbols] or None
    )
    frame = pl.from_arrow(table.select(["ts", "symbol", "close"]))
    ns = pl.col("ts").dt.epoch("ns")
    return frame.filter((ns >= window.start_ns) & (ns < window.end_ns))  # type: ignore[union-attr]


def inbox_files(inbox_dir: str | Path) -> list[Path]:
    """News files waiting in the inbox (not in processed/ or failed/), sorted by name."""
    directory = Path(inbox_dir)
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in INBOX_SUFFIXES
    )


def _read_inbox(files: Sequence[Path], *, ingested_at_ns: int, universe: Sequence[str]) -> _Inbox:
    inbox = _Inbox()
    for path in files:
        try:
            content = hashlib.sha1(path.read_bytes()).hexdigest()[:8]
        except OSError:
            content = "unreadable"
        origin = origin_of(f"news-inbox-{path.name}-{content}")
        inbox.files[origin] = path
        try:
            result = import_news(path, ingested_at_ns=ingested_at_ns, universe=universe)
        except (OSError, ValueError) as exc:
            inbox.input_records += 1
            inbox.quarantine.setdefault(origin, []).append(
                _file_quarantine(path, UNREADABLE_FILE, str(exc), ingested_at_ns)
            )
            continue
        inbox.input_records += result.input_records
        if result.input_records == 0:
            inbox.input_records += 1
            inbox.quarantine.setdefault(origin, []).append(
                _file_quarantine(path, EMPTY_FILE, "no records", ingested_at_ns)
            )
            continue
        if result.quarantine.num_rows:
            inbox.quarantine.setdefault(origin, []).append(result.quarantine)
        frame = result.frame()
        if frame.height:
            order = (
                frame.select("text_id").unique(maintain_order=True).with_row_index("_row_number")
            )
            frame = frame.join(order, on="text_id").with_columns(
                pl.lit(origin).alias("_origin"), pl.col("_row_number").cast(pl.Int64)
            )
            inbox.news.append(frame)
    return inbox


def _file_quarantine(path: Path, reason: str, detail: str, ingested_at_ns: int) -> pa.Table:
    import json

    return quarantine_table(
        ingested_at_ns=ingested_at_ns,
        sources=[path.name],
        reasons=[reason],
        row_numbers=[0],
        symbols=[None],
        raws=[json.dumps({"file": path.name, "error": detail})],
    )


def move_file(path: Path, directory: Path) -> Path:
    """Move ``path`` into ``directory`` without overwriting (a clash gets ``.1``, ``.2`` ...)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / path.name
    n = 0
    while target.exists():
        n += 1
        target = directory / f"{path.stem}.{n}{path.suffix}"
    path.replace(target)
    return target


# ---------------------------------------------------------------------------------- scoring
def score_texts_in_batches(
    model: LoadedModel,
    texts: Sequence[str],
    batch_size: int,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[pl.DataFrame, float]:
    """The model's frame for ``texts`` (input order), scored ``batch_size`` at a time, and the seconds spent."""
    frames = []
    total = len(texts)
    batches = (total + batch_size - 1) // batch_size
    spent = 0.0
    for number, start in enumerate(range(0, total, batch_size), 1):
        chunk = list(texts[start : start + batch_size])
        began = clock()
        frame = model.model.score_texts(chunk)
        seconds = clock() - began
        spent += seconds
        if frame.height != len(chunk):
            raise RuntimeError(f"{model.name} returned {frame.height} rows for {len(chunk)} texts")
        frames.append(frame)
        if progress is not None:
            progress(number, batches, len(chunk), start + len(chunk), total, seconds)
    if not frames:
        from models.sentiment.classifier import OUTPUT_SCHEMA

        return pl.DataFrame(schema=OUTPUT_SCHEMA), 0.0
    return pl.concat(frames), spent


# ---------------------------------------------------------------------------------- the batch
def run_batch(
    lake: Lake,
    window: Window,
    model: LoadedModel,
    *,
    symbols: Sequence[SymbolConfig],
    source: Source = "both",
    inbox_dir: str | Path | None = None,
    now_ns: int,
    config: PipelineConfig | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Import, check, map, score and index the texts of ``window``; write everything to the lake.

    Parameters
    ----------
    lake
        The lake holding the bars (read) and receiving ``news``, ``sentiment_scores``,
        ``sentiment_index`` and ``quarantine``.
    window
        The run's window: synthetic texts are those published in it; inbox texts may fall anywhere.
    model
        The loaded model (:func:`models.sentiment.model_store.load_model`).
    symbols
        The universe (``settings.symbols``): entity aliases, the importer's known symbols, the
        synthetic market and the index grid.
    source
        ``synthetic``, ``inbox`` or ``both``.
    inbox_dir
        Directory of news files (needed for ``inbox`` and ``both``).
    now_ns
        Stamped on quarantine rows as ``ingested_at``.
    config
        Defaults to :class:`PipelineConfig`.
    progress
        Called after each scored batch of texts.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source != "synthetic" and inbox_dir is None:
        raise ValueError(f"source {source!r} needs an inbox directory")
    config = config or PipelineConfig()
    began = time.perf_counter()
    result = BatchResult(str(window), source, model.name, model.version)
    universe = [s.symbol for s in symbols]

    # 1. inputs, each row tagged with its quarantine origin and its position in its input
    frames: list[pl.DataFrame] = []
    quarantine: dict[str, list[pa.Table]] = {}
    if source in ("synthetic", "both"):
        synthetic = synthetic_news(lake, window, symbols, config)
        order = (
            synthetic.select("text_id").unique(maintain_order=True).with_row_index("_row_number")
        )
        frames.append(
            synthetic.join(order, on="text_id").with_columns(
                pl.lit(SYNTHETIC_ORIGIN).alias("_origin"), pl.col("_row_number").cast(pl.Int64)
            )
        )
        result.input_texts += order.height
        quarantine[SYNTHETIC_ORIGIN] = []
    inbox = _Inbox()
    if source in ("inbox", "both"):
        inbox = _read_inbox(inbox_files(inbox_dir), ingested_at_ns=now_ns, universe=universe)  # type: ignore[arg-type]
        frames.extend(inbox.news)
        result.input_texts += inbox.input_records
        for origin in inbox.files:
            quarantine.setdefault(origin, []).extend(inbox.quarantine.get(origin, []))
    rows = (
        pl.concat(frames)
        if frames
        else _empty_news().with_columns(
            pl.lit(None, pl.String).alias("_origin"), pl.lit(None, pl.Int64).alias("_row_number")
        )
    )

    # 2. one text in two inputs of this batch: the first input keeps it
    first_origin = rows.group_by("text_id", maintain_order=True).agg(
        pl.col("_origin").first().alias("_first")
    )
    rows = rows.join(first_origin, on="text_id", how="left", maintain_order="left")
    dup = rows.filter(pl.col("_origin") != pl.col("_first")).unique(
        ["text_id", "_origin"], keep="first", maintain_order=True
    )
    rejected = [
        dup.drop("_first").with_columns(
            pl.lit(ImportReason.DUPLICATE_TEXT.value).alias(REASON_COLUMN)
        )
    ]
    rows = rows.filter(pl.col("_origin") == pl.col("_first")).drop("_first")

    # 3. text checks (judged per text: all rows of a text share it) and entity mapping
    split = split_scoreable(rows, config.text_checks)
    rejected.append(split.quarantined.unique("text_id", keep="first", maintain_order=True))
    entities = default_entity_map(symbols).assign_symbols(split.scoreable.drop("truncated"))
    rejected.append(entities.quarantined)
    mapped = entities.mapped
    for frame in rejected:
        if frame.is_empty():
            continue
        for (origin,), group in frame.partition_by(
            "_origin", as_dict=True, maintain_order=True
        ).items():
            quarantine.setdefault(str(origin), []).append(
                frame_quarantine(group.drop("_origin"), ingested_at_ns=now_ns)
            )
    for tables in quarantine.values():
        for table in tables:
            result.quarantined += table.num_rows
            for joined in table.column("reason").to_pylist():
                for reason in joined.split(";"):
                    result.reasons[reason] = result.reasons.get(reason, 0) + 1

    # 4. which texts the lake already holds scores of, by this model and version
    windows = _write_windows(window, mapped, config.chunk_ns)
    existing_scores = {w: _read_window(lake, "sentiment_scores", w) for w in windows}
    done: set[str] = set()
    for table in existing_scores.values():
        frame = pl.from_arrow(table)
        done |= set(
            frame.filter(  # type: ignore[union-attr]
                (pl.col("model") == model.name) & (pl.col("model_version") == model.version)
            )
            .get_column("text_id")
            .to_list()
        )
    texts = mapped.unique("text_id", keep="first", maintain_order=True)
    todo = texts.filter(pl.col("text_id").is_in(list(done)).not_())
    result.already_scored = texts.height - todo.height
    result.scored_texts = todo.height

    # 5. score, in batches
    scored, result.scoring_seconds = score_texts_in_batches(
        model, todo.get_column("text").to_list(), config.batch_size, progress
    )
    scores = (
        pl.concat([todo.select("text_id"), scored], how="horizontal")
        .join(mapped, on="text_id", how="inner")
        .with_columns(
            pl.lit(model.name).alias("model"), pl.lit(model.version).alias("model_version")
        )
    )
    news_table = conform(mapped.to_arrow(), NEWS)
    scores_table = conform(scores.to_arrow(), SENTIMENT_SCORES)
    result.news_rows = news_table.num_rows
    result.score_rows = scores_table.num_rows

    # 6. write: news and scores merged per window, quarantine per origin, then the index
    for w in windows:
        _merge_window(lake, "news", news_table, w)
        _merge_window(lake, "sentiment_scores", scores_table, w)
    for origin, tables in quarantine.items():
        table = (
            pa.concat_tables(tables)
            if tables
            else quarantine_table(
                ingested_at_ns=now_ns, sources=[], reasons=[], row_numbers=[], symbols=[], raws=[]
            )
        )
        lake.write_window("quarantine", table, window, partition={"origin": origin})
    span = Window(min(w.start_ns for w in windows), max(w.end_ns for w in windows))
    index, indexed = build_index(lake, span, symbols, config, fallback=window)
    lake.write_window("sentiment_index", index.to_arrow(), indexed)
    result.index_rows = index.height

    # 7. inbox files: processed when any of their texts was scored (now or before), else failed
    usable = set(mapped.get_column("_origin").unique().to_list())
    for origin, path in inbox.files.items():
        if origin in usable:
            result.files_processed.append(str(move_file(path, path.parent / PROCESSED_DIR)))
        else:
            result.files_failed.append(str(move_file(path, path.parent / FAILED_DIR)))

    result.per_symbol = _per_symbol(scores, index)
    result.seconds = time.perf_counter() - began
    if result.input_texts != result.scored_texts + result.already_scored + result.quarantined:
        raise AssertionError(f"sentiment batch lost texts: {result}")  # a bug, never bad data
    return result


def build_index(
    lake: Lake,
    span: Window,
    symbols: Sequence[SymbolConfig],
    config: PipelineConfig,
    *,
    fallback: Window | None = None,
) -> tuple[pl.DataFrame, Window]:
    """The index on every bar close time in ``span``, and the window it covers.

    Every symbol of the universe and of the scores, and the market-wide ``''``, gets a row at
    each bar close time. With no bars in ``span`` (an inbox-only platform) the grid is every
    ``bar_interval`` over ``fallback`` (default ``span``), which is what the index then covers:
    a file of old texts never fills years of empty minutes.
    """
    interval = INTERVALS_NS[config.bar_interval]
    lookback = int(config.lookback_half_lives * config.half_life_s * NS_PER_SECOND)
    scores = pl.from_arrow(
        _read_window(lake, "sentiment_scores", Window(span.start_ns - lookback, span.end_ns))
    ).select("ts", "symbol", "score")  # type: ignore[union-attr]
    bars = read_bars(lake, Window(span.start_ns - interval, span.end_ns), symbols, config)
    close = bars.get_column("ts").dt.epoch("ns") + interval
    times = np.unique(close.filter((close >= span.start_ns) & (close < span.end_ns)).to_numpy())
    names = sorted(
        {s.symbol for s in symbols}
        | set(scores.get_column("symbol").unique().to_list())
        | {MARKET_WIDE}
    )
    if times.size:
        grid = pl.DataFrame(
            {
                "ts": np.tile(times, len(names)),
                "symbol": np.repeat(np.array(names, dtype=object), times.size).tolist(),
            },
            schema={"ts": pl.Int64, "symbol": pl.String},
        ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    else:
        span = fallback or span
        first = -(-span.start_ns // interval) * interval
        grid = regular_grid(first, span.end_ns - 1, interval, names)
    index = sentiment_index(
        scores, grid, half_life_s=config.half_life_s, prior_weight=config.prior_weight
    )
    return index, span


# ---------------------------------------------------------------------------------- lake helpers
def _write_windows(run: Window, rows: pl.DataFrame, chunk_ns: int) -> list[Window]:
    """The run's window, then the aligned chunks holding rows outside it (inbox texts), in time order."""
    ns = rows.get_column("ts").dt.epoch("ns")
    outside = ns.filter((ns < run.start_ns) | (ns >= run.end_ns))
    starts = sorted(set((outside // chunk_ns * chunk_ns).to_list()))
    return [run, *(Window(s, s + chunk_ns) for s in starts)]


def _read_window(lake: Lake, name: str, window: Window) -> pa.Table:
    """A dataset's rows with ts in ``window``."""
    table = lake.read(name, [d.isoformat() for d in window.dates()])
    frame = pl.from_arrow(table)
    ns = pl.col("ts").dt.epoch("ns")
    out = frame.filter((ns >= window.start_ns) & (ns < window.end_ns))  # type: ignore[union-attr]
    return conform(out.to_arrow(), table.schema)


def _merge_window(lake: Lake, name: str, new: pa.Table, window: Window) -> None:
    """Rewrite ``window`` with its existing rows plus the new ones in it; new wins per (text_id, symbol)."""
    frame = pl.from_arrow(new)
    ns = pl.col("ts").dt.epoch("ns")
    mine = frame.filter((ns >= window.start_ns) & (ns < window.end_ns))  # type: ignore[union-attr]
    if mine.is_empty():
        return
    old = pl.from_arrow(_read_window(lake, name, window))
    merged = (
        pl.concat([mine, old.select(mine.columns)])  # type: ignore[union-attr]
        .unique(["text_id", "symbol"], keep="first", maintain_order=True)
        .sort("ts", "text_id", "symbol")
    )
    lake.write_window(name, merged.to_arrow(), window)


def _per_symbol(scores: pl.DataFrame, index: pl.DataFrame) -> list[dict[str, object]]:
    stats = scores.group_by("symbol").agg(
        pl.len().alias("texts"), pl.col("score").mean().alias("mean_score")
    )
    last = (
        index.sort("ts").group_by("symbol").agg(pl.col("index").last().alias("last_index"))
        if index.height
        else pl.DataFrame(schema={"symbol": pl.String, "last_index": pl.Float64})
    )
    table = stats.join(last, on="symbol", how="full", coalesce=True).sort("symbol")
    return [
        {
            "symbol": row["symbol"],
            "texts": int(row["texts"] or 0),
            "mean_score": None if row["mean_score"] is None else round(float(row["mean_score"]), 4),
            "last_index": None if row["last_index"] is None else round(float(row["last_index"]), 4),
        }
        for row in table.iter_rows(named=True)
    ]


def _empty_news() -> pl.DataFrame:
    return pl.from_arrow(NEWS.empty_table())  # type: ignore[return-value]
