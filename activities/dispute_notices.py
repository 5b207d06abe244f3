"""What the customer receives about a dispute: the acknowledgement, an information request,
a proposed remedy and the resolution, by e-mail, and by SMS where that is the customer's
channel.

The customer's channel: there is no stored preference, so it is read from what reached
them. A customer whose invoice went out by SMS (their mailbox refused it for good, see
``activities.delivery``) or who has no e-mail address gets the SMS too; a mailbox that
refuses the dispute e-mail for good falls back to SMS, as the invoice e-mail does. The
e-mail still goes wherever there is an address, as it carries the whole notice.

Each notice is sent at most once per channel for its key (``activities.customer_messages``:
delivery records, a stable Message-ID and SMS idempotency key), across retries and crashes.
A customer no channel reaches is audited and reported as ``"none"``: the dispute goes on,
and its portal page shows the same news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import structlog
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.customer_messages import CustomerMessage, CustomerMessages
from activities.documents import DocumentIssuer
from activities.heartbeat import heartbeats
from core.links import portal_view_token
from integrations.email import Attachment, EmailSender
from integrations.errors import ProviderError
from integrations.sms import SmsClient
from rendering.dispute_email import DisputeReader, render_dispute_email, render_dispute_sms
from schemas.dispute_notices import DisputeCustomerNotice
from schemas.dispute_tables import CreditNoteRow
from schemas.tables import Customer, Delivery, Invoice
from store import audit
from store.db import SessionFactory, transaction

log = structlog.get_logger()


def dispute_portal_url(base_url: str, secret: str, invoice_id: str, dispute_id: str) -> str:
    """The dispute's page in the portal, signed with the invoice's view token."""
    token = portal_view_token(secret, invoice_id)
    return (
        f"{base_url.rstrip('/')}/portal/invoices/{invoice_id}/disputes/{dispute_id}?token={token}"
    )


def scoped_key(data: DisputeCustomerNotice) -> str:
    """The notice's key within its dispute: two disputes on one invoice never share one."""
    if data.key.startswith(data.dispute_id):
        return data.key
    return f"{data.dispute_id}:{data.key}"


@dataclass(frozen=True)
class Recipient:
    name: str
    locale: str
    email: str | None
    phone: str | None
    invoice_number: str
    due_date: date | None
    invoiced_by_sms: bool

    @property
    def reads_sms(self) -> bool:
        """SMS is the customer's channel: their invoice reached them by text, or they have
        no e-mail address."""
        return bool(self.phone) and (self.invoiced_by_sms or not self.email)


class DisputeNoticeActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        email: EmailSender,
        sms: SmsClient,
        *,
        mail_from: str,
        public_base_url: str,
        link_secret: str,
        documents: DocumentIssuer | None = None,
    ) -> None:
        self._sessions = sessions
        self._documents = documents
        self._messages = CustomerMessages(sessions, email, sms, mail_from=mail_from)
        self._public_base_url = public_base_url
        self._link_secret = link_secret

    @activity.defn(name="dispute.notify_customer")
    @heartbeats
    async def notify_customer(self, data: DisputeCustomerNotice) -> str:
        """The channels used, joined by "+": "email", "sms", "email+sms", or "none"."""
        to = await self._recipient(data.invoice_id)
        reader = DisputeReader(
            customer_name=to.name,
            locale=to.locale,
            invoice_number=to.invoice_number,
            portal_url=dispute_portal_url(
                self._public_base_url, self._link_secret, data.invoice_id, data.dispute_id
            ),
            due_date=to.due_date,
        )
        message = CustomerMessage(
            invoice_id=data.invoice_id,
            purpose=f"dispute_{data.kind}",
            key=scoped_key(data),
            action=f"dispute.customer_notified.{data.kind}",
            data={"dispute_id": data.dispute_id, "dispute_number": data.dispute_number},
        )
        used: list[str] = []
        refused: list[str] = []
        if to.email:
            try:
                await self._messages.email(
                    message,
                    to.email,
                    render_dispute_email(data, reader),
                    await self._credit_note_pdf(data),
                )
                used.append("email")
            except ProviderError as err:
                if err.retryable:
                    raise
                refused.append(f"e-mail: {err.detail}")
                log.warning("dispute_notice.email_refused", dispute_id=data.dispute_id)
        if to.phone and (to.reads_sms or refused):
            try:
                await self._messages.text(message, to.phone, render_dispute_sms(data, reader))
                used.append("sms")
            except ProviderError as err:
                if err.retryable:
                    raise
                refused.append(f"sms: {err.detail}")
                log.warning("dispute_notice.sms_refused", dispute_id=data.dispute_id)
        if not used:
            await self._unreachable(data, refused or ["no e-mail address or phone number"])
            return "none"
        return "+".join(used)

    async def _credit_note_pdf(self, data: DisputeCustomerNotice) -> list[Attachment]:
        """The resolution of a dispute settled by a credit note carries the credit note's
        PDF (issued once, like the invoice's); a PDF that cannot be made is left out,
        logged, rather than holding the message back."""
        if data.kind != "resolved" or self._documents is None:
            return []
        async with transaction(self._sessions, writes=False) as session:
            found = await session.exec(
                select(CreditNoteRow.id).where(CreditNoteRow.dispute_id == data.dispute_id)
            )
            note_ids = list(found)
        attached: list[Attachment] = []
        for note_id in note_ids:
            try:
                issued = await self._documents.credit_note(note_id)
            except Exception:
                log.exception("dispute_notice.credit_note_pdf_failed", credit_note_id=note_id)
                continue
            attached.append(Attachment(issued.filename, issued.media_type, issued.content))
        return attached

    async def _recipient(self, invoice_id: str) -> Recipient:
        async with transaction(self._sessions, writes=False) as session:
            invoice = await session.get(Invoice, invoice_id)
            if invoice is None:
                raise ApplicationError(
                    f"invoice {invoice_id} not found", type="NotFound", non_retryable=True
                )
            customer = await session.get(Customer, invoice.customer_id)
            assert customer is not None  # a foreign key
            by_sms = await session.get(Delivery, f"{invoice_id}:sms:issue") is not None
        return Recipient(
            name=customer.name,
            locale=customer.locale,
            email=customer.email.strip() or None,
            phone=(customer.phone or "").strip() or None,
            invoice_number=invoice.number or invoice_id,
            due_date=invoice.due_date,
            invoiced_by_sms=by_sms,
        )

    async def _unreachable(self, data: DisputeCustomerNotice, reasons: list[str]) -> None:
        log.warning("dispute_notice.unreachable", dispute_id=data.dispute_id, kind=data.kind)
        async with transaction(self._sessions) as session:
            await audit.record(
                session,
                step_key=f"{data.invoice_id}:dispute_{data.kind}:{scoped_key(data)}:none",
                invoice_id=data.invoice_id,
                entity="delivery",
                action="dispute.customer_unreachable",
                actor="workflow",
                data={"dispute_id": data.dispute_id, "kind": data.kind, "reasons": reasons},
                at=datetime.now(UTC),
            )
