"""Asking the payment provider what it took for an invoice: the janitor for payments whose
webhook never reached us (the provider gave up, our API was away for longer than its
retries), as Kill Bill's janitor does for payments in an unknown state.

Read-only at the provider and writes nothing here: what it finds goes back to the workflow
as the `PaymentReceived` the webhook would have given (same payment id), which applies it
through the same path as a webhook, once, so a late webhook is a duplicate and ignored.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from integrations.payments import PaymentsClient
from schemas.invoice import PaymentReceived
from schemas.payment_checks import CHECK_SOURCE, CheckPaymentsInput, CheckPaymentsResult

log = structlog.get_logger()


class PaymentCheckActivities:
    def __init__(self, payments: PaymentsClient) -> None:
        self._payments = payments

    @activity.defn(name="payments.check")
    async def check(self, data: CheckPaymentsInput) -> CheckPaymentsResult:
        taken = await self._payments.payments_for(data.invoice_id)
        found = [
            PaymentReceived(
                payment_id=payment.id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                paid_at=payment.paid_at,
                source=CHECK_SOURCE,
            )
            for payment in taken
            if payment.reference == data.invoice_id
        ]
        log.info(
            "payments.checked",
            invoice_id=data.invoice_id,
            reason=data.reason,
            found=len(found),
        )
        return CheckPaymentsResult(payments=found)
