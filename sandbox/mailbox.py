"""The mail catcher: an aiosmtpd handler that keeps every message, and how we read them back.

It accepts anything (no auth, no TLS, any recipient), like MailHog or Mailpit, but for one
simulated bounce: a recipient whose local part is ``bounce`` or starts with ``bounce+``
(``bounce+alice@corp.test``) is refused with 550, as a mailbox that does not exist (the
convention of Amazon SES's mailbox simulator). Unlike MailHog it keeps one copy per
Message-ID and counts the rest as ``duplicate_deliveries``: our e-mails carry a
deterministic Message-ID as their idempotency key, and tests assert that a retried
activity delivered exactly once.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from sandbox.faults import FaultBook
from sandbox.state import SandboxStore, StoredMail

log = structlog.get_logger()


class MailboxHandler:
    """aiosmtpd handler; runs on the SMTP server's thread, hence the store's lock."""

    def __init__(self, store: SandboxStore, faults: FaultBook | None = None) -> None:
        self._store = store
        self._faults = faults or FaultBook()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if is_simulated_bounce(address):
            log.info("sandbox.mail_bounced", to=address)
            return "550 5.1.1 Mailbox does not exist (sandbox: simulated bounce)"
        if self._faults.decide("smtp").failure == "outage":
            self._store.add_reception(None, [address], "refused_rcpt")
            log.info("sandbox.mail_refused", to=address, fault="outage")
            return "451 4.3.2 Service temporarily unavailable (sandbox: injected outage)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        # the headers are all it needs here (parsing the bodies too cost more than the rest
        # of the delivery); the mailbox pages parse whole messages when they are read
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        # compat32 keeps a folded header's line break: unfold before it is a key
        message_id = "".join(str(headers.get("Message-ID") or "").split()) or None
        to = list(envelope.rcpt_tos)
        decision = self._faults.decide("smtp")
        if decision.failure is not None:  # outage begun since RCPT, or error_rate
            self._store.add_reception(message_id, to, "refused")
            log.info("sandbox.mail_refused", message_id=message_id, fault=decision.failure)
            return "451 4.3.0 Temporary failure, try again later (sandbox: injected fault)"
        mail_id, duplicate = self._store.add_mail(message_id, envelope.mail_from or "", to, raw)
        if self._faults.take_fail_after_commit("smtp"):
            self._store.add_reception(message_id, to, "lost")
            log.info("sandbox.mail_lost_answer", mail_id=mail_id, message_id=message_id)
            return "451 4.3.0 Temporary failure, try again later (sandbox: kept, answer lost)"
        self._store.add_reception(message_id, to, "duplicate" if duplicate else "accepted")
        log.info(
            "sandbox.mail_duplicate" if duplicate else "sandbox.mail_received",
            mail_id=mail_id,
            message_id=message_id,
            to=to,
        )
        # kept first, answered late: a client that times out cannot know it was delivered
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        return "250 Message accepted for delivery"


def is_simulated_bounce(address: str) -> bool:
    local = address.rpartition("@")[0].lower()
    return local == "bounce" or local.startswith("bounce+")


@dataclass(frozen=True)
class MailView:
    """A stored message, parsed for the mailbox pages and the JSON API."""

    id: int
    sender: str
    to: list[str]
    subject: str
    date: datetime
    text: str | None
    html: str | None
    headers: dict[str, str]
    duplicate_deliveries: int
    attachments: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "date": self.date.isoformat(),
            "text": self.text,
            "html": self.html,
            "headers": self.headers,
            "duplicate_deliveries": self.duplicate_deliveries,
            "attachments": self.attachments,
        }


def parsed(mail: StoredMail) -> EmailMessage:
    msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def view(mail: StoredMail) -> MailView:
    msg = parsed(mail)
    headers: dict[str, str] = {}
    for name, value in msg.items():
        headers.setdefault(name, str(value))
    return MailView(
        id=mail.id,
        sender=str(msg.get("From") or mail.mail_from),
        to=mail.rcpt_tos,
        subject=str(msg.get("Subject") or ""),
        date=_date(msg, mail.received_at),
        text=_body(msg, "plain"),
        html=_body(msg, "html"),
        headers=headers,
        duplicate_deliveries=mail.duplicates,
        attachments=[
            {
                "index": n,
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "url": f"/mailbox/api/messages/{mail.id}/attachments/{n}",
            }
            for n, (part, content) in enumerate(attached(msg))
        ],
    )


def attached(msg: EmailMessage) -> list[tuple[EmailMessage, bytes]]:
    """The message's attached files with their decoded bytes, in order."""
    files: list[tuple[EmailMessage, bytes]] = []
    for part in msg.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        files.append((part, payload if isinstance(payload, bytes) else b""))
    return files


def addressed_to(mail: StoredMail, address: str) -> bool:
    """True if `address` was an envelope recipient (so Bcc counts too), case-insensitively."""
    wanted = address.strip().lower()
    return any(r.lower() == wanted for r in mail.rcpt_tos)


def _body(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    if not isinstance(content, str):
        return None
    # 8bit parts keep SMTP's CRLF line ends; readers (and assertions) expect "\n".
    return content.replace("\r\n", "\n")


def _date(msg: EmailMessage, fallback: datetime) -> datetime:
    try:
        return parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else fallback
    except (TypeError, ValueError):
        return fallback
