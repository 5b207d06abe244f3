"""Accounting posts, alongside collection: the invoice once, then each payment once the
invoice's own post has landed (accounting needs the invoice to attach a payment to).

Outages are retried without limit; a refusal (bad data) flags the invoice for a person
instead of failing the process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.accounting import AccountingActivities
    from schemas.invoice import (
        InvoiceSnapshot,
        PaymentReceived,
        PaymentView,
        PostingResult,
        PostInvoiceInput,
        PostPaymentInput,
    )
    from workflows import options
    from workflows.process import InvoiceProcess


class AccountingStage:
    def __init__(self, process: InvoiceProcess) -> None:
        self._p = process
        self.invoice_ref: str | None = None
        self._posts: list[asyncio.Future[Any]] = []  # [0] is the invoice's own post

    def start(self, invoice: InvoiceSnapshot) -> None:
        self._posts.append(asyncio.ensure_future(self._post_invoice(invoice)))

    def post_payment(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> None:
        self._posts.append(asyncio.ensure_future(self._post_payment(invoice, payment, view)))

    def post_remedy(self, activity: Any, arg: Any) -> None:
        """A dispute's credit note or write-off, after the invoice's own post."""
        self._posts.append(asyncio.ensure_future(self._post_after_invoice(activity, arg)))

    async def _post_after_invoice(self, activity: Any, arg: Any) -> PostingResult | None:
        if await self._posts[0] is None:  # accounting has no invoice to attach it to
            return None
        return await self._post(activity, arg)

    async def settled(self) -> None:
        """Every post started so far has landed (or was refused and flagged)."""
        while True:
            posts = list(self._posts)
            await asyncio.gather(*posts)
            if len(posts) == len(self._posts):  # none started meanwhile
                return

    async def post_payment_now(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> None:
        await self._post_payment(invoice, payment, view)

    async def _post_invoice(self, invoice: InvoiceSnapshot) -> PostingResult | None:
        result = await self._post(
            AccountingActivities.post_invoice, PostInvoiceInput(invoice=invoice)
        )
        if result is not None:
            self.invoice_ref = result.external_id
        return result

    async def _post_payment(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> PostingResult | None:
        if await self._posts[0] is None:  # accounting has no invoice to attach it to
            return None
        result = await self._post(
            AccountingActivities.post_payment,
            PostPaymentInput(
                invoice=invoice,
                payment_id=payment.payment_id,
                amount_minor=payment.amount_minor,
                paid_at=payment.paid_at,
            ),
        )
        if result is not None:
            view.accounting_ref = result.external_id
        return result

    async def _post(self, activity: Any, arg: Any) -> PostingResult | None:
        """One post under the accounting options; a refusal is flagged and is None."""
        try:
            result: PostingResult = await workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.ACCOUNTING_RETRY,
            )
        except ActivityError as err:
            self._refused(err)
            return None
        return result

    def _refused(self, err: ActivityError) -> None:
        workflow.logger.error("accounting.refused", extra={"error": str(err.cause)})
        self._p.flag("accounting_refused")
