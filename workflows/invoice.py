"""The invoice workflow: one customer invoice from generation to close.

generate + number (local activity) -> deliver: payment link + e-mail (activity)
-> post to accounting (activity, in the background) -> wait for payments (signals),
OVERDUE after the due date -> PAID -> wait for every accounting post -> CLOSED.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.accounting import AccountingActivities
    from activities.delivery import DeliveryActivities
    from activities.store import InvoiceStoreActivities
    from domain.money import format_amount
    from schemas import search_attributes as sa
    from schemas.invoice import (
        CreateInvoiceInput,
        DeliverInvoiceInput,
        InvoiceResult,
        InvoiceSnapshot,
        InvoiceState,
        InvoiceStatus,
        PaymentReceived,
        PaymentView,
        PostingResult,
        PostInvoiceInput,
        PostPaymentInput,
        RecordPaymentInput,
        SetStatusInput,
        StartInvoiceInput,
    )
    from workflows import options


def overdue_at(invoice: InvoiceSnapshot) -> datetime:
    """An invoice is overdue from 00:00 UTC on the day after its due date."""
    return datetime.combine(invoice.due_date + timedelta(days=1), time.min, tzinfo=UTC)


@workflow.defn(name="Invoice")
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, request: StartInvoiceInput) -> None:
        self._request = request
        self._status = InvoiceStatus.PENDING
        self._invoice: InvoiceSnapshot | None = None
        self._paid_minor = 0
        self._pending: list[PaymentReceived] = []
        self._seen_payment_ids: set[str] = set()
        self._payments: dict[str, PaymentView] = {}
        self._waiting_for: str | None = "invoice generation"
        self._rejection: str | None = None
        self._payment_url: str | None = None
        self._accounting_invoice_ref: str | None = None

    # --- the process -------------------------------------------------------------

    @workflow.run
    async def run(self, request: StartInvoiceInput) -> InvoiceResult:
        issue_date = request.issue_date or workflow.now().date()
        created = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.create_invoice,
            CreateInvoiceInput(request=request, issue_date=issue_date),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        if created.invoice is None:
            return self._rejected(created.rejection_code or "rejected", created.rejection_reason)

        invoice = self._invoice = created.invoice
        self._set_status(InvoiceStatus.ISSUED, number=invoice.number)
        self._waiting_for = "delivery to the customer"
        self._update_details()
        await self._deliver(invoice)

        # postings[0] is the invoice's own post; payment posts wait for it
        postings: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._post_invoice(invoice))]
        while True:
            await self._collect(invoice, postings)
            self._waiting_for = "accounting posts"
            self._update_details()
            await asyncio.gather(*postings)
            if not self._pending:  # a payment that arrived meanwhile is applied, not lost
                break
        await self._set_stored_status(InvoiceStatus.CLOSED, "close")
        self._set_status(InvoiceStatus.CLOSED)
        self._waiting_for = None
        self._update_details()
        return InvoiceResult(
            invoice_id=request.invoice_id,
            status=self._status,
            number=invoice.number,
            paid_minor=self._paid_minor,
        )

    async def _deliver(self, invoice: InvoiceSnapshot) -> None:
        try:
            delivered = await workflow.execute_activity_method(
                DeliveryActivities.deliver_invoice,
                DeliverInvoiceInput(invoice=invoice),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            # A permanent failure (e.g. the mailbox does not exist) must not lose the
            # invoice: it stays issued and collectable, flagged for operations.
            workflow.logger.warning("invoice.delivery_failed", extra={"error": str(err.cause)})
            workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set("delivery_failed")])
            return
        self._payment_url = delivered.payment_url

    async def _post_invoice(self, invoice: InvoiceSnapshot) -> PostingResult | None:
        try:
            result = await workflow.execute_activity_method(
                AccountingActivities.post_invoice,
                PostInvoiceInput(invoice=invoice),
                start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                retry_policy=options.ACCOUNTING_RETRY,
            )
        except ActivityError as err:
            self._accounting_refused(err)
            return None
        self._accounting_invoice_ref = result.external_id
        return result

    def _accounting_refused(self, err: ActivityError) -> None:
        # Outages are retried without limit; only a refusal (bad data) ends up here, and it
        # needs a person: flag it for operations rather than fail the invoice process.
        workflow.logger.error("accounting.refused", extra={"error": str(err.cause)})
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set("accounting_refused")])

    async def _post_payment(
        self,
        invoice: InvoiceSnapshot,
        payment: PaymentReceived,
        invoice_posted: asyncio.Future[Any],
    ) -> PostingResult | None:
        if await invoice_posted is None:  # accounting has no invoice to attach the payment to
            return None
        try:
            result = await workflow.execute_activity_method(
                AccountingActivities.post_payment,
                PostPaymentInput(
                    invoice=invoice,
                    payment_id=payment.payment_id,
                    amount_minor=payment.amount_minor,
                    paid_at=payment.paid_at,
                ),
                start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                retry_policy=options.ACCOUNTING_RETRY,
            )
        except ActivityError as err:
            self._accounting_refused(err)
            return None
        self._payments[payment.payment_id].accounting_ref = result.external_id
        return result

    async def _collect(self, invoice: InvoiceSnapshot, postings: list[asyncio.Future[Any]]) -> None:
        """Apply payments until the balance is settled; mark OVERDUE after the due date."""
        while self._paid_minor < invoice.total_minor or self._pending:
            if self._pending:
                payment = self._pending.pop(0)
                await self._apply_payment(invoice, payment)
                postings.append(
                    asyncio.ensure_future(self._post_payment(invoice, payment, postings[0]))
                )
                continue
            self._waiting_for = "payment"
            self._update_details()
            if self._status == InvoiceStatus.OVERDUE:
                timeout = options.OVERDUE_RECHECK
            else:
                timeout = max(overdue_at(invoice) - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=timeout)
            except TimeoutError:
                if self._status != InvoiceStatus.OVERDUE:
                    await self._set_stored_status(InvoiceStatus.OVERDUE, "overdue")
                    self._set_status(InvoiceStatus.OVERDUE)

    async def _apply_payment(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> None:
        recorded = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.record_payment,
            RecordPaymentInput(invoice_id=invoice.invoice_id, payment=payment),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._paid_minor = recorded.paid_minor
        self._payments[payment.payment_id] = PaymentView(
            payment_id=payment.payment_id,
            amount_minor=payment.amount_minor,
            paid_at=payment.paid_at,
        )
        self._set_status(recorded.status)

    async def _set_stored_status(self, status: InvoiceStatus, step: str) -> None:
        await workflow.execute_local_activity_method(
            InvoiceStoreActivities.set_status,
            SetStatusInput(invoice_id=self._request.invoice_id, status=status, step_key=step),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )

    def _rejected(self, code: str, reason: str | None) -> InvoiceResult:
        self._rejection = reason
        self._waiting_for = None
        self._set_status(InvoiceStatus.REJECTED)
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set(code)])
        workflow.set_current_details(f"**Rejected**: {reason}")
        return InvoiceResult(
            invoice_id=self._request.invoice_id,
            status=InvoiceStatus.REJECTED,
            rejection_reason=reason,
        )

    # --- Temporal UI: search attributes and details ------------------------------

    def _set_status(self, status: InvoiceStatus, number: str | None = None) -> None:
        self._status = status
        updates: list[SearchAttributeUpdate[Any]] = [sa.INVOICE_STATUS.value_set(status.value)]
        if self._invoice is not None:
            updates.append(sa.AMOUNT_DUE.value_set(self._balance()))
        if number is not None and self._invoice is not None:
            updates += [
                sa.INVOICE_NUMBER.value_set(number),
                sa.CURRENCY.value_set(self._invoice.currency),
                sa.DUE_DATE.value_set(
                    datetime.combine(self._invoice.due_date, time.min, tzinfo=UTC)
                ),
            ]
        workflow.upsert_search_attributes(updates)

    def _balance(self) -> int:
        return (self._invoice.total_minor - self._paid_minor) if self._invoice else 0

    def _update_details(self) -> None:
        invoice = self._invoice
        if invoice is None:
            workflow.set_current_details(f"Waiting for: {self._waiting_for}")
            return
        head = (
            f"**{invoice.number}** · {invoice.customer_name} · "
            f"{format_amount(invoice.total_minor, invoice.currency)} · {self._status.value}"
        )
        due = f"due {invoice.due_date.isoformat()}"
        balance = f"balance {format_amount(self._balance(), invoice.currency)}"
        if self._waiting_for == "payment":
            until = (
                f"overdue since {overdue_at(invoice).date().isoformat()}; next check "
                if self._status == InvoiceStatus.OVERDUE
                else "until "
            )
            deadline = workflow.now() + options.OVERDUE_RECHECK
            when = deadline if self._status == InvoiceStatus.OVERDUE else overdue_at(invoice)
            waits = (
                f"Waiting for payment from {invoice.customer_name} ({balance}, {due}), "
                f"{until}{when:%Y-%m-%d %H:%M} UTC"
            )
        elif self._waiting_for:
            waits = f"Waiting for: {self._waiting_for} ({balance}, {due})"
        else:
            waits = f"Closed ({balance})"
        workflow.set_current_details(f"{head}\n\n{waits}")

    # --- signals and queries -----------------------------------------------------

    @workflow.signal(name="payment_received")
    def payment_received(self, payment: PaymentReceived) -> None:
        """A payment from the provider's webhook; duplicates (same payment id) are ignored."""
        if payment.payment_id in self._seen_payment_ids:
            return
        if self._invoice is not None and payment.currency != self._invoice.currency:
            workflow.logger.warning(
                "invoice.payment_currency_mismatch", extra={"payment_id": payment.payment_id}
            )
            return
        self._seen_payment_ids.add(payment.payment_id)
        self._pending.append(payment)

    @workflow.query(name="state")
    def state(self) -> InvoiceState:
        invoice = self._invoice
        return InvoiceState(
            invoice_id=self._request.invoice_id,
            status=self._status,
            number=invoice.number if invoice else None,
            customer_id=self._request.customer_id,
            currency=invoice.currency if invoice else self._request.currency,
            total_minor=invoice.total_minor if invoice else None,
            paid_minor=self._paid_minor,
            balance_minor=self._balance() if invoice else None,
            due_date=invoice.due_date if invoice else None,
            waiting_for=self._waiting_for,
            rejection_reason=self._rejection,
            payment_url=self._payment_url,
            accounting_invoice_ref=self._accounting_invoice_ref,
            payments=list(self._payments.values()),
        )
