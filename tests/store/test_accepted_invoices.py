"""An invoice the API accepted is stored as PENDING at once; generating it completes that
row (number, lines, status), in either order, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from schemas.invoice import StartInvoiceInput
from schemas.tables import AuditEvent, Customer, Invoice, InvoiceLineRow
from store import acceptance, invoices
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract, start_input


async def _accept(sessions: SessionFactory, request: StartInvoiceInput, contract_id: str) -> None:
    async with sessions() as session:
        await acceptance.record_accepted(
            session,
            invoice_id=request.invoice_id,
            customer_id=request.customer_id,
            contract_id=contract_id,
            currency="GBP",
            tax_region="GB",
            po_number="PO-7",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 12, 2),
            subtotal_minor=1000,
            tax_minor=200,
            total_minor=1200,
            accepted_by="billing-app",
        )


async def test_generation_completes_the_pending_row_the_api_stored(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    request = start_input(customer, contract, po_number="PO-7")
    await _accept(sessions, request, contract.id)
    async with sessions() as session:
        pending = await session.get(Invoice, request.invoice_id)
        assert pending is not None
        assert (pending.status, pending.number, pending.total_minor) == ("PENDING", None, 1200)
        accepted_at = pending.created_at
        assert accepted_at.tzinfo is not None and accepted_at.utcoffset().total_seconds() == 0

    async with transaction(sessions) as session:
        result = await invoices.create_invoice(session, request, request.issue_date)
    assert result.invoice is not None and result.invoice.number == "INV-2026-0001"

    async with sessions() as session:
        stored = await session.get(Invoice, request.invoice_id, populate_existing=True)
        assert stored is not None
        assert stored.status == "ISSUED" and stored.number == "INV-2026-0001"
        assert stored.total_minor == result.invoice.total_minor
        assert stored.created_at == accepted_at  # accepted, not generated, is when it began
        lines = (
            await session.exec(
                select(InvoiceLineRow).where(InvoiceLineRow.invoice_id == request.invoice_id)
            )
        ).all()
        actions = [
            e.action
            for e in await session.exec(
                select(AuditEvent).where(AuditEvent.invoice_id == request.invoice_id)
            )
        ]
    assert len(lines) == 1
    assert actions == ["invoice.accepted", "invoice.generated"]

    # a retried generation answers as the first did and writes nothing more
    async with transaction(sessions) as session:
        again = await invoices.create_invoice(session, request, request.issue_date)
    assert again.invoice is not None and again.invoice.number == "INV-2026-0001"
    await engine.dispose()


async def test_acceptance_written_after_generation_changes_nothing(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    request = start_input(customer, contract)
    async with transaction(sessions) as session:
        result = await invoices.create_invoice(session, request, request.issue_date)
    await _accept(sessions, request, contract.id)
    async with sessions() as session:
        stored = await session.get(Invoice, request.invoice_id)
        assert stored is not None and result.invoice is not None
        assert stored.status == "ISSUED" and stored.total_minor == result.invoice.total_minor
        accepted = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "invoice.accepted"))
        ).all()
    assert accepted == []
    await engine.dispose()


async def test_timestamps_read_back_as_utc_on_every_engine(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, _ = await customer_and_contract(sessions)
    async with sessions() as session:
        row = await session.get(Customer, customer.id)
        assert row is not None
        assert row.created_at.utcoffset() is not None
        assert row.created_at.utcoffset().total_seconds() == 0
        assert abs((datetime.now(UTC) - row.created_at).total_seconds()) < 120
    await engine.dispose()
