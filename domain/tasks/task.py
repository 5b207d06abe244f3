"""A human task: a decision waiting on a person, with its owners, its clock and its record.

Every human step of an invoice process is one of these: an approval level, a PO
exception waiting for its owner, a dispute level, a payment plan waiting on a customer.
What they share lives here, once:

- **who**: the owners (an owner, or a group), and the backup who joins them once the task
  escalates (`seat`, `waiting_on`); an operator may always decide, and the record says so;
- **what**: the decisions the task allows (`HumanTask.choices`);
- **when**: the clock (`TaskClock`): opened at, reminders sent, escalated, expired, and the
  next deadline from `TaskTimers`, in business hours of the first owner's zone;
- **the record**: every accepted decision (`TaskDecision`), who made it, as whom, when.

Transitions are functions from an old state to a new one, never mutations, so a workflow
holds the state in a field, replays it, and shows it in its `state` query. A refusal is a
code the update validator raises, so a refused click writes nothing to history.

What a decision *means* is the user's policy: `decide` closes a task on the first
accepted decision (a PO exception, a dispute level); approval keeps its own rules on top
of the clock and the seats (levels, quorum, separation of duties, delegation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from domain.tasks.timing import DeadlineKind, TaskTimers, escalation_due, next_deadline

TaskStatus = Literal["open", "decided", "expired"]
TaskRefusalCode = Literal["not_your_task", "choice_not_allowed", "task_closed", "task_expired"]
NoticeKind = Literal["request", "reminder", "escalation"]

_FROZEN = ConfigDict(frozen=True)


class Person(Protocol):
    """Anyone a task can wait on: an approver, an account owner, a customer contact."""

    @property
    def person_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def time_zone(self) -> str: ...


P = TypeVar("P", bound=Person)


class Assignee(BaseModel):
    """A person a task is assigned to; `delegated_from` names whom they stand in for."""

    model_config = _FROZEN

    person_id: str
    name: str
    email: str | None = None
    time_zone: str = "UTC"
    delegated_from: str | None = None


class HumanTask(BaseModel):
    """What a task is: its subject, owners, backup, allowed decisions and timers.

    A snapshot taken when the task opens, so a later change of a group does not move a
    task already waiting. `timers=None` means the task waits without deadlines.
    """

    model_config = _FROZEN

    task_id: str
    kind: str  # "approval", "po_exception", "dispute", ...
    title: str
    owners: tuple[Assignee, ...]
    group: tuple[Assignee, ...] = ()  # may decide as the owners do; not sent the notices
    backup: Assignee | None = None  # takes the task over on escalation (the new owner)
    escalation_group: tuple[Assignee, ...] = ()  # join the backup's seat once escalated
    choices: tuple[str, ...]
    # choices recorded without settling the task ("wait for the PO amendment")
    noting: tuple[str, ...] = ()
    timers: TaskTimers | None = None


class TaskClock(BaseModel):
    """Where a waiting task stands in time; `TaskClock(opened_at=now)` starts one."""

    model_config = _FROZEN

    opened_at: dt.datetime
    reminders_sent: int = 0
    escalated: bool = False
    expired_at: dt.datetime | None = None

    def deadline(
        self, timers: TaskTimers | None, time_zone: str = "UTC"
    ) -> tuple[DeadlineKind, dt.datetime] | None:
        """The next remind / escalate / expire and when; None once expired or untimed."""
        if timers is None or self.expired_at is not None:
            return None
        return next_deadline(
            self.opened_at, timers, self.reminders_sent, self.escalated, time_zone=time_zone
        )

    def reminded(self) -> TaskClock:
        return self.model_copy(update={"reminders_sent": self.reminders_sent + 1})

    def escalate(self) -> TaskClock:
        return self if self.escalated else self.model_copy(update={"escalated": True})

    def expire(self, at: dt.datetime) -> TaskClock:
        return self if self.expired_at is not None else self.model_copy(update={"expired_at": at})


def seat(
    owners: Sequence[P], backup: P | None, escalated: bool, person_id: str
) -> tuple[P, bool] | None:
    """The seat `person_id` holds, and whether it is the backup's (only once escalated).

    A backup who is also an owner decides as the backup once the task has escalated, so
    their decision carries the backup's weight.
    """
    if backup is not None and escalated and backup.person_id == person_id:
        return backup, True
    for person in owners:
        if person.person_id == person_id:
            return person, False
    return None


def assigned(owners: Sequence[P], backup: P | None, escalated: bool) -> tuple[P, ...]:
    """Everyone who holds a seat now: the owners, and the backup once escalated."""
    people = list(owners)
    if escalated and backup is not None:
        people = [p for p in people if p.person_id != backup.person_id]
        people.append(backup)
    return tuple(people)


class TaskDecision(BaseModel):
    """One accepted decision, as the audit trail records it."""

    model_config = _FROZEN

    person_id: str
    choice: str
    at: dt.datetime
    reason: str | None = None
    as_backup: bool = False
    by_operator: bool = False
    delegated_from: str | None = None


class TaskState(BaseModel):
    """A task decided by one person: open until the first accepted decision."""

    model_config = _FROZEN

    status: TaskStatus = "open"
    clock: TaskClock
    decisions: tuple[TaskDecision, ...] = ()
    closed_at: dt.datetime | None = None

    @property
    def outcome(self) -> str | None:
        return self.decisions[-1].choice if self.status == "decided" else None


def open_task(at: dt.datetime) -> TaskState:
    return TaskState(clock=TaskClock(opened_at=at))


def check_decision(
    task: HumanTask, state: TaskState, *, person_id: str, choice: str, operator: bool = False
) -> TaskRefusalCode | None:
    """The refusal `decide` would give, or None; changes nothing (the update validator).

    In this order: choice_not_allowed, task_closed, then for people other than an
    operator: task_expired (only an operator revives an expired task), not_your_task.
    """
    if choice not in task.choices and choice not in task.noting:
        return "choice_not_allowed"
    if state.status == "decided":
        return "task_closed"
    if operator:
        return None
    if state.status == "expired":
        return "task_expired"
    if task_seat(task, state, person_id) is None:
        return "not_your_task"
    return None


def task_seat(task: HumanTask, state: TaskState, person_id: str) -> tuple[Assignee, bool] | None:
    """`seat` for a task: the escalation group sits with the backup once escalated."""
    held = seat((*task.owners, *task.group), task.backup, state.clock.escalated, person_id)
    if held is None and state.clock.escalated:
        member = next((p for p in task.escalation_group if p.person_id == person_id), None)
        held = (member, True) if member is not None else None
    return held


class TaskRefused(Exception):
    """`decide` was given a decision `check_decision` refuses; `code` says why."""

    def __init__(self, code: TaskRefusalCode) -> None:
        super().__init__(code)
        self.code = code


def decide(
    task: HumanTask,
    state: TaskState,
    *,
    person_id: str,
    choice: str,
    at: dt.datetime,
    reason: str | None = None,
    operator: bool = False,
) -> TaskState:
    """Record the decision and close the task (a `noting` choice leaves it open); raises
    `TaskRefused` for a refused one."""
    refusal = check_decision(task, state, person_id=person_id, choice=choice, operator=operator)
    if refusal is not None:
        raise TaskRefused(refusal)
    held = None if operator else task_seat(task, state, person_id)
    recorded = TaskDecision(
        person_id=f"operator:{person_id}" if operator else person_id,
        choice=choice,
        at=at,
        reason=reason,
        as_backup=bool(held and held[1]),
        by_operator=operator,
        delegated_from=held[0].delegated_from if held else None,
    )
    if choice in task.noting:
        return state.model_copy(update={"decisions": (*state.decisions, recorded)})
    return state.model_copy(
        update={"status": "decided", "decisions": (*state.decisions, recorded), "closed_at": at}
    )


def waiting_on(task: HumanTask, state: TaskState) -> tuple[Assignee, ...]:
    """Whom an open task waits for; nobody once it is decided or expired."""
    if state.status != "open":
        return ()
    people = assigned(task.owners, task.backup, state.clock.escalated)
    if state.clock.escalated:
        seated = {p.person_id for p in people}
        people += tuple(p for p in task.escalation_group if p.person_id not in seated)
    return people


def deadline(task: HumanTask, state: TaskState) -> tuple[DeadlineKind, dt.datetime] | None:
    """The next deadline of an open task, in business hours of its first owner's zone.

    The zone is the task's for its whole life: counting from the opening in another zone
    once the backup joins would move a deadline already announced.
    """
    if state.status != "open":
        return None
    first = task.owners[0] if task.owners else task.backup
    return state.clock.deadline(task.timers, first.time_zone if first else "UTC")


def escalates_at(task: HumanTask, state: TaskState) -> dt.datetime | None:
    """When an open task not yet escalated will escalate (for people: "escalates at")."""
    if state.status != "open" or state.clock.escalated or task.timers is None:
        return None
    first = task.owners[0] if task.owners else task.backup
    zone = first.time_zone if first else "UTC"
    return escalation_due(state.clock.opened_at, task.timers, time_zone=zone)


def on_deadline(
    task: HumanTask, state: TaskState, kind: DeadlineKind, at: dt.datetime
) -> tuple[TaskState, NoticeKind | None, tuple[Assignee, ...]]:
    """A deadline passed with the task open: the new state, and whom to notify of what.

    Remind: everyone still waited on. Escalate: the backup, who is the new owner (else
    the escalation group; nobody if neither, and the task still moves on to expiry).
    Expire: nobody; the task waits for an operator.
    """
    if state.status != "open":
        return state, None, ()
    if kind == "remind":
        new = state.model_copy(update={"clock": state.clock.reminded()})
        return new, "reminder", waiting_on(task, new)
    if kind == "escalate":
        if state.clock.escalated:  # a second escalation tells nobody again
            return state, None, ()
        new = state.model_copy(update={"clock": state.clock.escalate()})
        told = (task.backup,) if task.backup else task.escalation_group
        return new, "escalation", told
    new = state.model_copy(update={"status": "expired", "clock": state.clock.expire(at)})
    return new, None, ()
