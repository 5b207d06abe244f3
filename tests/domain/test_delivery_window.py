"""Quiet hours: the next delivery window, in the customer's zone, across weekends and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.delivery_window import QuietHours, is_inside, next_window_opening

LONDON = "Europe/London"
DEFAULT = QuietHours()


def at(tz: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(tz))  # type: ignore[arg-type, misc]


def test_inside_the_window_answers_now_itself() -> None:
    now = at(LONDON, 2026, 11, 4, 10, 30)  # a Wednesday
    assert next_window_opening(now, LONDON, DEFAULT) is now


def test_the_window_opens_at_its_start_and_closes_at_its_end() -> None:
    opening = at(LONDON, 2026, 11, 4, 8, 0)
    assert next_window_opening(opening, LONDON, DEFAULT) is opening
    closing = at(LONDON, 2026, 11, 4, 20, 0)  # 20:00 is already quiet
    assert next_window_opening(closing, LONDON, DEFAULT) == at(LONDON, 2026, 11, 5, 8, 0)


def test_before_the_start_waits_for_the_same_morning() -> None:
    early = at(LONDON, 2026, 11, 4, 6, 15)
    assert next_window_opening(early, LONDON, DEFAULT) == datetime(2026, 11, 4, 8, tzinfo=UTC)


def test_a_friday_evening_waits_for_monday_morning() -> None:
    friday = at(LONDON, 2026, 11, 6, 21, 0)
    opening = next_window_opening(friday, LONDON, DEFAULT)
    assert opening == datetime(2026, 11, 9, 8, tzinfo=UTC)
    assert opening.tzinfo is UTC


def test_a_saturday_waits_for_monday() -> None:
    assert next_window_opening(at(LONDON, 2026, 11, 7, 12, 0), LONDON, DEFAULT) == at(
        LONDON, 2026, 11, 9, 8, 0
    )


def test_the_window_is_the_customers_wall_clock_not_utc() -> None:
    # 22:00 UTC on a Monday is 09:00 on Tuesday in Sydney (AEDT, +11): inside
    now = datetime(2026, 11, 2, 22, 0, tzinfo=UTC)
    assert next_window_opening(now, "Australia/Sydney", DEFAULT) is now
    # 12:00 UTC on a Friday is 23:00 in Sydney: Monday 08:00 there, Sunday 21:00 UTC
    friday = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
    assert next_window_opening(friday, "Australia/Sydney", DEFAULT) == datetime(
        2026, 11, 8, 21, 0, tzinfo=UTC
    )


def test_the_opening_follows_the_summer_time_change() -> None:
    # London goes to BST on Sunday 29 March 2026: Friday night's wait ends at 08:00 BST
    friday = at(LONDON, 2026, 3, 27, 22, 0)
    assert next_window_opening(friday, LONDON, DEFAULT) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    # and back to GMT on Sunday 25 October: Monday 08:00 GMT
    friday = at(LONDON, 2026, 10, 23, 22, 0)
    assert next_window_opening(friday, LONDON, DEFAULT) == datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_a_start_the_spring_jump_skips_opens_at_the_jump() -> None:
    # 01:30 does not exist in London on 29 March 2026 (01:00 GMT jumps to 02:00 BST)
    hours = QuietHours(start=time(1, 30), end=time(5, 0), working_days=[6])
    night = at(LONDON, 2026, 3, 29, 0, 10)
    assert next_window_opening(night, LONDON, hours) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_start_in_the_repeated_autumn_hour_opens_at_its_first_occurrence() -> None:
    # 01:30 happens twice in London on 25 October 2026: first at 00:30 UTC (BST)
    hours = QuietHours(start=time(1, 30), end=time(5, 0), working_days=[6])
    night = at(LONDON, 2026, 10, 25, 0, 10)
    assert next_window_opening(night, LONDON, hours) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_custom_days_and_hours() -> None:
    hours = QuietHours(start=time(9, 30), end=time(17, 0), working_days=[5, 6])  # weekends
    monday = at("America/Montreal", 2026, 11, 2, 10, 0)
    assert next_window_opening(monday, "America/Montreal", hours) == at(
        "America/Montreal", 2026, 11, 7, 9, 30
    )


def test_quiet_hours_turned_off_send_at_any_hour() -> None:
    sunday_night = at(LONDON, 2026, 11, 8, 3, 0)
    off = QuietHours(enabled=False)
    assert next_window_opening(sunday_night, LONDON, off) is sunday_night
    assert is_inside(sunday_night, LONDON, off)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_window_opening(datetime(2026, 11, 8, 3, 0), LONDON, DEFAULT)


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "20:00", "end": "08:00"},
        {"start": "09:00", "end": "09:00"},
        {"working_days": []},
        {"working_days": [7]},
        {"working_days": [-1]},
        {"quiet": True},
    ],
)
def test_inconsistent_windows_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        QuietHours.model_validate(fields)


def test_working_days_are_kept_sorted_and_unique() -> None:
    assert QuietHours(working_days=[4, 0, 4, 2]).working_days == [0, 2, 4]


ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.just(UTC),
    ),
    st.sampled_from(ZONES),
    st.lists(st.integers(0, 6), min_size=1, max_size=7),
    st.integers(0, 22),
)
def test_the_opening_is_the_first_instant_inside(
    now: datetime, tz: str, days: list[int], start_hour: int
) -> None:
    hours = QuietHours(start=time(start_hour), end=time(start_hour + 1, 30), working_days=days)
    opening = next_window_opening(now, tz, hours)
    assert opening >= now
    assert is_inside(opening, tz, hours)
    if opening != now:
        assert opening.tzinfo is UTC
        assert not is_inside(now, tz, hours)
        # a minute before it was quiet, and it is never more than 8 days away
        assert not is_inside(opening - timedelta(minutes=1), tz, hours) or opening - now < (
            timedelta(minutes=1)
        )
        assert opening - now <= timedelta(days=8)
