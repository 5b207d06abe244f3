"""Post the issued invoice and each payment to the accounting system, once each.

A retried step checks the posting row (``invoice:{id}`` / ``payment:{id}``) first, so it
does not even call out when an earlier attempt got as far as storing the answer. A first
attempt skips that read (there can be no row, unless an operator reset the workflow); the
provider dedupes on the Idempotency-Key in any case, which also covers a crash between
its answer and our insert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeats
from integrations.accounting import (
    AccountingClient,
    AccountingCustomer,
    AccountingInvoice,
    AccountingInvoiceLine,
    AccountingPayment,
    AccountingRef,
)
from integrations.errors import ProviderError
from schemas.invoice import InvoiceSnapshot, PostingResult, PostInvoiceInput, PostPaymentInput
from schemas.tables import AccountingPosting
from store import audit
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


def invoice_payload(invoice: InvoiceSnapshot) -> AccountingInvoice:
    return AccountingInvoice(
        reference=invoice.invoice_id,
        number=invoice.number,
        customer=AccountingCustomer(id=invoice.customer_id, name=invoice.customer_name),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        lines=[
            AccountingInvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                net_minor=line.net_minor,
                tax_category=line.tax_category.value,
            )
            for line in invoice.lines
        ],
        tax_lines=[tax.model_dump(mode="json") for tax in invoice.tax_lines],
    )


async def post_once(
    sessions: SessionFactory,
    *,
    key: str,
    invoice_id: str,
    kind: str,
    call: Callable[[], Awaitable[AccountingRef]],
) -> PostingResult:
    """Post to accounting once under `key` (its AccountingPosting row, audited).

    A retryable provider error is raised for Temporal to retry; a refusal becomes the
    non-retryable ``AccountingRejected``. The remedy activities post through this too.
    """
    if activity.info().attempt > 1:
        async with transaction(sessions, writes=False) as session:
            done = await session.get(AccountingPosting, key)
            if done is not None:
                return PostingResult(key=key, external_id=done.external_id)
    try:
        ref = await call()
    except ProviderError as err:
        if err.retryable:
            log.warning("accounting.retry", key=key, status=err.status, detail=err.detail)
            raise
        raise ApplicationError(
            f"accounting refused {key}: {err.detail}",
            type="AccountingRejected",
            non_retryable=True,
        ) from err
    async with transaction(sessions) as session:
        await insert_if_absent(
            session,
            AccountingPosting,
            key=key,
            invoice_id=invoice_id,
            kind=kind,
            external_id=ref.id,
            posted_at=datetime.now(UTC),
        )
        await audit.record(
            session,
            step_key=f"{invoice_id}:accounting:{key}",
            invoice_id=invoice_id,
            entity="accounting",
            action=f"accounting.{kind}_posted",
            actor="workflow",
            data={"external_id": ref.id},
        )
    log.info("accounting.posted", key=key, external_id=ref.id)
    return PostingResult(key=key, external_id=ref.id)


class AccountingActivities:
    def __init__(self, sessions: SessionFactory, client: AccountingClient) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name="accounting.post_invoice")
    @heartbeats
    async def post_invoice(self, data: PostInvoiceInput) -> PostingResult:
        invoice = data.invoice
        return await post_once(
            self._sessions,
            key=f"invoice:{invoice.invoice_id}",
            invoice_id=invoice.invoice_id,
            kind="invoice",
            call=lambda: self._client.post_invoice(
                idempotency_key=f"{invoice.invoice_id}:accounting-invoice",
                payload=invoice_payload(invoice),
            ),
        )

    @activity.defn(name="accounting.post_payment")
    @heartbeats
    async def post_payment(self, data: PostPaymentInput) -> PostingResult:
        return await post_once(
            self._sessions,
            key=f"payment:{data.payment_id}",
            invoice_id=data.invoice.invoice_id,
            kind="payment",
            call=lambda: self._client.post_payment(
                idempotency_key=f"{data.payment_id}:accounting-payment",
                payload=AccountingPayment(
                    reference=data.payment_id,
                    invoice_reference=data.invoice.invoice_id,
                    amount_minor=data.amount_minor,
                    currency=data.invoice.currency,
                    paid_at=data.paid_at,
                ),
            ),
        )
