"""Waiting on the customer inside a dispute: an answer to the owner's question, or a
decision on a proposed remedy, each with its deadline. The SLA clock stands still while
the customer has the turn and restarts with the time it had left; each reply is on the
timeline once, and the customer's updates are checked against what waits for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.disputes import CustomerReply, DisputeStatus, RemedyProposal
    from workflows.dispute_remedies import remedy_view

if TYPE_CHECKING:
    from workflows.dispute_case import DisputeCase

Answer = Literal["accepted", "declined", "silent"]


def end_of(day: date) -> datetime:
    """A respond-by date ends at midnight UTC after it: the customer has the whole day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class CustomerSide:
    def __init__(self, case: DisputeCase) -> None:
        self._case = case
        self.respond_by: date | None = None
        self.reply: CustomerReply | None = None  # arrived, not yet recorded

    async def answer(self) -> None:
        """The owner's question goes to the customer; wait for the answer or the date."""
        case = self._case
        question = case.question
        assert question is not None and self.respond_by is not None
        case.status = DisputeStatus.WAITING_ON_CUSTOMER
        await case.move(
            "information_requested",
            question.text,
            actor=question.person_id,
            visible=True,
            data={"respond_by": self.respond_by.isoformat()},
            status=DisputeStatus.WAITING_ON_CUSTOMER,
        )
        await case.tell_customer(
            "information_requested", f"question:{case.moves}", text=question.text
        )
        reply = await self._wait(end_of(self.respond_by), "an answer to our question")
        if reply is None:
            await case.move(
                "no_answer", f"no answer by {self.respond_by.isoformat()}", visible=True
            )
        await self._resume()

    async def decision(self, proposal: RemedyProposal) -> Answer:
        """The remedy goes to the customer; their decision, or silence past the deadline."""
        case = self._case
        case.status = DisputeStatus.REMEDY_PROPOSED
        remedy = remedy_view(proposal)
        await case.move(
            "remedy_proposed",
            proposal.note,
            actor=proposal.person_id,
            visible=True,
            data=remedy,
            status=DisputeStatus.REMEDY_PROPOSED,
        )
        await case.tell_customer("remedy_proposed", f"remedy:{case.moves}", remedy=remedy)
        deadline = workflow.now() + timedelta(days=case.input.policy.remedy_response_days)
        reply = await self._wait(deadline, "the customer's answer to the proposed remedy")
        await self._resume()
        if reply is None:
            return "silent"
        return "accepted" if reply.accept else "declined"

    async def _wait(self, until: datetime, what: str) -> CustomerReply | None:
        """Wait for the customer's reply until `until`; the reply is recorded once."""
        case = self._case
        paused_at = workflow.now()
        case.waits_for(f"{what} until {until:%Y-%m-%d %H:%M} UTC")
        try:
            await workflow.wait_condition(
                lambda: self.reply is not None,
                timeout=max(until - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            pass
        # the SLA clock stood still while we waited on the customer
        if case.sla_due_at is not None:
            case.sla_due_at += workflow.now() - paused_at
        reply, self.reply = self.reply, None
        if reply is not None:
            kind = "customer_replied"
            if reply.accept is not None:
                kind = "remedy_accepted" if reply.accept else "remedy_declined"
            await case.move(
                kind,
                reply.text or _reply_summary(reply),
                actor="customer",
                visible=True,
                data={"evidence_ids": reply.evidence_ids, "request_id": reply.request_id},
            )
        return reply

    async def _resume(self) -> None:
        case = self._case
        case.status = DisputeStatus.OPEN
        await case.move(
            "resumed",
            f"back with the owner; SLA due {case.sla_due_at:%Y-%m-%d %H:%M} UTC",
            status=DisputeStatus.OPEN,
            sla_due_at=case.sla_due_at,
        )

    def validate(self, data: CustomerReply) -> None:
        status = self._case.status
        if status == DisputeStatus.WAITING_ON_CUSTOMER and self.reply is None:
            if not data.text.strip() and not data.evidence_ids:
                raise ApplicationError("write an answer or attach a file", type="empty_reply")
            return
        if status == DisputeStatus.REMEDY_PROPOSED and self.reply is None:
            if data.accept is None:
                raise ApplicationError(
                    "accept or decline the proposed remedy", type="answer_required"
                )
            return
        raise ApplicationError(
            "there is no question or proposal waiting for your answer", type="nothing_to_answer"
        )

    def replied(self, data: CustomerReply) -> None:
        self.reply = data


def _reply_summary(reply: CustomerReply) -> str:
    """The timeline's words for an answer the customer sent without text."""
    if reply.accept is not None:
        return "accepted" if reply.accept else "declined"
    count = len(reply.evidence_ids)
    return f"answered with {count} file{'s' if count != 1 else ''}"
