"""A large credit note's approval inside a dispute: above the policy's threshold the credit
waits for an approver of the managers' group, as a human task of its own (e-mailed,
reminded, escalated, decided through the dispute's `decide_credit` update or the API), and
each step is on the dispute's timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.disputes import DisputeActivities
    from domain.disputes import needs_approval
    from domain.money import format_amount
    from domain.tasks import HumanTask
    from schemas.dispute_flow import ApproversInput, CreditApprovers
    from schemas.disputes import DisputeStatus, RemedyProposal
    from schemas.tasks import TaskDecideInput
    from workflows import options
    from workflows.dispute_tasks import APPROVE, REJECT
    from workflows.human_task import OneDecisionTask

if TYPE_CHECKING:
    from workflows.dispute_case import DisputeCase


class CreditApproval:
    def __init__(self, case: DisputeCase) -> None:
        self._case = case
        self.task: OneDecisionTask | None = None

    async def approved(self, proposal: RemedyProposal) -> bool:
        """True when the remedy needs no approval or an approver approved it; a rejected
        credit goes back to the owner (the proposal is withdrawn)."""
        case, c = self._case, self._case.input
        amount = proposal.amount_minor or 0
        if not needs_approval(proposal.kind, amount, c.policy.credit_approval_threshold_minor):
            return True
        case.status = DisputeStatus.AWAITING_APPROVAL
        approvers: CreditApprovers = await workflow.execute_local_activity_method(
            DisputeActivities.credit_approvers,
            ApproversInput(dispute_id=c.dispute_id),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        await case.move(
            "approval_requested",
            f"credit note of {format_amount(amount, c.currency)} sent for approval",
            status=DisputeStatus.AWAITING_APPROVAL,
        )
        self.task = OneDecisionTask(
            HumanTask(
                task_id=f"{c.dispute_id}:credit-approval:{case.next_turn()}",
                kind="credit_approval",
                title=f"Credit note of {format_amount(amount, c.currency)} on {c.invoice_number}",
                owners=tuple(approvers.owners[:1]),
                group=tuple(approvers.owners[1:]),
                choices=(APPROVE, REJECT),
                timers=approvers.timers,
            ),
            case,
            invoice_id=c.invoice_id,
            details=f"{c.number}: {proposal.note} (update `decide_credit` on dispute-"
            f"{c.dispute_id}, or POST /disputes/{c.dispute_id}/credit-approval)",
        )
        state = await self.task.run()
        decision = state.decisions[-1]
        self.task = None
        if decision.choice == APPROVE:
            await case.move("approved", decision.reason or "approved", actor=decision.person_id)
            return True
        case.proposal = None
        await case.move(
            "approval_rejected", decision.reason or "rejected", actor=decision.person_id
        )
        return False

    def validate(self, data: TaskDecideInput) -> None:
        if self.task is None:
            raise ApplicationError("no credit note waits for approval", type="task_closed")
        self.task.validate(data.person_id, data.choice, operator=data.operator)

    async def decide(self, data: TaskDecideInput) -> None:
        assert self.task is not None
        await self.task.decide(
            data.person_id, data.choice, reason=data.reason, operator=data.operator
        )
