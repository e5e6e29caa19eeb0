"""The feature store: point-in-time model features materialised into the lake dataset ``features``.

One partition per UTC date ``D`` holds the feature rows whose ``ts`` (the bar **close** time,
see :mod:`models.features`) falls in ``[D, D + 1 day)``. To compute them, the bars of ``D`` are
read together with enough earlier dates of bars for the longest look-back (the bar-counted
windows reach back over nights and weekends), so the first rows of ``D`` equal the rows of one
continuous multi-day computation. The last bar of a day closes at midnight and therefore lands in
the next date's partition, which reads this day as its look-back.

Sentiment is joined **as of** each row's ``ts``: the latest ``sentiment_index`` row of the symbol
with ``index ts <= feature ts`` (never a later one), and likewise the market-wide index (symbol
``''``). Missing sentiment (no index row yet, or a null index) is written as ``0.0`` (a neutral
reading, which is also what the index itself reads before any text) with ``has_sentiment`` false,
so models can use the columns without dropping rows, and can tell "no news" from "neutral news".
Index rows older than ``sentiment_lookback_days`` before ``D`` are not read.

The book enters the same way: each row takes the symbol's latest ``book_snapshots`` sample at or
before ``ts`` that is not ``stale`` and at most ``BOOK_MAX_AGE_NS`` old, and gets
``microprice_dev = ln(microprice / mid)`` (where the touch sizes lean, the microprice leans) and
the top-of-book ``book_imbalance``; without such a sample both are ``0.0`` with ``has_book``
false. Snapshots of ``D`` and the day before are read (a row early in ``D`` may take the last
sample of the previous day).

Writes go through :class:`shriven.lake.writer.Lake` as one window per date: atomic, and a re-run
replaces the date's file, never duplicates it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
import pyarrow as pa

from models.features import (
    DEFAULT_HORIZONS,
    compute_features,
    feature_columns,
)
from models.labels import classify, forward_returns
from shriven.config import INTERVALS_NS
from shriven.lake.layout import NS_PER_DAY, Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.schemas import FEATURES, conform

#: Name of the lake dataset.
DATASET = "features"
#: Sentiment columns appended to the bar features (see the module docstring for missing values).
SENTIMENT_COLUMNS: tuple[str, ...] = (
    "sentiment",
    "sentiment_weight",
    "market_sentiment",
    "has_sentiment",
)
#: Book columns joined from ``book_snapshots`` (see the module docstring).
BOOK_COLUMNS: tuple[str, ...] = ("microprice_dev", "book_imbalance", "has_book")
#: A book sample older than this at a row's ts is not used (the daily pipeline samples every 1 s).
BOOK_MAX_AGE_NS = 5 * 60 * 1_000_000_000
#: Columns a model trains on by default: the bar features, the two sentiment readings and the book.
MODEL_FEATURES: tuple[str, ...] = (
    *feature_columns(DEFAULT_HORIZONS),
    "sentiment",
    "market_sentiment",
    "microprice_dev",
    "book_imbalance",
)

#: Window lengths of :func:`models.features.compute_features` the store uses (its defaults).
VOL_WINDOW = 30
Z_WINDOW = 60
RSI_WINDOW = 14


def lookback_bars(
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    vol_window: int = VOL_WINDOW,
    z_window: int = Z_WINDOW,
    rsi_window: int = RSI_WINDOW,
) -> int:
    """Earlier bars of a symbol the first feature row of a day needs to equal a continuous run."""
    return max(max(horizons), vol_window, z_window, rsi_window)


@dataclass(frozen=True)
class FeatureWrite:
    """What materialising one date did, for logs and flow results."""

    date: str
    rows: int
    symbols: int
    #: Earlier bar dates read for the look-back, oldest first.
    lookback_dates: tuple[str, ...]
    #: Rows that found a sentiment index row of their symbol.
    rows_with_sentiment: int
    path: str | None


def bar_dates(lake: Lake, interval: str = "1m") -> list[str]:
    """UTC dates (ISO) that have bars of ``interval`` in the lake, ascending."""
    return _dates(lake, f"bars_{_check_interval(interval)}")


def feature_dates(lake: Lake) -> list[str]:
    """UTC dates (ISO) that have a features partition, ascending."""
    return _dates(lake, DATASET)


def compute_day_features(
    lake: Lake,
    day: date | str,
    *,
    interval: str = "1m",
    symbols: Iterable[str] | None = None,
    max_lookback_days: int | None = None,
    sentiment_lookback_days: int = 7,
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Feature rows of one UTC date in the ``FEATURES`` column order, and the look-back dates read.

    Parameters
    ----------
    lake
        The lake to read ``bars_<interval>`` and ``sentiment_index`` from.
    day
        The date whose rows (``ts`` in ``[day, day + 1)``) to compute.
    interval
        Bar interval, one of ``shriven.config.INTERVALS_NS``.
    symbols
        Only these symbols (all by default).
    max_lookback_days
        Calendar days before ``day`` the look-back may reach (default: 7 calendar days per
        trading day the look-back spans, at least 10); a symbol with fewer earlier bars than
        :func:`lookback_bars` in that span (a new listing) keeps null warm-up values, as in a
        continuous run that started then. Earlier dates are read newest first and only until
        every symbol of the day has its look-back, so the cap rarely matters.
    sentiment_lookback_days
        Calendar days of ``sentiment_index`` partitions read before ``day``.

    Notes
    -----
    A date without bars gives no rows (so the row of a bar that opened in the last interval
    before midnight is not written when the next date has no bars).
    """
    day_iso = _iso_day(day)
    interval = _check_interval(interval)
    interval_ns = INTERVALS_NS[interval]
    if max_lookback_days is None:
        max_lookback_days = max(10, math.ceil(7 * lookback_bars() * interval_ns / NS_PER_DAY))
    max_lookback_days = _check_days("max_lookback_days", max_lookback_days)
    sentiment_lookback_days = _check_days("sentiment_lookback_days", sentiment_lookback_days)
    wanted = None if symbols is None else sorted(set(symbols))
    dataset = f"bars_{interval}"
    start_ns = day_start_ns(date.fromisoformat(day_iso))
    end_ns = start_ns + NS_PER_DAY

    bars = _read_bars(lake, dataset, [day_iso], wanted)
    earliest = (date.fromisoformat(day_iso) - timedelta(days=max_lookback_days)).isoformat()
    earlier = [d for d in _dates(lake, dataset) if earliest <= d < day_iso]
    used: list[str] = []
    needed = lookback_bars()
    # Earlier dates, newest first, until every symbol has a full look-back before the day.
    for previous in reversed(earlier if bars.height else []):
        if _lookback_satisfied(bars, start_ns, interval_ns, needed):
            break
        more = _read_bars(lake, dataset, [previous], wanted)
        if more.height:
            bars = pl.concat([more, bars], how="vertical_relaxed")
            used.append(previous)
    used.reverse()
    if bars.height == 0:
        return _empty_features(), tuple(used)
    features = compute_features(
        bars,
        horizons=DEFAULT_HORIZONS,
        vol_window=VOL_WINDOW,
        z_window=Z_WINDOW,
        rsi_window=RSI_WINDOW,
        interval_ns=interval_ns,
    )
    ts_ns = pl.col("ts").dt.epoch("ns")
    features = features.filter((ts_ns >= start_ns) & (ts_ns < end_ns))
    first = (date.fromisoformat(day_iso) - timedelta(days=sentiment_lookback_days)).isoformat()
    index_dates = [d for d in _dates(lake, "sentiment_index") if first <= d <= day_iso]
    index = (
        pl.from_arrow(lake.read("sentiment_index", dates=index_dates))
        if index_dates
        else None
    )
    joined = join_sentiment(features, index)
    previous_day = (date.fromisoformat(day_iso) - timedelta(days=1)).isoformat()
    book_dates = [d for d in _dates(lake, "book_snapshots") if previous_day <= d <= day_iso]
    book = (
        pl.from_arrow(
            lake.read("book_snapshots", dates=book_dates).select(
                ["ts", "symbol", "mid", "microprice", "imbalance", "stale"]
            )
        )
        if book_dates
        else None
    )
    joined = join_book(joined, book)
    return (
        joined.with_columns(interval=pl.lit(interval)).select(FEATURES.names),
        tuple(used),
    )


