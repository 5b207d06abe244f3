"""Run a human task inside a workflow: one loop for every human step of a process.

`run_task` sends the request when a task opens, waits with a timer for its next deadline
(remind, escalate, expire: `domain.tasks`), sends the reminder or the escalation through
the host's notify activity, and after expiry waits for an operator. Decisions arrive
through the workflow's update, which the host applies; any move of the host's state wakes
the loop, which then looks again. The host says what the task is (`TaskHost`):

- `OneDecisionTask` (below) is the host for a task one person decides (a PO exception, a
  dispute level): the generic state of `domain.tasks`, notices and audit through
  `TaskActivities`, the validator and the view;
- `workflows.approval.ApprovalRound` is approval's: each level of a chain is a task,
  with quorum, separation of duties and delegation on top.

Deterministic: times come from workflow.now(), every rule from `domain.tasks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.tasks import TaskActivities
    from domain import tasks
    from domain.tasks import DeadlineKind, HumanTask, NoticeKind, Person, TaskDecision, TaskState
    from schemas.tasks import RecordTaskDecisionInput, TaskNoticeInput
    from workflows import options


class TaskScope(Protocol):
    """The process a task runs in: how it is cancelled and how it tells what it waits for."""

    @property
    def cancelled(self) -> bool: ...

    def raise_if_cancelled(self) -> None: ...

    def waits_for(self, what: str | None) -> None: ...


@dataclass(frozen=True)
class Waiting:
    """Where the host's task stands now. A new `key` is a new task: its request goes out."""

    key: str
    expired: bool
    deadline: tuple[DeadlineKind, datetime] | None
    people: Sequence[Person]


class TaskHost(Protocol):
    def revision(self) -> object:
        """An object that is replaced on every move of the task (decision, deadline)."""
        ...

    def waiting(self) -> Waiting | None:
        """The task waiting now; None once it is settled."""
        ...

    def stopped(self) -> bool:
        """Something outside the task ends the wait (a correction of the invoice)."""
        ...

    def on_deadline(self, kind: DeadlineKind) -> tuple[NoticeKind | None, Sequence[Person], int]:
        """Apply the deadline's move; the notice to send, to whom, and its sequence."""
        ...

    async def notify(self, kind: NoticeKind, people: Sequence[Person], sequence: int) -> None: ...

    async def on_expired(self) -> None:
        """Nobody decided in time: store and flag it (called on every look while expired)."""
        ...

    def waiting_text(self) -> str: ...

    def expired_text(self) -> str: ...


async def run_task(host: TaskHost, scope: TaskScope, *, announced: str | None = None) -> None:
    """Run the host's task (or tasks: an approval chain's levels) until it is settled or
    `host.stopped()`. Raises whatever `scope.raise_if_cancelled` raises. `announced` is
    the key of a task whose request went out in an earlier run (not sent again)."""
    sent_for = announced
    while True:
        scope.raise_if_cancelled()
        now = host.waiting()
        if now is None or host.stopped():
            return
        if not now.expired and now.key != sent_for:
            # checked first: a level may complete while a send or a reminder is running
            sent_for = now.key
            await host.notify("request", now.people, 0)
            continue
        before = host.revision()

        def moved(before: object = before) -> bool:
            return host.revision() is not before or host.stopped() or scope.cancelled

        if now.expired or now.deadline is None:
            if now.expired:
                await host.on_expired()
            scope.waits_for(host.expired_text() if now.expired else host.waiting_text())
            try:
                await workflow.wait_condition(moved, timeout=options.OVERDUE_RECHECK)
            except TimeoutError:
                pass
            continue
        kind, at = now.deadline
        scope.waits_for(host.waiting_text())
        try:
            await workflow.wait_condition(
                moved, timeout=max(at - workflow.now(), timedelta(seconds=1))
            )
        except TimeoutError:
            # The timer and a decision can land in one activation (after a worker outage,
            # say): the deadline was the old task's, so it must not move the new one.
            if host.revision() is not before:
                continue
            notice, people, sequence = host.on_deadline(kind)
            if notice is not None and people:
                await host.notify(notice, people, sequence)


def refused_links(err: ActivityError, people: Sequence[Person]) -> tuple[list[str], str]:
    """Who a notify activity that failed for good could not reach, and why; re-raises a
    cancellation (a notice failing must not swallow the process being cancelled)."""
    cause = err.cause
    if isinstance(cause, CancelledError):
        raise err
    refused = (
        [str(who) for who in cause.details[0]]
        if isinstance(cause, ApplicationError) and cause.details
        else [person.person_id for person in people]
    )
    why = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
    return refused, why


