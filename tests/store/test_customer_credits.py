"""Customer credit on SQLite and PostgreSQL: a grant once per credit note (the invoice it
came from carries the overpayment once), taken off later invoices in the same currency
oldest credit first and never beyond what an invoice asks, an invoice taking credit once
however often its step runs, and invoices racing for the same credit never taking more
than it holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.ids import new_id
from schemas.tables import Invoice
from store import customer_credits, disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from store.queries import balance_of
from tests.support.disputes import SeededInvoice, seed_invoice

AT = datetime(2026, 12, 5, 14, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def another_invoice(
    sessions: SessionFactory, seeded: SeededInvoice, total_minor: int, currency: str = "GBP"
) -> str:
    """A further invoice of the same customer."""
    async with transaction(sessions) as session:
        first = await session.get(Invoice, seeded.invoice_id)
        assert first is not None
        invoice_id = new_id("inv")
        session.add(
            Invoice(
                **first.model_dump(
                    exclude={"id", "number", "total_minor", "paid_minor", "currency"}
                ),
                id=invoice_id,
                number=f"INV-{invoice_id}",
                currency=currency,
                total_minor=total_minor,
            )
        )
    return invoice_id


async def credit_on_account(
    sessions: SessionFactory, seeded: SeededInvoice, amount_minor: int, at: datetime = AT
) -> str:
    """A credit note on the paid invoice kept on the customer's account: its id."""
    credit_note_id = new_id("cn")
    async with transaction(sessions) as session:
        await disputes.issue_credit_note(
            session,
            credit_note_id=credit_note_id,
            invoice_id=seeded.invoice_id,
            dispute_id=None,
            currency="GBP",
            amount_minor=amount_minor,
            reason="order_change",
            settlement="customer_credit",
            created_at=at,
        )
        await customer_credits.grant(
            session,
            credit_note_id=credit_note_id,
            invoice_id=seeded.invoice_id,
            customer_id=seeded.customer_id,
            currency="GBP",
            amount_minor=amount_minor,
            at=at,
        )
    return credit_note_id


async def apply(
    sessions: SessionFactory, seeded: SeededInvoice, invoice_id: str, limit: int
) -> list[customer_credits.Applied]:
    async with transaction(sessions) as session:
        return await customer_credits.apply_to_invoice(
            session,
            invoice_id=invoice_id,
            customer_id=seeded.customer_id,
            currency="GBP",
            limit_minor=limit,
            at=AT,
        )


async def invoice(sessions: SessionFactory, invoice_id: str) -> Invoice:
    async with transaction(sessions, writes=False) as session:
        found = await session.get(Invoice, invoice_id)
    assert found is not None
    return found


async def test_a_grant_is_made_once_and_the_paid_invoice_carries_its_overpayment_once(
    sessions: SessionFactory,
) -> None:
    paid = await seed_invoice(sessions, total_minor=120_000, paid_minor=120_000)
    credit_note_id = await credit_on_account(sessions, paid, 20_000)
    async with transaction(sessions) as session:  # the step again (a retried activity)
        again = await customer_credits.grant(
            session,
            credit_note_id=credit_note_id,
            invoice_id=paid.invoice_id,
            customer_id=paid.customer_id,
            currency="GBP",
            amount_minor=20_000,
            at=AT,
        )
    assert (again.amount_minor, again.remaining_minor) == (20_000, 20_000)
    row = await invoice(sessions, paid.invoice_id)
    assert (row.credited_minor, row.credit_carried_minor, balance_of(row)) == (20_000, 20_000, 0)
    async with transaction(sessions, writes=False) as session:
        held = await customer_credits.available(session, paid.customer_id)
    assert [c.remaining_minor for c in held] == [20_000]


async def test_credit_is_taken_oldest_first_never_beyond_the_invoice_and_once_per_invoice(
    sessions: SessionFactory,
) -> None:
    paid = await seed_invoice(sessions, total_minor=120_000, paid_minor=120_000)
    older = await credit_on_account(sessions, paid, 5_000, at=AT - timedelta(days=2))
    newer = await credit_on_account(sessions, paid, 20_000)
    small = await another_invoice(sessions, paid, 3_000)
    big = await another_invoice(sessions, paid, 50_000)
    in_euros = await another_invoice(sessions, paid, 10_000, currency="EUR")

    taken = await apply(sessions, paid, small, 3_000)
    assert [(t.credit_note_id, t.amount_minor) for t in taken] == [(older, 3_000)]
    assert await apply(sessions, paid, small, 3_000) == taken  # the step again: the same
    taken = await apply(sessions, paid, big, 50_000)
    assert [(t.credit_note_id, t.amount_minor) for t in taken] == [(older, 2_000), (newer, 20_000)]
    async with transaction(sessions) as session:  # another currency takes nothing
        assert not await customer_credits.apply_to_invoice(
            session,
            invoice_id=in_euros,
            customer_id=paid.customer_id,
            currency="EUR",
            limit_minor=10_000,
            at=AT,
        )

    small_row, big_row = await invoice(sessions, small), await invoice(sessions, big)
    assert (small_row.credit_applied_minor, balance_of(small_row)) == (3_000, 0)
    assert (big_row.credit_applied_minor, balance_of(big_row)) == (22_000, 28_000)
    async with transaction(sessions, writes=False) as session:
        assert await customer_credits.available(session, paid.customer_id) == []


async def test_invoices_racing_for_one_credit_never_take_more_than_it_holds(
    sessions: SessionFactory,
) -> None:
    paid = await seed_invoice(sessions, total_minor=120_000, paid_minor=120_000)
    await credit_on_account(sessions, paid, 10_000)
    invoices = [await another_invoice(sessions, paid, 3_000) for _ in range(5)]

    async def step(invoice_id: str) -> list[customer_credits.Applied]:
        """The activity: a repeat that lost the race rolls back whole and is retried."""
        try:
            return await apply(sessions, paid, invoice_id, 3_000)
        except RuntimeError:
            return await apply(sessions, paid, invoice_id, 3_000)

    # each invoice's step twice at once (a retried activity racing its first attempt)
    outcomes = await asyncio.gather(*(step(i) for i in invoices + invoices))
    for i, invoice_id in enumerate(invoices):  # both runs of a step agree on what it took
        assert outcomes[i] == outcomes[i + len(invoices)], invoice_id
    rows = [await invoice(sessions, i) for i in invoices]
    applied = sorted(row.credit_applied_minor for row in rows)
    assert applied == [0, 1_000, 3_000, 3_000, 3_000]
    async with transaction(sessions, writes=False) as session:
        assert await customer_credits.available(session, paid.customer_id) == []
        for i in invoices:
            assert sum(r.amount_minor for r in await customer_credits.applied_to(session, i)) in (
                0,
                1_000,
                3_000,
            )
