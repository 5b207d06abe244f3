"""Quiet hours: when a message the customer did not ask for may reach them.

An invoice (and a reminder) due to go out at night or at a weekend waits for the next
delivery window in the customer's time zone, with a durable timer in the workflow; what
the customer asked for (a portal action's confirmation) goes at once and never comes here.

Pure: the instant is an argument, nothing reads the clock, and the tz database that
`zoneinfo` reads is data, the same on every replay, so a workflow may call it. The window
is wall-clock time in the customer's zone, so it opens at 08:00 local on either side of a
DST change; an opening the change skips (a start inside the spring-forward hour) is the
first instant after the jump. Unknown zone names are refused where they come in (the API,
the settings), not here: here one would raise `zoneinfo`'s error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEK = 7


class QuietHours(BaseModel):
    """The delivery window: `start` to `end` (wall clock) on `working_days` (Mon=0).

    Outside it is quiet. `enabled=False` sends at any hour (a customer who wants it, the
    test suite). A window runs within one day (`start` before `end`); a night-shift window
    across midnight is two days' windows, which nobody has asked for yet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(8, 0)
    end: time = time(20, 0)
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    enabled: bool = True

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(not 0 <= day <= 6 for day in days):
            raise ValueError("working_days are weekdays 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start and end are wall-clock times in the customer's zone")
        if self.start >= self.end:
            raise ValueError("the window's start must be before its end (within one day)")
        return self


def is_inside(now: datetime, tz: str, hours: QuietHours) -> bool:
    """Whether `now` (aware) is inside the customer's delivery window."""
    if not hours.enabled:
        return True
    local = now.astimezone(ZoneInfo(tz))
    return local.weekday() in hours.working_days and hours.start <= local.time() < hours.end


def next_window_opening(now: datetime, tz: str, hours: QuietHours) -> datetime:
    """`now` itself when it is inside the window (or quiet hours are off); else the
    aware-UTC instant the next window opens in zone `tz`.

    A caller compares the answer with `now` to know whether to wait: the workflow starts
    a timer only when they differ, so an invoice sent inside the window adds nothing to
    its history.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if is_inside(now, tz, hours):
        return now
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    for ahead in range(WEEK + 1):  # a non-empty set of weekdays recurs within 8 days
        day = today + timedelta(days=ahead)
        if day.weekday() not in hours.working_days:
            continue
        opening = _first_instant_at(day, hours.start, zone)
        closing = _first_instant_at(day, hours.end, zone)
        if now < opening:
            return opening
        if now < closing:  # inside by the instant, not the wall clock (a DST edge)
            return now
    raise AssertionError("working_days is never empty")  # pragma: no cover


def _first_instant_at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) whose wall-clock time in `zone` on `day` is `wall` or later.

    Usually `wall` itself; for an ambiguous time (the autumn hour that repeats) its first
    occurrence (fold 0); for a time the spring-forward jump skips, the jump itself, found
    by bisection between the two readings `zoneinfo` gives (at most the gap's width,
    an hour or less, so ~12 steps to the second)."""
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    target = local.replace(tzinfo=None)
    if instant.astimezone(zone).replace(tzinfo=None) == target:
        return instant
    # skipped: fold 0 reads it with the offset before the jump, fold 1 with the one after
    low = int(local.replace(fold=1).astimezone(UTC).timestamp())  # before the jump
    high = int(instant.timestamp())  # after it; jumps happen on whole seconds
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
