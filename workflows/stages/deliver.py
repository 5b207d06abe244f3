"""The delivery stage: the payment link and the invoice by the customer's channels, once,
inside their delivery window; and a resend on request, through the workflow's `resend`
update.

Quiet hours: an invoice due to go out at night or at a weekend (the customer's zone and
window, fixed in its snapshot at generation) waits with a durable timer for the window to
open, named in the current details. Inside the window nothing is waited for: no timer,
so the happy path's history is as before. A resend is someone's request and goes at once.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.notices import NoticeActivities
    from domain.delivery_window import next_window_opening
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
        self.held_until: datetime | None = None  # quiet hours held it until then

    async def run(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """Send the invoice; the invoice as sent (less any account credit it took)."""
        await self._wait_for_window(invoice)
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
            tried = "; ".join(found.get("tried", [])) or str(cause)
            self._p.notes.append(f"Delivery failed, no channel left: {tried}")
        else:
            self._p.payment_url = delivered.payment_url
            credits = delivered.credits_applied
            if delivered.fallbacks:
                self._p.notes.append(
                    f"Delivered by {delivered.channel} to {delivered.recipient} after: "
                    + "; ".join(delivered.fallbacks)
                )
        self.delivered = True
        if credits:
            invoice = self._p.invoice = invoice.model_copy(update={"credits_applied": credits})
        return invoice

    async def _wait_for_window(self, invoice: InvoiceSnapshot) -> None:
        """Outside the customer's delivery window, a durable timer until it opens."""
        plan = invoice.delivery
        if plan.quiet_hours is None:
            return
        now = workflow.now()
        opens = next_window_opening(now, plan.timezone, plan.quiet_hours)
        if opens == now:
            return
        self.held_until = opens
        local = opens.astimezone(ZoneInfo(plan.timezone))
        hours = plan.quiet_hours
        self._p.waits_for(
            f"the customer's delivery window ({hours.start:%H:%M}-{hours.end:%H:%M}"
            f" {plan.timezone}): opens {local:%a %Y-%m-%d %H:%M} ({opens:%Y-%m-%d %H:%M} UTC)"
        )
        await workflow.sleep(opens - now, summary="quiet hours: waiting for the window")
        self._p.waits_for("delivery to the customer")

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
