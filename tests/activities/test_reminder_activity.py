"""invoice.send_reminder against the real SMTP catcher, on both engines: a step is sent
and charged once however often it runs; statutory interest priced from the stored
payments; a hold answers without sending; a step whose next one fell due is superseded."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.reminders import ReminderActivities, rate_tables
from domain.reminders.charges import accrued_interest, uk_annual_rate
from domain.reminders.reference_rates import BANK_OF_ENGLAND
from integrations.email import EmailSender, SmtpSettings
from integrations.http import provider_client
from integrations.sms import SmsClient
from sandbox.runner import SandboxHandle
from schemas.invoice import InvoiceSnapshot, PaymentReceived
from schemas.reminder_flow import SendReminderInput
from schemas.reminder_tables import ReminderRow
from schemas.reminders import ChargeDay, LateCharge, ReminderStep, ReminderTerms
from store import invoices, reminders
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.sandbox.support import API_KEY
from tests.support.factories import customer_and_contract, start_input

STEP = ReminderStep(key="overdue-30", days=30, tone="final", charge=True)
TERMS = ReminderTerms(steps=[STEP], late_charge=LateCharge(kind="statutory_uk"))


@dataclasses.dataclass
class Setup:
    sessions: SessionFactory
    activities: ReminderActivities


@pytest_asyncio.fixture
async def setup(db_url: str, sandbox: SandboxHandle) -> AsyncIterator[Setup]:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    smtp = SmtpSettings(host=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5)
    async with provider_client(10) as http, EmailSender(smtp) as email:
        yield Setup(
            sessions,
            ReminderActivities(
                sessions,
                email,
                SmsClient(http, sandbox.http_url, API_KEY),
                mail_from="billing@invoiceflow.test",
                public_base_url="http://invoiceflow.test",
                link_secret="secret",
                rates=rate_tables(),
            ),
        )
    await engine.dispose()


async def _invoice(s: Setup, email: str) -> InvoiceSnapshot:
    customer, contract = await customer_and_contract(s.sessions, email=email)
    request = start_input(customer, contract)
    async with transaction(s.sessions) as session:
        created = await invoices.create_invoice(session, request, request.issue_date)
    assert created.invoice is not None
    return created.invoice.model_copy(update={"reminders": TERMS})


def _input(invoice: InvoiceSnapshot, **over: Any) -> SendReminderInput:
    due_at = datetime.combine(invoice.due_date + timedelta(days=30), datetime.min.time(), UTC)
    values: dict[str, Any] = {
        "invoice": invoice,
        "step": STEP,
        "due_at": due_at,
        "balance_minor": invoice.total_minor,
    }
    values.update(over)
    return SendReminderInput(**values)


async def _mail(http: httpx.AsyncClient, to: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await http.get("/mailbox/api/messages", params={"to": to})
    ).json()
    return found


async def test_a_step_is_sent_and_charged_once_however_often_it_runs(
    setup: Setup, http: httpx.AsyncClient
) -> None:
    invoice = await _invoice(setup, "once@acme.test")
    paid_on = invoice.due_date + timedelta(days=10)
    async with transaction(setup.sessions) as session:
        await invoices.record_payment(
            session,
            invoice.invoice_id,
            PaymentReceived(
                payment_id="pay_part",
                amount_minor=invoice.total_minor // 2,
                currency=invoice.currency,
                paid_at=datetime.combine(paid_on, datetime.min.time(), UTC) + timedelta(hours=9),
            ),
        )
    data = _input(invoice, balance_minor=invoice.total_minor - invoice.total_minor // 2)
    first = await ActivityEnvironment().run(setup.activities.send_reminder, data)
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    again = await retry.run(setup.activities.send_reminder, data)

    assert first.outcome == again.outcome == "sent"
    assert first.charge_invoice_id == again.charge_invoice_id is not None
    expected, _, _ = accrued_interest(
        kind="statutory_uk",
        principal_minor=invoice.total_minor,
        due_date=invoice.due_date,
        until=data.due_at.date(),
        reductions=[ChargeDay(on=paid_on, amount_minor=invoice.total_minor // 2)],
        rates=BANK_OF_ENGLAND,
    )
    compensation = 7_000 if invoice.total_minor >= 100_000 else 4_000
    assert first.charge_minor == again.charge_minor == expected + compensation
    assert [amount for line in first.charge_lines for amount in [line.unit_price_minor]] == [
        expected,
        compensation,
    ]
    messages = await _mail(http, "once@acme.test")
    assert [m["subject"].split(":")[0] for m in messages] == ["Final notice"]
    async with transaction(setup.sessions, writes=False) as session:
        row = await session.get(ReminderRow, f"{invoice.invoice_id}:overdue-30")
    assert row is not None and row.outcome == "sent" and row.channel == "email"
    assert Decimal(row.annual_rate or "0") == uk_annual_rate(invoice.due_date, BANK_OF_ENGLAND)


async def test_a_hold_answers_without_sending_and_a_stale_step_is_superseded(
    setup: Setup, http: httpx.AsyncClient
) -> None:
    invoice = await _invoice(setup, "wait@acme.test")
    async with transaction(setup.sessions) as session:
        await reminders.place_hold(
            session,
            invoice_id=invoice.invoice_id,
            customer_id=None,
            reason="promised for Friday",
            until=datetime.now(UTC) + timedelta(days=3),
            held_by="ann",
        )
    held = await ActivityEnvironment().run(setup.activities.send_reminder, _input(invoice))
    assert (held.outcome, held.hold_reason) == ("held", "promised for Friday")

    other = await _invoice(setup, "stale@acme.test")
    stale = _input(other, stale_after=datetime.now(UTC) - timedelta(minutes=1))
    result = await ActivityEnvironment().run(setup.activities.send_reminder, stale)
    assert result.outcome == "superseded" and result.charge_minor == 0
    assert await _mail(http, "wait@acme.test") == []
    assert await _mail(http, "stale@acme.test") == []
    async with transaction(setup.sessions, writes=False) as session:
        assert await session.get(ReminderRow, f"{invoice.invoice_id}:overdue-30") is None
        row = await session.get(ReminderRow, f"{other.invoice_id}:overdue-30")
    assert row is not None and row.outcome == "superseded"
