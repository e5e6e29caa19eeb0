"""Batch replay of BOOK tables: a synthetic-exchange session, sampling modes, buffers and input checks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shriven.book.l2 import (
    BOOK_DEPTH,
    BOOK_ISSUES,
    ISSUE_SEQ_GAP,
    L2Book,
    book_depth_schema,
    replay_book,
)
from shriven.book.reference import ReferenceL2Book
from shriven.config import Settings, SymbolConfig, SyntheticConfig
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.schemas import BOOK

DAY = (date(2024, 3, 4) - date(1970, 1, 1)).days
SECOND_NS = 1_000_000_000


def _settings() -> Settings:
    """Two symbols on different grids over a one-hour session, with sweeps and jumps."""
    return Settings(
        symbols=(
            SymbolConfig(
                symbol="WIDE", name="Wide", sector="tech", price=612.30, volatility=0.6,
                daily_trades=6000,
            ),
            SymbolConfig(
                symbol="TICK", name="Tick", sector="energy", price=23.45, volatility=0.4,
                tick_size=0.05, lot_size=10.0, daily_trades=4000,
            ),
        ),
        synthetic=SyntheticConfig(
            seed=7, session_open="14:00", session_close="15:00", snapshot_every_s=900,
            jump_rate_per_day=3.0,
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def session():
    settings = _settings()
    open_ns, close_ns = session_window(settings, DAY)
    batch = SyntheticExchange(settings).fetch(open_ns, close_ns, settings.universe)
    ticks = {s.symbol: s.tick_size for s in settings.symbols}
    return batch, ticks


@pytest.fixture(scope="module")
def replayed(session):
    batch, ticks = session
    return replay_book(batch.book, depth=10, tick_size=ticks)


def test_a_synthetic_session_has_no_gaps_and_no_crossings(session, replayed):
    batch, _ = session
    assert replayed.issues.num_rows == 0
    snaps = replayed.snapshots
    assert snaps.schema == BOOK_DEPTH
    assert not pc.any(snaps["stale"]).as_py()
    assert pc.all(pc.greater(snaps["spread"], 0)).as_py()
    assert set(snaps["symbol"].unique().to_pylist()) == {"TICK", "WIDE"}
    # one row per message: snapshot rows share a seq, every delta has its own
    book = batch.book
    messages = pc.count_distinct(
        pc.binary_join_element_wise(book["symbol"], pc.cast(book["seq"], pa.string()), "/")
    ).as_py()
    assert snaps.num_rows == messages


def test_trades_print_at_the_touch_of_the_book_just_before(session, replayed):
    batch, _ = session
    snaps = replayed.snapshots
    checked = 0
    for symbol in ("TICK", "WIDE"):
        rows = snaps.filter(pc.equal(snaps["symbol"], symbol))
        trades = batch.trades.filter(pc.equal(batch.trades["symbol"], symbol))
        row_ts = rows["ts"].cast(pa.int64()).to_numpy()
        assert np.all(np.diff(row_ts) >= 0)
        trade_ts = trades["ts"].cast(pa.int64()).to_numpy()
        # the book after every message strictly before the trade
        at = np.searchsorted(row_ts, trade_ts, "left") - 1
        assert at.min() >= 0
        price = trades["price"].to_numpy()
        size = trades["size"].to_numpy()
        buy = trades["side"].to_numpy() == 1
        ask, ask_sz = rows["ask_px_0"].to_numpy()[at], rows["ask_sz_0"].to_numpy()[at]
        bid, bid_sz = rows["bid_px_0"].to_numpy()[at], rows["bid_sz_0"].to_numpy()[at]
        np.testing.assert_array_equal(price[buy], ask[buy])
        np.testing.assert_array_equal(price[~buy], bid[~buy])
        assert np.all(size[buy] <= ask_sz[buy])
        assert np.all(size[~buy] <= bid_sz[~buy])
        checked += trades.num_rows
    assert checked == batch.trades.num_rows > 1000


def test_sampling_on_a_grid_equals_the_last_message_at_or_before_it(session, replayed):
    batch, ticks = session
    sampled = replay_book(batch.book, depth=10, every_ns=SECOND_NS, tick_size=ticks).snapshots
    assert sampled.schema == BOOK_DEPTH
    every = replayed.snapshots
    for symbol in ("TICK", "WIDE"):
        grid = sampled.filter(pc.equal(sampled["symbol"], symbol))
        rows = every.filter(pc.equal(every["symbol"], symbol))
        t = grid["ts"].cast(pa.int64()).to_numpy()
        assert np.all(np.diff(t) == SECOND_NS)
        assert np.all(t % SECOND_NS == 0)
        row_ts = rows["ts"].cast(pa.int64()).to_numpy()
        assert t[0] >= row_ts[0]
        assert t[-1] <= row_ts[-1]
        # between seconds (re-centring done) both sides hold all 10 levels of the exchange
        assert grid["bid_px_9"].null_count == 0
        assert grid["ask_px_9"].null_count == 0
        at = np.searchsorted(row_ts, t, "right") - 1
        for name in ("seq", "bid_px_0", "ask_sz_3", "microprice", "depth_imbalance"):
            np.testing.assert_array_equal(grid[name].to_numpy(), rows[name].to_numpy()[at])


def test_inferred_ticks_give_the_same_replay(session, replayed):
    batch, _ = session
    inferred = replay_book(batch.book.slice(0, 20_000), depth=10).snapshots
    n = inferred.num_rows - 1  # the cut may split the last message
    assert inferred.slice(0, n).equals(replayed.snapshots.slice(0, n))


def test_live_book_ends_where_the_replay_ends(session, replayed):
    batch, ticks = session
    tick_rows = batch.book.filter(pc.equal(batch.book["symbol"], "TICK"))
    book = L2Book(ticks["TICK"])
    book.apply_rows(
        *(tick_rows[c].to_numpy() for c in ("ts", "seq", "side", "price", "size", "is_snapshot"))
    )
    rows = replayed.snapshots.filter(pc.equal(replayed.snapshots["symbol"], "TICK"))
    last = rows.slice(rows.num_rows - 1)
    depth = book.depth(10)
    assert depth.bid_price.tolist() == [last[f"bid_px_{j}"][0].as_py() for j in range(10)]
    assert depth.ask_size.tolist() == [last[f"ask_sz_{j}"][0].as_py() for j in range(10)]
    assert book.microprice() == last["microprice"][0].as_py()
    assert book.issues == ()
    assert not book.is_stale


def _table(rows, symbols=None) -> pa.Table:
    ts, seq, side, price, size, snap = (list(c) for c in zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [
            pa.array(ts).cast(BOOK.field("ts").type),
            pa.array(symbols or ["X"] * len(rows)),
            pa.array(seq, pa.int64()),
            pa.array(side, pa.int8()),
            pa.array(price, pa.float64()),
            pa.array(size, pa.float64()),
            pa.array(snap),
        ],
        schema=BOOK,
    )


def test_buffers_grow_for_many_far_levels_and_many_issues():
    rows = [(0, 1, 1, 100.0, 1.0, True), (0, 1, -1, 100.01, 1.0, True)]
    rows += [(1, 1, 1, (10_000 - 30 * j) / 100, 1.0, True) for j in range(1, 300)]  # far bids
    rows += [(2, 3 + 2 * j, -1, 100.01, float(j + 1), False) for j in range(200)]  # gaps
    result = replay_book(_table(rows), depth=300, tick_size=0.01, window_ticks=16)
    ref = ReferenceL2Book(0.01)
    ref.apply_rows(rows)
    last = result.snapshots.to_pylist()[-1]
    bid_px, bid_sz, _, _ = ref.depth(300)
    assert [last[f"bid_px_{j}"] for j in range(300)] == bid_px
    assert [last[f"bid_sz_{j}"] for j in range(300)] == bid_sz
    kinds = result.issues["kind"].to_pylist()
    assert kinds == [ISSUE_SEQ_GAP] * 200
    assert result.issues.schema == BOOK_ISSUES
    assert result.issues["detail"].to_pylist() == [1] * 200


def test_replay_checks_its_input():
    rows = [(0, 1, 1, 100.0, 1.0, True), (0, 1, 1, 100.0, 1.0, True), (0, 1, 1, 100.0, 1.0, True)]
    with pytest.raises(ValueError, match="sorted by symbol"):
        replay_book(_table(rows, ["A", "B", "A"]), tick_size=0.01)
    with pytest.raises(ValueError, match="depth"):
        replay_book(_table(rows), depth=0)
    with pytest.raises(ValueError, match="every_ns"):
        replay_book(_table(rows), every_ns=0)
    with pytest.raises(KeyError, match="B"):
        replay_book(_table(rows, ["A", "B", "B"]), tick_size={"A": 0.01})
    empty = replay_book(BOOK.empty_table(), depth=2)
    assert empty.snapshots.schema == book_depth_schema(2)
    assert empty.snapshots.num_rows == 0


def test_many_symbols_are_replayed_independently():
    a = [(0, 1, 1, 10.0, 1.0, True), (0, 1, -1, 10.5, 2.0, True), (5, 2, 1, 10.1, 3.0, False)]
    b = [
        (0, 7, 1, 2000.0, 1.0, True),
        (0, 7, -1, 2001.0, 2.0, True),
        (9, 9, -1, 2000.5, 1.0, False),
    ]
    table = _table(a + b, ["A"] * 3 + ["B"] * 3)
    result = replay_book(table, depth=1, every_ns=5, tick_size={"A": 0.1, "B": 0.5})
    out = result.snapshots.to_pydict()
    assert out["symbol"] == ["A", "A", "B", "B"]
    assert [t.value for t in out["ts"]] == [0, 5, 0, 5]
    assert out["bid_px_0"] == [10.0, 10.1, 2000.0, 2000.0]
    assert out["stale"] == [False, False, False, False]
    issues = result.issues.to_pydict()
    assert issues["symbol"] == ["B"]
    assert issues["seq"] == [9]
    assert issues["kind"] == [ISSUE_SEQ_GAP]
