"""plan_windows: whole UTC days for backfills and files, the last complete minutes when live."""

from __future__ import annotations

from datetime import date

from flows.ingest_market_data import NS_PER_MINUTE, plan_windows
from shriven.lake.layout import NS_PER_DAY, Window

NOW = Window.days(date(2026, 1, 5)).start_ns + 15 * 3600 * 10**9 + 42 * 10**9  # 15:00:42 UTC


def test_backfill_is_one_window_per_day():
    windows = plan_windows("synthetic", date(2026, 1, 5), 3, NOW, 1)
    assert windows == [Window.days(date(2026, 1, d)) for d in (5, 6, 7)]


def test_live_is_the_last_complete_minutes():
    (window,) = plan_windows("synthetic", None, 1, NOW, 5)
    assert window.end_ns == NOW - 42 * 10**9
    assert window.end_ns - window.start_ns == 5 * NS_PER_MINUTE


def test_a_file_is_covered_by_the_days_it_spans():
    start = Window.days(date(2026, 1, 5)).start_ns
    windows = plan_windows("file", None, 1, NOW, 1, file_range=(start + 5, start + NS_PER_DAY + 7))
    assert windows == [Window.days(date(2026, 1, 5)), Window.days(date(2026, 1, 6))]