def join_sentiment(features: pl.DataFrame, index: pl.DataFrame | None) -> pl.DataFrame:
    """Add the sentiment columns: as-of (backward, at or before ``ts``) per symbol and market-wide.

    ``index`` has the ``SENTIMENT_INDEX`` columns (``ts``, ``symbol``, ``index``, ``weight``, …)
    or is None / empty when there is no sentiment yet. Missing readings become ``0.0`` and
    ``has_sentiment`` false (module docstring).
    """
    out = features.sort("ts")
    if index is None or index.height == 0:
        return out.with_columns(
            sentiment=pl.lit(0.0),
            sentiment_weight=pl.lit(0.0),
            market_sentiment=pl.lit(0.0),
            has_sentiment=pl.lit(False),
        ).sort("symbol", "ts")
    index = index.select(
        pl.col("ts").cast(features.schema["ts"]),
        "symbol",
        pl.col("index").cast(pl.Float64).fill_nan(None),
        pl.col("weight").cast(pl.Float64),
    ).sort("ts")
    per_symbol = index.filter(pl.col("symbol") != "").rename(
        {"index": "_symbol_index", "weight": "_symbol_weight"}
    )
    market = (
        index.filter(pl.col("symbol") == "")
        .select("ts", _market_index=pl.col("index"))
        # one reading per instant: the last of duplicate grid rows
        .unique(subset="ts", keep="last", maintain_order=True)
    )
    out = out.join_asof(per_symbol, on="ts", by="symbol", strategy="backward", check_sortedness=False)
    out = out.join_asof(market, on="ts", strategy="backward", check_sortedness=False)
    return out.select(
        *features.columns,
        sentiment=pl.col("_symbol_index").fill_null(0.0),
        sentiment_weight=pl.when(pl.col("_symbol_index").is_not_null())
        .then(pl.col("_symbol_weight"))
        .otherwise(0.0),
        market_sentiment=pl.col("_market_index").fill_null(0.0),
        has_sentiment=pl.col("_symbol_index").is_not_null(),
    ).sort("symbol", "ts")


