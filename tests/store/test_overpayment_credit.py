"""An overpayment kept as customer credit, on SQLite and PostgreSQL: one credit per payment
however often the step runs, recording its payment and source (migration 0015), listed with
the customer's credit, taken off the next invoice and named there by the overpaid invoice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from activities.customer_credits import CustomerCreditActivities, credits_taken
from schemas.payment_checks import KeepOverpaymentInput
from store import customer_credits
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.store.test_customer_credits import another_invoice, apply, invoice
from tests.support.disputes import seed_invoice


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_an_overpayment_is_kept_once_per_payment_and_pays_the_next_invoice(
    sessions: SessionFactory,
) -> None:
    paid = await seed_invoice(sessions, total_minor=100_000, paid_minor=130_000)
    keep = KeepOverpaymentInput(
        invoice_id=paid.invoice_id,
        customer_id=paid.customer_id,
        payment_id="pay_over",
        currency="GBP",
        amount_minor=30_000,
    )
    step = CustomerCreditActivities(sessions)
    await step.keep_overpayment(keep)
    await step.keep_overpayment(keep)  # the step again (a retried local activity)

    async with transaction(sessions, writes=False) as session:
        [credit] = await customer_credits.available(session, paid.customer_id)
    assert (credit.source, credit.payment_id, credit.invoice_id) == (
        "overpayment",
        "pay_over",
        paid.invoice_id,
    )
    assert credit.credit_note_id == customer_credits.overpayment_key("pay_over")
    assert (credit.amount_minor, credit.remaining_minor) == (30_000, 30_000)
    overpaid = await invoice(sessions, paid.invoice_id)
    assert overpaid.credit_carried_minor == 30_000

    following = await another_invoice(sessions, paid, 50_000)
    taken = await apply(sessions, paid, following, 50_000)
    assert [t.amount_minor for t in taken] == [30_000]
    async with transaction(sessions, writes=False) as session:
        [shown] = await credits_taken(session, following)
        assert await customer_credits.available(session, paid.customer_id) == []
    assert (shown.source, shown.credit_note_number) == ("overpayment", overpaid.number)
