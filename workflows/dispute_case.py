"""The state and steps of one dispute, run by `workflows.dispute.DisputeWorkflow`: the
owner and level on the ladder with its SLA, the owner's moves, and the resolution; the
customer's turns (`workflows.dispute_customer`), a large credit note's approval
(`workflows.dispute_approval`) and what remedies check and write
(`workflows.dispute_remedies`) are parts of their own that share this case.

Deterministic: times come from workflow.now(), every rule from `domain.disputes`; the case
record, its timeline and the customer's messages are written by activities, each once
(its event key is the dispute id and the step's sequence number in this workflow).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.dispute_notices import DisputeNoticeActivities
    from activities.disputes import DisputeActivities
    from domain.money import format_amount
    from schemas import search_attributes as sa
    from schemas.dispute_flow import (
        AssignLevelInput,
        DisputeCaseInput,
        DisputeLive,
        DisputeMove,
        DisputeOutcome,
        LevelAssignment,
    )
    from schemas.dispute_notices import DisputeCustomerNotice, DisputeNoticeKind
    from schemas.disputes import (
        DisputeAction,
        DisputeStatus,
        RemedyProposal,
    )
    from workflows import options
    from workflows.dispute_approval import CreditApproval
    from workflows.dispute_customer import Answer, CustomerSide
    from workflows.dispute_remedies import carry_out, remedy_view
    from workflows.dispute_tasks import (
        NOTE,
        PROPOSE,
        REQUEST_INFORMATION,
        OwnerTurn,
        owner_task,
        sla_timers,
    )

Stop = Literal["sla", "information", "proposal"]


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
        self.turn: OwnerTurn | None = None
        self.customer = CustomerSide(self)  # the customer's turns: answers, decisions
        self.approval = CreditApproval(self)  # a large credit note's approver
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
        turn = self.next_turn()
        top = self.level >= self.input.policy.top_level
        timed = assignment.model_copy(
            update={"timers": sla_timers(self.sla_due_at, workflow.now(), top=top)}
        )
        c = self.input
        self.question = None
        self.turn = OwnerTurn(
            owner_task(
                c.dispute_id,
                turn,
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
        self.customer.respond_by = respond_by
        await self.turn.decide(
            data.person_id, REQUEST_INFORMATION, reason=data.text, operator=data.operator
        )
        self.question = data

    async def propose(self, data: RemedyProposal) -> None:
        assert self.turn is not None
        self.proposal = data
        await self.turn.decide(data.person_id, PROPOSE, reason=data.note, operator=data.operator)

    # --- waiting on the customer -------------------------------------------------------------

    def invoice_paid(self, paid_minor: int) -> None:
        """The invoice took a payment: remedies are checked against what is open now."""
        self.input = self.input.model_copy(update={"paid_minor": paid_minor})

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
        outcome = await carry_out(self.input, proposal, self.level)
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

    def next_turn(self) -> int:
        """The sequence number of the next human task (an owner's turn, an approval)."""
        self._turns += 1
        return self._turns

    @property
    def moves(self) -> int:
        """How many timeline steps this run has written (keys of the customer's notices)."""
        return self._moves

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
                    respond_by=(
                        self.customer.respond_by if kind == "information_requested" else None
                    ),
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
            respond_by=self.customer.respond_by
            if self.status == DisputeStatus.WAITING_ON_CUSTOMER
            else None,
            proposal=remedy_view(self.proposal) if self.proposal else None,
            task=self.turn.view() if self.turn and self.status == DisputeStatus.OPEN else None,
            approval=self.approval.task.view() if self.approval.task else None,
        )
