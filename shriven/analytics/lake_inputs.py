"""An account's trading datasets read from the lake as the frames a tearsheet takes, and its report.

The lake partitions ``pnl``, ``positions`` and ``fills`` by ``date`` and ``account``
(:mod:`shriven.schemas`). :func:`load_account` reads one account's partitions of a date range
(inclusive, by partition date) into polars frames sorted by ``ts``; an account with no rows
gives empty frames in the datasets' schemas, never an error. :func:`report_account` turns that
into the tearsheet file, or a skip with the reason when there is too little to report.

Choices:

* **Equity curve = the PNL rows** as sampled by the engine (every bar interval), or resampled to
  the last sample of each ``interval`` bucket when one is given. Periods per year follow from
  that sampling and the market (:func:`conventions_for`), so a Sharpe ratio of minute samples
  is annualised as minute samples, not as days.
* **Exposure comes from PNL's gross/net exposure**, sampled with the equity. POSITIONS rows are
  snapshots at checkpoints (a backtest writes one at its end), too sparse for an exposure chart;
  they are loaded (and counted) but not passed to the tearsheet.
* **Trade statistics always come from the fills**, an empty table of fills included, so every
  report carries the same tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl
import pyarrow as pa

from shriven.analytics.conventions import CRYPTO, EQUITIES, Conventions, periods_per_year_for
from shriven.analytics.tearsheet import Tearsheet, write_tearsheet
from shriven.lake.layout import check_partition_value
from shriven.lake.writer import Lake
from shriven.schemas import conform, dataset

__all__ = [
    "MIN_POINTS",
    "AccountData",
    "AccountReport",
    "Market",
    "accounts_in",
    "conventions_for",
    "list_accounts",
    "load_account",
    "report_account",
    "resample_equity",
    "sampling_interval",
    "table_rows",
]

#: The fewest equity samples a tearsheet can be built from (two returns).
MIN_POINTS = 3
#: The trading datasets of an account.
ACCOUNT_DATASETS = ("pnl", "positions", "fills")

Market = Literal["equities", "crypto"]
_PRESETS: dict[str, Conventions] = {"equities": EQUITIES, "crypto": CRYPTO}


@dataclass(frozen=True)
class AccountData:
    """One account's PNL (the equity curve), POSITIONS and FILLS rows over a date range."""

    account: str
    #: PNL rows sorted by ``ts``: ``ts``, ``cash``, ``equity``, exposures, PnL and fees.
    equity: pl.DataFrame
    positions: pl.DataFrame
    fills: pl.DataFrame

    @property
    def empty(self) -> bool:
        """True when the account has no equity samples in the range."""
        return self.equity.is_empty()


@dataclass(frozen=True)
class AccountReport:
    """What reporting one account did: the file written, or why it was skipped."""

    account: str
    status: Literal["written", "skipped"]
    #: The tearsheet file, None when skipped.
    path: str | None
    #: Why it was skipped ('' when written).
    reason: str
    points: int
    positions: int
    fills: int
    #: The sampling the metrics were annualised for (e.g. ``60s``, ``1d``); '' when skipped.
    interval: str
    tearsheet: Tearsheet | None = None


def _iso(day: date | str | None) -> str | None:
    if day is None:
        return None
    return (day if isinstance(day, date) else date.fromisoformat(day)).isoformat()


def _segments(path: str) -> dict[str, str]:
    keys = {}
    for part in path.rstrip("/").split("/"):
        key, sep, value = part.partition("=")
        if sep:
            keys[key] = value
    return keys


def _partitions(
    lake: Lake, name: str, start: str | None, end: str | None
) -> list[tuple[str, str, str]]:
    """(date, account, directory) of a dataset's partitions with start <= date <= end."""
    out = []
    for pdir in lake.partition_dirs(name):
        keys = _segments(pdir)
        day, account = keys.get("date"), keys.get("account")
        if day is None or account is None:
            continue
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        out.append((day, account, pdir))
    return out


def list_accounts(
    lake_root: str,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    dataset_name: str = "pnl",
) -> list[str]:
    """Accounts with at least one file of ``dataset_name`` dated in [start, end] (all dates by default), sorted."""
    if dataset_name not in ACCOUNT_DATASETS:
        raise ValueError(f"dataset_name must be one of {ACCOUNT_DATASETS}, got {dataset_name!r}")
    lake = Lake(lake_root)
    found = {
        account
        for _, account, pdir in _partitions(lake, dataset_name, _iso(start), _iso(end))
        if lake.partition_files(pdir)
    }
    return sorted(found)


def _read(lake: Lake, name: str, account: str, start: str | None, end: str | None) -> pl.DataFrame:
    schema = dataset(name).schema
    files = [
        f
        for _, owner, pdir in _partitions(lake, name, start, end)
        if owner == account
        for f in lake.partition_files(pdir)
    ]
    table = (
        conform(pa.concat_tables([lake.read_file(f) for f in files]), schema)
        if files
        else schema.empty_table()
    )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.sort("ts", maintain_order=True)


