"""Bars cut from the venue feed: checked against a plain-Python fold of the same trades."""

from __future__ import annotations

import numpy as np
import pytest

from shriven.engine.bars import bar_schedule, bars_from_feed
from shriven.venue._kernels import FEED_BOOK, FEED_DTYPE, FEED_TRADE
from shriven.venue.simulated import VenueFeed

MIN = 60_000_000_000


def _feed(rows: list[tuple[int, int, float, int]]) -> VenueFeed:
    arr = np.zeros(len(rows), FEED_DTYPE)
    for i, (ts, tick, qty, kind) in enumerate(rows):
        arr[i]["ts"], arr[i]["tick"], arr[i]["qty"], arr[i]["kind"], arr[i]["side"] = ts, tick, qty, kind, 1
    return VenueFeed(arr, "ACME", 0.01)


def test_bars_match_a_python_fold_and_ignore_book_rows() -> None:
    rng = np.random.default_rng(3)
    ts = np.sort(rng.integers(0, 10 * MIN, 400))
    kinds = rng.choice([FEED_TRADE, FEED_BOOK], 400)
    ticks = rng.integers(10_000, 10_100, 400)
    qty = rng.integers(1, 50, 400).astype(float)
    feed = _feed(list(zip(ts.tolist(), ticks.tolist(), qty.tolist(), kinds.tolist(), strict=True)))
    series = bars_from_feed(feed, MIN)
    expected: dict[int, list[tuple[float, float]]] = {}
    for t, k, p, q in zip(ts, kinds, ticks, qty, strict=True):
        if k == FEED_TRADE:
            expected.setdefault(int(t) // MIN * MIN, []).append((p * 0.01, q))
    assert series.ts.tolist() == sorted(expected)
    for i, start in enumerate(series.ts.tolist()):
        trades = expected[start]
        bar = series.bar(i)
        assert bar.end_ts == start + MIN
        assert bar.open == trades[0][0]
        assert bar.close == trades[-1][0]
        assert bar.high == max(p for p, _ in trades)
        assert bar.low == min(p for p, _ in trades)
        assert bar.volume == pytest.approx(sum(q for _, q in trades))
        assert bar.vwap == pytest.approx(sum(p * q for p, q in trades) / sum(q for _, q in trades))
        assert bar.trades == len(trades)


def test_empty_feed_gives_no_bars_and_schedule_is_sorted_unique_closes() -> None:
    empty = bars_from_feed(_feed([]), MIN)
    assert len(empty) == 0
    a = bars_from_feed(_feed([(5, 100, 1.0, FEED_TRADE), (MIN + 5, 100, 1.0, FEED_TRADE)]), MIN)
    b = bars_from_feed(_feed([(MIN + 7, 100, 1.0, FEED_TRADE), (3 * MIN, 100, 1.0, FEED_TRADE)]), MIN)
    assert bar_schedule({"a": a, "b": b, "e": empty}).tolist() == [MIN, 2 * MIN, 4 * MIN]
    with pytest.raises(ValueError, match="interval"):
        bars_from_feed(_feed([]), 0)
