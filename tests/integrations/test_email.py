"""EmailSender against the sandbox's SMTP mail catcher, and against SMTP servers that refuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from integrations.email import EmailSender, SmtpSettings
from integrations.errors import ProviderError
from sandbox.runner import SandboxHandle
from tests.sandbox.support import unused_port

SUBJECT = "Invoice INV-2026-0042 from InvoiceFlow"
SENDER = "InvoiceFlow Billing <billing@invoiceflow.test>"
HTML = "<h1>Invoice INV-2026-0042</h1><p>Amount due: £1,234.00</p>"
TEXT = "Invoice INV-2026-0042\nAmount due: £1,234.00"


async def send(
    sender: EmailSender, message_id: str = "<m@x>", to: tuple[str, ...] = ("accounts@acme.test",)
) -> None:
    await sender.send(
        message_id=message_id, sender=SENDER, to=list(to), subject=SUBJECT, html=HTML, text=TEXT
    )


@pytest_asyncio.fixture
async def sender(sandbox: SandboxHandle) -> AsyncIterator[EmailSender]:
    settings = SmtpSettings(host=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5)
    async with EmailSender(settings) as sender:
        yield sender


async def test_sent_email_arrives_in_the_sandbox_mailbox_as_alternative_parts(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    await send(sender, "<inv-42.issue@invoiceflow>")

    [mail] = (await http.get("/mailbox/api/messages", params={"to": "accounts@acme.test"})).json()
    assert mail["subject"] == SUBJECT
    assert mail["from"] == SENDER
    assert mail["html"].strip() == HTML
    assert mail["text"].strip() == TEXT
    assert mail["headers"]["Content-Type"].startswith("multipart/alternative")
    assert mail["headers"]["Message-ID"] == "<inv-42.issue@invoiceflow>"
    assert mail["headers"]["X-Idempotency-Key"] == "<inv-42.issue@invoiceflow>"


async def test_non_ascii_subject_names_and_bodies_arrive_intact(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    subject = "Reminder: Facture FA-2026-0007 · Société Générale Müller — échéance 24/12"
    await sender.send(
        message_id="<inv-7.issue@invoiceflow>",
        sender="Facturation Café Zoë <billing@invoiceflow.test>",
        to=["Jürgen Weiß <jurgen@acme.test>", "accounts@acme.test"],
        subject=subject,
        html="<p>Montant dû : 1 234,00 €</p>",
        text="Montant dû : 1 234,00 €",
    )

    [mail] = (await http.get("/mailbox/api/messages", params={"to": "jurgen@acme.test"})).json()
    assert mail["subject"] == subject  # RFC 2047 encoded and folded, decoded back whole
    assert mail["from"] == "Facturation Café Zoë <billing@invoiceflow.test>"
    assert "Jürgen Weiß <jurgen@acme.test>" in mail["headers"]["To"]
    assert mail["html"].strip() == "<p>Montant dû : 1 234,00 €</p>"
    assert mail["text"].strip() == "Montant dû : 1 234,00 €"


async def test_a_non_ascii_subject_with_plain_addresses_arrives_intact(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    """The fast (compat32) path: ASCII addresses, an encoded subject, UTF-8 bodies."""
    subject = "Reminder: approval needed for INV-2026-0001 · £1,440.00 — Société Générale"
    await sender.send(
        message_id="<inv-1.r1@invoiceflow>",
        sender=SENDER,
        to=["accounts@acme.test"],
        subject=subject,
        html=HTML,
        text=TEXT,
    )
    [mail] = (await http.get("/mailbox/api/messages", params={"to": "accounts@acme.test"})).json()
    assert mail["subject"] == subject
    assert mail["from"] == SENDER
    assert mail["text"].strip() == TEXT


async def test_non_ascii_names_and_addresses_and_line_breaks_are_handled(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    long_name = "Société Générale de Facturation Zoë Müller"
    await sender.send(
        message_id="<inv-8.issue@invoiceflow>",
        sender=f"{long_name} <billing@invoiceflow.test>",
        to=["accounts@acme.test"],
        subject="Facture FA-2026-0008\r\nBcc: victim@evil.test",
        html="<p>dû</p>",
        text="dû",
    )
    [mail] = (await http.get("/mailbox/api/messages", params={"to": "accounts@acme.test"})).json()
    assert mail["from"] == f"{long_name} <billing@invoiceflow.test>"
    assert mail["subject"] == "Facture FA-2026-0008 Bcc: victim@evil.test"  # one header
    assert "Bcc" not in mail["headers"]

    await sender.send(  # an internationalised address (SMTPUTF8) is sent as it is
        message_id="<inv-9.issue@invoiceflow>",
        sender=SENDER,
        to=["josé@exämple.test"],
        subject="Facture FA-2026-0009",
        html="<p>dû</p>",
        text="dû",
    )
    [intl] = (await http.get("/mailbox/api/messages", params={"to": "josé@exämple.test"})).json()
    assert intl["headers"]["To"] == "josé@exämple.test"
    assert intl["text"].strip() == "dû"


async def test_an_address_with_a_line_break_is_refused_for_good(sender: EmailSender) -> None:
    with pytest.raises(ProviderError) as refused:
        await send(sender, to=("accounts@acme.test\r\nBcc: victim@evil.test",))
    assert refused.value.retryable is False


async def test_message_id_without_angle_brackets_gets_them(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    await send(sender, "inv-42.issue@invoiceflow")

    [mail] = (await http.get("/mailbox/api/messages")).json()
    assert mail["headers"]["Message-ID"] == "<inv-42.issue@invoiceflow>"
    assert mail["headers"]["X-Idempotency-Key"] == "inv-42.issue@invoiceflow"


async def test_sending_twice_with_one_message_id_shows_one_message_and_one_duplicate(
    sender: EmailSender, http: httpx.AsyncClient
) -> None:
    await send(sender, "<inv-42.issue@invoiceflow>")
    await send(sender, "<inv-42.issue@invoiceflow>")
    await send(sender, "<inv-42.reminder-1@invoiceflow>")

    mails = (await http.get("/mailbox/api/messages")).json()

    assert [m["headers"]["Message-ID"] for m in mails] == [
        "<inv-42.issue@invoiceflow>",
        "<inv-42.reminder-1@invoiceflow>",
    ]
    assert [m["duplicate_deliveries"] for m in mails] == [1, 0]


async def test_unreachable_smtp_server_is_retryable() -> None:
    sender = EmailSender(SmtpSettings(host="127.0.0.1", port=unused_port(), timeout=2))

    with pytest.raises(ProviderError) as caught:
        await send(sender, "<m@x>")

    assert (caught.value.provider, caught.value.status, caught.value.retryable) == (
        "email",
        None,
        True,
    )


async def test_no_recipients_is_a_permanent_error(sender: EmailSender) -> None:
    with pytest.raises(ProviderError) as caught:
        await send(sender, to=())

    assert not caught.value.retryable


class Refusing:
    """An SMTP handler that answers RCPT or DATA with a fixed reply, accepting the rest."""

    def __init__(self, command: str, reply: str) -> None:
        self.command = command
        self.reply = reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.command == "MAIL":
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.command == "RCPT":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.reply if self.command == "DATA" else "250 OK"


@asynccontextmanager
async def smtp_answering(command: str, reply: str) -> AsyncIterator[int]:
    port = unused_port()
    controller = Controller(Refusing(command, reply), hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield port
    finally:
        await asyncio.to_thread(controller.stop)


@pytest.mark.parametrize("command", ["RCPT", "DATA"])
@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 Try again later", True), ("550 5.1.1 Refused", False)],
)
async def test_smtp_4xx_is_retryable_and_5xx_is_permanent(
    command: str, reply: str, retryable: bool
) -> None:
    async with smtp_answering(command, reply) as port:
        sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port, timeout=5))
        with pytest.raises(ProviderError) as caught:
            await send(sender, "<m@x>")

    assert caught.value.status == int(reply[:3])
    assert caught.value.retryable is retryable
    assert reply[4:] in caught.value.detail


async def test_a_refused_sender_is_our_configuration_and_retryable() -> None:
    async with smtp_answering("MAIL", "550 5.7.1 Sender not allowed") as port:
        sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port, timeout=5))
        with pytest.raises(ProviderError) as caught:
            await send(sender, "<m@x>")

    assert (caught.value.status, caught.value.retryable) == (550, True)
    assert "INVOICEFLOW_MAIL_FROM" in caught.value.detail


class RefusingLogins:
    """An SMTP server that offers AUTH over plain TCP and refuses every credential."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # wrong credentials: 535, fixed in the settings, so the delivery waits and retries
        ({"username": "billing", "password": "wrong"}, "535"),
        # STARTTLS asked for, not offered: the settings again
        ({"start_tls": True}, "SMTPException"),
    ],
    ids=["credentials", "starttls"],
)
async def test_what_our_smtp_settings_get_wrong_is_retryable(
    settings: dict[str, object], expected: str
) -> None:
    port = unused_port()
    controller = Controller(
        RefusingLogins(),
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        authenticator=lambda *args: AuthResult(success=False, handled=False),
    )
    await asyncio.to_thread(controller.start)
    try:
        sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port, timeout=5, **settings))
        with pytest.raises(ProviderError) as caught:
            await send(sender, "<m@x>")
    finally:
        await asyncio.to_thread(controller.stop)

    assert caught.value.retryable is True
    assert expected in f"{caught.value.status} {caught.value.detail}"


async def test_an_address_the_relay_cannot_carry_is_permanent(sandbox: SandboxHandle) -> None:
    """SMTPUTF8 not offered and a non-ASCII mailbox: no fix of ours will carry it."""
    port = unused_port()
    controller = Controller(
        Refusing("none", ""), hostname="127.0.0.1", port=port, enable_SMTPUTF8=False
    )
    await asyncio.to_thread(controller.start)
    try:
        sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port, timeout=5))
        with pytest.raises(ProviderError) as caught:
            await send(sender, "<m@x>", to=("zoë@exämple.test",))
    finally:
        await asyncio.to_thread(controller.stop)

    assert caught.value.retryable is False
    assert "SMTPUTF8" in caught.value.detail
