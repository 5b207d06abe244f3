"""E-mails to the customer after the invoice went out: a resend asked for by a person, and a
receipt for each payment applied.

Each notice has a key (the resend's request id, the payment id) from which its Message-ID
and its delivery record derive (``activities.customer_messages``), so a retried attempt, or
a repeated request, sends the same message again at most as a duplicate the mailbox drops
(same Message-ID) and records it once; an attempt that finds its delivery recorded sends
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from activities.customer_messages import CustomerMessage, CustomerMessages
from activities.delivery import permanent
from activities.heartbeat import heartbeats
from core.links import portal_view_url
from integrations.email import EmailSender
from integrations.errors import ProviderError
from rendering.invoice_email import RenderedEmail, render_invoice_email
from rendering.receipt_email import render_receipt_email
from schemas.invoice import ResendInvoiceResult, SendNoticeInput
from store.db import SessionFactory


class NoticeActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        email: EmailSender,
        *,
        mail_from: str,
        public_base_url: str,
        link_secret: str,
    ) -> None:
        self._messages = CustomerMessages(sessions, email, mail_from=mail_from)
        self._public_base_url = public_base_url
        self._link_secret = link_secret

    @activity.defn(name="invoice.resend")
    @heartbeats
    async def resend_invoice(self, data: SendNoticeInput) -> ResendInvoiceResult:
        invoice = data.invoice
        rendered = render_invoice_email(
            invoice,
            payment_url=data.payment_url or "",
            view_url=portal_view_url(self._public_base_url, self._link_secret, invoice.invoice_id),
        )
        recipient = data.recipient or invoice.customer_email
        delivery_id = await self._send(data, "resend", recipient, rendered, "invoice.resent")
        return ResendInvoiceResult(delivery_id=delivery_id, recipient=recipient)

    # run as a local activity (one SMTP message on a kept session: milliseconds), which
    # cannot heartbeat
    @activity.defn(name="invoice.send_receipt")
    async def send_receipt(self, data: SendNoticeInput) -> str:
        invoice = data.invoice
        rendered = render_receipt_email(
            invoice,
            amount_minor=data.amount_minor,
            paid_minor=data.paid_minor,
            paid_on=(data.paid_at or datetime.now(UTC)).date(),
            payment_url=data.payment_url,
        )
        recipient = invoice.customer_email
        return await self._send(data, "receipt", recipient, rendered, "invoice.receipt_sent")

    async def _send(
        self,
        data: SendNoticeInput,
        purpose: str,
        recipient: str,
        rendered: RenderedEmail,
        action: str,
    ) -> str:
        message = CustomerMessage(
            invoice_id=data.invoice.invoice_id,
            purpose=purpose,
            key=data.key,
            action=action,
            actor=data.requested_by,
        )
        try:
            return await self._messages.email(message, recipient, rendered)
        except ProviderError as err:
            if err.retryable:
                raise
            raise permanent(err, data.payment_url) from err
