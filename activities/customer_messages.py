"""One message to a customer, sent at most once: the core every notice after the invoice
e-mail shares (resends, receipts, dispute notices).

A message is named by its invoice, its purpose and a key; its delivery record
(``{invoice_id}:{channel}:{purpose}:{key}``), its e-mail Message-ID and its SMS idempotency
key derive from them. An attempt that finds the delivery recorded sends nothing; one that
crashed between sending and recording sends again with the same Message-ID (the mailbox
drops it as a duplicate) or the same SMS key (the provider returns the first message).
Delivery and audit event are written in one transaction.

Provider errors are raised as they are: the caller decides what a permanent refusal means
for its process (a failed resend, a dispute notice falling back to SMS).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from activities.delivery import email_message_id
from integrations.email import Attachment, EmailSender
from integrations.sms import SmsClient
from rendering.invoice_email import RenderedEmail
from schemas.tables import Delivery
from store import audit
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


# what a Message-ID's left part may hold (RFC 5322 dot-atom-text, without the rarer signs)
_MESSAGE_ID_SAFE = re.compile(r"[A-Za-z0-9_+=-]+(\.[A-Za-z0-9_+=-]+)*")


def message_id_part(key: str) -> str:
    """`key` as it is when a Message-ID may carry it (payment ids, request ids), else its
    digest: one to one either way, so two notices never share a Message-ID (the mailbox
    would drop the second as a duplicate)."""
    if _MESSAGE_ID_SAFE.fullmatch(key):
        return key
    return "h" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CustomerMessage:
    """What names one message, and what its audit event says."""

    invoice_id: str
    purpose: str  # "resend", "receipt", "dispute_acknowledged"...
    key: str
    action: str  # the audit action: "invoice.receipt_sent"
    actor: str = "workflow"
    data: dict[str, Any] = field(default_factory=dict)  # more for the audit event

    def delivery_id(self, channel: str) -> str:
        return f"{self.invoice_id}:{channel}:{self.purpose}:{self.key}"

    def message_id(self) -> str:
        return email_message_id(self.invoice_id, message_id_part(f"{self.purpose}-{self.key}"))

    def step_key(self, channel: str) -> str:
        step = f"{self.invoice_id}:{self.purpose}:{self.key}"
        return step if channel == "email" else f"{step}:{channel}"


class CustomerMessages:
    def __init__(
        self,
        sessions: SessionFactory,
        email: EmailSender,
        sms: SmsClient | None = None,
        *,
        mail_from: str,
    ) -> None:
        self._sessions = sessions
        self._email = email
        self._sms = sms
        self._mail_from = mail_from

    async def sent(self, message: CustomerMessage, channel: str) -> bool:
        """Whether an earlier attempt sent and recorded `message` on `channel`."""
        async with transaction(self._sessions, writes=False) as session:
            return await session.get(Delivery, message.delivery_id(channel)) is not None

    async def email(
        self,
        message: CustomerMessage,
        recipient: str,
        rendered: RenderedEmail,
        attachments: Sequence[Attachment] = (),
    ) -> str:
        """Send the e-mail unless it is recorded; its delivery id. Raises ProviderError."""
        delivery_id = message.delivery_id("email")
        if await self.sent(message, "email"):
            log.info("notice.already_sent", invoice_id=message.invoice_id, delivery_id=delivery_id)
            return delivery_id
        await self._email.send(
            message_id=message.message_id(),
            sender=self._mail_from,
            to=[recipient],
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            attachments=attachments,
        )
        await self._record(message, "email", recipient)
        return delivery_id

    async def text(self, message: CustomerMessage, phone: str, body: str) -> str:
        """Send the SMS unless it is recorded; its delivery id. Raises ProviderError."""
        assert self._sms is not None, "CustomerMessages built without an SMS client"
        delivery_id = message.delivery_id("sms")
        if await self.sent(message, "sms"):
            log.info("notice.already_sent", invoice_id=message.invoice_id, delivery_id=delivery_id)
            return delivery_id
        await self._sms.send(
            idempotency_key=delivery_id, to=phone, body=body, reference=message.invoice_id
        )
        await self._record(message, "sms", phone)
        return delivery_id

    async def _record(self, message: CustomerMessage, channel: str, recipient: str) -> None:
        async with transaction(self._sessions) as session:
            await insert_if_absent(
                session,
                Delivery,
                id=message.delivery_id(channel),
                invoice_id=message.invoice_id,
                channel=channel,
                recipient=recipient,
                purpose=message.purpose,
                status="sent",
                sent_at=datetime.now(UTC),
            )
            await audit.record(
                session,
                step_key=message.step_key(channel),
                invoice_id=message.invoice_id,
                entity="delivery",
                action=message.action,
                actor=message.actor,
                data={
                    "recipient": recipient,
                    "key": message.key,
                    "channel": channel,
                    **message.data,
                },
            )
        log.info(
            "notice.sent",
            invoice_id=message.invoice_id,
            purpose=message.purpose,
            channel=channel,
            key=message.key,
        )
