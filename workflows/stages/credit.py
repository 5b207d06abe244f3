"""Money a dispute's credit note gives back, and customer credit. A credit note that takes
an invoice below what was paid returns the difference once: refunded at the payment
provider, or kept on the customer's account when the customer chose that (and the part
paid with account credit always goes back on account: there is no payment to refund). Credit on
the customer's account is taken off a new invoice by its delivery step, before the payment
link is made (so the e-mail, the link and the balance ask only for the rest); each
allocation to the new invoice (of a credit note, or of an overpaid payment's excess) is
posted here, once, after the invoice."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.customer_credits import CustomerCreditActivities
    from activities.remedies import RemedyActivities
    from schemas.customer_credit import GrantCreditInput, PostCreditAllocationInput
    from schemas.dispute_flow import DisputeOutcome
    from schemas.disputes import CreditSettlement
    from schemas.invoice import InvoiceSnapshot
    from schemas.remedies import RefundInput
    from workflows import options
    from workflows.process import InvoiceProcess
    from workflows.stages.post import AccountingStage


class CustomerCreditStage:
    def __init__(self, process: InvoiceProcess, accounting: AccountingStage) -> None:
        self._p = process
        self._accounting = accounting

    def post_allocations(self, invoice: InvoiceSnapshot) -> None:
        for credit in invoice.credits_applied:
            # an overpayment's credit is allocated from the overpaid payment (the activity
            # names it in the ledger by the credit's source key), a credit note's from it
            self._accounting.post_remedy(
                RemedyActivities.post_credit_allocation,
                PostCreditAllocationInput(
                    invoice_id=invoice.invoice_id,
                    credit_note_id=credit.credit_note_id,
                    amount_minor=credit.amount_minor,
                    currency=invoice.currency,
                ),
            )

    async def settle_overpayment(self, invoice: InvoiceSnapshot, outcome: DisputeOutcome) -> None:
        """After a credit note: what was paid beyond the invoice's new amount goes back."""
        p = self._p
        back = min(-p.balance(), outcome.credited_minor)
        if back <= 0 or outcome.settlement is None:
            return
        assert outcome.credit_note_id is not None
        if outcome.settlement == CreditSettlement.REFUND:
            refundable = min(back, p.paid_minor - p.refunded_minor)
            if refundable > 0:
                refunded = await self._refund(invoice, outcome, refundable)
                if refunded is None:
                    return  # flagged: operations see the refund that failed
                back -= refunded
        if back > 0:
            await self._keep_on_account(invoice, outcome.credit_note_id, back)

    async def _keep_on_account(
        self, invoice: InvoiceSnapshot, credit_note_id: str, amount_minor: int
    ) -> None:
        """A credit beyond what is left to pay, kept as credit on the customer's account."""
        await workflow.execute_local_activity_method(
            CustomerCreditActivities.grant,
            GrantCreditInput(
                credit_note_id=credit_note_id,
                invoice_id=invoice.invoice_id,
                customer_id=invoice.customer_id,
                currency=invoice.currency,
                amount_minor=amount_minor,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._p.credit_carried_minor += amount_minor

    async def _refund(
        self, invoice: InvoiceSnapshot, outcome: DisputeOutcome, amount: int
    ) -> int | None:
        """Money paid beyond what the invoice now comes to goes back, once."""
        assert outcome.credit_note_id is not None
        try:
            result = await workflow.execute_activity_method(
                RemedyActivities.refund,
                RefundInput(
                    invoice_id=invoice.invoice_id,
                    credit_note_id=outcome.credit_note_id,
                    amount_minor=amount,
                    currency=invoice.currency,
                    reason=(outcome.credit_reason or "other"),
                ),
                start_to_close_timeout=options.REFUND_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.REFUND_RETRY,
            )
        except ActivityError as err:
            workflow.logger.error("dispute.refund_failed", extra={"error": str(err.cause)})
            self._p.flag("refund_failed")
            return None
        self._p.refunded_minor += result.refunded_minor
        return int(result.refunded_minor)
