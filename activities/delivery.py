"""Issue and deliver: payment link at the provider, then the invoice e-mail over SMTP.

Each external call carries a key derived from the invoice id, so a retry after a crash
asks the provider for the same link and sends the e-mail with the same Message-ID.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.links import portal_view_url
from integrations.email import EmailSender
from integrations.errors import ProviderError
from integrations.payments import PaymentsClient
from rendering.invoice_email import render_invoice_email
from schemas.invoice import DeliverInvoiceInput, DeliverInvoiceResult
from schemas.tables import Delivery
from store import audit, invoices
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


def email_message_id(invoice_id: str, purpose: str) -> str:
    return f"<{invoice_id}.{purpose}@invoiceflow>"


def permanent(err: ProviderError) -> ApplicationError:
    return ApplicationError(
        f"{err.provider}: {err.detail}", type="PermanentDeliveryFailure", non_retryable=True
    )


class DeliveryActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        payments: PaymentsClient,
        email: EmailSender,
        *,
        mail_from: str,
        public_base_url: str,
        link_secret: str,
    ) -> None:
        self._sessions = sessions
        self._payments = payments
        self._email = email
        self._mail_from = mail_from
        self._public_base_url = public_base_url
        self._link_secret = link_secret

    @activity.defn(name="invoice.deliver")
    async def deliver_invoice(self, data: DeliverInvoiceInput) -> DeliverInvoiceResult:
        invoice = data.invoice
        try:
            link = await self._payments.create_link(
                idempotency_key=f"{invoice.invoice_id}:payment-link",
                reference=invoice.invoice_id,
                amount_minor=invoice.total_minor,
                currency=invoice.currency,
                description=f"Invoice {invoice.number}",
            )
        except ProviderError as err:
            if err.retryable:
                raise
            raise permanent(err) from err

        rendered = render_invoice_email(
            invoice,
            payment_url=link.url,
            view_url=portal_view_url(self._public_base_url, self._link_secret, invoice.invoice_id),
        )
        delivery_id = f"{invoice.invoice_id}:email:issue"
        try:
            await self._email.send(
                message_id=email_message_id(invoice.invoice_id, "issue"),
                sender=self._mail_from,
                to=[invoice.customer_email],
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
            )
        except ProviderError as err:
            if err.retryable:
                raise
            raise permanent(err) from err

        # one write for the link and the delivery: SQLite has a single writer, so fewer
        # write transactions per invoice is throughput
        async with transaction(self._sessions) as session:
            await invoices.set_payment_link(session, invoice.invoice_id, link.id, link.url)
            await insert_if_absent(
                session,
                Delivery,
                id=delivery_id,
                invoice_id=invoice.invoice_id,
                channel="email",
                recipient=invoice.customer_email,
                purpose="issue",
                status="sent",
                sent_at=datetime.now(UTC),
            )
            await audit.record(
                session,
                step_key=f"{invoice.invoice_id}:delivered:email",
                invoice_id=invoice.invoice_id,
                entity="delivery",
                action="invoice.delivered",
                actor="workflow",
                data={"channel": "email", "recipient": invoice.customer_email, "link": link.id},
            )
        log.info("delivery.sent", invoice_id=invoice.invoice_id, channel="email")
        return DeliverInvoiceResult(
            delivery_id=delivery_id,
            channel="email",
            recipient=invoice.customer_email,
            payment_link_id=link.id,
            payment_url=link.url,
        )
