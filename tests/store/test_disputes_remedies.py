"""Dispute remedies on SQLite and PostgreSQL: credit notes numbered gapless under
concurrency and taken off the invoice once, never more than is left to credit (even when
two race for it), write-offs once per key and only of what is still to be paid, payment
plan instalments stored once, and the balance the API shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from schemas.dispute_tables import CreditNoteRow, DisputeRow
from schemas.disputes import InstalmentPlan
from schemas.ids import new_id
from schemas.tables import Invoice
from store import disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from store.queries import invoice_out
from tests.support.disputes import SeededInvoice, seed_dispute, seed_invoice

AT = datetime(2026, 12, 5, 14, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def _credit(
    sessions: SessionFactory,
    invoice: SeededInvoice,
    dispute_id: str | None,
    amount_minor: int,
    credit_note_id: str | None = None,
    settlement: str = "balance",
) -> tuple[CreditNoteRow, bool]:
    async with transaction(sessions) as session:
        return await disputes.issue_credit_note(
            session,
            credit_note_id=credit_note_id or new_id("cn"),
            invoice_id=invoice.invoice_id,
            dispute_id=dispute_id,
            currency="GBP",
            amount_minor=amount_minor,
            reason="product_unsatisfactory",
            settlement=settlement,
            created_at=AT,
        )


async def _amounts(sessions: SessionFactory, invoice_id: str, dispute_id: str) -> tuple[int, ...]:
    async with transaction(sessions, writes=False) as session:
        invoice = await session.get(Invoice, invoice_id)
        dispute = await session.get(DisputeRow, dispute_id)
    assert invoice is not None and dispute is not None
    return (
        invoice.credited_minor,
        invoice.written_off_minor,
        dispute.credited_minor,
        dispute.written_off_minor,
    )


async def test_credit_notes_are_gapless_under_concurrency_and_credited_once(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions, total_minor=120_000)
    dispute = await seed_dispute(sessions, invoice)
    ids = [new_id("cn") for _ in range(6)]
    # each credit note issued twice at once (a retried activity racing its first attempt)
    outcomes = await asyncio.gather(
        *(_credit(sessions, invoice, dispute.id, 1_000, cn) for cn in ids + ids)
    )
    assert sum(1 for _, new in outcomes if new) == 6
    async with transaction(sessions, writes=False) as session:
        rows = list(await session.exec(select(CreditNoteRow).order_by(col(CreditNoteRow.number))))
    assert [r.number for r in rows] == [f"CN-2026-{n:04d}" for n in range(1, 7)]
    assert {r.id for r in rows} == set(ids)
    assert all((r.status, r.settlement, r.dispute_id) == ("issued", "balance", dispute.id)
               for r in rows)  # fmt: skip
    assert await _amounts(sessions, invoice.invoice_id, dispute.id) == (6_000, 0, 6_000, 0)

    again, created = await _credit(sessions, invoice, dispute.id, 1_000, ids[0])
    assert not created and again.number == next(r.number for r in rows if r.id == ids[0])
    assert await _amounts(sessions, invoice.invoice_id, dispute.id) == (6_000, 0, 6_000, 0)


async def test_a_credit_above_what_is_left_is_refused_and_takes_no_number(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions, total_minor=120_000, paid_minor=120_000)
    dispute = await seed_dispute(sessions, invoice)
    # a paid invoice can still be credited (as a refund), up to its total
    refund, _ = await _credit(sessions, invoice, dispute.id, 100_000, settlement="refund")
    with pytest.raises(disputes.NotCreditable):
        await _credit(sessions, invoice, dispute.id, 20_001)
    with pytest.raises(disputes.NotCreditable):
        await _credit(sessions, invoice, dispute.id, 0)
    with pytest.raises(ValueError, match="settlement"):
        await _credit(sessions, invoice, dispute.id, 10, settlement="cash")
    last, _ = await _credit(sessions, invoice, dispute.id, 20_000)
    assert (refund.number, last.number) == ("CN-2026-0001", "CN-2026-0002")
    assert await _amounts(sessions, invoice.invoice_id, dispute.id) == (120_000, 0, 120_000, 0)
    async with transaction(sessions) as session:
        noted = await disputes.set_credit_note_refund(session, refund.id, "re_123")
    assert noted is not None and noted.refund_id == "re_123"


async def test_two_credit_notes_racing_for_the_last_amount_cannot_both_get_it(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions, total_minor=120_000)
    dispute = await seed_dispute(sessions, invoice)
    outcomes = await asyncio.gather(
        *(_credit(sessions, invoice, dispute.id, 70_000) for _ in range(2)),
        return_exceptions=True,
    )
    issued = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, disputes.NotCreditable)]
    assert (len(issued), len(refused)) == (1, 1)
    assert issued[0][0].number == "CN-2026-0001"
    assert await _amounts(sessions, invoice.invoice_id, dispute.id) == (70_000, 0, 70_000, 0)
    nxt, _ = await _credit(sessions, invoice, dispute.id, 50_000)
    assert nxt.number == "CN-2026-0002"  # the refused one left no gap


async def test_a_write_off_is_taken_once_per_key_and_only_of_what_is_still_to_be_paid(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions, total_minor=120_000, paid_minor=110_000)
    dispute = await seed_dispute(sessions, invoice)
    await _credit(sessions, invoice, dispute.id, 8_000)

    async def write_off(key: str, amount: int) -> bool:
        async with transaction(sessions) as session:
            return await disputes.record_write_off(
                session,
                dispute_id=dispute.id,
                invoice_id=invoice.invoice_id,
                amount_minor=amount,
                key=key,
                at=AT,
            )

    with pytest.raises(disputes.NotCreditable):
        await write_off(f"{dispute.id}:write_off", 2_001)  # 2,000 is what is left to pay
    first = await write_off(f"{dispute.id}:write_off", 2_000)
    repeats = await asyncio.gather(*(write_off(f"{dispute.id}:write_off", 2_000) for _ in range(3)))
    assert (first, repeats) == (True, [False, False, False])
    assert await _amounts(sessions, invoice.invoice_id, dispute.id) == (8_000, 2_000, 8_000, 2_000)
    async with transaction(sessions, writes=False) as session:
        stored = await session.get(Invoice, invoice.invoice_id)
    assert stored is not None
    shown = invoice_out(stored, date(2026, 12, 6))
    assert (shown.credited_minor, shown.written_off_minor, shown.balance_minor) == (8_000, 2_000, 0)


async def test_the_balance_shown_is_total_less_paid_credited_and_written_off(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions, total_minor=120_000, paid_minor=30_000)
    dispute = await seed_dispute(sessions, invoice)
    await _credit(sessions, invoice, dispute.id, 24_000)
    async with transaction(sessions, writes=False) as session:
        stored = await session.get(Invoice, invoice.invoice_id)
    assert stored is not None
    shown = invoice_out(stored, date(2027, 1, 15))
    assert shown.balance_minor == 120_000 - 30_000 - 24_000
    assert shown.overdue  # still 66,000 to pay after the due date


async def test_instalments_are_stored_once_in_due_date_order(sessions: SessionFactory) -> None:
    invoice = await seed_invoice(sessions)
    dispute = await seed_dispute(sessions, invoice)
    plan = [
        InstalmentPlan(due_date=date(2027, 2, 1), amount_minor=40_000),
        InstalmentPlan(due_date=date(2027, 1, 1), amount_minor=40_000),
        InstalmentPlan(due_date=date(2027, 3, 1), amount_minor=40_000),
    ]

    async def store() -> list[tuple[int, date, int, str]]:
        async with transaction(sessions) as session:
            rows = await disputes.insert_instalments(
                session, dispute_id=dispute.id, invoice_id=invoice.invoice_id, instalments=plan
            )
        return [(r.sequence, r.due_date, r.paid_minor, r.status) for r in rows]

    first = await store()
    assert await store() == first
    assert first == [
        (1, date(2027, 1, 1), 0, "due"),
        (2, date(2027, 2, 1), 0, "due"),
        (3, date(2027, 3, 1), 0, "due"),
    ]
    async with transaction(sessions) as session:
        paid = await disputes.update_instalment(
            session,
            invoice_id=invoice.invoice_id,
            dispute_id=dispute.id,
            sequence=1,
            paid_minor=40_000,
            status="paid",
        )
        late = await disputes.update_instalment(
            session, invoice_id=invoice.invoice_id, dispute_id=dispute.id, sequence=2,
            status="overdue",
        )  # fmt: skip
        with pytest.raises(ValueError, match="instalment status"):
            await disputes.update_instalment(
                session,
                invoice_id=invoice.invoice_id,
                dispute_id=dispute.id,
                sequence=3,
                status="late",
            )
    assert paid is not None and (paid.paid_minor, paid.status) == (40_000, "paid")
    assert late is not None and late.status == "overdue"
