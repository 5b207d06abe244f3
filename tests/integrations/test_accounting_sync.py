"""Accounting sync against the real sandbox, on both engines: a retry or a re-sync looks
the document up by its natural key first, so a provider that has forgotten the
Idempotency-Key (``forget_idempotency_keys``) still ends with one document; a post failing
past the alert delay gives up as ``AccountingSyncFailing``; a re-sync creates only what the
ledger lacks and answers what it found."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import accounting as accounting_module
from activities.accounting import AccountingActivities
from activities.accounting_sync import AccountingSyncActivities
from activities.remedies import RemedyActivities
from integrations.accounting import AccountingClient
from integrations.email import EmailSender, SmtpSettings
from integrations.errors import ProviderError
from integrations.payments import PaymentsClient
from sandbox.runner import SandboxHandle
from schemas.accounting_sync import PendingPost, ResumePostInput, ResyncActivityInput
from schemas.invoice import PostInvoiceInput, PostPaymentInput
from schemas.sync_tables import AccountingDocumentRow
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.integrations.test_delivery_activity import an_invoice
from tests.sandbox.support import API_KEY, set_faults

PAID_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def env(*, attempt: int = 1, failing_for: timedelta = timedelta(0)) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    scheduled = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    environment.info = dataclasses.replace(
        environment.info,
        attempt=attempt,
        scheduled_time=scheduled,
        current_attempt_scheduled_time=scheduled + failing_for,
    )
    return environment


async def run(activity: Any, data: BaseModel, **info: Any) -> Any:
    return await env(**info).run(activity, data)


@pytest_asyncio.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> AccountingClient:
    return AccountingClient(provider_http, sandbox.http_url, API_KEY)


@pytest.fixture
def accounting(sessions: SessionFactory, client: AccountingClient) -> AccountingActivities:
    return AccountingActivities(sessions, client, alert_after=timedelta(hours=1))


@pytest.fixture
def sync(
    sessions: SessionFactory,
    sandbox: SandboxHandle,
    provider_http: httpx.AsyncClient,
    client: AccountingClient,
    accounting: AccountingActivities,
) -> AccountingSyncActivities:
    remedies = RemedyActivities(
        sessions, PaymentsClient(provider_http, sandbox.http_url, API_KEY), client
    )
    email = EmailSender(SmtpSettings(host=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5))
    return AccountingSyncActivities(
        sessions, client, accounting, remedies, email, mail_from="b@x.test", ops_email="ops@x.test"
    )


async def ledger(http: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    response = await http.get(
        f"/accounting/v1/{kind}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    response.raise_for_status()
    return list(response.json())


async def posts(http: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    calls = (await http.get("/_sandbox/calls", params={"api": "accounting"})).json()
    return [c for c in calls if c["method"] == "POST" and c["path"].endswith(f"/{kind}")]


async def test_a_retry_after_a_lost_answer_finds_the_invoice_a_forgetful_provider_made(
    accounting: AccountingActivities,
    sessions: SessionFactory,
    http: httpx.AsyncClient,
) -> None:
    invoice = await an_invoice(sessions)
    await set_faults(http, api="accounting", fail_after_commit=1, forget_idempotency_keys=True)
    data = PostInvoiceInput(invoice=invoice)

    with pytest.raises(ProviderError):
        await run(accounting.post_invoice, data)
    again = await run(accounting.post_invoice, data, attempt=2)

    [document] = await ledger(http, "invoices")
    assert again.external_id == document["id"]
    assert len(await posts(http, "invoices")) == 1  # found by its number: not posted again
    async with transaction(sessions, writes=False) as session:
        row = await session.get(AccountingDocumentRow, f"invoice:{invoice.invoice_id}")
    assert row is not None and (row.status, row.external_id) == ("posted", document["id"])
    assert row.body["number"] == invoice.number


async def test_without_the_look_up_a_forgetful_provider_makes_a_second_invoice(
    accounting: AccountingActivities,
    sessions: SessionFactory,
    http: httpx.AsyncClient,
) -> None:
    """The control: two first attempts (no look-up) under a forgotten key: two documents.
    This is what the look-up on a retry, a resume and a re-sync is there to prevent."""
    invoice = await an_invoice(sessions)
    await set_faults(http, api="accounting", forget_idempotency_keys=True)
    data = PostInvoiceInput(invoice=invoice)
    await run(accounting.post_invoice, data)
    async with transaction(sessions) as session:  # as if our row had never been written
        from schemas.tables import AccountingPosting

        posting = await session.get(AccountingPosting, f"invoice:{invoice.invoice_id}")
        await session.delete(posting)
    await run(accounting.post_invoice, data)
    assert len(await ledger(http, "invoices")) == 2


async def test_a_post_failing_past_the_alert_delay_gives_up_for_the_alert_then_resumes(
    accounting: AccountingActivities,
    sync: AccountingSyncActivities,
    sessions: SessionFactory,
    http: httpx.AsyncClient,
) -> None:
    invoice = await an_invoice(sessions)
    await set_faults(http, api="accounting", outage=True)
    data = PostInvoiceInput(invoice=invoice)

    with pytest.raises(ProviderError):  # within the delay: retried
        await run(accounting.post_invoice, data, attempt=5, failing_for=timedelta(minutes=59))
    with pytest.raises(ApplicationError) as failing:
        await run(accounting.post_invoice, data, attempt=9, failing_for=timedelta(minutes=61))
    assert failing.value.type == "AccountingSyncFailing" and failing.value.non_retryable

    await set_faults(http, api="accounting", fail_after_commit=1, forget_idempotency_keys=True)
    resume = ResumePostInput(
        post=PendingPost(activity="accounting.post_invoice", arg=data.model_dump(mode="json"))
    )
    with pytest.raises(ProviderError):
        await run(sync.resume_post, resume)  # its first attempt looks up too: nothing yet
    landed = await run(sync.resume_post, resume, attempt=2)
    [document] = await ledger(http, "invoices")
    assert landed.external_id == document["id"]


async def test_a_resync_creates_only_what_the_ledger_lacks(
    accounting: AccountingActivities,
    sync: AccountingSyncActivities,
    sessions: SessionFactory,
    http: httpx.AsyncClient,
) -> None:
    invoice = await an_invoice(sessions)
    invoice_post = PostInvoiceInput(invoice=invoice)
    payment = PostPaymentInput(
        invoice=invoice, payment_id="pay_resync_1", amount_minor=1000, paid_at=PAID_AT
    )
    await run(accounting.post_invoice, invoice_post)  # posted; the payment never was
    await set_faults(http, api="accounting", forget_idempotency_keys=True)

    result = await run(
        sync.resync,
        ResyncActivityInput(
            invoice_id=invoice.invoice_id,
            requested_by="alice",
            posts=[
                PendingPost(
                    activity="accounting.post_invoice", arg=invoice_post.model_dump(mode="json")
                ),
                PendingPost(
                    activity="accounting.post_payment", arg=payment.model_dump(mode="json")
                ),
            ],
        ),
    )
    assert [(d.kind, d.outcome, d.position) for d in result.documents] == [
        ("invoice", "found", 0),
        ("payment", "created", 1),
    ]
    assert result.status == "synced"
    # after the process ended: from the kept documents alone, twice; nothing new
    for _ in range(2):
        again = await run(
            sync.resync, ResyncActivityInput(invoice_id=invoice.invoice_id, requested_by="bob")
        )
        assert sorted((d.kind, d.outcome) for d in again.documents) == [
            ("invoice", "found"),
            ("payment", "found"),
        ]
    assert len(await ledger(http, "invoices")) == 1
    assert len(await ledger(http, "payments")) == 1


async def test_the_ledger_is_looked_up_by_number_and_reference(
    client: AccountingClient, http: httpx.AsyncClient
) -> None:
    body = {
        "reference": "inv_x",
        "number": "INV-2026-0901",
        "customer": {"id": "c", "name": "C"},
        "currency": "GBP",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "subtotal_minor": 100,
        "tax_minor": 20,
        "total_minor": 120,
    }
    assert await client.find("/accounting/v1/invoices", body) is None
    made = await client.create("/accounting/v1/invoices", "k1", body)
    found = await client.find("/accounting/v1/invoices", body)
    assert found is not None and found.id == made.id and found.found
    # the same number under another reference is someone else's invoice: refused
    with pytest.raises(ProviderError) as clash:
        await client.find("/accounting/v1/invoices", {**body, "reference": "inv_y"})
    assert not clash.value.retryable


@pytest.fixture(autouse=True)
def _alert_delay_restored() -> Any:
    yield
    accounting_module.configure(accounting_module.ALERT_AFTER)
