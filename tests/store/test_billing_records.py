"""Period invoices from billable entries, on SQLite and PostgreSQL: entries are billed once,
an empty period is rejected without a number, and the run's contract pages are right."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from schemas.ids import billing_invoice_id
from schemas.invoice import InvoiceStatus
from schemas.tables import BillableEntry, Invoice, InvoiceLineRow, InvoiceNumberSeries
from store import billing, invoices
from store.db import create_engine, session_factory, transaction
from tests.support.billing import contract_with_entries
from tests.support.factories import start_input

PERIOD = "2026-10"


async def test_a_period_invoice_bills_the_unbilled_entries_once_and_marks_them(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await contract_with_entries(sessions, PERIOD, entries=3)
    request = start_input(
        customer,
        contract,
        invoice_id=billing_invoice_id(contract.id, PERIOD),
        items=[],
        billing_period=PERIOD,
        issue_date=date(2026, 11, 1),
    )
    async with transaction(sessions) as session:
        first = await invoices.create_invoice(session, request, date(2026, 11, 1))
    async with transaction(sessions) as session:  # a retried step: same answer, no new writes
        again = await invoices.create_invoice(session, request, date(2026, 11, 1))

    assert first.invoice is not None and again.invoice is not None
    assert again.invoice.number == first.invoice.number
    # 1h + 2h + 3h at 120.00 = 720.00 net, + 20% VAT
    assert first.invoice.subtotal_minor == 72000 and first.invoice.total_minor == 86400
    async with sessions() as session:
        entries = list(await session.exec(select(BillableEntry)))
        lines = list(await session.exec(select(InvoiceLineRow)))
        stored = await session.get(Invoice, request.invoice_id)
    assert {e.invoice_id for e in entries} == {request.invoice_id}
    assert [line.quantity for line in sorted(lines, key=lambda r: r.position)] == ["1", "2", "3"]
    assert stored is not None and stored.billing_period == PERIOD
    await engine.dispose()


async def test_a_period_without_unbilled_entries_is_rejected_and_takes_no_number(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await contract_with_entries(sessions, None)
    request = start_input(customer, contract, items=[], billing_period=PERIOD)
    async with transaction(sessions) as session:
        result = await invoices.create_invoice(session, request, date(2026, 11, 1))
    assert result.invoice is None and result.rejection_code == "nothing_to_bill"
    async with sessions() as session:
        row = await session.get(Invoice, request.invoice_id)
        series = list(await session.exec(select(InvoiceNumberSeries)))
    assert row is not None and row.status == InvoiceStatus.REJECTED.value and row.number is None
    assert row.billing_period == PERIOD
    assert all(s.last_value == 0 for s in series)
    await engine.dispose()


async def test_a_second_period_invoice_for_the_same_contract_finds_nothing_left(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await contract_with_entries(sessions, PERIOD)
    one = start_input(customer, contract, items=[], billing_period=PERIOD)
    two = start_input(customer, contract, items=[], billing_period=PERIOD)
    async with transaction(sessions) as session:
        assert (await invoices.create_invoice(session, one, date(2026, 11, 1))).invoice
    async with transaction(sessions) as session:
        second = await invoices.create_invoice(session, two, date(2026, 11, 1))
    assert second.rejection_code == "nothing_to_bill"
    await engine.dispose()


async def test_billable_contracts_pages_by_id_over_valid_contracts_with_unbilled_entries(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    wanted = sorted(
        [(await contract_with_entries(sessions, PERIOD))[1].id for _ in range(5)]
        + [(await contract_with_entries(sessions, PERIOD, valid_to=date(2026, 10, 10)))[1].id]
    )
    await contract_with_entries(sessions, None)  # nothing to bill
    await contract_with_entries(sessions, "2026-09")  # another period
    await contract_with_entries(sessions, PERIOD, valid_to=date(2026, 9, 30))  # expired before
    await contract_with_entries(sessions, PERIOD, valid_from=date(2026, 11, 1))  # starts after

    seen: list[str] = []
    cursor: str | None = None
    remaining_first = None
    while True:
        async with transaction(sessions, writes=False) as session:
            page, remaining = await billing.billable_contracts(session, PERIOD, cursor, 4)
        remaining_first = remaining if remaining_first is None else remaining_first
        seen += [row.contract_id for row in page]
        if len(page) < 4:
            break
        cursor = page[-1].contract_id
    assert seen == wanted
    assert remaining_first == 6
    await engine.dispose()