def join_book(features: pl.DataFrame, book: pl.DataFrame | None) -> pl.DataFrame:
    """Add ``BOOK_COLUMNS``: as-of (backward, at or before ``ts``) the symbol's latest fresh book sample.

    ``book`` has ``ts``, ``symbol``, ``mid``, ``microprice``, ``imbalance`` and ``stale`` (the
    ``book_snapshots`` columns) or is None / empty. Stale samples and samples older than
    ``BOOK_MAX_AGE_NS`` are not used; without one the columns are ``0.0`` and ``has_book`` false.
    """
    if book is None or book.height == 0:
        return features.with_columns(
            microprice_dev=pl.lit(0.0), book_imbalance=pl.lit(0.0), has_book=pl.lit(False)
        )
    samples = (
        book.filter(
            ~pl.col("stale")
            & (pl.col("mid") > 0)
            & (pl.col("microprice") > 0)
            & pl.col("imbalance").is_not_null()
        )
        .select(
            pl.col("ts").cast(features.schema["ts"]),
            "symbol",
            _book_ts=pl.col("ts").cast(features.schema["ts"]),
            _dev=(pl.col("microprice") / pl.col("mid")).log(),
            _imb=pl.col("imbalance"),
        )
        .sort("ts")
    )
    out = features.sort("ts").join_asof(
        samples, on="ts", by="symbol", strategy="backward", check_sortedness=False
    )
    fresh = pl.col("_book_ts").is_not_null() & (
        (pl.col("ts") - pl.col("_book_ts")).dt.total_nanoseconds() <= BOOK_MAX_AGE_NS
    )
    return out.select(
        *features.columns,
        microprice_dev=pl.when(fresh).then(pl.col("_dev")).otherwise(0.0),
        book_imbalance=pl.when(fresh).then(pl.col("_imb")).otherwise(0.0),
        has_book=fresh,
    ).sort("symbol", "ts")


