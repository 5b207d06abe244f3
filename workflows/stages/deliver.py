"""The delivery stage: the payment link and the invoice e-mail (or SMS), once; and a resend
on request, through the workflow's `resend` update."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.notices import NoticeActivities
    from schemas.customer_credit import AppliedCredit
    from schemas.invoice import (
        OPEN_STATUSES,
        DeliverInvoiceInput,
        InvoiceSnapshot,
        ResendInvoiceInput,
        ResendInvoiceResult,
        SendNoticeInput,
    )
    from workflows import options
    from workflows.process import InvoiceProcess


class DeliveryStage:
    def __init__(self, process: InvoiceProcess) -> None:
        self._p = process
        self.delivered = False  # the first delivery has run (a resend needs it)

    async def run(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """Send the invoice; the invoice as sent (less any account credit it took)."""
        try:
            delivered = await workflow.execute_activity_method(
                DeliveryActivities.deliver_invoice,
                DeliverInvoiceInput(invoice=invoice),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            # A permanent failure (e.g. the mailbox does not exist) must not lose the
            # invoice: it stays issued and collectable, flagged for operations.
            workflow.logger.warning("invoice.delivery_failed", extra={"error": str(err.cause)})
            self._p.flag("delivery_failed")
            cause = err.cause  # the link exists even if no message reached the customer
            found = (
                cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
            )
            found = found if isinstance(found, dict) else {}
            self._p.payment_url = found.get("payment_url")
            credits = [AppliedCredit.model_validate(c) for c in found.get("credits_applied", [])]
        else:
            self._p.payment_url = delivered.payment_url
            credits = delivered.credits_applied
        self.delivered = True
        if credits:
            invoice = self._p.invoice = invoice.model_copy(update={"credits_applied": credits})
        return invoice

    async def resend(self, data: ResendInvoiceInput) -> ResendInvoiceResult:
        invoice = self._p.invoice
        assert invoice is not None
        try:
            return await workflow.execute_activity_method(
                NoticeActivities.resend_invoice,
                SendNoticeInput(
                    invoice=invoice,
                    payment_url=self._p.payment_url,
                    key=data.request_id,
                    recipient=data.to,
                    requested_by=data.requested_by,
                ),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.RESEND_RETRY,
            )
        except ActivityError as err:
            raise ApplicationError(
                f"the invoice could not be sent again: {err.cause}", type="resend_failed"
            ) from err

    def validate_resend(self, data: ResendInvoiceInput) -> None:
        status = self._p.status
        if not self.delivered or status not in OPEN_STATUSES:
            raise ApplicationError(
                f"only an issued, unpaid invoice can be sent again (it is {status.value})",
                type="not_resendable",
            )
