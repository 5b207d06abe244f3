"""Issue and deliver: payment link at the provider, then the invoice by the customer's
channels in their order (`invoice.delivery.channel_order`, default the e-mail over SMTP,
then a text message with the links): the next channel when one refuses it for good, or
has been down longer than the outage limit (`activities.channels`); every try recorded.

Each external call carries a key derived from the invoice id, so a retry after a crash
asks the provider for the same link and sends with the same Message-ID or SMS key. A
retried attempt first looks for a delivery the earlier attempt recorded: if it got that
far, nothing is sent again; and it looks the payment link up at the provider by its key
before creating one (a provider's idempotency window ends; a look-up does not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import (
    ChannelAttempt,
    ChannelSend,
    Delivered,
    NotDelivered,
    failing_since,
    record_attempts,
    refused_before,
    send_in_order,
)
from activities.customer_credits import credits_taken, may_take_credit, take_credit
from activities.documents import DocumentIssuer
from activities.heartbeat import heartbeats
from core.links import portal_view_url
from integrations.email import Attachment, EmailSender
from integrations.errors import ProviderError
from integrations.payments import PaymentLink, PaymentsClient
from integrations.sms import SmsClient
from rendering.invoice_email import render_invoice_email, render_invoice_sms
from schemas.delivery import CHANNELS
from schemas.invoice import DeliverInvoiceInput, DeliverInvoiceResult, InvoiceSnapshot
from schemas.tables import Customer, Delivery, Invoice
from store import audit, invoices
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()

PURPOSE = "issue"  # the invoice's own message (delivery_attempts.purpose)


def email_message_id(invoice_id: str, purpose: str) -> str:
    return f"<{invoice_id}.{purpose}@invoiceflow>"


def permanent(
    err: ProviderError,
    payment_url: str | None = None,
    invoice: InvoiceSnapshot | None = None,
    tried: list[str] | None = None,
) -> ApplicationError:
    """A failure no retry cures. Its details carry the payment link when one exists, so the
    invoice keeps it (operations can give it to the customer another way), the account
    credit the invoice took, which stays taken, and the channels tried."""
    credits = [c.model_dump() for c in invoice.credits_applied] if invoice else []
    return ApplicationError(
        f"{err.provider}: {err.detail}",
        {"payment_url": payment_url, "credits_applied": credits, "tried": tried or []},
        type="PermanentDeliveryFailure",
        non_retryable=True,
    )


def described(attempts: list[ChannelAttempt]) -> list[str]:
    """The tries as operations read them: "email: refused (550 no such mailbox)"."""
    return [f"{a.channel}: {a.outcome}" + (f" ({a.detail})" if a.detail else "") for a in attempts]


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
        outage_limit: timedelta = timedelta(minutes=30),
    ) -> None:
        self._sessions = sessions
        self._payments = payments
        self._email = email
        self._sms = sms
        self._mail_from = mail_from
        self._public_base_url = public_base_url
        self._link_secret = link_secret
        self._documents = documents
        # a channel failing this long since the delivery's first attempt: the next one
        self._outage_limit = outage_limit

    @activity.defn(name="invoice.deliver")
    @heartbeats
    async def deliver_invoice(self, data: DeliverInvoiceInput) -> DeliverInvoiceResult:
        invoice = data.invoice
        attempt = activity.info().attempt
        given_up: set[str] = set()
        if attempt > 1:
            done = await self._delivered_before(invoice.invoice_id)
            if done is not None:
                return done
            async with transaction(self._sessions, writes=False) as session:
                given_up = await refused_before(session, invoice.invoice_id, PURPOSE)
        invoice, customer = await self._with_account_credit(invoice)
        attachments = await self._attachments(invoice, customer)
        link = await self._payment_link(invoice)
        view_url = portal_view_url(self._public_base_url, self._link_secret, invoice.invoice_id)
        rendered = render_invoice_email(
            invoice, payment_url=link.url if link else None, view_url=view_url
        )

        async def send_email() -> None:
            await self._email.send(
                message_id=email_message_id(invoice.invoice_id, "issue"),
                sender=self._mail_from,
                to=[invoice.customer_email],
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                attachments=attachments,
            )

        async def send_text() -> None:
            assert invoice.customer_phone
            await self._sms.send(
                idempotency_key=f"{invoice.invoice_id}:sms:issue",
                to=invoice.customer_phone,
                body=sms_text(invoice, link.url if link else view_url),
                reference=invoice.invoice_id,
            )

        try:
            delivered = await send_in_order(
                invoice.delivery.channel_order,
                {
                    "email": ChannelSend(invoice.customer_email, send_email),
                    "sms": ChannelSend(invoice.customer_phone, send_text),
                },
                failing_since=failing_since(),
                outage_limit=self._outage_limit,
                given_up=given_up,
                kind="invoice",
            )
        except NotDelivered as failed:
            await self._record_failure(invoice, link, failed, attempt)
            if failed.retryable:
                raise failed.error from failed
            # no channel left: the invoice stays collectable and keeps its link
            url = link.url if link else None
            raise permanent(failed.error, url, invoice, described(failed.attempts)) from failed

        channel, recipient = delivered.channel, delivered.recipient
        await self._record_delivery(invoice, link, delivered, attempt)
        fallbacks = described([a for a in delivered.attempts if a.outcome != "sent"])
        if fallbacks:
            log.warning("delivery.fallback", invoice_id=invoice.invoice_id, tried=fallbacks)
        log.info("delivery.sent", invoice_id=invoice.invoice_id, channel=channel)
        return DeliverInvoiceResult(
            delivery_id=f"{invoice.invoice_id}:{channel}:issue",
            channel=channel,
            recipient=recipient,
            payment_link_id=link.id if link else None,
            payment_url=link.url if link else None,
            credits_applied=invoice.credits_applied,
            fallbacks=fallbacks,
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
        key = f"{invoice.invoice_id}:payment-link"
        try:
            if activity.info().attempt > 1:
                # the last attempt may have made it and lost the answer: ask by its key
                # before creating, since the provider may have forgotten the key by now
                found = await self._payments.find_link(key)
                if found is not None:
                    log.info("delivery.payment_link_found", invoice_id=invoice.invoice_id)
                    return found
            return await self._payments.create_link(
                idempotency_key=key,
                reference=invoice.invoice_id,
                amount_minor=invoice.amount_due_minor,
                currency=invoice.currency,
                description=f"Invoice {invoice.number}",
            )
        except ProviderError as err:
            if err.retryable:
                raise
            raise permanent(err) from err

    async def _record_delivery(
        self, invoice: InvoiceSnapshot, link: PaymentLink | None, sent: Delivered, attempt: int
    ) -> None:
        """One write for the link, the delivery and its channels' tries: SQLite has a
        single writer, so fewer write transactions per invoice is throughput."""
        channel, recipient = sent.channel, sent.recipient
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
            await record_attempts(session, invoice.invoice_id, PURPOSE, attempt, sent.attempts)
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
        self,
        invoice: InvoiceSnapshot,
        link: PaymentLink | None,
        failed: NotDelivered,
        attempt: int,
    ) -> None:
        """This try's channels; and when no channel is left (not retryable), keep the
        link and say why in the audit: no message reached the customer."""
        failure = failed.error
        async with transaction(self._sessions) as session:
            await record_attempts(session, invoice.invoice_id, PURPOSE, attempt, failed.attempts)
            if failed.retryable:
                return
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
            for channel in CHANNELS:
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