def materialise_features(
    lake: Lake,
    day: date | str,
    *,
    interval: str = "1m",
    max_lookback_days: int | None = None,
    sentiment_lookback_days: int = 7,
) -> FeatureWrite:
    """Compute one date's features and replace that date's partition of ``features`` atomically.

    A date without bars writes nothing and removes a stale file of that date, so re-runs always
    leave exactly what the bars give.
    """
    day_iso = _iso_day(day)
    frame, used = compute_day_features(
        lake,
        day_iso,
        interval=interval,
        max_lookback_days=max_lookback_days,
        sentiment_lookback_days=sentiment_lookback_days,
    )
    table = conform(frame.to_arrow(), FEATURES)
    result = lake.write_window(DATASET, table, Window.days(date.fromisoformat(day_iso)))
    return FeatureWrite(
        date=day_iso,
        rows=frame.height,
        symbols=frame["symbol"].n_unique() if frame.height else 0,
        lookback_dates=used,
        rows_with_sentiment=int(frame["has_sentiment"].sum()) if frame.height else 0,
        path=result.files_written[0] if result.files_written else None,
    )


def read_features(lake: Lake, dates: Iterable[str] | None = None) -> pl.DataFrame:
    """Stored feature rows (all dates, or some), sorted by (symbol, ts)."""
    table = lake.read(DATASET, dates=None if dates is None else list(dates))
    return pl.from_arrow(table).sort("symbol", "ts")


def latest_features(lake: Lake) -> pl.DataFrame:
    """The newest stored row of each symbol in the latest date partition (empty when none)."""
    dates = feature_dates(lake)
    if not dates:
        return pl.from_arrow(FEATURES.empty_table())
    rows = read_features(lake, dates[-1:])
    return rows.sort("symbol", "ts").group_by("symbol", maintain_order=True).last()


@dataclass(frozen=True)
class TrainingFrame:
    """Features joined with their labels, ready for :func:`models.training.train`."""

    frame: pl.DataFrame
    features: tuple[str, ...]
    #: How far a label reaches past its ts (purge this much between train and test).
    label_horizon_ns: int
    #: Feature rows read, and those left without a label (end of data, or a gap in the bars).
    feature_rows: int
    unlabelled_rows: int


