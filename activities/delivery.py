"""Issue and deliver: payment link at the provider, then the invoice e-mail over SMTP,
or a text message with the links when the customer's mailbox refuses it for good.

Each external call carries a key derived from the invoice id, so a retry after a crash
asks the provider for the same link and sends with the same Message-ID or SMS key. A
retried attempt first looks for a delivery the earlier attempt recorded: if it got that
far, nothing is sent again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.customer_credits import credits_taken, may_take_credit, take_credit
from activities.documents import DocumentIssuer
from activities.heartbeat import heartbeats
from core.links import portal_view_url
from integrations.email import Attachment, EmailSender
from integrations.errors import ProviderError
from integrations.payments import PaymentLink, PaymentsClient
from integrations.sms import SmsClient
from rendering.invoice_email import render_invoice_email, render_invoice_sms
from schemas.invoice import DeliverInvoiceInput, DeliverInvoiceResult, InvoiceSnapshot
from schemas.tables import Customer, Delivery, Invoice
from store import audit, invoices
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


def email_message_id(invoice_id: str, purpose: str) -> str:
    return f"<{invoice_id}.{purpose}@invoiceflow>"


def permanent(
    err: ProviderError, payment_url: str | None = None, invoice: InvoiceSnapshot | None = None
) -> ApplicationError:
    """A failure no retry cures. Its details carry the payment link when one exists, so the
    invoice keeps it (operations can give it to the customer another way), and the account
    credit the invoice took, which stays taken."""
    credits = [c.model_dump() for c in invoice.credits_applied] if invoice else []
    return ApplicationError(
        f"{err.provider}: {err.detail}",
        {"payment_url": payment_url, "credits_applied": credits},
        type="PermanentDeliveryFailure",
        non_retryable=True,
    )


def sms_text(invoice: InvoiceSnapshot, payment_url: str) -> str:
    """Short, plain, one link: what fits a text message (in the customer's language)."""
    return render_invoice_sms(invoice, payment_url=payment_url)


class DeliveryActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        payments: PaymentsClient,
        email: EmailSender,
        sms: SmsClient,
        *,
        mail_from: str,
        public_base_url: str,
        link_secret: str,
        documents: DocumentIssuer | None = None,
    ) -> None:
        self._sessions = sessions
        self._payments = payments
        self._email = email
        self._sms = sms
        self._mail_from = mail_from
        self._public_base_url = public_base_url
        self._link_secret = link_secret
        self._documents = documents

    @activity.defn(name="invoice.deliver")
    @heartbeats
    async def deliver_invoice(self, data: DeliverInvoiceInput) -> DeliverInvoiceResult:
        invoice = data.invoice
        if activity.info().attempt > 1:
            done = await self._delivered_before(invoice.invoice_id)
            if done is not None:
                return done
        invoice, customer = await self._with_account_credit(invoice)
        attachments = await self._attachments(invoice, customer)
        link = await self._payment_link(invoice)
        view_url = portal_view_url(self._public_base_url, self._link_secret, invoice.invoice_id)
        rendered = render_invoice_email(
            invoice, payment_url=link.url if link else None, view_url=view_url
        )
        channel, recipient = "email", invoice.customer_email
        try:
            await self._email.send(
                message_id=email_message_id(invoice.invoice_id, "issue"),
                sender=self._mail_from,
                to=[invoice.customer_email],
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                attachments=attachments,
            )
        except ProviderError as bounced:
            if bounced.retryable:
                raise
            try:
                channel, recipient = await self._text(
                    invoice, link.url if link else view_url, bounced
                )
            except ProviderError as failure:
                if failure.retryable:
                    raise
                # no channel left: the invoice stays collectable and keeps its link
                await self._record_failure(invoice, link, failure)
                raise permanent(failure, link.url if link else None, invoice) from failure

        await self._record_delivery(invoice, link, channel, recipient)
        log.info("delivery.sent", invoice_id=invoice.invoice_id, channel=channel)
        return DeliverInvoiceResult(
            delivery_id=f"{invoice.invoice_id}:{channel}:issue",
            channel=channel,
            recipient=recipient,
            payment_link_id=link.id if link else None,
            payment_url=link.url if link else None,
            credits_applied=invoice.credits_applied,
        )

    async def _with_account_credit(
        self, invoice: InvoiceSnapshot
    ) -> tuple[InvoiceSnapshot, Customer | None]:
        """The invoice as sent: less the credit on the customer's account (what an earlier
        attempt took, or taken now); and its customer's record. A read first, so an invoice
        without any credit to take costs no write transaction (SQLite has one writer)."""
        async with transaction(self._sessions, writes=False) as session:
            customer = await session.get(Customer, invoice.customer_id)
            if not await may_take_credit(session, invoice):
                return invoice, customer
        async with transaction(self._sessions) as session:
            credits = await take_credit(session, invoice)
        return invoice.model_copy(update={"credits_applied": credits}), customer

    async def _attachments(
        self, invoice: InvoiceSnapshot, customer: Customer | None
    ) -> list[Attachment]:
        """The invoice's PDF (and e-invoice) for the e-mail, each issued once. A document
        that cannot be made must not hold the invoice back: it goes without, logged, and
        the PDF can still be downloaded once the fault is mended."""
        if self._documents is None:
            return []
        try:
            issued = await self._documents.for_delivery(invoice, customer)
        except Exception:
            log.exception("delivery.documents_failed", invoice_id=invoice.invoice_id)
            return []
        return [Attachment(d.filename, d.media_type, d.content) for d in issued]

    async def _payment_link(self, invoice: InvoiceSnapshot) -> PaymentLink | None:
        """The link for what the invoice asks the customer to pay; none when credit on
        the customer's account covers it all."""
        if invoice.amount_due_minor <= 0:
            return None
        try:
            return await self._payments.create_link(
                idempotency_key=f"{invoice.invoice_id}:payment-link",
                reference=invoice.invoice_id,
                amount_minor=invoice.amount_due_minor,
                currency=invoice.currency,
                description=f"Invoice {invoice.number}",
            )
        except ProviderError as err:
            if err.retryable:
                raise
            raise permanent(err) from err

    async def _text(
        self, invoice: InvoiceSnapshot, url: str, bounced: ProviderError
    ) -> tuple[str, str]:
        """The fallback: the links by SMS, when the mailbox refused the e-mail for good.
        Raises the e-mail's refusal when there is no phone, one naming both refusals when
        the SMS is refused too."""
        if not invoice.customer_phone:
            raise bounced
        log.warning("delivery.email_refused", invoice_id=invoice.invoice_id, detail=bounced.detail)
        try:
            await self._sms.send(
                idempotency_key=f"{invoice.invoice_id}:sms:issue",
                to=invoice.customer_phone,
                body=sms_text(invoice, url),
                reference=invoice.invoice_id,
            )
        except ProviderError as err:
            if err.retryable:
                raise
            detail = f"e-mail: {bounced.detail}; sms: {err.detail}"
            raise ProviderError("email+sms", err.status, detail, retryable=False) from err
        return "sms", invoice.customer_phone

    async def _record_delivery(
        self, invoice: InvoiceSnapshot, link: PaymentLink | None, channel: str, recipient: str
    ) -> None:
        """One write for the link and the delivery: SQLite has a single writer, so fewer
        write transactions per invoice is throughput."""
        async with transaction(self._sessions) as session:
            if link is not None:
                await invoices.set_payment_link(session, invoice.invoice_id, link.id, link.url)
            await insert_if_absent(
                session,
                Delivery,
                id=f"{invoice.invoice_id}:{channel}:issue",
                invoice_id=invoice.invoice_id,
                channel=channel,
                recipient=recipient,
                purpose="issue",
                status="sent",
                sent_at=datetime.now(UTC),
            )
            await audit.record(
                session,
                step_key=f"{invoice.invoice_id}:delivered:{channel}",
                invoice_id=invoice.invoice_id,
                entity="delivery",
                action="invoice.delivered",
                actor="workflow",
                data={"channel": channel, "recipient": recipient, "link": link and link.id},
            )

    async def _record_failure(
        self, invoice: InvoiceSnapshot, link: PaymentLink | None, failure: ProviderError
    ) -> None:
        """No message reached the customer: keep the link, and say why in the audit."""
        async with transaction(self._sessions) as session:
            if link is not None:
                await invoices.set_payment_link(session, invoice.invoice_id, link.id, link.url)
            await audit.record(
                session,
                step_key=f"{invoice.invoice_id}:delivery_failed",
                invoice_id=invoice.invoice_id,
                entity="delivery",
                action="invoice.delivery_failed",
                actor="workflow",
                data={
                    "provider": failure.provider,
                    "detail": failure.detail,
                    "link": link and link.id,
                },
            )

    async def _delivered_before(self, invoice_id: str) -> DeliverInvoiceResult | None:
        """What an earlier attempt delivered and recorded, if it got that far."""
        async with transaction(self._sessions, writes=False) as session:
            for channel in ("email", "sms"):
                done = await session.get(Delivery, f"{invoice_id}:{channel}:issue")
                if done is None:
                    continue
                row = await session.get(Invoice, invoice_id)
                assert row is not None
                log.info("delivery.already_sent", invoice_id=invoice_id, channel=channel)
                return DeliverInvoiceResult(
                    delivery_id=done.id,
                    channel=done.channel,
                    recipient=done.recipient,
                    payment_link_id=row.payment_link_id,
                    payment_url=row.payment_url,
                    credits_applied=await credits_taken(session, invoice_id),
                )
        return None
