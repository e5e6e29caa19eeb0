"""The L2 book against the plain-Python reference: figures, snapshots, removals, crossings, seq gaps."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shriven.book.l2 import (
    ISSUE_CROSSED,
    ISSUE_INVALID_ROW,
    ISSUE_NO_SNAPSHOT,
    ISSUE_SEQ_GAP,
    ISSUE_SEQ_REGRESSION,
    L2Book,
    infer_tick_size,
    replay_book,
)
from shriven.book.reference import ReferenceL2Book
from shriven.schemas import BOOK

TICK = 0.01


def _px(tick: int) -> float:
    return tick / 100  # the book's own tick -> price conversion for a 0.01 grid


def _columns(rows):
    ts, seq, side, price, size, snap = zip(*rows, strict=True)
    return (
        np.array(ts, np.int64),
        np.array(seq, np.int64),
        np.array(side, np.int8),
        np.array(price, np.float64),
        np.array(size, np.float64),
        np.array(snap, np.bool_),
    )


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == y


def _assert_matches(book: L2Book, ref: ReferenceL2Book, levels: int = 5) -> None:
    assert book.best_bid() == pytest.approx(ref.best_bid(), nan_ok=True, rel=0, abs=0)
    assert book.best_ask() == pytest.approx(ref.best_ask(), nan_ok=True, rel=0, abs=0)
    depth = book.depth(levels)
    expected = ref.depth(levels)
    for got, want in zip(depth, expected, strict=True):
        assert got.tolist() == want
    for name in ("mid", "microprice", "spread"):
        assert _same(getattr(book, name)(), getattr(ref, name)()), name
    for n in (1, 3):
        assert _same(book.imbalance(n), ref.imbalance(n))
    assert book.is_stale == ref.stale
    assert book.is_crossed == ref.crossed
    assert [(i.ts, i.seq, i.kind, i.detail) for i in book.issues] == ref.issues


# -- random event sequences -----------------------------------------------------------------------


@st.composite
def _messages(draw):
    """Messages (lists of rows) of snapshots and deltas around a drifting touch, with far levels,
    removals, invalid rows, crossings and seq jumps."""
    centre = draw(st.integers(5_000, 50_000))
    seq = draw(st.integers(0, 10**6))
    ts = 1_000
    out = []
    for _ in range(draw(st.integers(1, 30))):
        centre += draw(st.integers(-40, 40))
        seq += draw(st.sampled_from([1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 7, -2]))
        ts += draw(st.integers(0, 5))
        snapshot = draw(st.integers(0, 4)) == 0

        def level(side: int, c: int = centre):
            near = draw(st.integers(0, 12))
            far = draw(st.integers(0, 3000))
            offset = far if draw(st.integers(0, 9)) == 0 else near
            if draw(st.integers(0, 14)) == 0:  # the wrong side of the touch: crossings
                offset = -offset
            return c - offset if side == 1 else c + 1 + offset

        rows = []
        if snapshot:
            for _ in range(draw(st.integers(1, 12))):
                side = draw(st.sampled_from([1, -1]))
                size = draw(st.sampled_from([1.0, 2.5, 10.0, 300.0]))
                rows.append((ts, seq, side, _px(level(side)), size, True))
        else:
            for _ in range(draw(st.integers(1, 3))):
                side = draw(st.sampled_from([1, -1, 1, -1, 1, -1, 1, -1, 0]))
                size = draw(st.sampled_from([0.0, 0.0, 1.0, 4.0, 25.5, 100.0, -1.0]))
                tick = level(side if side else 1)
                rows.append((ts, seq, side, _px(tick), size, False))
        out.append(rows)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=_messages(), window=st.sampled_from([16, 64, 4096]))
def test_random_messages_match_the_reference(messages, window):
    book = L2Book(TICK, window_ticks=window)
    ref = ReferenceL2Book(TICK)
    for rows in messages:
        book.apply_rows(*_columns(rows))
        ref.apply_rows(rows)
        _assert_matches(book, ref)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=_messages(), window=st.sampled_from([16, 4096]))
def test_replay_matches_the_reference_after_every_message(messages, window):
    rows = [row for message in messages for row in message]
    ts, seq, side, price, size, snap = _columns(rows)
    table = pa.Table.from_arrays(
        [
            pa.array(ts).cast(BOOK.field("ts").type),
            pa.array(["X"] * len(rows)),
            pa.array(seq),
            pa.array(side),
            pa.array(price),
            pa.array(size),
            pa.array(snap),
        ],
        schema=BOOK,
    )
    result = replay_book(table, depth=3, tick_size=TICK, window_ticks=window)
    out = result.snapshots.to_pydict()
    # the replay's messages: consecutive rows sharing (seq, is_snapshot)
    groups: list[list[tuple]] = []
    for row in rows:
        if groups and (groups[-1][-1][1], groups[-1][-1][5]) == (row[1], row[5]):
            groups[-1].append(row)
        else:
            groups.append([row])
    assert result.snapshots.num_rows == len(groups)
    ref = ReferenceL2Book(TICK)
    for r, group in enumerate(groups):
        ref.apply_rows(group)
        bid_px, bid_sz, ask_px, ask_sz = ref.depth(3)
        for j in range(3):
            assert out[f"bid_px_{j}"][r] == (bid_px[j] if j < len(bid_px) else None)
            assert out[f"bid_sz_{j}"][r] == (bid_sz[j] if j < len(bid_sz) else None)
            assert out[f"ask_px_{j}"][r] == (ask_px[j] if j < len(ask_px) else None)
            assert out[f"ask_sz_{j}"][r] == (ask_sz[j] if j < len(ask_sz) else None)
        for name in ("mid", "microprice", "spread"):
            want = getattr(ref, name)()
            assert out[name][r] == (None if math.isnan(want) else want), name
        for name, n in (("imbalance", 1), ("depth_imbalance", 3)):
            want = ref.imbalance(n)
            assert out[name][r] == (None if math.isnan(want) else want), name
        assert out["stale"][r] == ref.stale
        assert out["seq"][r] == group[-1][1]
        assert out["ts"][r].value == group[-1][0]
    issues = result.issues.to_pydict()
    got = list(
        zip(
            [t.value for t in issues["ts"]],
            issues["seq"],
            issues["kind"],
            issues["detail"],
            strict=True,
        )
    )
    assert got == ref.issues
    assert set(issues["symbol"]) <= {"X"}


# -- the rules, one by one ------------------------------------------------------------------------


def _snapshot(book: L2Book, seq: int, bids, asks, ts: int = 0) -> None:
    rows = [(ts, seq, 1, p, s, True) for p, s in bids] + [
        (ts, seq, -1, p, s, True) for p, s in asks
    ]
    book.apply_rows(*_columns(rows))


def test_snapshot_replaces_everything():
    book = L2Book(TICK)
    _snapshot(book, 1, [(100.0, 5.0), (99.99, 6.0), (99.5, 1.0)], [(100.01, 7.0), (101.0, 2.0)])
    book.apply(1, 2, 1, 100.0, 9.0)
    _snapshot(book, 3, [(50.0, 1.0)], [(50.02, 2.0)])
    assert book.depth(10).bid_price.tolist() == [50.0]
    assert book.depth(10).ask_price.tolist() == [50.02]
    assert book.level_counts == (1, 1)
    assert book.best_bid() == (50.0, 1.0)
    assert book.issues == ()


def test_size_zero_removes_the_level_and_the_next_becomes_best():
    book = L2Book(TICK)
    _snapshot(book, 1, [(100.0, 5.0), (99.97, 6.0)], [(100.01, 7.0), (100.05, 2.0)])
    book.apply(1, 2, 1, 100.0, 0.0)
    book.apply(1, 3, -1, 100.01, 0.0)
    book.apply(1, 4, -1, 100.02, 0.0)  # removing an absent level changes nothing
    assert book.best_bid() == (99.97, 6.0)
    assert book.best_ask() == (100.05, 2.0)
    assert book.level_counts == (1, 1)
    book.apply(1, 5, 1, 99.97, 0.0)
    assert math.isnan(book.best_bid()[0])
    assert book.best_bid()[1] == 0.0
    assert math.isnan(book.mid())
    assert math.isnan(book.microprice())
    assert math.isnan(book.spread())
    assert book.imbalance() == -1.0


def test_figures_of_a_known_book():
    book = L2Book(TICK)
    _snapshot(book, 1, [(100.0, 300.0), (99.99, 100.0)], [(100.02, 100.0), (100.03, 500.0)])
    assert book.mid() == pytest.approx(100.01)
    assert book.spread() == pytest.approx(0.02)
    assert book.microprice() == pytest.approx((100.0 * 100 + 100.02 * 300) / 400)
    assert book.imbalance() == 0.5
    assert book.imbalance(2) == pytest.approx((400 - 600) / 1000)


def test_crossed_book_is_reported_once_per_episode():
    book = L2Book(TICK)
    _snapshot(book, 1, [(100.0, 5.0)], [(100.02, 5.0)], ts=10)
    book.apply(11, 2, 1, 100.03, 1.0)  # bid through the ask
    book.apply(12, 3, 1, 100.04, 1.0)  # still crossed: no second report
    assert book.is_crossed
    assert [(i.seq, i.kind, i.detail) for i in book.issues] == [(2, ISSUE_CROSSED, 1)]
    book.apply(13, 4, 1, 100.04, 0.0)
    book.apply(13, 5, 1, 100.03, 0.0)
    assert not book.is_crossed
    book.apply(14, 6, -1, 100.0, 1.0)  # ask down to the bid: crossed again (bid >= ask)
    assert [(i.seq, i.kind, i.detail) for i in book.issues][-1] == (6, ISSUE_CROSSED, 0)
    assert book.issues[-1].name == "crossed"


def test_seq_gap_marks_the_book_stale_until_the_next_snapshot():
    book = L2Book(TICK)
    _snapshot(book, 10, [(100.0, 5.0)], [(100.02, 5.0)])
    assert not book.is_stale
    book.apply(1, 11, 1, 100.0, 6.0)
    book.apply(2, 15, 1, 100.0, 7.0)  # 12, 13, 14 lost
    assert book.is_stale
    assert [(i.ts, i.seq, i.kind, i.detail) for i in book.issues] == [(2, 15, ISSUE_SEQ_GAP, 3)]
    book.apply(3, 16, 1, 100.0, 8.0)
    assert book.is_stale  # still, until a snapshot
    book.apply(3, 14, 1, 100.0, 8.0)
    assert book.issues[-1].kind == ISSUE_SEQ_REGRESSION
    assert book.issues[-1].detail == 2
    _snapshot(book, 20, [(100.0, 5.0)], [(100.02, 5.0)])  # a snapshot may jump
    assert not book.is_stale
    assert len(book.issues) == 2


def test_deltas_before_any_snapshot_are_reported_and_stale():
    book = L2Book(TICK)
    assert book.is_stale
    book.apply(1, 1, 1, 100.0, 1.0)
    book.apply(1, 2, -1, 100.5, 1.0)
    assert book.is_stale
    assert [i.kind for i in book.issues] == [ISSUE_NO_SNAPSHOT]


def test_invalid_rows_are_reported_and_skipped():
    book = L2Book(TICK)
    _snapshot(book, 1, [(100.0, 5.0)], [(100.02, 5.0)])
    book.apply(1, 2, 0, 100.01, 3.0)
    book.apply(1, 3, 1, 100.01, -3.0)
    book.apply(1, 4, 1, 100.01, math.nan)
    assert book.best_bid() == (100.0, 5.0)
    assert [(i.kind, i.detail) for i in book.issues] == [
        (ISSUE_INVALID_ROW, 0),
        (ISSUE_INVALID_ROW, 1),
        (ISSUE_INVALID_ROW, 1),
    ]


def test_prices_off_the_tick_grid_are_rejected():
    book = L2Book(0.05)
    with pytest.raises(ValueError, match="off the tick grid"):
        book.apply(1, 1, 1, 100.02, 1.0, True)


def test_far_levels_and_a_walking_touch_survive_recentring():
    book = L2Book(TICK, window_ticks=32)
    ref = ReferenceL2Book(TICK)
    rows = [(0, 1, 1, 100.0, 1.0, True), (0, 1, -1, 100.01, 1.0, True), (0, 1, 1, 1.0, 9.0, True)]
    rows += [(0, 1, -1, 900.0, 9.0, True)]
    book.apply_rows(*_columns(rows))
    ref.apply_rows(rows)
    seq = 2
    for step in range(400):  # the touch walks up 400 ticks, far beyond the window
        bid, ask = 10_000 + step, 10_001 + step
        message = [(step, seq, -1, _px(ask), 0.0, False)]
        message += [(step, seq + 1, -1, _px(ask + 1), 2.0, False)]
        message += [(step, seq + 2, 1, _px(bid + 1), 3.0, False)]
        message += [(step, seq + 3, 1, _px(bid - 5), 0.0, False)]
        seq += 4
        for row in message:
            book.apply(*row)
            ref.apply_rows([row])
        _assert_matches(book, ref, levels=8)
    assert book.level_counts == (len(ref.bids), len(ref.asks))


def test_infer_tick_size():
    assert infer_tick_size(np.array([100.05, 100.10, 99.95])) == 0.05
    assert infer_tick_size(np.array([23.45, 23.5, 24.0])) == 0.05
    assert infer_tick_size(np.array([0.00012, 0.00013])) == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="finite"):
        infer_tick_size(np.array([math.nan]))


def test_the_live_book_grows_its_overflow_for_many_far_levels():
    book = L2Book(TICK, window_ticks=16)
    ref = ReferenceL2Book(TICK)
    rows = [(0, 1, 1, 100.0, 1.0, True), (0, 1, -1, 100.01, 1.0, True)]
    rows += [(0, 1, -1, _px(10_001 + 50 * j), float(j), True) for j in range(1, 200)]
    rows += [(1, 2, -1, _px(10_001 + 50 * 7), 0.0, False), (2, 3, -1, 100.01, 0.0, False)]
    for row in rows:
        book.apply(*row)
        ref.apply(*row)
    ref.close()
    _assert_matches(book, ref, levels=250)
    assert book.level_counts == (1, 198)