def load_account(
    lake_root: str,
    account: str,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    interval: str | None = None,
) -> AccountData:
    """The account's PNL, POSITIONS and FILLS with partition date in [start, end] (open ends: all).

    ``interval`` (``"1h"``, ``"1d"``, ...) resamples the equity curve to the last sample of each
    UTC-aligned bucket. Identical duplicate PNL rows are dropped; two different rows at one ``ts``
    are an inconsistent lake and raise ``ValueError``. No data gives empty frames.
    """
    check_partition_value("account", account)
    first, last = _iso(start), _iso(end)
    if first is not None and last is not None and first > last:
        raise ValueError(f"start {first} is after end {last}")
    lake = Lake(lake_root)
    pnl = _read(lake, "pnl", account, first, last).unique(maintain_order=True)
    duplicated = pnl.filter(pl.col("ts").is_duplicated())
    if duplicated.height:
        raise ValueError(
            f"account {account!r}: {duplicated['ts'].n_unique()} pnl timestamps hold different "
            f"rows (first {duplicated['ts'][0]}); the lake is inconsistent"
        )
    if interval is not None:
        pnl = resample_equity(pnl, interval)
    return AccountData(
        account=account,
        equity=pnl,
        positions=_read(lake, "positions", account, first, last),
        fills=_read(lake, "fills", account, first, last),
    )


def resample_equity(equity: pl.DataFrame, interval: str) -> pl.DataFrame:
    """The last row of each ``interval`` bucket (``1m``, ``5m``, ``1h``, ``1d``, ``1w``), at its own ``ts``."""
    periods_per_year_for(interval, "crypto")  # validates the interval's form
    if equity.is_empty():
        return equity
    bucket = "__bucket"
    return (
        equity.sort("ts")
        .group_by(pl.col("ts").dt.truncate(interval).alias(bucket), maintain_order=True)
        .agg(pl.all().last())
        .sort(bucket)
        .drop(bucket)
    )


def sampling_interval(equity: pl.DataFrame) -> str:
    """The curve's typical spacing (median gap between samples) as ``"<n>s"``, for annualisation."""
    if equity.height < 2:
        raise ValueError("the sampling interval needs at least two samples")
    gaps = equity["ts"].sort().diff().drop_nulls().dt.total_nanoseconds()
    seconds = round(float(gaps.median()) / 1e9)
    if seconds <= 0:
        raise ValueError("equity samples less than a second apart have no annualisation here")
    return f"{seconds}s"


def conventions_for(market: Market, interval: str) -> Conventions:
    """The market's preset with periods per year of samples ``interval`` apart."""
    if market not in _PRESETS:
        raise ValueError(f"market must be 'equities' or 'crypto', got {market!r}")
    return _PRESETS[market].with_(periods_per_year=periods_per_year_for(interval, market))


def _skip(data: AccountData, reason: str) -> AccountReport:
    return AccountReport(
        account=data.account, status="skipped", path=None, reason=reason,
        points=data.equity.height, positions=data.positions.height, fills=data.fills.height,
        interval="",
    )  # fmt: skip


def report_account(
    lake_root: str,
    account: str,
    path: str,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    market: Market = "equities",
    interval: str | None = None,
    rolling_window: int = 63,
    title: str | None = None,
) -> AccountReport:
    """Write the account's tearsheet to ``path`` (atomically), or skip it with the reason.

    No PNL rows in the range, or fewer than :data:`MIN_POINTS` samples, is a skip, not an error.
    """
    data = load_account(lake_root, account, start=start, end=end, interval=interval)
    span = f"{_iso(start) or 'the start'} .. {_iso(end) or 'the end'}"
    if data.empty:
        return _skip(data, f"no pnl rows for account {account!r} in {span}")
    if data.equity.height < MIN_POINTS:
        return _skip(
            data,
            f"{data.equity.height} equity sample(s) for account {account!r} in {span}; "
            f"a tearsheet needs at least {MIN_POINTS}",
        )
    sampled = interval or sampling_interval(data.equity)
    conventions = conventions_for(market, sampled)
    sheet = write_tearsheet(
        path,
        data.equity,
        fills=data.fills,
        conventions=conventions,
        rolling_window=rolling_window,
        title=title or f"ShrivenQuant tearsheet: {account}",
    )
    return AccountReport(
        account=account, status="written", path=str(path), reason="",
        points=data.equity.height, positions=data.positions.height, fills=data.fills.height,
        interval=sampled, tearsheet=sheet,
    )  # fmt: skip


def table_rows(frame: pl.DataFrame) -> list[dict[str, object]]:
    """A table as JSON-ready rows: non-finite floats become None, dates and times ISO strings."""
    rows = []
    for row in frame.to_dicts():
        clean: dict[str, object] = {}
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            clean[key] = value
        rows.append(clean)
    return rows


def accounts_in(names: Iterable[str], *, include_backtests: bool) -> list[str]:
    """Account names, without ``backtest-*`` accounts unless asked (backtests report themselves)."""
    return [n for n in names if include_backtests or not n.startswith("backtest-")]
