"""The delivery activity against the sandbox: a retried attempt that finds its earlier
attempt's delivery sends nothing again (a crash after the commit, before Temporal heard)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from integrations.email import EmailSender, SmtpSettings
from integrations.http import provider_client
from integrations.payments import PaymentsClient
from integrations.sms import SmsClient
from sandbox.runner import SandboxHandle
from schemas.invoice import DeliverInvoiceInput, InvoiceSnapshot
from store import invoices
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.sandbox.support import API_KEY
from tests.support.factories import customer_and_contract, start_input


@pytest_asyncio.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(sqlite_url)
    yield session_factory(engine)
    await engine.dispose()


async def an_invoice(sessions: SessionFactory) -> InvoiceSnapshot:
    customer, contract = await customer_and_contract(sessions, email="retry@acme.test")
    request = start_input(customer, contract)
    async with transaction(sessions) as session:
        created = await invoices.create_invoice(session, request, request.issue_date)
    assert created.invoice is not None
    return created.invoice


async def test_a_retry_after_a_recorded_delivery_sends_nothing_again(
    sandbox: SandboxHandle, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(sessions)
    smtp = SmtpSettings(host=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5)
    async with provider_client(10) as provider_http, EmailSender(smtp) as email:
        delivery = DeliveryActivities(
            sessions,
            PaymentsClient(provider_http, sandbox.http_url, API_KEY),
            email,
            SmsClient(provider_http, sandbox.http_url, API_KEY),
            mail_from="billing@invoiceflow.test",
            public_base_url="http://invoiceflow.test",
            link_secret="secret",
        )
        first_attempt = ActivityEnvironment()
        retry = ActivityEnvironment()
        retry.info = dataclasses.replace(retry.info, attempt=2)
        request = DeliverInvoiceInput(invoice=invoice)

        first = await first_attempt.run(delivery.deliver_invoice, request)
        again = await retry.run(delivery.deliver_invoice, request)

    assert again == first
    mail = (await http.get("/mailbox/api/messages", params={"to": "retry@acme.test"})).json()
    assert len(mail) == 1 and mail[0]["duplicate_deliveries"] == 0  # sent once, not twice
    links = (await http.get("/_sandbox/calls", params={"api": "payments"})).json()
    assert len(links) == 1  # the retry did not even ask the provider again
