"""The remedy activities against the real sandbox: a refund is made once however the
activity is retried (same key twice, a 503, a lost answer, a payment arriving before the
retry), split over payments newest first; credit notes and write-offs are posted once."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.remedies import RemedyActivities
from integrations.accounting import AccountingClient
from integrations.errors import ProviderError
from integrations.payments import PaymentsClient
from sandbox.runner import SandboxHandle
from schemas.refund_tables import RefundRow
from schemas.remedies import PostCreditNoteInput, PostWriteOffInput, RefundInput, RefundResult
from schemas.tables import AccountingPosting, AuditEvent, Payment
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.integrations.test_delivery_activity import an_invoice
from tests.sandbox.support import API_KEY, auth, set_faults

PAID_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    # until migration 0007 creates it (a no-op from then on)
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: RefundRow.__table__.create(sync, checkfirst=True)  # type: ignore[attr-defined]
        )
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def remedies(
    sessions: SessionFactory, sandbox: SandboxHandle, provider_http: httpx.AsyncClient
) -> RemedyActivities:
    return RemedyActivities(
        sessions,
        PaymentsClient(provider_http, sandbox.http_url, API_KEY),
        AccountingClient(provider_http, sandbox.http_url, API_KEY),
    )


async def run(activity: Any, data: BaseModel, *, attempt: int = 1) -> Any:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(activity, data)


class PaidInvoice:
    """An invoice of ours, paid at the sandbox in parts; our payment rows carry the
    provider's payment ids, an hour apart in the order paid."""

    def __init__(self, invoice_id: str, payment_ids: list[str]) -> None:
        self.invoice_id = invoice_id
        self.payment_ids = payment_ids


async def paid_invoice(
    sessions: SessionFactory, http: httpx.AsyncClient, *amounts: int, link_total: int = 0
) -> PaidInvoice:
    invoice = await an_invoice(sessions)
    link = await http.post(
        "/payments/v1/links",
        json={
            "reference": invoice.invoice_id,
            "amount_minor": link_total or sum(amounts),
            "currency": "GBP",
            "description": "test",
        },
        headers=auth(f"link-{invoice.invoice_id}"),
    )
    paid = PaidInvoice(invoice.invoice_id, [])
    for amount in amounts:
        await pay_more(sessions, http, paid, link.json()["id"], amount)
    return paid


async def pay_more(
    sessions: SessionFactory, http: httpx.AsyncClient, paid: PaidInvoice, link_id: str, amount: int
) -> str:
    response = await http.post(
        f"/payments/v1/links/{link_id}/payments",
        json={"amount_minor": amount},
        headers=auth(f"pay-{paid.invoice_id}-{len(paid.payment_ids)}"),
    )
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["id"]
    async with transaction(sessions) as session:
        session.add(
            Payment(
                id=payment_id,
                invoice_id=paid.invoice_id,
                amount_minor=amount,
                currency="GBP",
                paid_at=PAID_AT + timedelta(hours=len(paid.payment_ids)),
                recorded_at=PAID_AT,
            )
        )
    paid.payment_ids.append(payment_id)
    return payment_id


def refund_input(paid: PaidInvoice, amount: int, credit_note_id: str = "cn_1") -> RefundInput:
    return RefundInput(
        invoice_id=paid.invoice_id,
        credit_note_id=credit_note_id,
        amount_minor=amount,
        currency="GBP",
        reason="product_unsatisfactory",
    )


