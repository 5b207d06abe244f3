"""The human tasks of a dispute: its owner's turn at a level of the escalation ladder, and
the approval a large credit note needs.

An owner's turn is a `OneDecisionTask` whose escalation deadline is the level's SLA due
date: at that moment the turn stops, and the dispute climbs to the next level with a new
owner (the ladder, not the task's backup, decides who that is). The first SLA that passes
flags the dispute as breached (for good: it is a fact for the report); at the top level
the task then escalates and expires as any task does, to operations.
Notes and information requests are "noting" choices: recorded, audited, without ending
the turn; proposing a remedy ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.tasks import DeadlineKind, HumanTask, NoticeKind, Person, TaskTimers
    from schemas.dispute_flow import LevelAssignment
    from workflows.human_task import OneDecisionTask, TaskScope

PROPOSE = "propose_remedy"
NOTE = "note"
REQUEST_INFORMATION = "request_information"
APPROVE = "approve"
REJECT = "reject"


def sla_timers(sla_due_at: datetime, now: datetime, *, top: bool) -> TaskTimers:
    """Calendar timers to the SLA due date (the due date itself was counted in business
    days): a reminder halfway, escalation at the due date, and at the top level expiry a
    day later, when operations take over."""
    left = max(sla_due_at - now, timedelta(minutes=1))
    return TaskTimers(
        remind_after=left / 2,
        escalate_after=left,
        expire_after=left + timedelta(days=1 if top else 365),
    )


class OwnerTurn(OneDecisionTask):
    """One turn of the dispute's owner at a level, until a remedy is proposed, the owner
    asks the customer something (`stop_when`), or the level's SLA passes."""

    def __init__(
        self,
        task: HumanTask,
        scope: TaskScope,
        *,
        top: bool,
        on_breach: Callable[[], None],
        stop_when: Callable[[], bool],
        invoice_id: str,
        details: str,
    ) -> None:
        super().__init__(task, scope, invoice_id=invoice_id, details=details, stopped=self._stops)
        self.sla_missed = False
        self._top = top
        self._on_breach = on_breach
        self._stop_when = stop_when

    def _stops(self) -> bool:
        return self.sla_missed and not self._top or self._stop_when()

    def on_deadline(self, kind: DeadlineKind) -> tuple[NoticeKind | None, Sequence[Person], int]:
        if kind == "escalate":
            self.sla_missed = True
            self._on_breach()
            if not self._top:  # the loop looks again and stops: the ladder moves on
                return None, [], 0
        return super().on_deadline(kind)


def owner_task(dispute_id: str, turn: int, title: str, assignment: LevelAssignment) -> HumanTask:
    return HumanTask(
        task_id=f"{dispute_id}:level{assignment.level}:turn{turn}",
        kind="dispute",
        title=title,
        owners=tuple(assignment.owners[:1]),
        group=tuple(assignment.owners[1:]),
        choices=(PROPOSE,),
        noting=(NOTE, REQUEST_INFORMATION),
        timers=assignment.timers,
    )
