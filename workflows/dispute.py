"""The dispute workflow (`dispute-{id}`): one customer dispute from intake to remedy.

Started by the invoice's workflow when a dispute opens; it returns the outcome, which the
invoice's workflow applies to the balance (credit, write-off) and posts to accounting.

owner assigned (by rule, at the level the amount starts at) → the owner's turn at the
level: notes, a question to the customer, a proposed remedy; the level's SLA passing
climbs the ladder (a new owner, flagged as breached) → a credit note above the threshold
waits for approval → the customer accepts or declines the remedy through the portal → the
remedy is issued and the case closed.

Rules this workflow keeps (README, "Disputes"):
- the SLA clock stops while we wait on the customer (an information request, a proposed
  remedy) and restarts with the time it had left when they answer or their deadline
  passes;
- a customer's silence past the remedy deadline accepts a remedy that only lowers what they
  owe (credit note, write-off) and declines any other; a decline goes back to the owner,
  and the `declines_before_escalation`-th decline at a level climbs the ladder;
- a rejection is the owner's decision: it closes the dispute and the customer is told.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.dispute_flow import DisputeCaseInput, DisputeLive, DisputeOutcome
    from schemas.disputes import (
        CustomerReply,
        DisputeAction,
        DisputeActionResult,
        DisputeStatus,
        RemedyKind,
        RemedyProposal,
    )
    from schemas.tasks import TaskDecideInput
    from workflows.dispute_case import DisputeCase
    from workflows.dispute_remedies import validate_proposal
    from workflows.dispute_tasks import NOTE, PROPOSE, REQUEST_INFORMATION

# Remedies the customer's silence accepts: they only lower what the customer owes.
ACCEPTED_ON_SILENCE = (RemedyKind.CREDIT_NOTE, RemedyKind.WRITE_OFF)


@workflow.defn(name="Dispute")
class DisputeWorkflow:
    @workflow.init
    def __init__(self, case: DisputeCaseInput) -> None:
        self._case = DisputeCase(case)

    @workflow.run
    async def run(self, case: DisputeCaseInput) -> DisputeOutcome:
        outcome = await self._run()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    async def _run(self) -> DisputeOutcome:
        c = self._case
        await c.assign(c.input.level, why=None)
        assert c.assignment is not None
        await c.tell_customer(
            "acknowledged", "acknowledged", sla_business_days=c.assignment.sla_business_days
        )
        while True:
            stop = await c.owner_turn()
            if stop == "sla":
                await c.climb(f"the SLA of level {c.level} passed")
                continue
            if stop == "information":
                await c.customer.answer()
                continue
            proposal = c.proposal
            assert proposal is not None
            if not await c.approval.approved(proposal):
                continue
            if proposal.kind == RemedyKind.REJECTION:
                return await c.resolve(proposal, accepted_by="owner")
            answer = await c.customer.decision(proposal)
            if answer == "accepted" or (
                answer == "silent" and proposal.kind in ACCEPTED_ON_SILENCE
            ):
                return await c.resolve(proposal, accepted_by=answer)
            await c.declined(answer)

    # --- the owner's updates (the API, the Temporal UI) ---------------------------------

    @workflow.update(name="add_note")
    async def add_note(self, data: DisputeAction) -> DisputeActionResult:
        """An internal note on the case (``{"person_id": "ann", "text": "..."}``)."""
        await self._case.note(data)
        return self._result("note added")

    @add_note.validator
    def _validate_note(self, data: DisputeAction) -> None:
        self._case.validate_owner(data.person_id, NOTE, data.operator)

    @workflow.update(name="request_information")
    async def request_information(self, data: DisputeAction) -> DisputeActionResult:
        """Ask the customer a question; they answer through the portal by `respond_by`."""
        await self._case.ask(data)
        await workflow.wait_condition(
            lambda: self._case.status == DisputeStatus.WAITING_ON_CUSTOMER
        )
        return self._result("information requested from the customer")

    @request_information.validator
    def _validate_request(self, data: DisputeAction) -> None:
        self._case.validate_owner(data.person_id, REQUEST_INFORMATION, data.operator)
        if data.respond_by is not None and data.respond_by <= workflow.now().date():
            raise ApplicationError("respond_by must be after today", type="bad_deadline")

    @workflow.update(name="propose_remedy")
    async def propose_remedy(self, data: RemedyProposal) -> DisputeActionResult:
        """Propose a remedy (``{"person_id": "ann", "kind": "credit_note", "amount_minor":
        5000, "credit_reason": "product_unsatisfactory", "note": "..."}``)."""
        await self._case.propose(data)
        return self._result(f"{data.kind.value.replace('_', ' ')} proposed")

    @propose_remedy.validator
    def _validate_proposal(self, data: RemedyProposal) -> None:
        self._case.validate_owner(data.person_id, PROPOSE, data.operator)
        validate_proposal(self._case.input, data)

    @workflow.update(name="decide_credit")
    async def decide_credit(self, data: TaskDecideInput) -> DisputeActionResult:
        """An approver's decision on a credit note above the threshold (`approve` or
        `reject`, with a reason)."""
        await self._case.approval.decide(data)
        return self._result(f"credit note {data.choice}d")

    @decide_credit.validator
    def _validate_credit(self, data: TaskDecideInput) -> None:
        self._case.approval.validate(data)

    # --- the customer's update (the portal) ---------------------------------------------

    @workflow.update(name="customer_reply")
    async def customer_reply(self, data: CustomerReply) -> DisputeActionResult:
        """The customer's answer to a question, or to a proposed remedy (send it with the
        update id `data.request_id`: a double submit is one update)."""
        self._case.customer.replied(data)
        await workflow.wait_condition(lambda: self._case.customer.reply is None)
        return self._result("thank you: your answer was recorded")

    @customer_reply.validator
    def _validate_reply(self, data: CustomerReply) -> None:
        self._case.customer.validate(data)

    @workflow.signal(name="invoice_paid")
    def invoice_paid(self, paid_minor: int) -> None:
        """From the invoice's workflow: what the customer has paid of the invoice now."""
        self._case.invoice_paid(paid_minor)

    # --- the view -----------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> DisputeLive:
        return self._case.live()

    def _result(self, message: str) -> DisputeActionResult:
        c = self._case
        return DisputeActionResult(
            dispute_id=c.input.dispute_id, status=c.status, level=c.level, message=message
        )
