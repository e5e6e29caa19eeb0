"""Walk-forward validation splits with purging and an embargo (de Prado, AFML ch. 7).

Splits are over sorted unique sample times (feature ``ts`` in ns): a sample at time ``t`` has a
label that uses data up to ``t + label_horizon_ns``. Test folds are consecutive blocks at the end
of the history, in time order; each fold trains only on samples before it (walk-forward), minus

* **purging**: samples whose label interval ``[t, t + label_horizon_ns]`` reaches the test fold's
  first time (their label would overlap the test period), and
* **embargo**: samples in ``(end, end + embargo_ns]`` after an earlier test fold's last time
  ``end`` (serially correlated with that fold's data).

Indices refer to positions in ``times``; use :func:`rows_of` to map them to rows of a frame
holding many symbols per time.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """One walk-forward fold: positions to train on and positions to test on."""

    train_idx: np.ndarray
    test_idx: np.ndarray


def walk_forward_splits(
    times: np.ndarray,
    *,
    n_splits: int,
    test_size: int,
    train_size: int | None = None,
    expanding: bool = False,
    label_horizon_ns: int = 0,
    embargo_ns: int = 0,
) -> list[Split]:
    """Purged, embargoed walk-forward folds, so a score never uses information from its test period.

    Parameters
    ----------
    times
        1-D strictly increasing integer sample times (ns); datetime64 is accepted.
    n_splits
        Number of folds; their test blocks are the last ``n_splits * test_size`` times.
    test_size
        Times per test block.
    train_size
        Times in the rolling train window just before each test block (before purging and
        embargo). Give it or ``expanding=True`` (train on all earlier times), not both.
    label_horizon_ns
        How far past its time a sample's label reaches (>= 0).
    embargo_ns
        How long after an earlier test block samples stay out of later trains (>= 0).

    Returns
    -------
    list[Split]
        ``n_splits`` folds in time order; ``train_idx`` and ``test_idx`` are sorted int64 arrays.

    Raises
    ------
    ValueError
        On bad arguments, too few times, or a fold left with no training sample.
    """
    t = _check_times(times)
    n_splits = _positive_int("n_splits", n_splits)
    test_size = _positive_int("test_size", test_size)
    if expanding and train_size is not None:
        raise ValueError("give train_size or expanding=True, not both")
    if not expanding and train_size is None:
        raise ValueError("give train_size (rolling window) or expanding=True")
    if train_size is not None:
        train_size = _positive_int("train_size", train_size)
    label_horizon_ns = _non_negative_int("label_horizon_ns", label_horizon_ns)
    embargo_ns = _non_negative_int("embargo_ns", embargo_ns)
    n = len(t)
    first_test = n - n_splits * test_size
    if first_test < (train_size or 1):
        raise ValueError(
            f"{n} times are too few for {n_splits} test blocks of {test_size} after a train window of "
            f"{train_size or 1}"
        )

    splits: list[Split] = []
    embargoed = np.zeros(n, dtype=bool)
    for k in range(n_splits):
        start = first_test + k * test_size
        stop = start + test_size
        lo = 0 if train_size is None else start - train_size
        candidates = np.arange(lo, start, dtype=np.int64)
        keep = (t[candidates] + label_horizon_ns < t[start]) & ~embargoed[candidates]
        train = candidates[keep]
        if train.size == 0:
            raise ValueError(f"fold {k} has no training sample left after purging and embargo")
        splits.append(Split(train_idx=train, test_idx=np.arange(start, stop, dtype=np.int64)))
        end = t[stop - 1]
        embargoed |= (t > end) & (t <= end + embargo_ns)
    return splits


def rows_of(indices: np.ndarray, times: np.ndarray, row_times: np.ndarray) -> np.ndarray:
    """Row positions whose time is one of ``times[indices]``: folds over times, models over rows."""
    t = _check_times(times)
    rows = np.asarray(row_times)
    if rows.dtype.kind == "M":
        rows = rows.astype("datetime64[ns]").view(np.int64)
    wanted = t[np.asarray(indices, dtype=np.int64)]
    hit = np.isin(rows, wanted)
    return np.flatnonzero(hit).astype(np.int64)


def _check_times(times: np.ndarray) -> np.ndarray:
    """Strictly increasing int64 ns: folds are defined on distinct sample times."""
    t = np.asarray(times)
    if t.ndim != 1:
        raise ValueError(f"times must be 1-D, got shape {t.shape}")
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").view(np.int64)
    elif t.dtype.kind not in "iu":
        raise ValueError(f"times must be integer ns or datetime64, got dtype {t.dtype}")
    t = t.astype(np.int64)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("times must be sorted and unique (strictly increasing)")
    return t


def _positive_int(name: str, value: int) -> int:
    """An int >= 1 (bool and float rejected: they hide mistakes)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return number


def _non_negative_int(name: str, value: int) -> int:
    """An int >= 0 nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int >= 0 (ns), got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be an int >= 0 (ns), got {value!r}")
    return number
