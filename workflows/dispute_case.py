"""The state and steps of one dispute, run by `workflows.dispute.DisputeWorkflow`.

Deterministic: times come from workflow.now(), every rule from `domain.disputes`; the case
record, its timeline and the customer's messages are written by activities, each once
(its event key is the dispute id and the step's sequence number in this workflow).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.dispute_notices import DisputeNoticeActivities
    from activities.disputes import DisputeActivities
    from domain.disputes import CaseFigures, DisputeRefused, check_remedy, needs_approval
    from domain.invoicing import ExplicitLine
    from domain.money import format_amount
    from domain.tasks import HumanTask
    from schemas import search_attributes as sa
    from schemas.dispute_flow import (
        ApproversInput,
        AssignLevelInput,
        CreditApprovers,
        DisputeCaseInput,
        DisputeLive,
        DisputeMove,
        DisputeOutcome,
        IssueCreditNoteInput,
        LevelAssignment,
        RecordPlanInput,
        WriteOffInput,
    )
    from schemas.dispute_notices import DisputeCustomerNotice, DisputeNoticeKind
    from schemas.disputes import (
        CustomerReply,
        DisputeAction,
        DisputeStatus,
        RemedyKind,
        RemedyProposal,
    )
    from schemas.tasks import TaskDecideInput
    from workflows import options
    from workflows.dispute_tasks import (
        APPROVE,
        NOTE,
        PROPOSE,
        REJECT,
        REQUEST_INFORMATION,
        OwnerTurn,
        owner_task,
        sla_timers,
    )
    from workflows.human_task import OneDecisionTask

Stop = Literal["sla", "information", "proposal"]
Answer = Literal["accepted", "declined", "silent"]
# Remedies this version carries out end to end; the others are refused by the validator.
AVAILABLE = tuple(RemedyKind)


def end_of(day: date) -> datetime:
    """A respond-by date ends at midnight UTC after it: the customer has the whole day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class DisputeCase:
    def __init__(self, case: DisputeCaseInput) -> None:
        self.input = case
        self.status = DisputeStatus.OPEN
        self.level = case.level
        self.assignment: LevelAssignment | None = None
        self.sla_due_at: datetime | None = None
        self.sla_breached = False
        self.declines = 0
        self.proposal: RemedyProposal | None = None
        self.question: DisputeAction | None = None
        self.respond_by: date | None = None
        self.reply: CustomerReply | None = None
        self.turn: OwnerTurn | None = None
        self.approval: OneDecisionTask | None = None
        self._turns = 0
        self._moves = 0
        self._background: list[asyncio.Future[Any]] = []

    # --- TaskScope ------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return False

    def raise_if_cancelled(self) -> None:
        return None

    def waits_for(self, what: str | None) -> None:
        c = self.input
        head = (
            f"**{c.number}** · {c.invoice_number} · {c.customer_name} · "
            f"{format_amount(c.amount_minor, c.currency)} disputed ({c.reason.value}) · "
            f"level {self.level} · {self.status.value}"
        )
        due = f"SLA due {self.sla_due_at:%Y-%m-%d %H:%M} UTC" if self.sla_due_at else ""
        flag = " · **SLA breached**" if self.sla_breached else ""
        workflow.set_current_details(f"{head}{flag}\n\n{due}\n\nWaiting for: {what}")

    # --- owner, level, SLA ----------------------------------------------------------------

    async def assign(self, level: int, *, why: str | None) -> None:
        assignment: LevelAssignment = await workflow.execute_local_activity_method(
            DisputeActivities.assign_level,
            AssignLevelInput(
                dispute_id=self.input.dispute_id, level=level, at=workflow.now(), why=why
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self.assignment = assignment
        self.level = assignment.level
        self.sla_due_at = assignment.sla_due_at
        self.declines = 0
        workflow.upsert_search_attributes([sa.DISPUTE_LEVEL.value_set(self.level)])

    async def climb(self, why: str) -> None:
        """The next level of the ladder takes the dispute over (a new owner, told)."""
        await self.assign(min(self.level + 1, self.input.policy.top_level), why=why)

    def _breached(self) -> None:
        if self.sla_breached:
            return
        self.sla_breached = True
        workflow.upsert_search_attributes([sa.DISPUTE_SLA_BREACHED.value_set(True)])
        self._background.append(
            asyncio.ensure_future(
                self.move(
                    "sla_breached",
                    f"the SLA of level {self.level} passed without a resolution",
                    sla_breached=True,
                )
            )
        )

    async def owner_turn(self) -> Stop:
        """The owner's turn at the current level, until a remedy is proposed, a question
        goes to the customer, or the level's SLA passes (below the top level)."""
        assignment = self.assignment
        assert assignment is not None and self.sla_due_at is not None
        self.status = DisputeStatus.OPEN
        self._turns += 1
        top = self.level >= self.input.policy.top_level
        timed = assignment.model_copy(
            update={"timers": sla_timers(self.sla_due_at, workflow.now(), top=top)}
        )
        c = self.input
        self.question = None
        self.turn = OwnerTurn(
            owner_task(
                c.dispute_id,
                self._turns,
                f"Dispute {c.number} on {c.invoice_number} ({assignment.level_name})",
                timed,
            ),
            self,
            top=top,
            on_breach=self._breached,
            stop_when=lambda: self.question is not None,
            invoice_id=c.invoice_id,
            details=self._details(),
        )
        await self.turn.run()
        if self.question is not None:
            return "information"
        if self.turn.sla_missed and not top:
            return "sla"
        return "proposal"

    def _details(self) -> str:
        c = self.input
        return (
            f"{c.customer_name} disputes {format_amount(c.amount_minor, c.currency)} of"
            f" {c.invoice_number} ({c.reason.value.replace('_', ' ')}). Act through"
            f" POST /disputes/{c.dispute_id}/... or the Temporal UI (workflow dispute-"
            f"{c.dispute_id}); SLA due {self.sla_due_at:%Y-%m-%d %H:%M} UTC."
        )

    def validate_owner(self, person_id: str, choice: str, operator: bool) -> None:
        if self.turn is None or self.status != DisputeStatus.OPEN:
            raise ApplicationError(
                f"the dispute is {self.status.value}, not waiting on its owner",
                type="not_with_owner",
            )
        self.turn.validate(person_id, choice, operator=operator)

    # --- the owner's moves ------------------------------------------------------------------

    async def note(self, data: DisputeAction) -> None:
        assert self.turn is not None
        await self.turn.decide(data.person_id, NOTE, reason=data.text, operator=data.operator)
        await self.move("note", data.text, actor=data.person_id)

    async def ask(self, data: DisputeAction) -> None:
        assert self.turn is not None
        respond_by = data.respond_by or (
            workflow.now().date() + timedelta(days=self.input.policy.info_response_days)
        )
        self.respond_by = respond_by
        await self.turn.decide(
            data.person_id, REQUEST_INFORMATION, reason=data.text, operator=data.operator
        )
        self.question = data

    def validate_proposal(self, data: RemedyProposal) -> None:
        if data.kind not in AVAILABLE:
            raise ApplicationError(
                f"a {data.kind.value.replace('_', ' ')} cannot be proposed here yet; propose"
                " a credit note, a write-off or a rejection",
                type="remedy_not_available",
            )
        c = self.input
        if data.kind == RemedyKind.ADJUSTED_INVOICE:
            self._validate_adjustment(data)
        try:
            check_remedy(
                CaseFigures(
                    currency=c.currency,
                    total_minor=c.total_minor,
                    paid_minor=c.paid_minor,
                    credited_minor=c.credited_minor,
                    written_off_minor=c.written_off_minor,
                    disputed_minor=c.amount_minor,
                ),
                kind=data.kind,
                amount_minor=data.amount_minor,
                credit_reason=data.credit_reason,
                note=data.note,
                instalments=data.instalments,
                lines=data.lines,
                today=workflow.now().date(),
                write_off_limit_minor=c.policy.write_off_limit_minor,
            )
        except DisputeRefused as refused:
            raise ApplicationError(refused.message, type=refused.code) from None

    def _validate_adjustment(self, data: RemedyProposal) -> None:
        """An adjusted invoice replaces one nothing was paid or credited on; otherwise the
        remedy is a credit note (money already moved is not voided)."""
        c = self.input
        if c.paid_minor or c.credited_minor or c.written_off_minor:
            raise ApplicationError(
                "the invoice has payments or credits: correct it with a credit note instead"
                " of replacing it",
                type="not_adjustable",
            )
        for number, line in enumerate(data.lines, start=1):
            try:
                ExplicitLine.model_validate(line)
            except ValueError as bad:
                raise ApplicationError(
                    f"line {number} of the adjusted invoice is not valid: {bad}",
                    type="invalid_line",
                ) from None

    async def propose(self, data: RemedyProposal) -> None:
        assert self.turn is not None
        self.proposal = data
        await self.turn.decide(data.person_id, PROPOSE, reason=data.note, operator=data.operator)

    # --- approval of a large credit note ------------------------------------------------------

    async def approved(self, proposal: RemedyProposal) -> bool:
        c = self.input
        amount = proposal.amount_minor or 0
        if not needs_approval(proposal.kind, amount, c.policy.credit_approval_threshold_minor):
            return True
        self.status = DisputeStatus.AWAITING_APPROVAL
        approvers: CreditApprovers = await workflow.execute_local_activity_method(
            DisputeActivities.credit_approvers,
            ApproversInput(dispute_id=c.dispute_id),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        await self.move(
            "approval_requested",
            f"credit note of {format_amount(amount, c.currency)} sent for approval",
            status=DisputeStatus.AWAITING_APPROVAL,
        )
        self._turns += 1
        self.approval = OneDecisionTask(
            HumanTask(
                task_id=f"{c.dispute_id}:credit-approval:{self._turns}",
                kind="credit_approval",
                title=f"Credit note of {format_amount(amount, c.currency)} on {c.invoice_number}",
                owners=tuple(approvers.owners[:1]),
                group=tuple(approvers.owners[1:]),
                choices=(APPROVE, REJECT),
                timers=approvers.timers,
            ),
            self,
            invoice_id=c.invoice_id,
            details=f"{c.number}: {proposal.note} (update `decide_credit` on dispute-"
            f"{c.dispute_id}, or POST /disputes/{c.dispute_id}/credit-approval)",
        )
        state = await self.approval.run()
        decision = state.decisions[-1]
        self.approval = None
        if decision.choice == APPROVE:
            await self.move("approved", decision.reason or "approved", actor=decision.person_id)
            return True
        self.proposal = None
        await self.move(
            "approval_rejected", decision.reason or "rejected", actor=decision.person_id
        )
        return False

    def validate_credit(self, data: TaskDecideInput) -> None:
        if self.approval is None:
            raise ApplicationError("no credit note waits for approval", type="task_closed")
        self.approval.validate(data.person_id, data.choice, operator=data.operator)

    async def decide_credit(self, data: TaskDecideInput) -> None:
        assert self.approval is not None
        await self.approval.decide(
            data.person_id, data.choice, reason=data.reason, operator=data.operator
        )

    # --- waiting on the customer -------------------------------------------------------------

    async def wait_on_customer_answer(self) -> None:
        question = self.question
        assert question is not None and self.respond_by is not None
        self.status = DisputeStatus.WAITING_ON_CUSTOMER
        await self.move(
            "information_requested",
            question.text,
            actor=question.person_id,
            visible=True,
            data={"respond_by": self.respond_by.isoformat()},
            status=DisputeStatus.WAITING_ON_CUSTOMER,
        )
        await self.tell_customer(
            "information_requested", f"question:{self._moves}", text=question.text
        )
        reply = await self._customer(end_of(self.respond_by), "an answer to our question")
        if reply is None:
            await self.move(
                "no_answer", f"no answer by {self.respond_by.isoformat()}", visible=True
            )
        await self._resume()

    async def wait_on_customer_decision(self, proposal: RemedyProposal) -> Answer:
        c = self.input
        self.status = DisputeStatus.REMEDY_PROPOSED
        remedy = remedy_view(proposal)
        await self.move(
            "remedy_proposed",
            proposal.note,
            actor=proposal.person_id,
            visible=True,
            data=remedy,
            status=DisputeStatus.REMEDY_PROPOSED,
        )
        await self.tell_customer("remedy_proposed", f"remedy:{self._moves}", remedy=remedy)
        deadline = workflow.now() + timedelta(days=c.policy.remedy_response_days)
        reply = await self._customer(deadline, "the customer's answer to the proposed remedy")
        await self._resume()
        if reply is None:
            return "silent"
        return "accepted" if reply.accept else "declined"

    async def _customer(self, until: datetime, what: str) -> CustomerReply | None:
        """Wait for the customer's reply until `until`; the reply is recorded once."""
        paused_at = workflow.now()
        self.waits_for(f"{what} until {until:%Y-%m-%d %H:%M} UTC")
        try:
            await workflow.wait_condition(
                lambda: self.reply is not None,
                timeout=max(until - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            pass
        # the SLA clock stood still while we waited on the customer
        if self.sla_due_at is not None:
            self.sla_due_at += workflow.now() - paused_at
        reply, self.reply = self.reply, None
        if reply is not None:
            kind = "customer_replied"
            if reply.accept is not None:
                kind = "remedy_accepted" if reply.accept else "remedy_declined"
            await self.move(
                kind,
                reply.text or _reply_summary(reply),
                actor="customer",
                visible=True,
                data={"evidence_ids": reply.evidence_ids, "request_id": reply.request_id},
            )
        return reply

    async def _resume(self) -> None:
        self.status = DisputeStatus.OPEN
        await self.move(
            "resumed",
            f"back with the owner; SLA due {self.sla_due_at:%Y-%m-%d %H:%M} UTC",
            status=DisputeStatus.OPEN,
            sla_due_at=self.sla_due_at,
        )

    def validate_reply(self, data: CustomerReply) -> None:
        if self.status == DisputeStatus.WAITING_ON_CUSTOMER and self.reply is None:
            if not data.text.strip() and not data.evidence_ids:
                raise ApplicationError("write an answer or attach a file", type="empty_reply")
            return
        if self.status == DisputeStatus.REMEDY_PROPOSED and self.reply is None:
            if data.accept is None:
                raise ApplicationError(
                    "accept or decline the proposed remedy", type="answer_required"
                )
            return
        raise ApplicationError(
            "there is no question or proposal waiting for your answer", type="nothing_to_answer"
        )

    def invoice_paid(self, paid_minor: int) -> None:
        """The invoice took a payment: remedies are checked against what is open now."""
        self.input = self.input.model_copy(update={"paid_minor": paid_minor})

    def replied(self, data: CustomerReply) -> None:
        self.reply = data

    async def declined(self, answer: Answer) -> None:
        self.proposal = None
        self.declines += 1
        c = self.input
        if self.declines >= c.policy.declines_before_escalation and self.level < (
            c.policy.top_level
        ):
            await self.climb(f"the customer declined {self.declines} remedies")

    # --- resolution --------------------------------------------------------------------------

    async def resolve(self, proposal: RemedyProposal, *, accepted_by: str) -> DisputeOutcome:
        c = self.input
        outcome = DisputeOutcome(
            dispute_id=c.dispute_id,
            number=c.number,
            resolution=proposal.kind,
            resolved_level=self.level,
            note=proposal.note,
        )
        if proposal.kind == RemedyKind.CREDIT_NOTE:
            assert proposal.amount_minor is not None and proposal.credit_reason is not None
            issued = await workflow.execute_local_activity_method(
                DisputeActivities.issue_credit_note,
                IssueCreditNoteInput(
                    credit_note_id=f"cn_{c.dispute_id.removeprefix('dsp_')}",
                    dispute_id=c.dispute_id,
                    invoice_id=c.invoice_id,
                    currency=c.currency,
                    amount_minor=proposal.amount_minor,
                    reason=proposal.credit_reason,
                    settlement=proposal.settlement,
                ),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
            outcome = outcome.model_copy(
                update={
                    "credit_note_id": issued.credit_note_id,
                    "credit_note_number": issued.number,
                    "credit_reason": proposal.credit_reason,
                    "settlement": proposal.settlement,
                    "credited_minor": issued.amount_minor,
                    "credit_note_issued_at": issued.issued_at,
                }
            )
        elif proposal.kind == RemedyKind.WRITE_OFF:
            assert proposal.amount_minor is not None
            write_off_id = f"wo_{c.dispute_id.removeprefix('dsp_')}"
            await workflow.execute_local_activity_method(
                DisputeActivities.write_off,
                WriteOffInput(
                    write_off_id=write_off_id,
                    dispute_id=c.dispute_id,
                    invoice_id=c.invoice_id,
                    amount_minor=proposal.amount_minor,
                ),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
            outcome = outcome.model_copy(
                update={"write_off_id": write_off_id, "written_off_minor": proposal.amount_minor}
            )
        elif proposal.kind == RemedyKind.PAYMENT_PLAN:
            await workflow.execute_local_activity_method(
                DisputeActivities.record_plan,
                RecordPlanInput(
                    dispute_id=c.dispute_id,
                    invoice_id=c.invoice_id,
                    instalments=proposal.instalments,
                ),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
            outcome = outcome.model_copy(update={"instalments": proposal.instalments})
        elif proposal.kind == RemedyKind.ADJUSTED_INVOICE:
            outcome = outcome.model_copy(update={"lines": proposal.lines})
        self.status = DisputeStatus.RESOLVED
        await self.move(
            "resolved",
            f"{proposal.kind.value.replace('_', ' ')}: {proposal.note}",
            actor=proposal.person_id if accepted_by == "owner" else accepted_by,
            visible=True,
            data={**remedy_view(proposal), "credit_note_number": outcome.credit_note_number},
            status=DisputeStatus.RESOLVED,
            resolution=proposal.kind,
            resolution_note=proposal.note,
            root_cause=proposal.root_cause,
            resolved_level=self.level,
            resolved=True,
        )
        await self.tell_customer("resolved", "resolved", remedy=remedy_view(proposal))
        await asyncio.gather(*self._background)
        self.waits_for(None)
        return outcome

    # --- records and messages ---------------------------------------------------------------

    async def move(
        self,
        kind: str,
        text: str,
        *,
        actor: str = "workflow",
        visible: bool = False,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        self._moves += 1
        await workflow.execute_local_activity_method(
            DisputeActivities.move,
            DisputeMove(
                dispute_id=self.input.dispute_id,
                event_key=f"{self.input.dispute_id}:{self._moves}:{kind}",
                kind=kind,
                actor=actor,
                text=text,
                visible_to_customer=visible,
                data=data or {},
                **fields,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )

    async def tell_customer(self, kind: DisputeNoticeKind, key: str, **fields: Any) -> None:
        """E-mail (or SMS) the customer once per key; a refusal is logged, never fatal."""
        c = self.input
        try:
            await workflow.execute_activity_method(
                DisputeNoticeActivities.notify_customer,
                DisputeCustomerNotice(
                    dispute_id=c.dispute_id,
                    dispute_number=c.number,
                    invoice_id=c.invoice_id,
                    kind=kind,
                    key=f"{c.dispute_id}:{key}",
                    amount_minor=c.amount_minor,
                    currency=c.currency,
                    respond_by=self.respond_by if kind == "information_requested" else None,
                    **fields,
                ),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("dispute.notice_failed", extra={"error": str(err.cause)})

    def live(self) -> DisputeLive:
        owners = self.assignment.owners if self.assignment else []
        return DisputeLive(
            dispute_id=self.input.dispute_id,
            number=self.input.number,
            status=self.status,
            level=self.level,
            owner=owners[0].name if owners else None,
            sla_due_at=self.sla_due_at,
            sla_breached=self.sla_breached,
            declines=self.declines,
            respond_by=self.respond_by
            if self.status == DisputeStatus.WAITING_ON_CUSTOMER
            else None,
            proposal=remedy_view(self.proposal) if self.proposal else None,
            task=self.turn.view() if self.turn and self.status == DisputeStatus.OPEN else None,
            approval=self.approval.view() if self.approval else None,
        )


def remedy_view(proposal: RemedyProposal) -> dict[str, Any]:
    """A remedy as the customer's page and e-mail show it."""
    return {
        "kind": proposal.kind.value,
        "amount_minor": proposal.amount_minor,
        "credit_reason": proposal.credit_reason.value if proposal.credit_reason else None,
        "settlement": proposal.settlement.value,
        "note": proposal.note,
        "instalments": [i.model_dump(mode="json") for i in proposal.instalments],
    }


def _reply_summary(reply: CustomerReply) -> str:
    """The timeline's words for an answer the customer sent without text."""
    if reply.accept is not None:
        return "accepted" if reply.accept else "declined"
    count = len(reply.evidence_ids)
    return f"answered with {count} file{'s' if count != 1 else ''}"
