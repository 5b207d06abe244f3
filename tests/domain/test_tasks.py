"""Tests for domain.tasks: seats, refusals, decisions, the deadline clock, business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.tasks import (
    Assignee,
    HumanTask,
    TaskClock,
    TaskDecision,
    TaskRefused,
    TaskState,
    TaskTimers,
    UnknownTimeZone,
    assigned,
    check_decision,
    deadline,
    decide,
    escalates_at,
    load_zone,
    on_deadline,
    open_task,
    seat,
    waiting_on,
)

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)

ALICE = Assignee(person_id="alice", name="Alice")
BOB = Assignee(person_id="bob", name="Bob")
CAROL = Assignee(person_id="carol", name="Carol", delegated_from="frank")  # the backup
BOB_AS_BACKUP = Assignee(person_id="bob", name="Bob (backup)", delegated_from="frank")
TIMERS = TaskTimers(remind_after=DAY, escalate_after=3 * DAY, expire_after=5 * DAY)


def make_task(**overrides: Any) -> HumanTask:
    fields: dict[str, Any] = {
        "task_id": "t1",
        "kind": "po_exception",
        "title": "PO mismatch on INV-1",
        "owners": (ALICE, BOB),
        "backup": CAROL,
        "choices": ("accept", "reject"),
        "timers": TIMERS,
    }
    fields.update(overrides)
    return HumanTask(**fields)


TASK = make_task()
OPEN = TaskState(clock=TaskClock(opened_at=T0))
ESCALATED = TaskState(clock=TaskClock(opened_at=T0, escalated=True))
EXPIRED = TaskState(status="expired", clock=TaskClock(opened_at=T0, expired_at=T0 + 5 * DAY))
DECIDED = TaskState(
    status="decided",
    clock=TaskClock(opened_at=T0),
    decisions=(TaskDecision(person_id="alice", choice="accept", at=T0 + DAY),),
    closed_at=T0 + DAY,
)


# --- seats: who may decide, who is waited on -----------------------------------------


def test_owners_hold_seats_and_strangers_do_not() -> None:
    assert seat(TASK.owners, CAROL, False, "alice") == (ALICE, False)
    assert seat(TASK.owners, CAROL, True, "bob") == (BOB, False)
    assert seat(TASK.owners, CAROL, True, "mallory") is None


def test_backup_holds_a_seat_only_once_escalated() -> None:
    assert seat(TASK.owners, CAROL, False, "carol") is None
    assert seat(TASK.owners, CAROL, True, "carol") == (CAROL, True)
    assert assigned(TASK.owners, CAROL, False) == (ALICE, BOB)
    assert assigned(TASK.owners, CAROL, True) == (ALICE, BOB, CAROL)


def test_backup_who_is_also_an_owner_sits_as_owner_then_as_backup_and_appears_once() -> None:
    assert seat((ALICE, BOB), BOB_AS_BACKUP, False, "bob") == (BOB, False)
    assert seat((ALICE, BOB), BOB_AS_BACKUP, True, "bob") == (BOB_AS_BACKUP, True)
    assert assigned((ALICE, BOB), BOB_AS_BACKUP, False) == (ALICE, BOB)
    assert assigned((ALICE, BOB), BOB_AS_BACKUP, True) == (ALICE, BOB_AS_BACKUP)


def test_an_open_task_waits_on_its_seats_and_a_closed_one_on_nobody() -> None:
    assert waiting_on(TASK, OPEN) == (ALICE, BOB)
    assert waiting_on(TASK, ESCALATED) == (ALICE, BOB, CAROL)
    assert waiting_on(TASK, DECIDED) == ()
    assert waiting_on(TASK, EXPIRED) == ()


# --- refusals -------------------------------------------------------------------------

REFUSALS = [
    # (state, person_id, choice, operator, code): each row also shows the order of checks
    pytest.param(DECIDED, "mallory", "maybe", False, "choice_not_allowed", id="choice-first"),
    pytest.param(OPEN, "mallory", "maybe", True, "choice_not_allowed", id="operator-choice"),
    pytest.param(DECIDED, "mallory", "accept", False, "task_closed", id="closed-before-seat"),
    pytest.param(DECIDED, "ops", "accept", True, "task_closed", id="closed-for-operator"),
    pytest.param(EXPIRED, "mallory", "accept", False, "task_expired", id="expired-before-seat"),
    pytest.param(EXPIRED, "alice", "accept", False, "task_expired", id="expired-for-owner"),
    pytest.param(OPEN, "mallory", "accept", False, "not_your_task", id="stranger"),
    pytest.param(OPEN, "carol", "accept", False, "not_your_task", id="backup-too-early"),
]


@pytest.mark.parametrize(("state", "person_id", "choice", "operator", "code"), REFUSALS)
def test_refused_decision_raises_the_checked_code_and_changes_nothing(
    state: TaskState, person_id: str, choice: str, operator: bool, code: str
) -> None:
    before = state.model_dump()
    kwargs: dict[str, Any] = {"person_id": person_id, "choice": choice, "operator": operator}
    assert check_decision(TASK, state, **kwargs) == code
    with pytest.raises(TaskRefused) as refused:
        decide(TASK, state, at=T0 + 2 * DAY, **kwargs)
    assert refused.value.code == code
    assert state.model_dump() == before


@pytest.mark.parametrize(
    ("state", "person_id", "operator"),
    [
        pytest.param(OPEN, "alice", False, id="owner"),
        pytest.param(ESCALATED, "carol", False, id="escalated-backup"),
        pytest.param(OPEN, "ops", True, id="operator-open"),
        pytest.param(EXPIRED, "ops", True, id="operator-expired"),
    ],
)
def test_seated_people_and_operators_may_decide(
    state: TaskState, person_id: str, operator: bool
) -> None:
    refusal = check_decision(TASK, state, person_id=person_id, choice="reject", operator=operator)
    assert refusal is None


# --- decisions ------------------------------------------------------------------------


def test_owner_decision_is_recorded_and_closes_the_task() -> None:
    at = T0 + DAY
    state = decide(TASK, OPEN, person_id="alice", choice="reject", at=at, reason="wrong PO")
    assert state.decisions == (
        TaskDecision(person_id="alice", choice="reject", at=at, reason="wrong PO"),
    )
    assert (state.status, state.closed_at, state.outcome) == ("decided", at, "reject")
    assert OPEN.outcome is None and OPEN.status == "open"


def test_escalated_backup_decides_as_backup_with_their_delegation() -> None:
    state = decide(TASK, ESCALATED, person_id="carol", choice="accept", at=T0 + 4 * DAY)
    (recorded,) = state.decisions
    assert (recorded.as_backup, recorded.by_operator) == (True, False)
    assert recorded.delegated_from == "frank"


def test_owner_decision_copies_delegated_from_and_is_not_as_backup() -> None:
    stand_in = Assignee(person_id="dave", name="Dave", delegated_from="alice")
    task = make_task(owners=(stand_in, BOB))
    (recorded,) = decide(task, ESCALATED, person_id="dave", choice="accept", at=T0).decisions
    assert (recorded.delegated_from, recorded.as_backup) == ("alice", False)


def test_backup_who_is_also_an_owner_decides_as_backup_only_after_escalation() -> None:
    task = make_task(backup=BOB_AS_BACKUP)
    (early,) = decide(task, OPEN, person_id="bob", choice="accept", at=T0).decisions
    (late,) = decide(task, ESCALATED, person_id="bob", choice="accept", at=T0).decisions
    assert (early.as_backup, early.delegated_from) == (False, None)
    assert (late.as_backup, late.delegated_from) == (True, "frank")


def test_operator_decision_is_marked_and_revives_an_expired_task() -> None:
    at = T0 + 6 * DAY
    state = decide(TASK, EXPIRED, person_id="alice", choice="accept", at=at, operator=True)
    assert state.decisions == (
        TaskDecision(person_id="operator:alice", choice="accept", at=at, by_operator=True),
    )
    assert (state.status, state.closed_at, state.outcome) == ("decided", at, "accept")


# --- the clock: remind, escalate, expire ----------------------------------------------


def test_open_task_reminds_twice_then_escalates_to_the_backup_then_expires() -> None:
    state = open_task(T0)
    assert deadline(TASK, state) == ("remind", T0 + DAY)

    state, notice, to = on_deadline(TASK, state, "remind", T0 + DAY)
    assert (notice, to, state.clock.reminders_sent) == ("reminder", (ALICE, BOB), 1)
    assert deadline(TASK, state) == ("remind", T0 + 2 * DAY)

    state, notice, to = on_deadline(TASK, state, "remind", T0 + 2 * DAY)
    assert (notice, to, state.clock.reminders_sent) == ("reminder", (ALICE, BOB), 2)
    assert deadline(TASK, state) == ("escalate", T0 + 3 * DAY)

    state, notice, to = on_deadline(TASK, state, "escalate", T0 + 3 * DAY)
    assert (notice, to, state.clock.escalated) == ("escalation", (CAROL,), True)
    assert deadline(TASK, state) == ("expire", T0 + 5 * DAY)

    state, notice, to = on_deadline(TASK, state, "expire", T0 + 5 * DAY)
    assert (notice, to) == (None, ())
    assert (state.status, state.clock.expired_at) == ("expired", T0 + 5 * DAY)
    assert deadline(TASK, state) is None


def test_escalation_without_a_backup_notifies_nobody_but_still_escalates() -> None:
    task = make_task(backup=None)
    state, notice, to = on_deadline(task, OPEN, "escalate", T0 + 3 * DAY)
    assert (notice, to, state.clock.escalated) == ("escalation", (), True)
    assert deadline(task, state) == ("expire", T0 + 5 * DAY)


def test_deadline_passing_on_a_decided_task_changes_nothing() -> None:
    assert on_deadline(TASK, DECIDED, "remind", T0 + DAY) == (DECIDED, None, ())
    assert deadline(TASK, DECIDED) is None


def test_task_without_timers_has_no_deadline() -> None:
    assert deadline(make_task(timers=None), OPEN) is None
    assert OPEN.clock.deadline(None) is None


def test_escalating_twice_is_escalating_once() -> None:
    clock = TaskClock(opened_at=T0, reminders_sent=2)
    once = clock.escalate()
    assert once.escalate() is once
    assert once == TaskClock(opened_at=T0, reminders_sent=2, escalated=True)


def test_expiring_again_keeps_the_first_expiry_time() -> None:
    clock = TaskClock(opened_at=T0).expire(T0 + 5 * DAY).expire(T0 + 9 * DAY)
    assert clock.expired_at == T0 + 5 * DAY


# --- business hours in the first waiting person's zone --------------------------------

SYDNEY_OWNER = Assignee(person_id="sid", name="Sid", time_zone="Australia/Sydney")  # UTC+11
LONDON_OWNER = Assignee(person_id="lou", name="Lou", time_zone="Europe/London")  # UTC+0
BUSINESS = TaskTimers(
    remind_after=timedelta(hours=2),
    escalate_after=timedelta(hours=8),
    expire_after=timedelta(hours=16),
    business_hours=True,
)


@pytest.mark.parametrize(
    ("owners", "due"),
    [
        # Mon 00:00 UTC is Mon 11:00 in Sydney: +2h is 13:00 there, 02:00 UTC
        pytest.param((SYDNEY_OWNER, LONDON_OWNER), datetime(2026, 1, 12, 2, tzinfo=UTC)),
        # and Mon 00:00 in London: counting starts at 09:00, +2h is 11:00, 11:00 UTC
        pytest.param((LONDON_OWNER, SYDNEY_OWNER), datetime(2026, 1, 12, 11, tzinfo=UTC)),
    ],
    ids=["sydney-first", "london-first"],
)
def test_business_hours_count_in_the_first_owners_zone(
    owners: tuple[Assignee, ...], due: datetime
) -> None:
    task = make_task(owners=owners, timers=BUSINESS)
    assert deadline(task, open_task(datetime(2026, 1, 12, 0, tzinfo=UTC))) == ("remind", due)


def test_business_hours_skip_the_weekend_in_the_owners_zone() -> None:
    task = make_task(owners=(SYDNEY_OWNER,), timers=BUSINESS)
    friday_4pm_sydney = datetime(2026, 1, 9, 5, tzinfo=UTC)
    state = open_task(friday_4pm_sydney)
    # 1h on Friday (16:00-17:00), 1h on Monday (09:00-10:00) = Monday 10:00 Sydney
    assert deadline(task, state) == ("remind", datetime(2026, 1, 11, 23, tzinfo=UTC))
    # 1h Friday + 7h Monday = Monday 16:00 Sydney, after reminders at 10:00, 12:00, 14:00
    escalating = TaskState(clock=TaskClock(opened_at=friday_4pm_sydney, reminders_sent=3))
    assert deadline(task, escalating) == ("escalate", datetime(2026, 1, 12, 5, tzinfo=UTC))


def test_the_zone_stays_the_first_owners_when_that_owner_joins_again_as_backup() -> None:
    # London's Lou is the first owner and the backup: escalation must not move the clock
    # to Sydney's zone, which would push expiry 13 hours later than announced
    task = make_task(owners=(LONDON_OWNER, SYDNEY_OWNER), backup=LONDON_OWNER, timers=BUSINESS)
    opened = open_task(T0)
    assert deadline(task, opened) == ("remind", T0 + timedelta(hours=2))
    escalated, _, _ = on_deadline(task, opened, "escalate", T0 + timedelta(hours=8))
    # 16 business hours from Mon 09:00 London: Mon 09-17 and Tue 09-17, so Tue 17:00 UTC
    assert deadline(task, escalated) == ("expire", datetime(2026, 1, 13, 17, tzinfo=UTC))


def test_a_second_escalation_tells_nobody_again() -> None:
    escalated, notice, people = on_deadline(TASK, OPEN, "escalate", T0 + 3 * DAY)
    assert (notice, people) == ("escalation", (CAROL,))
    again = on_deadline(TASK, escalated, "escalate", T0 + 3 * DAY)
    assert again == (escalated, None, ())


def test_unknown_time_zone_is_a_value_error_with_a_code() -> None:
    with pytest.raises(ValueError) as raised:
        load_zone("Mars/Olympus")
    assert isinstance(raised.value, UnknownTimeZone)
    assert raised.value.code == "unknown_time_zone"
    assert "Mars/Olympus" in raised.value.detail


DAN = Assignee(person_id="dan", name="Dan")
ERIN = Assignee(person_id="erin", name="Erin")


def test_an_escalation_group_sits_with_the_backup_only_once_escalated() -> None:
    task = make_task(escalation_group=(DAN, ERIN))
    assert check_decision(task, OPEN, person_id="dan", choice="accept") == "not_your_task"
    escalated, notice, told = on_deadline(task, OPEN, "escalate", T0 + 3 * DAY)
    assert (notice, told) == ("escalation", (CAROL,))  # the new owner is told
    assert [p.person_id for p in waiting_on(task, escalated)] == [
        "alice",
        "bob",
        "carol",
        "dan",
        "erin",
    ]
    decided = decide(task, escalated, person_id="erin", choice="accept", at=T0 + 4 * DAY)
    assert decided.decisions[-1].as_backup and decided.status == "decided"


def test_a_noting_choice_is_recorded_and_leaves_the_task_open() -> None:
    task = make_task(noting=("wait",))
    waited = decide(task, OPEN, person_id="alice", choice="wait", at=T0 + DAY, reason="PO due")
    assert waited.status == "open" and waited.closed_at is None
    assert [(d.person_id, d.choice) for d in waited.decisions] == [("alice", "wait")]
    assert deadline(task, waited) == deadline(task, OPEN)  # the clock runs on
    settled = decide(task, waited, person_id="bob", choice="reject", at=T0 + 2 * DAY)
    assert (settled.status, settled.outcome) == ("decided", "reject")


def test_a_group_may_decide_with_the_owners_but_is_not_waited_on() -> None:
    task = make_task(owners=(ALICE,), group=(DAN,))
    assert [p.person_id for p in waiting_on(task, OPEN)] == ["alice"]  # notices: the owner
    assert check_decision(task, OPEN, person_id="dan", choice="accept") is None
    assert check_decision(task, OPEN, person_id="erin", choice="accept") == "not_your_task"


def test_escalates_at_tells_when_an_open_task_escalates_and_nothing_after() -> None:
    assert escalates_at(TASK, OPEN) == T0 + 3 * DAY
    reminded = TaskState(clock=TaskClock(opened_at=T0, reminders_sent=2))
    assert escalates_at(TASK, reminded) == T0 + 3 * DAY
    assert escalates_at(TASK, ESCALATED) is None
    assert escalates_at(TASK, DECIDED) is None
    assert escalates_at(make_task(timers=None), OPEN) is None
