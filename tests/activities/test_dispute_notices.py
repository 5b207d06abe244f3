"""dispute.notify_customer against the real SMTP catcher and SMS provider sandbox: one
message per key however often it runs, SMS where that is the customer's channel, and the
portal link to the dispute's page."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, select
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from activities.dispute_notices import DisputeNoticeActivities
from core.links import verify_portal_view_token
from integrations.email import EmailSender, SmtpSettings
from integrations.http import provider_client
from integrations.payments import PaymentsClient
from integrations.sms import SmsClient
from sandbox.runner import SandboxHandle
from schemas.dispute_notices import DisputeCustomerNotice
from schemas.invoice import DeliverInvoiceInput, InvoiceSnapshot
from schemas.tables import AuditEvent, Customer, Delivery
from store import invoices
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.sandbox.support import API_KEY, auth
from tests.support.factories import customer_and_contract, start_input

BASE_URL = "http://invoiceflow.test"
SECRET = "link-secret"
PHONE = "+447700900123"


@dataclasses.dataclass
class Clients:
    sessions: SessionFactory
    notices: DisputeNoticeActivities
    delivery: DeliveryActivities


@pytest_asyncio.fixture
async def clients(sqlite_url: str, sandbox: SandboxHandle) -> AsyncIterator[Clients]:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    smtp = SmtpSettings(host=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5)
    async with provider_client(10) as provider_http, EmailSender(smtp) as email:
        sms = SmsClient(provider_http, sandbox.http_url, API_KEY)
        links = {"mail_from": "billing@invoiceflow.test", "public_base_url": BASE_URL}
        yield Clients(
            sessions,
            DisputeNoticeActivities(sessions, email, sms, link_secret=SECRET, **links),
            DeliveryActivities(
                sessions,
                PaymentsClient(provider_http, sandbox.http_url, API_KEY),
                email,
                sms,
                link_secret=SECRET,
                **links,
            ),
        )
    await engine.dispose()


async def an_invoice(
    c: Clients, email: str, phone: str | None = None, locale: str = "en_GB"
) -> InvoiceSnapshot:
    customer, contract = await customer_and_contract(c.sessions, email=email, locale=locale)
    if phone is not None:
        async with transaction(c.sessions) as session:
            row = await session.get(Customer, customer.id)
            assert row is not None
            row.phone = phone
            session.add(row)
    request = start_input(customer, contract)
    async with transaction(c.sessions) as session:
        created = await invoices.create_invoice(session, request, request.issue_date)
    assert created.invoice is not None and created.invoice.number
    return created.invoice


def notice(invoice: InvoiceSnapshot, **fields: Any) -> DisputeCustomerNotice:
    values: dict[str, Any] = {
        "dispute_id": "dsp_1",
        "dispute_number": "DSP-2026-0001",
        "invoice_id": invoice.invoice_id,
        "kind": "acknowledged",
        "key": "acknowledged",
        "amount_minor": 12_000,
        "currency": invoice.currency,
        "sla_business_days": 5,
    }
    values.update(fields)
    return DisputeCustomerNotice.model_validate(values)


async def mailbox(http: httpx.AsyncClient, to: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await http.get("/mailbox/api/messages", params={"to": to})
    ).json()
    return found


async def texts(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await http.get("/sms/v1/messages", headers=auth())).json()
    return found


async def deliveries(c: Clients, invoice_id: str) -> list[Delivery]:
    async with transaction(c.sessions, writes=False) as session:
        rows = await session.exec(
            select(Delivery)
            .where(Delivery.invoice_id == invoice_id)
            .where(col(Delivery.purpose).startswith("dispute_"))
        )
        return list(rows)


async def test_the_same_key_sends_one_email_however_often_it_runs(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "ack@acme.test")
    data = notice(invoice)
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)

    first = await ActivityEnvironment().run(clients.notices.notify_customer, data)
    again = await retry.run(clients.notices.notify_customer, data)

    assert first == again == "email"
    [mail] = await mailbox(http, "ack@acme.test")
    assert mail["duplicate_deliveries"] == 0  # the second run found its delivery recorded
    assert "DSP-2026-0001" in mail["subject"] and invoice.number in mail["subject"]
    assert "£120.00" in mail["text"] and "within 5 business days" in mail["text"]
    [row] = await deliveries(clients, invoice.invoice_id)
    assert (row.channel, row.purpose, row.recipient) == (
        "email",
        "dispute_acknowledged",
        "ack@acme.test",
    )
    assert await texts(http) == []  # an e-mail customer gets no SMS


async def test_a_crash_between_send_and_record_resends_only_as_a_duplicate_the_mailbox_drops(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "crash@acme.test")
    data = notice(invoice, kind="information_requested", key="question:1", text="Which PO?")
    await ActivityEnvironment().run(clients.notices.notify_customer, data)
    async with transaction(clients.sessions) as session:  # the record the crash lost
        for row in await deliveries(clients, invoice.invoice_id):
            await session.delete(await session.get(Delivery, row.id))

    await ActivityEnvironment().run(clients.notices.notify_customer, data)

    [mail] = await mailbox(http, "crash@acme.test")
    assert mail["duplicate_deliveries"] == 1  # same Message-ID: one message in the inbox
    assert "Which PO?" in mail["text"]


async def test_the_email_links_to_the_disputes_portal_page_with_a_valid_token(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "link@acme.test", locale="fr_CA")
    await ActivityEnvironment().run(clients.notices.notify_customer, notice(invoice))

    [mail] = await mailbox(http, "link@acme.test")
    url = next(w for w in mail["text"].split() if w.startswith(BASE_URL))
    parts = urlsplit(url)
    assert parts.path == f"/portal/invoices/{invoice.invoice_id}/disputes/dsp_1"
    verify_portal_view_token(SECRET, parse_qs(parts.query)["token"][0], invoice.invoice_id)
    assert "contestation DSP-2026-0001" in mail["subject"]  # in the customer's language


async def test_two_disputes_on_one_invoice_each_get_their_acknowledgement(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "two@acme.test")
    await ActivityEnvironment().run(clients.notices.notify_customer, notice(invoice))
    second = notice(invoice, dispute_id="dsp_2", dispute_number="DSP-2026-0002")
    await ActivityEnvironment().run(clients.notices.notify_customer, second)

    mail = await mailbox(http, "two@acme.test")
    assert sorted(m["subject"].split()[4] for m in mail) == ["DSP-2026-0001", "DSP-2026-0002"]


async def test_a_customer_reached_by_sms_gets_the_notice_by_sms_once(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    """Their mailbox refused the invoice, which went out by SMS: the dispute notice does too."""
    invoice = await an_invoice(clients, "bounce@acme.test", phone=PHONE)
    issued = await ActivityEnvironment().run(
        clients.delivery.deliver_invoice, DeliverInvoiceInput(invoice=invoice)
    )
    assert issued.channel == "sms"
    data = notice(
        invoice,
        kind="remedy_proposed",
        key="remedy:3",
        remedy={"kind": "write_off", "amount_minor": 900, "note": "Sorry."},
    )

    first = await ActivityEnvironment().run(clients.notices.notify_customer, data)
    again = await ActivityEnvironment().run(clients.notices.notify_customer, data)

    assert first == again == "sms"
    dispute_texts = [t for t in await texts(http) if "DSP-2026-0001" in t["body"]]
    assert len(dispute_texts) == 1
    [text] = dispute_texts
    assert text["to"] == PHONE and "Accept or decline it" in text["body"]
    assert f"{BASE_URL}/portal/invoices/{invoice.invoice_id}/disputes/dsp_1?token=" in text["body"]
    assert len(text["body"]) <= 300
    [row] = await deliveries(clients, invoice.invoice_id)
    assert (row.channel, row.recipient) == ("sms", PHONE)


async def test_an_sms_customer_whose_mailbox_works_gets_both(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "both@acme.test", phone=PHONE)
    async with transaction(clients.sessions) as session:  # the invoice went out by SMS
        session.add(
            Delivery(
                id=f"{invoice.invoice_id}:sms:issue",
                invoice_id=invoice.invoice_id,
                channel="sms",
                recipient=PHONE,
                purpose="issue",
                status="sent",
                sent_at=datetime.now(UTC),
            )
        )

    used = await ActivityEnvironment().run(clients.notices.notify_customer, notice(invoice))

    assert used == "email+sms"
    assert len(await mailbox(http, "both@acme.test")) == 1
    assert [t["to"] for t in await texts(http)] == [PHONE]


async def test_a_customer_without_an_email_address_gets_an_sms(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "", phone=PHONE)

    used = await ActivityEnvironment().run(
        clients.notices.notify_customer, notice(invoice, kind="resolved", balance_minor=0)
    )

    assert used == "sms"
    [text] = await texts(http)
    assert "is resolved" in text["body"] and "£0.00" in text["body"]


async def test_a_customer_no_channel_reaches_is_audited_and_the_activity_succeeds(
    clients: Clients, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(clients, "bounce+nophone@acme.test")

    used = await ActivityEnvironment().run(clients.notices.notify_customer, notice(invoice))

    assert used == "none"
    async with transaction(clients.sessions, writes=False) as session:
        events = list(
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "dispute.customer_unreachable")
            )
        )
    assert [e.invoice_id for e in events] == [invoice.invoice_id]
    assert "e-mail" in events[0].data["reasons"][0]
    assert await deliveries(clients, invoice.invoice_id) == []


@pytest.mark.parametrize("kind", ["acknowledged", "information_requested", "resolved"])
async def test_every_notice_is_audited_once_with_its_dispute(
    clients: Clients, http: httpx.AsyncClient, kind: str
) -> None:
    invoice = await an_invoice(clients, f"audit-{kind}@acme.test")
    data = notice(invoice, kind=kind, key=kind, text="Which PO?", balance_minor=100)
    for _ in range(2):
        await ActivityEnvironment().run(clients.notices.notify_customer, data)

    async with transaction(clients.sessions, writes=False) as session:
        events = list(
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == f"dispute.customer_notified.{kind}")
            )
        )
    assert len(events) == 1
    assert events[0].data["dispute_number"] == "DSP-2026-0001"
