"""Invoice records on SQLite and PostgreSQL: gapless numbers, idempotent writes, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from sqlmodel import func, select

from schemas.invoice import InvoiceStatus, PaymentReceived
from schemas.tables import AuditEvent, Invoice, InvoiceLineRow, Payment
from store import billing, invoices
from store.db import create_engine, session_factory, transaction
from tests.support.billing import contract_with_entries
from tests.support.factories import customer_and_contract, start_input


async def test_invoice_numbers_are_gapless_and_each_invoice_gets_exactly_one(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    requests = [start_input(customer, contract) for _ in range(12)]

    async def create(request):  # type: ignore[no-untyped-def]
        async with transaction(sessions) as session:
            return await invoices.create_invoice(session, request, request.issue_date)

    # every request twice, all at once: retries racing first attempts
    results = await asyncio.gather(
        *(create(r) for r in requests + requests), return_exceptions=True
    )
    # a losing racer may fail on the primary key; its retry must then see the winner's number
    retried = [await create(r) for r in requests]
    numbers = [result.invoice.number for result in retried]
    assert sorted(numbers) == [f"INV-2026-{n:04d}" for n in range(1, 13)]
    for first, again in zip(results[:12], retried, strict=True):
        if not isinstance(first, BaseException):
            assert first.invoice.number == again.invoice.number
    async with transaction(sessions) as session:
        stored = (await session.exec(select(func.count()).select_from(Invoice))).one()
        generated_events = (
            await session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "invoice.generated")
            )
        ).one()
    assert stored == 12
    assert generated_events == 12
    await engine.dispose()


async def test_rejected_invoice_is_stored_with_its_reason_and_takes_no_number(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions, valid_to=date(2026, 10, 31))
    late = start_input(customer, contract, issue_date=date(2026, 11, 2))
    async with transaction(sessions) as session:
        result = await invoices.create_invoice(session, late, late.issue_date)
    assert result.invoice is None
    assert result.rejection_code == "contract_expired"
    async with transaction(sessions) as session:
        row = await session.get(Invoice, late.invoice_id)
        lines = (await session.exec(select(InvoiceLineRow))).all()
    assert row is not None and row.status == InvoiceStatus.REJECTED.value and row.number is None
    assert lines == []

    on_time = start_input(customer, contract, issue_date=date(2026, 10, 30))
    async with transaction(sessions) as session:
        ok = await invoices.create_invoice(session, on_time, on_time.issue_date)
    assert ok.invoice is not None and ok.invoice.number == "INV-2026-0001"
    await engine.dispose()


async def test_a_contract_of_another_customer_is_rejected_even_without_the_api(
    db_url: str,
) -> None:
    """The API refuses the pair with a 422; a start sent straight to Temporal (or a billing
    run fed a bad row) meets the same rule in the worker, and no number is taken."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, _ = await customer_and_contract(sessions)
    _, someone_elses = await customer_and_contract(sessions)
    request = start_input(customer, someone_elses)
    async with transaction(sessions) as session:
        result = await invoices.create_invoice(session, request, request.issue_date)
    assert result.invoice is None
    assert result.rejection_code == "contract_not_for_customer"
    async with transaction(sessions) as session:
        row = await session.get(Invoice, request.invoice_id)
    assert row is not None and row.status == InvoiceStatus.REJECTED.value and row.number is None

    # the same for a period invoice: the other customer's entries stay theirs, unbilled, and
    # the refused request does not count as that contract's invoice for the period
    _, theirs = await contract_with_entries(sessions, "2026-10")
    period_request = start_input(customer, theirs, billing_period="2026-10", items=[])
    async with transaction(sessions) as session:
        refused = await invoices.create_invoice(session, period_request, period_request.issue_date)
    assert refused.rejection_code == "contract_not_for_customer"
    async with transaction(sessions) as session:
        assert not await billing.period_invoiced(session, theirs.id, "2026-10")
        assert len(await billing.unbilled_entries(session, theirs.id, "2026-10")) == 2
    await engine.dispose()


async def test_the_same_payment_recorded_twice_counts_once(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    request = start_input(customer, contract)  # 10h x 120.00 + 20% VAT = 1,440.00
    async with transaction(sessions) as session:
        created = await invoices.create_invoice(session, request, request.issue_date)
    assert created.invoice is not None and created.invoice.total_minor == 144000
    payment = PaymentReceived(
        payment_id="pay_1", amount_minor=40000, currency="GBP", paid_at=datetime.now(UTC)
    )
    for _ in range(2):
        async with transaction(sessions) as session:
            result = await invoices.record_payment(session, request.invoice_id, payment)
        assert result.paid_minor == 40000
        assert result.balance_minor == 104000
        assert result.status == InvoiceStatus.PARTIALLY_PAID
    async with transaction(sessions) as session:
        payments = (await session.exec(select(Payment))).all()
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "payment.recorded"))
        ).all()
    assert len(payments) == 1
    assert len(events) == 1
    await engine.dispose()


async def test_status_change_writes_one_audit_event_however_often_it_runs(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    request = start_input(customer, contract)
    async with transaction(sessions) as session:
        await invoices.create_invoice(session, request, request.issue_date)
    for _ in range(3):
        async with transaction(sessions) as session:
            await invoices.set_status(
                session,
                request.invoice_id,
                InvoiceStatus.OVERDUE,
                step_key="overdue",
                actor="workflow",
            )
    async with transaction(sessions) as session:
        row = await session.get(Invoice, request.invoice_id)
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "invoice.overdue"))
        ).all()
    assert row is not None and row.status == "OVERDUE"
    assert len(events) == 1
    await engine.dispose()


async def test_invoices_created_at_once_on_a_capped_contract_never_exceed_its_cap(
    db_url: str,
) -> None:
    """Each invoice alone fits under the cap, two do not: however they race, one is issued
    (the sum invoiced so far is read under the contract's lock)."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions, cap_minor=200_000)
    requests = [start_input(customer, contract) for _ in range(6)]  # 120,000 net each

    async def create(request):  # type: ignore[no-untyped-def]
        async with transaction(sessions) as session:
            return await invoices.create_invoice(session, request, request.issue_date)

    results = await asyncio.gather(*(create(r) for r in requests))

    issued = [r for r in results if r.invoice is not None]
    assert len(issued) == 1
    assert {r.rejection_code for r in results if r.invoice is None} == {"cap_exceeded"}
    await engine.dispose()
