"""write_book_snapshots: a day's L2 events become 1-second top-10 samples and a list of problems."""

from __future__ import annotations

import tomllib
from datetime import date

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shriven.book.snapshots import write_book_snapshots
from shriven.config import Settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from tests.conftest import SMALL_CONFIG

DAY = date(2026, 1, 5)


@pytest.fixture
def lake_with_book(tmp_path):
    settings = msgspec.convert({**tomllib.loads(SMALL_CONFIG), "data_dir": str(tmp_path)}, Settings)
    lake = Lake(settings.lake_root)
    ingest_window(SyntheticExchange(settings), lake, Window.days(DAY), ["ACME", "BOLT"], settings.universe)
    return lake, {s.symbol: s.tick_size for s in settings.symbols}


def test_one_sample_per_second_per_symbol_and_no_issues(lake_with_book):
    lake, ticks = lake_with_book
    result = write_book_snapshots(lake, [DAY.isoformat()], ticks)
    snaps = lake.read("book_snapshots")
    assert result.snapshots == snaps.num_rows
    assert result.issues == {}
    for symbol in ("ACME", "BOLT"):
        ts = snaps.filter(pc.equal(snaps.column("symbol"), symbol)).column("ts").cast(pa.int64()).to_numpy()
        assert (ts[1:] - ts[:-1] == 1_000_000_000).all()
    assert pc.all(pc.less(snaps.column("bid_px_0"), snaps.column("ask_px_0"))).as_py()
    assert not pc.any(snaps.column("stale")).as_py()


def test_rerun_replaces_the_day(lake_with_book):
    lake, ticks = lake_with_book
    write_book_snapshots(lake, [DAY.isoformat()], ticks)
    first = lake.read("book_snapshots")
    write_book_snapshots(lake, [DAY.isoformat()], ticks)
    assert lake.read("book_snapshots").equals(first)


def test_lost_messages_are_reported_and_mark_samples_stale(lake_with_book):
    lake, ticks = lake_with_book
    acme = lake.read("book").filter(pc.equal(pc.field("symbol"), "ACME"))
    seq = acme.column("seq").to_numpy()
    middle = seq[len(seq) // 2]
    lost = (seq == middle + 1) & ~acme.column("is_snapshot").to_numpy()
    lake.write_window("book", acme.filter(pa.array(~lost)), Window.days(DAY), symbols=["ACME"])
    result = write_book_snapshots(lake, [DAY.isoformat()], ticks)
    assert result.issues == {"seq_gap": 1}
    issues = lake.read("book_issues")
    assert issues.column("symbol").to_pylist() == ["ACME"]
    snaps = lake.read("book_snapshots")
    stale = snaps.filter(snaps.column("stale"))
    assert stale.num_rows > 0
    assert set(stale.column("symbol").to_pylist()) == {"ACME"}


def test_a_day_without_book_events_writes_nothing(tmp_path):
    result = write_book_snapshots(Lake(str(tmp_path / "lake")), ["2026-01-07"], {"ACME": 0.01})
    assert (result.book_events, result.snapshots, result.issues) == (0, 0, {})
