"""Walk-forward splits: purging, embargo and time order, as properties and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.validation import Split, rows_of, walk_forward_splits


@st.composite
def split_problems(draw: st.DrawFn) -> tuple[np.ndarray, dict]:
    """Irregular increasing times and split arguments, mostly feasible, sometimes not."""
    expanding = draw(st.booleans())
    kwargs: dict = {
        "n_splits": draw(st.integers(1, 6)),
        "test_size": draw(st.integers(1, 15)),
        "label_horizon_ns": draw(st.integers(0, 120)),
        "embargo_ns": draw(st.integers(0, 120)),
    }
    train_size = draw(st.integers(1, 40))
    if expanding:
        kwargs["expanding"] = True
    else:
        kwargs["train_size"] = train_size
    size = kwargs["n_splits"] * kwargs["test_size"] + train_size + draw(st.integers(-3, 30))
    gaps = draw(st.lists(st.integers(1, 40), min_size=max(size, 1), max_size=max(size, 1)))
    times = np.cumsum(np.asarray(gaps, dtype=np.int64)) + draw(st.integers(0, 10**12))
    return times, kwargs


def _check_properties(times: np.ndarray, kwargs: dict, splits: list[Split]) -> None:
    horizon = kwargs["label_horizon_ns"]
    embargo = kwargs["embargo_ns"]
    assert len(splits) == kwargs["n_splits"]
    previous_stop = None
    for k, split in enumerate(splits):
        train, test = split.train_idx, split.test_idx
        assert train.dtype == np.int64
        assert test.dtype == np.int64
        assert train.size > 0
        assert test.size == kwargs["test_size"]
        assert np.all(np.diff(test) == 1)  # a contiguous block
        assert np.all(np.diff(train) > 0)
        if previous_stop is not None:
            assert test[0] == previous_stop  # in time order, not overlapping
        previous_stop = test[-1] + 1
        # walk-forward: every train sample is before its test fold
        assert train.max() < test.min()
        assert not np.intersect1d(train, test).size
        # label intervals [t, t + h] of train and test never meet
        train_lo, train_hi = times[train], times[train] + horizon
        test_lo, test_hi = times[test].min(), times[test].max() + horizon
        assert not np.any((train_lo <= test_hi) & (train_hi >= test_lo))
        # embargo after every earlier test block
        for earlier in splits[:k]:
            end = times[earlier.test_idx[-1]]
            assert not np.any((times[train] > end) & (times[train] <= end + embargo))
        if "train_size" in kwargs:
            assert train.min() >= test.min() - kwargs["train_size"]
    assert splits[-1].test_idx[-1] == len(times) - 1


@settings(max_examples=300, deadline=None)
@given(split_problems())
def test_split_properties(problem: tuple[np.ndarray, dict]) -> None:
    times, kwargs = problem
    try:
        splits = walk_forward_splits(times, **kwargs)
    except ValueError as error:
        message = str(error)
    else:
        _check_properties(times, kwargs, splits)
        return
    # only infeasible problems may be refused
    assert "too few" in message or "no training sample" in message


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 10), st.integers(1, 30))
def test_without_purge_or_embargo_nothing_is_dropped(
    n_splits: int, test_size: int, train_size: int
) -> None:
    times = np.arange(n_splits * test_size + train_size, dtype=np.int64) * 10
    rolling = walk_forward_splits(
        times, n_splits=n_splits, test_size=test_size, train_size=train_size
    )
    expanding = walk_forward_splits(times, n_splits=n_splits, test_size=test_size, expanding=True)
    for k, (r, e) in enumerate(zip(rolling, expanding, strict=True)):
        start = train_size + k * test_size
        assert r.train_idx.tolist() == list(range(start - train_size, start))
        assert e.train_idx.tolist() == list(range(start))
        assert r.test_idx.tolist() == e.test_idx.tolist() == list(range(start, start + test_size))


def test_purge_and_embargo_by_hand() -> None:
    times = np.arange(20, dtype=np.int64) * 10  # 0, 10, ..., 190
    splits = walk_forward_splits(
        times, n_splits=2, test_size=5, expanding=True, label_horizon_ns=15, embargo_ns=20
    )
    first, second = splits
    # fold 0 tests 100..140: the label of 90 reaches 105 >= 100 (purged), that of 80 reaches 95 (kept)
    assert first.test_idx.tolist() == [10, 11, 12, 13, 14]
    assert first.train_idx.tolist() == list(range(9))  # 0..80; 90 purged (90 + 15 >= 100)
    # fold 1 tests 150..190: 140 purged by the label horizon; 150..160 would be embargoed (none in train)
    assert second.test_idx.tolist() == [15, 16, 17, 18, 19]
    assert second.train_idx.tolist() == list(range(14))  # 0..130; 140 purged (140 + 15 >= 150)
    three = walk_forward_splits(times, n_splits=3, test_size=4, expanding=True, embargo_ns=20)
    # tests 80..110, 120..150, 160..190; the embargo after 110 keeps 120 and 130 out of fold 2's
    # train (the one after 150 covers only test times), so fold 2 trains on 0..110, 140 and 150
    assert [s.test_idx.tolist() for s in three] == [
        [8, 9, 10, 11],
        [12, 13, 14, 15],
        [16, 17, 18, 19],
    ]
    assert three[2].train_idx.tolist() == [*range(12), 14, 15]


def test_label_horizon_exactly_reaching_the_test_start_is_purged() -> None:
    times = np.arange(10, dtype=np.int64) * 10
    (split,) = walk_forward_splits(
        times, n_splits=1, test_size=2, train_size=8, label_horizon_ns=10
    )
    assert split.train_idx.tolist() == list(range(7))  # 70 + 10 == 80 touches the test start


def test_datetime64_times_and_rows_of() -> None:
    times = np.array(
        ["2026-01-01T00:00", "2026-01-01T00:01", "2026-01-01T00:02", "2026-01-01T00:03"],
        dtype="datetime64[ns]",
    )
    (split,) = walk_forward_splits(times, n_splits=1, test_size=1, expanding=True)
    assert split.train_idx.tolist() == [0, 1, 2]
    row_times = np.repeat(times, 3)[::-1]  # three symbols per time, any order
    assert rows_of(split.test_idx, times, row_times).tolist() == [0, 1, 2]
    assert rows_of(split.train_idx, times, row_times).tolist() == list(range(3, 12))


@pytest.mark.parametrize(
    ("times", "kwargs", "match"),
    [
        (np.arange(10), {"n_splits": 0, "test_size": 2, "expanding": True}, "n_splits"),
        (np.arange(10), {"n_splits": 2, "test_size": 0, "expanding": True}, "test_size"),
        (
            np.arange(10),
            {"n_splits": 2, "test_size": 2},
            "train_size",
        ),  # neither train_size nor expanding
        (
            np.arange(10),
            {"n_splits": 2, "test_size": 2, "train_size": 3, "expanding": True},
            "not both",
        ),
        (np.arange(10), {"n_splits": 2, "test_size": 2, "train_size": 0}, "train_size"),
        (np.arange(10), {"n_splits": 2, "test_size": 2, "train_size": 2.0}, "train_size"),
        (np.arange(10), {"n_splits": True, "test_size": 2, "expanding": True}, "n_splits"),
        (
            np.arange(10),
            {"n_splits": 2, "test_size": 2, "expanding": True, "label_horizon_ns": -1},
            "label_horizon_ns",
        ),
        (
            np.arange(10),
            {"n_splits": 2, "test_size": 2, "expanding": True, "embargo_ns": -1},
            "embargo_ns",
        ),
        (
            np.arange(10),
            {"n_splits": 5, "test_size": 2, "expanding": True},
            "too few",
        ),  # no room to train
        (np.arange(10), {"n_splits": 2, "test_size": 3, "train_size": 5}, "too few"),  # too few
        (
            np.arange(10),
            {"n_splits": 1, "test_size": 2, "expanding": True, "label_horizon_ns": 100},
            "no training sample",
        ),  # all purged
        (
            np.array([0, 2, 1, 3]),
            {"n_splits": 1, "test_size": 1, "expanding": True},
            "sorted",
        ),  # unsorted
        (
            np.array([0, 1, 1, 3]),
            {"n_splits": 1, "test_size": 1, "expanding": True},
            "sorted",
        ),  # duplicate
        (
            np.arange(10.0),
            {"n_splits": 1, "test_size": 1, "expanding": True},
            "dtype",
        ),  # float times
        (np.arange(10).reshape(2, 5), {"n_splits": 1, "test_size": 1, "expanding": True}, "1-D"),
    ],
)
def test_bad_arguments_raise(times: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        walk_forward_splits(times, **kwargs)
