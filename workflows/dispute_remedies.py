"""A dispute's remedies, as the case checks and carries them out: whether a proposal may be
made (the update's validator, from `domain.disputes`), the records an accepted remedy
writes (the credit note, the write-off, the plan's instalments), and the remedy as the
customer's page and e-mails show it.

Deterministic: each record is a local activity, written once by its business id
(``cn_…``/``wo_…`` from the dispute's id)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.disputes import DisputeActivities
    from domain.disputes import CaseFigures, DisputeRefused, check_remedy
    from domain.invoicing import ExplicitLine
    from schemas.dispute_flow import (
        DisputeCaseInput,
        DisputeOutcome,
        IssueCreditNoteInput,
        RecordPlanInput,
        WriteOffInput,
    )
    from schemas.disputes import RemedyKind, RemedyProposal
    from workflows import options

# Remedies this version carries out end to end; the others are refused by the validator.
AVAILABLE = tuple(RemedyKind)


def validate_proposal(c: DisputeCaseInput, data: RemedyProposal) -> None:
    """Refuse a remedy the case cannot carry out, with the rule's code and words."""
    if data.kind not in AVAILABLE:
        raise ApplicationError(
            f"a {data.kind.value.replace('_', ' ')} cannot be proposed here yet; propose"
            " a credit note, a write-off or a rejection",
            type="remedy_not_available",
        )
    if data.kind == RemedyKind.ADJUSTED_INVOICE:
        _validate_adjustment(c, data)
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


def _validate_adjustment(c: DisputeCaseInput, data: RemedyProposal) -> None:
    """An adjusted invoice replaces one nothing was paid or credited on; otherwise the
    remedy is a credit note (money already moved is not voided)."""
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


async def carry_out(c: DisputeCaseInput, proposal: RemedyProposal, level: int) -> DisputeOutcome:
    """Write what the accepted remedy records; the outcome the invoice's process applies."""
    outcome = DisputeOutcome(
        dispute_id=c.dispute_id,
        number=c.number,
        resolution=proposal.kind,
        resolved_level=level,
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
        return outcome.model_copy(
            update={
                "credit_note_id": issued.credit_note_id,
                "credit_note_number": issued.number,
                "credit_reason": proposal.credit_reason,
                "settlement": proposal.settlement,
                "credited_minor": issued.amount_minor,
                "credit_note_issued_at": issued.issued_at,
            }
        )
    if proposal.kind == RemedyKind.WRITE_OFF:
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
        return outcome.model_copy(
            update={"write_off_id": write_off_id, "written_off_minor": proposal.amount_minor}
        )
    if proposal.kind == RemedyKind.PAYMENT_PLAN:
        await workflow.execute_local_activity_method(
            DisputeActivities.record_plan,
            RecordPlanInput(
                dispute_id=c.dispute_id, invoice_id=c.invoice_id, instalments=proposal.instalments
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        return outcome.model_copy(update={"instalments": proposal.instalments})
    if proposal.kind == RemedyKind.ADJUSTED_INVOICE:
        return outcome.model_copy(update={"lines": proposal.lines})
    return outcome  # a rejection writes nothing of its own


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
