"""When each reminder step is due, and which step the invoice owes next.

A step is due at 00:00 UTC on its anchor date plus its days. The plan never sends a step
twice (the keys already handled are passed in) and never drops one silently: when several
steps fell due while nothing could send them (a worker outage), the latest goes out and the
earlier ones are recorded as *superseded* by it, so the customer gets one reminder, in the
tone the moment calls for, and the trail says why the others were not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.reminders import ReminderStep, ReminderTerms


def due_at(step: ReminderStep, *, issue_date: date, due_date: date, tz: str = "UTC") -> datetime:
    """00:00 UTC on the anchor date plus the step's days, or its `at` time that day in
    the customer's zone `tz` (wall-clock: the zone's offset that day, DST included)."""
    anchor = due_date if step.anchor == "due" else issue_date
    day = anchor + timedelta(days=step.days)
    if step.at is None:
        return datetime.combine(day, time.min, tzinfo=UTC)
    return datetime.combine(day, step.at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass(frozen=True)
class Timed:
    step: ReminderStep
    at: datetime


def timeline(
    terms: ReminderTerms, *, issue_date: date, due_date: date, tz: str = "UTC"
) -> list[Timed]:
    """The steps in the order they fall due (a tie keeps the schedule's order)."""
    timed = [
        Timed(s, due_at(s, issue_date=issue_date, due_date=due_date, tz=tz)) for s in terms.steps
    ]
    return sorted(timed, key=lambda t: t.at)


@dataclass(frozen=True)
class NextStep:
    """What to do now: record ``superseded`` as such, then wait for ``current.at`` (it may
    have passed: send at once) — or nothing is left (``current`` is None)."""

    current: Timed | None
    superseded: list[Timed] = field(default_factory=list)


def next_step(steps: list[Timed], handled: set[str], now: datetime) -> NextStep:
    pending = [t for t in steps if t.step.key not in handled]
    if not pending:
        return NextStep(current=None)
    passed = [t for t in pending if t.at <= now]
    if len(passed) > 1:
        return NextStep(current=passed[-1], superseded=passed[:-1])
    return NextStep(current=pending[0])


def before_sending(steps: list[Timed], sent_at: datetime) -> list[Timed]:
    """Steps already due when the invoice went out (a backdated invoice, a short term):
    skipped, as a reminder must not arrive with the invoice it reminds of."""
    return [t for t in steps if t.at <= sent_at]