def training_frame(
    lake: Lake,
    dates: Sequence[str],
    *,
    interval: str = "1m",
    label_horizon: int = 5,
    classify_threshold: float | None = None,
    features: Sequence[str] = MODEL_FEATURES,
) -> TrainingFrame:
    """Stored features of ``dates`` joined with forward returns of the same dates' bars.

    Columns: ``ts``, ``symbol``, the ``features``, ``label`` (the ``label_horizon``-bar forward
    log return, or its class from :func:`models.labels.classify` when ``classify_threshold`` is
    given), ``fwd_return_1`` (the next bar's log return, which the Sharpe of training assumes)
    and ``end_ts``. A label whose ``horizon`` bars span more than ``horizon`` intervals of clock
    time (it crosses a night or a gap) is null, so purging by ``label_horizon_ns`` stays exact;
    training drops rows with a null label or feature and counts them.
    """
    interval = _check_interval(interval)
    if isinstance(label_horizon, bool) or not isinstance(label_horizon, numbers.Integral):
        raise ValueError(f"label_horizon must be an int >= 1, got {label_horizon!r}")
    if label_horizon < 1:
        raise ValueError(f"label_horizon must be an int >= 1, got {label_horizon!r}")
    interval_ns = INTERVALS_NS[interval]
    dates = sorted({_iso_day(d) for d in dates})
    stored = read_features(lake, dates)
    missing = [c for c in features if c not in stored.columns]
    if missing:
        raise ValueError(f"features dataset lacks columns {missing}")
    horizon_ns = int(label_horizon) * interval_ns
    bars = _read_bars(lake, f"bars_{interval}", dates, None)
    if stored.height == 0 or bars.height == 0:
        empty = pl.DataFrame(
            schema={
                "ts": stored.schema["ts"],
                "symbol": pl.String,
                **dict.fromkeys(features, pl.Float64),
                "label": pl.Int8 if classify_threshold is not None else pl.Float64,
                "fwd_return_1": pl.Float64,
                "end_ts": stored.schema["ts"],
            }
        )
        return TrainingFrame(empty, tuple(features), horizon_ns, stored.height, stored.height)

    def within(frame: pl.DataFrame, reach_ns: int) -> pl.DataFrame:
        spans = pl.col("end_ts").dt.epoch("ns") - pl.col("ts").dt.epoch("ns")
        keep = pl.col("end_ts").is_not_null() & (spans <= reach_ns)
        return frame.with_columns(
            fwd_return=pl.when(keep).then(pl.col("fwd_return")),
            end_ts=pl.when(keep).then(pl.col("end_ts")),
        )

    long = within(forward_returns(bars, label_horizon, interval_ns=interval_ns), horizon_ns)
    one = within(forward_returns(bars, 1, interval_ns=interval_ns), interval_ns)
    labels = long.select("symbol", "ts", label=pl.col("fwd_return"), end_ts=pl.col("end_ts")).join(
        one.select("symbol", "ts", fwd_return_1=pl.col("fwd_return")), on=["symbol", "ts"]
    )
    if classify_threshold is not None:
        labels = labels.with_columns(label=classify(pl.col("label"), classify_threshold))
    frame = (
        stored.select("ts", "symbol", *features)
        .join(labels, on=["symbol", "ts"], how="left")
        .sort("symbol", "ts")
    )
    unlabelled = int(frame["label"].is_null().sum())
    return TrainingFrame(frame, tuple(features), horizon_ns, stored.height, unlabelled)


# ---------------------------------------------------------------------------------- internals
def _dates(lake: Lake, dataset: str) -> list[str]:
    """Dates of a dataset's partitions (from the ``date=`` directory names)."""
    out = set()
    for directory in lake.partition_dirs(dataset):
        for segment in directory.split("/"):
            if segment.startswith("date="):
                out.add(segment.removeprefix("date="))
    return sorted(out)


def _read_bars(
    lake: Lake, dataset: str, dates: Sequence[str], symbols: Sequence[str] | None
) -> pl.DataFrame:
    """Bars of some dates (and symbols) as polars."""
    table: pa.Table = lake.read(dataset, dates=list(dates), symbols=symbols)
    return pl.from_arrow(table)


def _lookback_satisfied(bars: pl.DataFrame, start_ns: int, interval_ns: int, needed: int) -> bool:
    """Whether every symbol of the day has ``needed`` bars closing before the day starts."""
    close_ns = pl.col("ts").dt.epoch("ns") + interval_ns
    counts = bars.group_by("symbol").agg(
        earlier=(close_ns < start_ns).sum(), in_day=(close_ns >= start_ns).sum()
    )
    day_symbols = counts.filter(pl.col("in_day") > 0)
    return bool(day_symbols.height) and bool((day_symbols["earlier"] >= needed).all())


def _empty_features() -> pl.DataFrame:
    return pl.from_arrow(FEATURES.empty_table())


def _iso_day(day: date | str) -> str:
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(str(day)).isoformat()
    except ValueError:
        raise ValueError(f"day must be a date or YYYY-MM-DD, got {day!r}") from None


def _check_interval(interval: str) -> str:
    if interval not in INTERVALS_NS:
        raise ValueError(f"unknown bar interval {interval!r}; known: {list(INTERVALS_NS)}")
    return interval


def _check_days(name: str, days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or days < 0:
        raise ValueError(f"{name} must be an int >= 0, got {days!r}")
    return int(days)
