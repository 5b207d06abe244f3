"""Time for a waiting human task: when it reminds, escalates and expires, and business
hours (and days, for SLAs such as a dispute level's) counted in the assignee's time zone.

Separate from the task's state because it is the only part that does calendar
arithmetic; it is still pure: every instant is an argument, nothing reads the clock (the
tz database `zoneinfo` reads is data, the same on every replay).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, model_validator

DeadlineKind = Literal["remind", "escalate", "expire"]

BUSINESS_DAY_OPENS = dt.time(9, 0)
BUSINESS_DAY_CLOSES = dt.time(17, 0)

_FROZEN = ConfigDict(frozen=True)


class UnknownTimeZone(ValueError):
    """A time zone the tz database does not know (a person's settings, a policy's data).

    A ValueError, so pydantic validators turn it into a validation error; `code` and
    `detail` as on the domain's other errors.
    """

    code = "unknown_time_zone"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a long name
        raise UnknownTimeZone(
            f"time zone {name!r} is not in the tz database (use a name like 'Europe/London')"
        ) from None


class TaskTimers(BaseModel):
    """When a task reminds, escalates and expires, measured from when it opened.

    Reminders repeat every `remind_after` until escalation; after escalation the next
    event is expiry. With `business_hours`, each duration counts only business hours
    (Mon-Fri 09:00-17:00) in the zone `next_deadline` is given.
    """

    model_config = _FROZEN

    remind_after: dt.timedelta
    escalate_after: dt.timedelta
    expire_after: dt.timedelta
    business_hours: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.remind_after <= dt.timedelta(0):
            raise ValueError("remind_after must be positive")
        if not self.remind_after <= self.escalate_after < self.expire_after:
            raise ValueError(
                "timers must satisfy remind_after <= escalate_after < expire_after; got "
                f"{self.remind_after}, {self.escalate_after}, {self.expire_after}"
            )
        return self


def escalation_due(
    opened_at: dt.datetime, timers: TaskTimers, *, time_zone: str = "UTC"
) -> dt.datetime:
    """When a task opened at `opened_at` escalates, reminders or not."""
    if timers.business_hours:
        hours = timers.escalate_after / dt.timedelta(hours=1)
        return add_business_hours(opened_at, hours, time_zone)
    return opened_at + timers.escalate_after


def next_deadline(
    opened_at: dt.datetime,
    timers: TaskTimers,
    reminders_sent: int,
    escalated: bool,
    *,
    time_zone: str = "UTC",
) -> tuple[DeadlineKind, dt.datetime]:
    """The next thing to happen to a waiting task (an approval level), and when.

    Reminder n (1-based) is due n x `remind_after` after activation, as long as that is
    before escalation; a reminder that would fall at or after escalation is not sent.
    `time_zone` matters only for business-hours timers.
    """

    def after(delay: dt.timedelta) -> dt.datetime:
        if timers.business_hours:
            return add_business_hours(opened_at, delay / dt.timedelta(hours=1), time_zone)
        return opened_at + delay

    if escalated:
        return "expire", after(timers.expire_after)
    remind_at = after(timers.remind_after * (reminders_sent + 1))
    escalate_at = after(timers.escalate_after)
    if remind_at < escalate_at:
        return "remind", remind_at
    return "escalate", escalate_at


def add_business_hours(
    start: dt.datetime,
    hours: float,
    time_zone: str,
    *,
    holidays: Iterable[dt.date] = (),
) -> dt.datetime:
    """`start` plus `hours` of business time (Mon-Fri 09:00-17:00 local, less `holidays`).

    Counting starts at the first business moment at or after `start`, so zero hours on a
    Saturday gives Monday 09:00. A span that ends exactly at closing time ends at 17:00,
    not the next morning. The answer is in `start`'s time zone; `start` must be aware.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (workflow.now() is)")
    if hours < 0:
        raise ValueError(f"hours must not be negative, got {hours}")
    zone = load_zone(time_zone)
    closed_days = frozenset(holidays)
    remaining = dt.timedelta(hours=hours)
    cursor = start.astimezone(zone)
    day = cursor.date()
    while True:
        if day.weekday() < 5 and day not in closed_days:
            # Same tzinfo on both sides, so these are wall-clock comparisons and differences.
            opens = dt.datetime.combine(day, BUSINESS_DAY_OPENS, tzinfo=zone)
            closes = dt.datetime.combine(day, BUSINESS_DAY_CLOSES, tzinfo=zone)
            begin = max(cursor, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= closes - begin
        day += dt.timedelta(days=1)
        cursor = dt.datetime.combine(day, BUSINESS_DAY_OPENS, tzinfo=zone)


def add_business_days(
    start: dt.datetime,
    days: int,
    time_zone: str,
    *,
    holidays: Iterable[dt.date] = (),
) -> dt.datetime:
    """The same local time `days` business days (Mon-Fri, less `holidays`) after `start`.

    Days, not hours: an SLA of "5 business days" opened on Tuesday 15:30 is due the next
    Tuesday 15:30, whatever the hour (a dispute opened in the evening still gets five
    whole working days). A start on a weekend or holiday counts from the next business
    day's opening (09:00 local), so Saturday + 5 is the next Monday 09:00 and Saturday + 0
    is Monday 09:00. Local time is kept across DST changes; a local time that does not
    exist on the due day (the spring-forward hour) resolves as `zoneinfo` does (fold 0).
    The answer is in `start`'s time zone; `start` must be aware.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (workflow.now() is)")
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    zone = load_zone(time_zone)
    closed_days = frozenset(holidays)

    def open_on(day: dt.date) -> bool:
        return day.weekday() < 5 and day not in closed_days

    local = start.astimezone(zone)
    day, at = local.date(), local.time().replace(tzinfo=None)
    if not open_on(day):
        at = BUSINESS_DAY_OPENS
        while not open_on(day):
            day += dt.timedelta(days=1)
    for _ in range(days):
        day += dt.timedelta(days=1)
        while not open_on(day):
            day += dt.timedelta(days=1)
    # via UTC, so a wall time in a DST gap comes out as a real instant
    due = dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)
    return due.astimezone(start.tzinfo)