async def provider_refunds(http: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/payments/v1/payments/{payment_id}/refunds", headers=auth())
    assert response.status_code == 200, response.text
    refunds: list[dict[str, Any]] = response.json()
    return refunds


async def refund_rows(sessions: SessionFactory) -> list[RefundRow]:
    async with transaction(sessions, writes=False) as session:
        return list(await session.exec(select(RefundRow).order_by(RefundRow.key)))  # type: ignore[arg-type]


async def refund_posts(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    calls = (await http.get("/_sandbox/calls", params={"api": "payments"})).json()
    return [c for c in calls if c["method"] == "POST" and c["path"].endswith("/refunds")]


# -- refunds ------------------------------------------------------------------------------


async def test_a_refund_comes_from_the_newest_payment_and_is_recorded_and_audited(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 6_000, 4_000)
    older, newer = paid.payment_ids

    result: RefundResult = await run(remedies.refund, refund_input(paid, 2_500))

    [made] = await provider_refunds(http, newer)
    assert await provider_refunds(http, older) == []
    assert (made["amount_minor"], made["reference"], made["reason"]) == (
        2_500,
        "cn_1",
        "product_unsatisfactory",
    )
    assert result.refunded_minor == 2_500
    assert [(r.refund_id, r.payment_id, r.amount_minor) for r in result.refunds] == [
        (made["id"], newer, 2_500)
    ]
    [row] = await refund_rows(sessions)
    assert (row.id, row.key, row.invoice_id, row.credit_note_id, row.currency) == (
        made["id"],
        f"cn_1:refund:{newer}",
        paid.invoice_id,
        "cn_1",
        "GBP",
    )
    [call] = await refund_posts(http)
    assert call["idempotency_key"] == f"cn_1:refund:{newer}"
    async with transaction(sessions, writes=False) as session:
        [event] = await session.exec(select(AuditEvent).where(AuditEvent.entity == "refund"))
    assert (event.action, event.invoice_id, event.data["refund_id"]) == (
        "payment.refunded",
        paid.invoice_id,
        made["id"],
    )


async def test_the_same_refund_run_twice_refunds_once_at_the_provider(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 10_000)
    data = refund_input(paid, 3_000)

    first = await run(remedies.refund, data)
    again_as_retry = await run(remedies.refund, data, attempt=2)
    again_fresh = await run(remedies.refund, data)  # an operator's reset: a first attempt

    assert first == again_as_retry == again_fresh
    assert len(await provider_refunds(http, paid.payment_ids[0])) == 1
    assert len(await refund_rows(sessions)) == 1
    assert len(await refund_posts(http)) == 1  # the retries did not even ask again


async def test_a_refund_larger_than_the_newest_payment_is_split_across_two_payments(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 6_000, 4_000)
    older, newer = paid.payment_ids

    result: RefundResult = await run(remedies.refund, refund_input(paid, 7_000))

    assert [(r.payment_id, r.amount_minor) for r in result.refunds] == [
        (newer, 4_000),
        (older, 3_000),
    ]
    assert result.refunded_minor == 7_000
    assert [r["amount_minor"] for r in await provider_refunds(http, newer)] == [4_000]
    assert [r["amount_minor"] for r in await provider_refunds(http, older)] == [3_000]
    assert sorted(c["idempotency_key"] for c in await refund_posts(http)) == sorted(
        [f"cn_1:refund:{newer}", f"cn_1:refund:{older}"]
    )


async def test_a_later_credit_note_refunds_only_what_earlier_refunds_left(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 6_000, 4_000)
    older, newer = paid.payment_ids
    await run(remedies.refund, refund_input(paid, 3_000, "cn_1"))

    second: RefundResult = await run(remedies.refund, refund_input(paid, 5_000, "cn_2"))

    assert [(r.payment_id, r.amount_minor) for r in second.refunds] == [
        (newer, 1_000),
        (older, 4_000),
    ]
    with pytest.raises(ApplicationError) as refused:
        await run(remedies.refund, refund_input(paid, 2_001, "cn_3"))
    assert (refused.value.type, refused.value.non_retryable) == ("NotRefundable", True)
    assert "have 2000 left to refund" in str(refused.value)
    assert len(await refund_posts(http)) == 3  # the refused one never reached the provider


async def test_a_503_then_success_makes_one_refund(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 10_000)
    data = refund_input(paid, 3_000)
    await set_faults(http, api="payments", outage=True)

    with pytest.raises(ProviderError) as down:
        await run(remedies.refund, data)
    (await http.delete("/_sandbox/faults")).raise_for_status()
    result: RefundResult = await run(remedies.refund, data, attempt=2)

    assert (down.value.status, down.value.retryable) == (503, True)  # Temporal retries it
    [made] = await provider_refunds(http, paid.payment_ids[0])
    assert [r.refund_id for r in result.refunds] == [made["id"]]
    assert len(await refund_rows(sessions)) == 1


async def test_a_lost_answer_then_a_retry_makes_one_refund(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 10_000)
    data = refund_input(paid, 3_000)
    await set_faults(http, api="payments", fail_after_commit=1)

    with pytest.raises(ProviderError):
        await run(remedies.refund, data)
    result: RefundResult = await run(remedies.refund, data, attempt=2)

    [made] = await provider_refunds(http, paid.payment_ids[0])
    assert [r.refund_id for r in result.refunds] == [made["id"]]
    assert [row.id for row in await refund_rows(sessions)] == [made["id"]]


async def test_a_refund_lost_in_a_crash_is_found_even_after_a_newer_payment_arrived(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 6_000, link_total=10_000)
    [first_payment] = paid.payment_ids
    data = refund_input(paid, 3_000)
    await set_faults(http, api="payments", fail_after_commit=1)
    with pytest.raises(ProviderError):
        await run(remedies.refund, data)
    (await http.delete("/_sandbox/faults")).raise_for_status()
    link_id = (await provider_refunds(http, first_payment))[0]["link_id"]
    newer = await pay_more(sessions, http, paid, link_id, 4_000)  # the newest payment now

    result: RefundResult = await run(remedies.refund, data, attempt=2)

    assert [(r.payment_id, r.amount_minor) for r in result.refunds] == [(first_payment, 3_000)]
    assert await provider_refunds(http, newer) == []
    assert len(await provider_refunds(http, first_payment)) == 1
    assert len(await refund_posts(http)) == 1


async def test_a_provider_refusal_is_not_retried(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 10_000)
    # a payment an operator recorded by hand: the provider has never heard of it
    async with transaction(sessions) as session:
        session.add(
            Payment(
                id="pay_by_hand",
                invoice_id=paid.invoice_id,
                amount_minor=500,
                currency="GBP",
                paid_at=PAID_AT + timedelta(days=1),
                recorded_at=PAID_AT,
            )
        )

    with pytest.raises(ApplicationError) as refused:
        await run(remedies.refund, refund_input(paid, 100))

    assert (refused.value.type, refused.value.non_retryable) == ("RefundRejected", True)
    assert "No payment pay_by_hand" in str(refused.value)
    assert await refund_rows(sessions) == []


async def test_payments_in_another_currency_are_not_refunded_from(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(sessions, http, 1_000)

    with pytest.raises(ApplicationError) as refused:
        await run(remedies.refund, refund_input(paid, 100).model_copy(update={"currency": "EUR"}))

    assert refused.value.type == "NotRefundable"
    assert await refund_posts(http) == []


# -- credit notes and write-offs ----------------------------------------------------------


async def ledger_invoice(http: httpx.AsyncClient, invoice_id: str) -> None:
    response = await http.post(
        "/accounting/v1/invoices",
        json={
            "reference": invoice_id,
            "number": f"INV-{invoice_id}",
            "customer": {"id": "cus_1", "name": "ACME Ltd"},
            "currency": "GBP",
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "subtotal_minor": 10_000,
            "tax_minor": 2_000,
            "total_minor": 12_000,
        },
        headers=auth(f"acc-{invoice_id}"),
    )
    assert response.status_code == 201, response.text


def credit_note_input(invoice_id: str, amount: int = 2_000) -> PostCreditNoteInput:
    return PostCreditNoteInput(
        invoice_id=invoice_id,
        credit_note_id="cn_1",
        number="CN-2026-0001",
        amount_minor=amount,
        currency="GBP",
        reason="order_change",
        issued_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
    )


async def ledger(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await http.get(f"/accounting/v1/{path}", headers=auth())).json()
    return rows


async def test_a_credit_note_is_posted_once_under_retries(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(sessions)
    await ledger_invoice(http, invoice.invoice_id)
    data = credit_note_input(invoice.invoice_id)
    await set_faults(http, api="accounting", fail_after_commit=1)

    with pytest.raises(ProviderError) as lost:
        await run(remedies.post_credit_note, data)
    second = await run(remedies.post_credit_note, data, attempt=2)
    third = await run(remedies.post_credit_note, data, attempt=3)

    assert lost.value.retryable
    [note] = await ledger(http, "credit-notes")
    assert second.key == "credit_note:cn_1"
    assert second == third
    assert second.external_id == note["id"]
    assert (note["reference"], note["invoice_reference"], note["number"]) == (
        "cn_1",
        invoice.invoice_id,
        "CN-2026-0001",
    )
    posts = [
        c
        for c in (await http.get("/_sandbox/calls", params={"api": "accounting"})).json()
        if c["method"] == "POST" and c["path"].endswith("/credit-notes")
    ]
    # the retry looks the credit note up by its number first: found, so no second POST
    assert [c["idempotency_key"] for c in posts] == ["cn_1:accounting-credit-note"]
    async with transaction(sessions, writes=False) as session:
        posting = await session.get(AccountingPosting, "credit_note:cn_1")
        [event] = await session.exec(
            select(AuditEvent).where(AuditEvent.action == "accounting.credit_note_posted")
        )
    assert posting is not None and (posting.kind, posting.external_id) == (
        "credit_note",
        note["id"],
    )
    assert event.invoice_id == invoice.invoice_id


async def test_a_credit_note_the_ledger_refuses_is_accounting_rejected(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(sessions)
    await ledger_invoice(http, invoice.invoice_id)

    with pytest.raises(ApplicationError) as refused:
        await run(remedies.post_credit_note, credit_note_input(invoice.invoice_id, 12_001))

    assert (refused.value.type, refused.value.non_retryable) == ("AccountingRejected", True)
    assert await ledger(http, "credit-notes") == []


async def test_a_write_off_is_posted_once_under_retries(
    remedies: RemedyActivities, sessions: SessionFactory, http: httpx.AsyncClient
) -> None:
    invoice = await an_invoice(sessions)
    await ledger_invoice(http, invoice.invoice_id)
    data = PostWriteOffInput(
        invoice_id=invoice.invoice_id,
        write_off_id="wo_1",
        amount_minor=45,
        currency="GBP",
        reason="small balance",
    )
    await set_faults(http, api="accounting", outage=True)

    with pytest.raises(ProviderError) as down:
        await run(remedies.post_write_off, data)
    (await http.delete("/_sandbox/faults")).raise_for_status()
    posted = await run(remedies.post_write_off, data, attempt=2)
    again = await run(remedies.post_write_off, data, attempt=3)

    assert (down.value.status, down.value.retryable) == (503, True)
    [write_off] = await ledger(http, "write-offs")
    assert posted == again
    assert (posted.key, posted.external_id) == ("write_off:wo_1", write_off["id"])
    assert (write_off["reference"], write_off["amount_minor"]) == ("wo_1", 45)