class OneDecisionTask:
    """The host for a task that the first accepted decision settles.

    Wire it to the workflow: `run()` from the stage, `validate` as the update's validator
    (a refusal writes nothing to history), `decide` as its handler, `view()` in `state`.
    """

    def __init__(
        self,
        task: HumanTask,
        scope: TaskScope,
        *,
        invoice_id: str | None = None,
        details: str = "",
        on_expired: Callable[[], Awaitable[None]] | None = None,
        stopped: Callable[[], bool] | None = None,
        link_path: str | None = None,
        on_notice: Callable[[NoticeKind, Sequence[Person]], Awaitable[None]] | None = None,
    ) -> None:
        self.task = task
        self.scope = scope
        self.invoice_id = invoice_id
        self.details = details
        self.link_path = link_path
        self.state = tasks.open_task(workflow.now())
        self.undelivered: dict[str, str] = {}
        self._on_expired = on_expired
        self._stopped = stopped
        self._on_notice = on_notice
        self._announced = False  # the request went out: a rerun after a stop sends none
        self._recording = 0  # decisions whose audit write is still running

    async def run(self) -> TaskState:
        """Run until decided, and until the decision's audit write is done: the process
        moving on (or ending) must not cut the update that decided it short."""
        await run_task(self, self.scope, announced=self.task.task_id if self._announced else None)
        await workflow.wait_condition(lambda: self._recording == 0)
        return self.state

    # --- TaskHost ------------------------------------------------------------------------

    def revision(self) -> object:
        return self.state

    def waiting(self) -> Waiting | None:
        if self.state.status == "decided":
            return None
        return Waiting(
            key=self.task.task_id,
            expired=self.state.status == "expired",
            deadline=tasks.deadline(self.task, self.state),
            people=tasks.waiting_on(self.task, self.state),
        )

    def stopped(self) -> bool:
        return self._stopped is not None and self._stopped()

    def on_deadline(self, kind: DeadlineKind) -> tuple[NoticeKind | None, Sequence[Person], int]:
        self.state, notice, people = tasks.on_deadline(self.task, self.state, kind, workflow.now())
        return notice, people, self.state.clock.reminders_sent

    async def notify(self, kind: NoticeKind, people: Sequence[Person], sequence: int) -> None:
        if self._on_notice is not None:
            await self._on_notice(kind, people)
        upcoming = tasks.deadline(self.task, self.state)
        notice = TaskNoticeInput(
            task=self.task,
            kind=kind,
            sequence=sequence,
            recipients=[p for p in people if isinstance(p, tasks.Assignee)],
            details=self.details,
            invoice_id=self.invoice_id,
            decide_by=upcoming[1] if upcoming else None,
            link_path=self.link_path,
        )
        if kind == "request":
            self._announced = True
        try:
            result = await workflow.execute_activity_method(
                TaskActivities.notify,
                notice,
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            refused, why = refused_links(err, people)
            self.undelivered.update(dict.fromkeys(refused, why))
            return
        self.undelivered.update(result.unreachable)

    async def on_expired(self) -> None:
        if self._on_expired is not None:
            await self._on_expired()

    def waiting_text(self) -> str:
        people = ", ".join(p.name for p in tasks.waiting_on(self.task, self.state)) or "nobody"
        upcoming = tasks.deadline(self.task, self.state)
        when = f"; {upcoming[0]} at {upcoming[1]:%Y-%m-%d %H:%M} UTC" if upcoming else ""
        escalation = tasks.escalates_at(self.task, self.state)
        if escalation is not None and upcoming is not None and upcoming[0] != "escalate":
            when += f", escalates at {escalation:%Y-%m-%d %H:%M} UTC"
        text = f"{self.task.title}: a decision from {people}{when}"
        if self.details:
            text += f". {self.details}"
        if self.undelivered:
            text += f"; could not reach {', '.join(self.undelivered)} (decide as operator)"
        return text

    def expired_text(self) -> str:
        return (
            f"operations: nobody decided {self.task.title!r} in time (update `decide` as operator)"
        )

    # --- the update ----------------------------------------------------------------------

    def validate(self, person_id: str, choice: str, *, operator: bool = False) -> None:
        if self.scope.cancelled:
            raise ApplicationError("the process was cancelled", type="task_closed")
        if operator and not person_id.strip():
            raise ApplicationError("operator name is empty", type="not_your_task")
        refusal = tasks.check_decision(
            self.task, self.state, person_id=person_id, choice=choice, operator=operator
        )
        if refusal is not None:
            raise ApplicationError(refusal, type=refusal)

    async def decide(
        self, person_id: str, choice: str, *, reason: str | None = None, operator: bool = False
    ) -> TaskDecision:
        """Apply before the first await (a second click in this task sees it decided),
        then write the audit record: an ordinary activity, so it runs only once the task
        that accepted the decision is in history. The decision stands if the write fails."""
        try:
            self.state = tasks.decide(
                self.task,
                self.state,
                person_id=person_id,
                choice=choice,
                at=workflow.now(),
                reason=reason,
                operator=operator,
            )
        except tasks.TaskRefused as refused:  # two clicks validated in one workflow task
            raise ApplicationError(refused.code, type=refused.code) from None
        decision = self.state.decisions[-1]
        self._recording += 1
        try:
            await workflow.execute_activity_method(
                TaskActivities.record_decision,
                RecordTaskDecisionInput(
                    task=self.task, decision=decision, invoice_id=self.invoice_id
                ),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.AUDIT_RETRY,
            )
        except ActivityError as err:
            workflow.logger.error("task.audit_failed", extra={"error": str(err.cause)})
        finally:
            self._recording -= 1
        return decision

    # --- the view ------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        upcoming = tasks.deadline(self.task, self.state)
        escalation = tasks.escalates_at(self.task, self.state)
        return {
            "task_id": self.task.task_id,
            "kind": self.task.kind,
            "title": self.task.title,
            "status": self.state.status,
            "owners": [p.name for p in self.task.owners],
            "waiting_on": [p.name for p in tasks.waiting_on(self.task, self.state)],
            "reminders_sent": self.state.clock.reminders_sent,
            "escalated": self.state.clock.escalated,
            "next": {"kind": upcoming[0], "at": upcoming[1].isoformat()} if upcoming else None,
            "escalates_at": escalation.isoformat() if escalation else None,
            "decisions": [d.model_dump(mode="json") for d in self.state.decisions],
            "undelivered": dict(self.undelivered),
        }
