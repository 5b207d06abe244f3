"""Tests for domain.tasks.timing.add_business_days: SLA days in a time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.tasks import UnknownTimeZone, add_business_days

LONDON = "Europe/London"


def test_business_days_keep_the_local_time_and_skip_the_weekend() -> None:
    tuesday = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
    assert add_business_days(tuesday, 5, LONDON) == datetime(2026, 1, 20, 15, 30, tzinfo=UTC)
    friday = datetime(2026, 1, 16, 10, 0, tzinfo=UTC)
    assert add_business_days(friday, 1, LONDON) == datetime(2026, 1, 19, 10, 0, tzinfo=UTC)
    assert add_business_days(friday, 3, LONDON) == datetime(2026, 1, 21, 10, 0, tzinfo=UTC)


def test_a_weekday_evening_start_keeps_its_time() -> None:
    evening = datetime(2026, 1, 13, 22, 15, tzinfo=UTC)
    assert add_business_days(evening, 2, LONDON) == datetime(2026, 1, 15, 22, 15, tzinfo=UTC)


def test_a_weekend_start_counts_from_monday_opening() -> None:
    saturday = datetime(2026, 1, 17, 14, 0, tzinfo=UTC)
    assert add_business_days(saturday, 0, LONDON) == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    assert add_business_days(saturday, 5, LONDON) == datetime(2026, 1, 26, 9, 0, tzinfo=UTC)


def test_the_weekend_is_the_zones_weekend() -> None:
    # Friday 23:30 UTC is Saturday 10:30 in Auckland (NZDT, UTC+13): counts from Monday
    friday_utc = datetime(2026, 1, 16, 23, 30, tzinfo=UTC)
    due = add_business_days(friday_utc, 1, "Pacific/Auckland")
    assert due == datetime(2026, 1, 19, 20, 0, tzinfo=UTC)  # Tuesday 09:00 NZDT


def test_holidays_are_skipped_like_weekends() -> None:
    wednesday = datetime(2026, 12, 23, 11, 0, tzinfo=UTC)
    holidays = [date(2026, 12, 25), date(2026, 12, 28)]
    assert add_business_days(wednesday, 2, LONDON, holidays=holidays) == datetime(
        2026, 12, 29, 11, 0, tzinfo=UTC
    )
    on_holiday = datetime(2026, 12, 25, 12, 0, tzinfo=UTC)
    assert add_business_days(on_holiday, 0, LONDON, holidays=holidays) == datetime(
        2026, 12, 29, 9, 0, tzinfo=UTC
    )


def test_local_time_is_kept_across_a_dst_change() -> None:
    # Thursday 26 March 2026 10:00 GMT; clocks go forward on Sunday 29 March
    thursday = datetime(2026, 3, 26, 10, 0, tzinfo=UTC)
    due = add_business_days(thursday, 2, LONDON)
    assert due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 BST


def test_the_answer_is_in_the_starts_time_zone() -> None:
    start = datetime(2026, 1, 13, 16, 0, tzinfo=timezone(timedelta(hours=1)))  # 15:00 UTC
    due = add_business_days(start, 1, LONDON)
    assert due.utcoffset() == timedelta(hours=1)
    assert due == datetime(2026, 1, 14, 15, 0, tzinfo=UTC)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_days(datetime(2026, 1, 13, 9, 0), 1, LONDON)
    with pytest.raises(ValueError, match="negative"):
        add_business_days(datetime(2026, 1, 13, 9, 0, tzinfo=UTC), -1, LONDON)
    with pytest.raises(UnknownTimeZone):
        add_business_days(datetime(2026, 1, 13, 9, 0, tzinfo=UTC), 1, "Mars/Olympus")
