"""The approval part of the invoice workflow: one round of links per version of the
invoice, level by level, with reminders, escalation to a backup and expiry.

`ApprovalRound` is a `workflows.human_task.TaskHost`: each level of the chain is a human
task that `run_task` runs (the request, the timers, reminders, escalation, expiry, the
wait for an operator); this module adds what is approval's own: the chain's state, the
links e-mail, and decisions with quorum and separation of duties. Decisions arrive through
the invoice workflow's `decide` update. Deterministic: times come from workflow.now(), the
policy from an activity, every rule from domain.approval.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.approval import ApprovalActivities, request_id
    from domain.approval import (
        ApprovalChain,
        ApprovalState,
        DeadlineKind,
        Decision,
        DecisionOutcome,
        EligibleApprover,
        escalate,
        expire,
        record_decision,
        record_reminder,
        waiting_on,
    )
    from domain.tasks import NoticeKind, Person, TaskClock
    from schemas import search_attributes as sa
    from schemas.approval import ApprovalContext, DecideInput, SendApprovalLinksInput
    from schemas.invoice import InvoiceSnapshot, InvoiceStatus
    from workflows import options
    from workflows.human_task import Waiting, refused_links


def operator_decision(
    chain: ApprovalChain, state: ApprovalState, data: DecideInput, at: datetime
) -> DecisionOutcome:
    """An operator decides the active level (or revives an expired chain) for everyone.

    Approve settles the whole chain: operations act when the approvers cannot. A chain
    already settled (two decisions validated in one workflow task) is left as it is.
    """
    if state.status not in ("pending", "expired"):
        closing = state.decisions[-1] if state.decisions else None
        return DecisionOutcome(code="chain_closed", state=state, earlier=closing)
    level = min(state.active_level, len(chain.levels) - 1)
    decision = Decision(
        level_index=level,
        approver_id=f"operator:{data.operator}",
        decision=data.decision,
        version=chain.version,
        at=at,
        reason=data.reason,
    )
    status = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}[
        data.decision
    ]
    new_state = state.model_copy(
        update={
            "status": status,
            "active_level": len(chain.levels) if status == "approved" else level,
            "decisions": (*state.decisions, decision),
            "closed_at": at,
        }
    )
    code = {"approved": "chain_complete", "rejected": "rejected"}.get(status, "changes_requested")
    return DecisionOutcome(code=code, state=new_state, recorded=decision)  # type: ignore[arg-type]


_STATUS_AFTER = {
    "chain_complete": InvoiceStatus.ISSUED,
    "rejected": InvoiceStatus.CHANGES_REQUESTED,
    "changes_requested": InvoiceStatus.CHANGES_REQUESTED,
}


def status_after(outcome: str) -> InvoiceStatus | None:
    """The status an accepted decision moves the invoice to; None: it stays as it is."""
    return _STATUS_AFTER.get(outcome)


class ApprovalRound:
    """One round: the chain for one version of the invoice and where it stands."""

    def __init__(
        self,
        chain: ApprovalChain,
        context: ApprovalContext,
        round_: int,
        invoice: InvoiceSnapshot,
        *,
        on_expired: Callable[[], Awaitable[None]],
        stopped: Callable[[], bool],
    ) -> None:
        self.chain = chain
        self.context = context
        self.round = round_
        self.invoice = invoice
        self.state = ApprovalState(clock=TaskClock(opened_at=workflow.now()))
        # approver id -> why their mailbox refused the link for good
        self.undelivered: dict[str, str] = {}
        self._on_expired = on_expired
        self._stopped = stopped

    # --- TaskHost: each level of the chain is a human task ------------------------------

    def revision(self) -> object:
        return self.state

    def waiting(self) -> Waiting | None:
        if self.state.status not in ("pending", "expired"):
            return None
        return Waiting(
            key=f"r{self.round}:l{self.state.active_level}",
            expired=self.state.status == "expired",
            deadline=self.next_deadline() if self.state.status == "pending" else None,
            people=waiting_on(self.chain, self.state),
        )

    def stopped(self) -> bool:
        return self._stopped()

    def on_deadline(self, kind: DeadlineKind) -> tuple[NoticeKind | None, Sequence[Person], int]:
        """A timer fired with the level still open: remind, escalate, or expire."""
        if kind == "remind":
            self.state = record_reminder(self.state)
            return "reminder", waiting_on(self.chain, self.state), self.state.reminders_sent
        if kind == "escalate":
            self.state = escalate(self.state)
            backup = self.chain.levels[self.state.active_level].backup
            return "escalation", [backup] if backup else [], 0
        self.state = expire(self.state, at=workflow.now())
        return None, (), 0

    async def notify(self, kind: NoticeKind, people: Sequence[Person], sequence: int) -> None:
        await self.send(kind, [p for p in people if isinstance(p, EligibleApprover)], sequence)

    async def on_expired(self) -> None:
        await self._on_expired()

    def expired_text(self) -> str:
        return "operations: nobody approved in time (update `decide` as operator)"

    # --- approval's own -----------------------------------------------------------------

    def decide(self, data: DecideInput) -> DecisionOutcome:
        if data.operator:
            return operator_decision(self.chain, self.state, data, workflow.now())
        return record_decision(
            self.chain,
            self.state,
            approver_id=data.approver_id or "",
            level_index=data.level_index if data.level_index is not None else -1,
            decision=data.decision,
            version=data.version or 0,
            at=workflow.now(),
            reason=data.reason,
        )

    def request_id_for(self, approver_id: str, level: int) -> str:
        return request_id(self.invoice.invoice_id, self.round, level, approver_id)

    async def send(
        self, kind: NoticeKind, recipients: list[EligibleApprover], sequence: int = 0
    ) -> None:
        """Send the links. A mailbox refusing for good must not end the invoice process:
        the others' links went out, the round goes on (reminders, escalation to the backup,
        expiry), and operations see `ExceptionReason = approval_delivery_failed` and who
        could not be reached."""
        if not recipients:
            return
        try:
            await self._send(kind, recipients, sequence)
        except ActivityError as err:
            refused, why = refused_links(err, recipients)
            for approver_id in refused:
                self.undelivered[approver_id] = why
            workflow.logger.warning(
                "approval.links_refused", extra={"refused": refused, "error": why}
            )
            workflow.upsert_search_attributes(
                [sa.EXCEPTION_REASON.value_set("approval_delivery_failed")]
            )

    async def _send(
        self, kind: NoticeKind, recipients: list[EligibleApprover], sequence: int
    ) -> None:
        await workflow.execute_activity_method(
            ApprovalActivities.send_links,
            SendApprovalLinksInput(
                invoice=self.invoice,
                round=self.round,
                level_index=self.state.active_level,
                levels=len(self.chain.levels),
                version=self.chain.version,
                why=self.chain.rule_description,
                kind=kind,
                sequence=sequence,
                recipients=recipients,
            ),
            start_to_close_timeout=options.DELIVERY_TIMEOUT,
            heartbeat_timeout=options.PROVIDER_HEARTBEAT,
            retry_policy=options.DELIVERY_RETRY,
        )

    def next_deadline(self) -> tuple[DeadlineKind, datetime]:
        """With business-hours timers, the clock is the first waiting approver's."""
        waiting = waiting_on(self.chain, self.state)
        upcoming = self.state.clock.deadline(
            self.context.timers, waiting[0].time_zone if waiting else "UTC"
        )
        assert upcoming is not None  # a pending level's clock has timers and has not expired
        return upcoming

    def waiting_text(self) -> str:
        if self.state.status != "pending":
            return f"approval {self.state.status}"
        people = ", ".join(p.name for p in waiting_on(self.chain, self.state)) or "nobody"
        kind, at = self.next_deadline()
        level = self.chain.levels[self.state.active_level]
        decided = len([d for d in self.state.decisions if d.level_index == self.state.active_level])
        text = (
            f"approval level {self.state.active_level + 1} of {len(self.chain.levels)} "
            f"({level.group_name}, {decided} of {level.required} needed) from {people}; "
            f"{kind} at {at:%Y-%m-%d %H:%M} UTC"
        )
        if self.undelivered:
            names = {
                p.approver_id: p.name
                for lvl in self.chain.levels
                for p in (*lvl.eligible, *([lvl.backup] if lvl.backup else []))
            }
            who = ", ".join(names.get(a, a) for a in self.undelivered)
            text += (
                f"; the link could not be e-mailed to {who} (fix the address, or decide as"
                " operator with the update `decide`)"
            )
        return text
