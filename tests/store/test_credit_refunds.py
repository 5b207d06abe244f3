"""Customer credit refunded on request, on SQLite and PostgreSQL: a request reserves what is
left of the credit once (a repeat answers the first), the reservation and an invoice taking
the same credit never both spend it, a refusal gives it back, a credit note's credit with
no payment behind it is not refundable, and the settlement counts the refunds recorded for
the request (migration 0017's table)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activities.customer_credits import CustomerCreditActivities
from schemas.credit_tables import CustomerCreditRow
from schemas.payment_checks import KeepOverpaymentInput
from schemas.refund_tables import RefundRow
from schemas.tables import Payment
from store import credit_refunds, customer_credits
from store.credit_refunds import CreditNotRefundable, NothingToRefund
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.store.test_customer_credits import AT, another_invoice, apply, credit_on_account
from tests.support.disputes import SeededInvoice, seed_invoice


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def overpaid(sessions: SessionFactory, excess: int = 30_000) -> tuple[SeededInvoice, str]:
    """An invoice paid `excess` beyond its total by `pay_over`: the credit's id."""
    paid = await seed_invoice(sessions, total_minor=100_000, paid_minor=100_000 + excess)
    async with transaction(sessions) as session:
        session.add(
            Payment(
                id="pay_over",
                invoice_id=paid.invoice_id,
                amount_minor=100_000 + excess,
                currency="GBP",
                paid_at=AT,
                recorded_at=AT,
            )
        )
    await CustomerCreditActivities(sessions).keep_overpayment(
        KeepOverpaymentInput(
            invoice_id=paid.invoice_id,
            customer_id=paid.customer_id,
            payment_id="pay_over",
            currency="GBP",
            amount_minor=excess,
        )
    )
    async with transaction(sessions, writes=False) as session:
        [credit] = await customer_credits.available(session, paid.customer_id)
    return paid, credit.id


async def reserve(sessions: SessionFactory, credit_id: str, refund_id: str) -> int:
    async with transaction(sessions) as session:
        row = await credit_refunds.reserve(
            session,
            refund_id=refund_id,
            credit_id=credit_id,
            requested_by="alice",
            reason="customer asked",
            at=AT,
        )
        return row.amount_minor


async def remaining(sessions: SessionFactory, credit_id: str) -> int:
    async with transaction(sessions, writes=False) as session:
        credit = await session.get(CustomerCreditRow, credit_id)
        assert credit is not None
        return credit.remaining_minor


async def settle(sessions: SessionFactory, refund_id: str, detail: str | None = None) -> str:
    async with transaction(sessions) as session:
        row = await credit_refunds.settle(session, refund_id=refund_id, detail=detail, at=AT)
        return row.status


async def test_a_refund_reserves_what_is_left_once_and_settles_from_the_recorded_refunds(
    sessions: SessionFactory,
) -> None:
    paid, credit_id = await overpaid(sessions)
    following = await another_invoice(sessions, paid, 10_000)
    assert [t.amount_minor for t in await apply(sessions, paid, following, 10_000)] == [10_000]

    assert await reserve(sessions, credit_id, "crf_1") == 20_000  # what the invoice left
    assert await reserve(sessions, credit_id, "crf_1") == 20_000  # the step again
    assert await remaining(sessions, credit_id) == 0
    with pytest.raises(NothingToRefund):
        await reserve(sessions, credit_id, "crf_2")  # another request: nothing left

    async with transaction(sessions) as session:  # what payments.refund records
        session.add(
            RefundRow(
                id="re_1",
                key="crf_1:refund:pay_over",
                invoice_id=paid.invoice_id,
                payment_id="pay_over",
                credit_note_id="crf_1",
                amount_minor=20_000,
                currency="GBP",
                created_at=AT,
            )
        )
    assert await settle(sessions, "crf_1") == "refunded"
    assert await settle(sessions, "crf_1", detail="late") == "refunded"  # once
    assert await remaining(sessions, credit_id) == 0
    async with transaction(sessions, writes=False) as session:
        [row] = await credit_refunds.refunds_of(session, [credit_id])
    assert (row.status, row.amount_minor, row.detail) == ("refunded", 20_000, None)


async def test_a_refund_the_provider_refused_gives_the_credit_back(
    sessions: SessionFactory,
) -> None:
    _, credit_id = await overpaid(sessions)
    assert await reserve(sessions, credit_id, "crf_x") == 30_000
    assert await settle(sessions, "crf_x", detail="card closed") == "failed"
    assert await settle(sessions, "crf_x") == "failed"  # given back once
    assert await remaining(sessions, credit_id) == 30_000


async def test_a_credit_note_credit_with_no_payment_behind_it_is_not_refundable(
    sessions: SessionFactory,
) -> None:
    """Its invoice was paid with account credit only: there is nothing to refund to."""
    paid = await seed_invoice(sessions, total_minor=50_000, paid_minor=50_000)
    await credit_on_account(sessions, paid, 5_000)
    async with transaction(sessions, writes=False) as session:
        [credit] = await customer_credits.available(session, paid.customer_id)
    with pytest.raises(CreditNotRefundable):
        await reserve(sessions, credit.id, "crf_cn")
    assert await remaining(sessions, credit.id) == 5_000


async def test_a_refund_and_invoices_racing_for_one_credit_never_both_spend_it(
    sessions: SessionFactory,
) -> None:
    """The refund's reservation and two invoices' takes at the same moment: what they
    spend together is exactly what the credit held, never more."""
    paid, credit_id = await overpaid(sessions, excess=10_000)
    invoices = [await another_invoice(sessions, paid, 6_000) for _ in range(2)]

    async def refund() -> int:
        try:
            return await reserve(sessions, credit_id, "crf_race")
        except NothingToRefund:
            return 0

    async def take(invoice_id: str) -> int:
        return sum(t.amount_minor for t in await apply(sessions, paid, invoice_id, 6_000))

    refunded, *taken = await asyncio.gather(refund(), *(take(i) for i in invoices))
    assert refunded + sum(taken) == 10_000, (refunded, taken)
    assert await remaining(sessions, credit_id) == 0
    async with transaction(sessions, writes=False) as session:
        rows = await credit_refunds.refunds_of(session, [credit_id])
    assert [r.amount_minor for r in rows] == ([refunded] if refunded else [])
