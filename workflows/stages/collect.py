"""The collection stage: payments until the balance is settled, each recorded, posted to
accounting and acknowledged with a receipt; OVERDUE after the due date.

Payments arrive as the `payment_received` signal (the provider's webhook, or an operator),
or are found by asking the provider (`workflows.stages.payment_check`: a webhook that never
came). A duplicate payment id is ignored; a payment the invoice cannot take (another
currency, no positive amount) is kept in view and flagged, never applied or dropped; what
a payment brings beyond the balance is kept as credit on the customer's account.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.customer_credits import CustomerCreditActivities
    from activities.disputes import DisputeActivities
    from activities.notices import NoticeActivities
    from activities.store import InvoiceStoreActivities
    from schemas.dispute_flow import TrackPlanInput
    from schemas.invoice import (
        InvoiceSnapshot,
        InvoiceStatus,
        PaymentReceived,
        PaymentView,
        RecordPaymentInput,
        RefusedPayment,
        SendNoticeInput,
    )
    from schemas.payment_checks import KeepOverpaymentInput
    from workflows import options
    from workflows.process import InvoiceProcess
    from workflows.stages.payment_check import PaymentChecker
    from workflows.stages.post import AccountingStage


class CollectionStage:
    def __init__(self, process: InvoiceProcess, accounting: AccountingStage) -> None:
        self._p = process
        self._accounting = accounting
        self.pending: list[PaymentReceived] = []
        self._seen_payment_ids: set[str] = set()
        self.payments: dict[str, PaymentView] = {}
        self.refused: list[RefusedPayment] = []
        self._receipts: list[asyncio.Future[Any]] = []  # sent in the background
        self.checks = PaymentChecker(process, self.received)  # payments the webhook lost

    # --- the stage -----------------------------------------------------------------------

    async def run(self, invoice: InvoiceSnapshot) -> None:
        """Apply payments until the balance is settled; mark OVERDUE after the due date.

        While a dispute is open its amount is not due: the invoice shows DISPUTED, the
        rest is still collected, and it is marked OVERDUE only once no dispute is open
        and an undisputed part is unpaid after the due date. Under a payment plan each
        instalment has its own due date: OVERDUE while one is unpaid after its date, and
        back to PARTIALLY_PAID once the payments catch up."""
        p = self._p
        self.checks.start()
        while p.balance() > 0 or self.pending:
            if self.pending:
                payment = self.pending.pop(0)
                # arrived before the invoice existed, so the signal could not check it
                refusal = self._refusal(payment)
                if refusal:
                    self._refuse(payment, refusal)
                    continue
                view = await self._apply(invoice, payment)
                self._accounting.post_payment(invoice, payment, view)
                await self._keep_overpayment(invoice, payment)
                await self._plan_caught_up()
                continue
            if self.checks.due():
                await self.checks.run(invoice)
                continue
            p.waits_for("payment")
            past_due = workflow.now() >= p.overdue_from()
            if p.late or (past_due and not self._may_be_overdue()):
                timeout = options.OVERDUE_RECHECK
            else:
                timeout = max(p.overdue_from() - workflow.now(), timedelta(seconds=1))
            timeout = self.checks.bound(timeout)  # one timer: a check due first shortens it
            seen, claims = p.adjustments, self.checks.claims

            def moved(seen: int = seen, claims: int = claims) -> bool:
                return bool(self.pending) or p.adjustments != seen or self.checks.claims != claims

            try:
                await workflow.wait_condition(moved, timeout=timeout)
            except TimeoutError:
                past_due = workflow.now() >= p.overdue_from()  # else it woke for a check
                if past_due and not p.late and self._may_be_overdue():
                    step = "overdue" if p.plan is None else f"overdue:{p.overdue_from().date()}"
                    await p.store_status(InvoiceStatus.OVERDUE, step)
                    p.set_status(InvoiceStatus.OVERDUE)
                    await self._track_plan()

    async def _plan_caught_up(self) -> None:
        """Under a payment plan: record what each instalment has been paid, and leave
        OVERDUE once no instalment is unpaid after its date."""
        p = self._p
        if p.plan is None:
            return
        positions = await self._track_plan()
        if p.late and p.balance() > 0:
            if not any(position.status == "overdue" for position in positions):
                await p.store_status(InvoiceStatus.PARTIALLY_PAID, f"plan-caught-up:{p.paid_minor}")
                p.set_status(InvoiceStatus.PARTIALLY_PAID)

    async def _track_plan(self) -> list[Any]:
        p = self._p
        if p.plan is None or p.invoice is None:
            return []
        positions = p.plan_positions()
        await workflow.execute_local_activity_method(
            DisputeActivities.track_plan,
            TrackPlanInput(
                invoice_id=p.invoice.invoice_id,
                dispute_id=p.plan.dispute_id,
                positions=[(x.sequence, x.paid_minor, x.status) for x in positions],
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        return positions

    def _may_be_overdue(self) -> bool:
        """No dispute is open, and something is still to pay."""
        return not self._p.disputed_minor and self._p.undisputed_balance() > 0

    async def after_close(self, invoice: InvoiceSnapshot) -> None:
        """Paid again while closing: recorded and posted, never lost; then the last
        receipts go out before the process ends."""
        while self.pending:
            payment = self.pending.pop(0)
            view = await self._apply(invoice, payment)
            await self._accounting.post_payment_now(invoice, payment, view)
            await self._keep_overpayment(invoice, payment)
        await asyncio.gather(*self._receipts)

    async def _keep_overpayment(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> None:
        """A payment beyond the balance: the excess (never more than the payment) is kept
        as credit on the customer's account, recorded against this payment, and taken off
        the customer's next invoice; it can be refunded on request. While a dispute is
        open its remedy settles the balance instead (a credit note may move it)."""
        p = self._p
        excess = min(-p.balance(), payment.amount_minor)
        if excess <= 0 or p.disputed_minor:
            return
        await workflow.execute_local_activity_method(
            CustomerCreditActivities.keep_overpayment,
            KeepOverpaymentInput(
                invoice_id=invoice.invoice_id,
                customer_id=invoice.customer_id,
                payment_id=payment.payment_id,
                currency=invoice.currency,
                amount_minor=excess,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        p.credit_carried_minor += excess
        p.set_status(p.status)  # AmountDue back to zero

    async def _apply(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> PaymentView:
        recorded = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.record_payment,
            RecordPaymentInput(invoice_id=invoice.invoice_id, payment=payment),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._p.paid_minor = recorded.paid_minor
        for listener in self._p.on_payment:
            listener()
        view = self.payments[payment.payment_id] = PaymentView(
            payment_id=payment.payment_id,
            amount_minor=payment.amount_minor,
            paid_at=payment.paid_at,
        )
        disputed = self._p.disputed_minor > 0  # the invoice shows DISPUTED while one is open
        self._p.set_status(InvoiceStatus.DISPUTED if disputed else recorded.status)
        self._receipts.append(asyncio.ensure_future(self._send_receipt(invoice, payment)))
        return view

    async def _send_receipt(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> None:
        """A short receipt for one payment: the amount and the balance after it. A mailbox
        refusing it for good is logged, never a failed invoice.

        A local activity, started in the task that recorded the payment: its marker is one
        history event, and it needs no workflow task of its own (as an ordinary activity it
        cost the happy path five events). The message's Message-ID and delivery record make
        a re-run after a worker crash send it at most once more, as a duplicate the mailbox
        drops."""
        try:
            await workflow.execute_local_activity_method(
                NoticeActivities.send_receipt,
                SendNoticeInput(
                    invoice=invoice,
                    payment_url=self._p.payment_url,
                    key=payment.payment_id,
                    amount_minor=payment.amount_minor,
                    paid_minor=self._p.paid_minor,
                    paid_at=payment.paid_at,
                ),
                start_to_close_timeout=options.RECEIPT_TIMEOUT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            # a local activity's failure comes as its ApplicationError itself, not wrapped
            cause = err.cause if isinstance(err, ActivityError) else err
            workflow.logger.warning("invoice.receipt_failed", extra={"error": str(cause)})

    # --- the signal ----------------------------------------------------------------------

    def received(self, payment: PaymentReceived) -> None:
        if payment.payment_id in self._seen_payment_ids:
            return
        self._seen_payment_ids.add(payment.payment_id)
        refusal = self._refusal(payment)
        if refusal is not None and self._p.invoice is not None:
            workflow.logger.warning(
                "invoice.payment_refused",
                extra={"payment_id": payment.payment_id, "reason": refusal},
            )
            self._refuse(payment, refusal)
            return
        self.pending.append(payment)

    def _refusal(self, payment: PaymentReceived) -> str | None:
        """Why this payment cannot be applied to the invoice, or None (it can, or the
        invoice does not exist yet and it is checked when applied)."""
        invoice = self._p.invoice
        if payment.amount_minor <= 0:
            return f"the amount {payment.amount_minor} is not positive"
        if invoice is not None and payment.currency != invoice.currency:
            return f"paid in {payment.currency}, the invoice is in {invoice.currency}"
        return None

    def _refuse(self, payment: PaymentReceived, reason: str) -> None:
        """Keep it in view and flag the invoice: the money is at the provider, and a person
        must refund it or apply it by hand."""
        self.refused.append(
            RefusedPayment(
                payment_id=payment.payment_id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                paid_at=payment.paid_at,
                source=payment.source,
                reason=reason,
            )
        )
        self._p.flag("payment_refused")
