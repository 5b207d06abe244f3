"""Which reminder step is next: in the order they fall due, each once; several missed at
once (a worker outage) send the latest and record the others as superseded."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.reminders.schedule import before_sending, next_step, timeline
from schemas.reminders import ReminderStep, ReminderTerms, default_terms

DUE = date(2026, 3, 31)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_steps_fall_due_at_midnight_utc_of_their_anchor_plus_days() -> None:
    steps = timeline(default_terms(), issue_date=date(2026, 3, 1), due_date=DUE)
    assert [(t.step.key, t.at.date().isoformat()) for t in steps] == [
        ("before-due-3", "2026-03-28"),
        ("overdue-1", "2026-04-01"),
        ("overdue-7", "2026-04-07"),
        ("overdue-14", "2026-04-14"),
        ("overdue-30", "2026-04-30"),
    ]
    issue_anchored = ReminderTerms(steps=[ReminderStep(key="x", anchor="issue", days=10)])
    [only] = timeline(issue_anchored, issue_date=date(2026, 3, 1), due_date=DUE)
    assert only.at == _at(date(2026, 3, 11))


def test_the_next_step_waits_for_its_moment_and_comes_once() -> None:
    steps = timeline(default_terms(), issue_date=date(2026, 3, 1), due_date=DUE)
    plan = next_step(steps, set(), _at(date(2026, 3, 20)))
    assert plan.current is not None and plan.current.step.key == "before-due-3"
    assert plan.superseded == []
    later = next_step(steps, {"before-due-3"}, _at(date(2026, 4, 1)))
    assert later.current is not None and later.current.step.key == "overdue-1"
    done = next_step(steps, {t.step.key for t in steps}, _at(date(2027, 1, 1)))
    assert done.current is None


def test_steps_missed_together_send_the_latest_and_supersede_the_rest() -> None:
    steps = timeline(default_terms(), issue_date=date(2026, 3, 1), due_date=DUE)
    back = next_step(steps, {"before-due-3"}, _at(date(2026, 4, 15)))  # down since 31 March
    assert back.current is not None and back.current.step.key == "overdue-14"
    assert [t.step.key for t in back.superseded] == ["overdue-1", "overdue-7"]


def test_steps_due_before_the_invoice_went_out_are_skipped() -> None:
    steps = timeline(default_terms(), issue_date=date(2026, 3, 30), due_date=DUE)
    assert [t.step.key for t in before_sending(steps, _at(date(2026, 3, 30)))] == ["before-due-3"]


def test_a_step_with_a_time_goes_at_that_time_in_the_customers_zone() -> None:
    nine = ReminderTerms(steps=[ReminderStep(key="x", days=1, at="09:00")])  # type: ignore[arg-type]
    [london_summer] = timeline(
        nine, issue_date=date(2026, 6, 1), due_date=date(2026, 6, 30), tz="Europe/London"
    )
    assert london_summer.at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # BST
    [sydney] = timeline(
        nine, issue_date=date(2026, 6, 1), due_date=date(2026, 6, 30), tz="Australia/Sydney"
    )
    assert sydney.at == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)  # 09:00 AEST on 1 July
