"""Window arithmetic, partition naming and the file-name <-> window round trip."""

from __future__ import annotations

from datetime import date

import pytest

from shriven.lake.layout import (
    NS_PER_DAY,
    Window,
    check_partition_value,
    dataset_glob,
    day_start_ns,
    ns_to_date,
    ns_to_iso,
    partition_dir,
    window_of_file,
)

JAN2 = day_start_ns(date(2024, 1, 2))
HOUR = 3_600_000_000_000


@pytest.mark.parametrize(("start", "end"), [(10, 10), (10, 9), (0, -1)])
def test_window_rejects_empty_or_inverted(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="must be after start"):
        Window(start, end)


def test_window_is_half_open_for_overlaps() -> None:
    w = Window(10, 20)
    assert w.overlaps(Window(19, 30))
    assert w.overlaps(Window(0, 11))
    assert w.overlaps(Window(12, 13))
    assert not w.overlaps(Window(20, 30))
    assert not w.overlaps(Window(0, 10))


def test_days_covers_whole_utc_days() -> None:
    w = Window.days(date(2024, 1, 2), 3)
    assert w.start_ns == 1_704_153_600 * 1_000_000_000
    assert w.end_ns - w.start_ns == 3 * NS_PER_DAY
    assert w.dates() == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]


@pytest.mark.parametrize("count", [0, -1])
def test_days_rejects_non_positive_count(count: int) -> None:
    with pytest.raises(ValueError, match="day count"):
        Window.days(date(2024, 1, 2), count)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (Window(JAN2, JAN2 + NS_PER_DAY), [date(2024, 1, 2)]),  # end is exclusive
        (Window(JAN2 - HOUR, JAN2 + HOUR), [date(2024, 1, 1), date(2024, 1, 2)]),
        (Window(JAN2 - 1, JAN2), [date(2024, 1, 1)]),
        (Window(JAN2 - 1, JAN2 + 1), [date(2024, 1, 1), date(2024, 1, 2)]),
        (Window(JAN2 + HOUR, JAN2 + 2 * HOUR), [date(2024, 1, 2)]),
    ],
)
def test_dates_across_midnight(window: Window, expected: list[date]) -> None:
    assert window.dates() == expected


def test_dates_before_the_epoch() -> None:
    w = Window(-HOUR, HOUR)
    assert w.dates() == [date(1969, 12, 31), date(1970, 1, 1)]
    assert ns_to_date(-1) == date(1969, 12, 31)


@pytest.mark.parametrize(
    "window",
    [
        Window(0, 1),
        Window(JAN2, JAN2 + NS_PER_DAY),
        Window(JAN2 + 123_456_789, JAN2 + HOUR + 1),
        Window(-5, 7),
    ],
)
def test_file_name_round_trip(window: Window) -> None:
    name = window.file_name
    assert name.endswith(".parquet")
    assert "/" not in name
    assert window_of_file(name) == window


@pytest.mark.parametrize(
    "name",
    [
        "data.parquet",
        "part-1-2.csv",
        "part-a-2.parquet",
        "part-1.parquet",
        "xpart-1-2.parquet",
        ".part-1-2.parquet.abcd.tmp",
        "part-1-2.parquet.tmp",
        "part-1-2.parquet\n",
        "part-5-3.parquet",  # inverted: not a window the lake writes
        "part-5-5.parquet",
        "",
    ],
)
def test_foreign_file_names_give_none(name: str) -> None:
    assert window_of_file(name) is None


@pytest.mark.parametrize("value", ["ACME", "BRK.B", "BTC-USDT", "a_b", "0700", "x" * 64])
def test_safe_partition_values_pass(value: str) -> None:
    assert check_partition_value("symbol", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "../x",
        "..",
        ".",
        "a/b",
        "a\\b",
        ".hidden",
        "-x",
        "a b",
        "x" * 65,
        "ACME\n",
        "a=b",
        "sym*",
    ],
)
def test_unsafe_partition_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="not a safe path component"):
        check_partition_value("symbol", value)


def test_partition_dir_and_glob() -> None:
    assert partition_dir("/lake/", "trades", {"date": "2024-01-02", "symbol": "ACME"}) == (
        "/lake/trades/date=2024-01-02/symbol=ACME"
    )
    assert dataset_glob("/lake/", "trades", 2) == "/lake/trades/*/*/*.parquet"
    with pytest.raises(ValueError, match="symbol"):
        partition_dir("/lake", "trades", {"date": "2024-01-02", "symbol": "../etc"})


def test_window_str_is_iso_utc() -> None:
    assert str(Window(JAN2, JAN2 + HOUR)) == "[2024-01-02T00:00:00Z, 2024-01-02T01:00:00Z)"
    assert ns_to_iso(0) == "1970-01-01T00:00:00Z"
