"""A known year of documents written straight to a test database for the export tests:
invoices in three currencies (two rates of VAT, Canadian GST + PST on one supply, yen
with no minor unit), a VOID one, ties on one issue date, an unnumbered PENDING one, and
credit notes and payments on both sides of the period's edges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from schemas.dispute_tables import CreditNoteRow
from schemas.ids import new_id
from schemas.tables import Invoice, Payment
from store.db import SessionFactory, transaction
from tests.support.factories import customer_and_contract

FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)


def tax(name: str, rate: str, taxable: int, amount: int, category: str = "standard") -> Any:
    return {
        "name": name,
        "rate": rate,
        "category": category,
        "taxable_minor": taxable,
        "tax_minor": amount,
    }


@dataclass
class Seeded:
    """What the period holds: numbers by kind, and the invoices' totals per currency."""

    invoice_numbers: set[str] = field(default_factory=set)
    credit_note_numbers: dict[str, str] = field(default_factory=dict)  # -> invoice number
    payment_ids: dict[str, str] = field(default_factory=dict)  # -> invoice number
    outside: set[str] = field(default_factory=set)  # numbers and ids that must not show
    totals: dict[str, int] = field(default_factory=dict)  # currency -> sum of invoice gross


async def _invoice(
    sessions: SessionFactory,
    *,
    customer_name: str,
    currency: str,
    region: str,
    issued: date,
    tax_lines: list[Any],
    status: str = "ISSUED",
    numbered: bool = True,
    **amounts: Any,
) -> Invoice:
    customer, contract = await customer_and_contract(
        sessions, customer_name=customer_name, currency=currency, tax_region=region
    )
    subtotal = amounts.pop("subtotal_minor")
    tax_total = sum(line["tax_minor"] for line in tax_lines)
    now = datetime.now(UTC)
    invoice = Invoice(
        id=new_id("inv"),
        customer_id=customer.id,
        contract_id=contract.id,
        number=f"INV-{issued.year}-{uuid.uuid4().hex[:8].upper()}" if numbered else None,
        status=status,
        currency=currency,
        tax_region=region,
        issue_date=issued,
        due_date=date.fromordinal(issued.toordinal() + 30),
        subtotal_minor=subtotal,
        tax_minor=tax_total,
        total_minor=subtotal + tax_total,
        tax_lines=tax_lines,
        created_by="test",
        created_at=now,
        updated_at=now,
        **amounts,
    )
    async with transaction(sessions) as session:
        session.add(invoice)
    return invoice


async def _credit_note(
    sessions: SessionFactory, invoice: Invoice, amount: int, created: datetime
) -> str:
    number = f"CN-{created.year}-{uuid.uuid4().hex[:8].upper()}"
    async with transaction(sessions) as session:
        session.add(
            CreditNoteRow(
                id=new_id("cn"),
                number=number,
                invoice_id=invoice.id,
                currency=invoice.currency,
                amount_minor=amount,
                reason="pricing_error",
                settlement="balance",
                created_at=created,
            )
        )
    return number


async def _payment(sessions: SessionFactory, invoice: Invoice, amount: int, paid: datetime) -> str:
    payment_id = f"pay_{uuid.uuid4().hex[:12]}"
    async with transaction(sessions) as session:
        session.add(
            Payment(
                id=payment_id,
                invoice_id=invoice.id,
                amount_minor=amount,
                currency=invoice.currency,
                paid_at=paid,
                recorded_at=paid,
            )
        )
    return payment_id


def _at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def seed_year(sessions: SessionFactory) -> Seeded:
    seeded = Seeded()

    def counted(invoice: Invoice) -> Invoice:
        assert invoice.number
        seeded.invoice_numbers.add(invoice.number)
        seeded.totals[invoice.currency] = (
            seeded.totals.get(invoice.currency, 0) + invoice.total_minor
        )
        return invoice

    two_rates = counted(
        await _invoice(
            sessions,
            customer_name='Smith, "Jones" & Co',  # a comma and quotes: CSV quoting
            currency="GBP",
            region="GB",
            issued=date(2026, 3, 10),
            tax_lines=[tax("VAT", "0.20", 100_000, 20_000), tax("VAT", "0.05", 10_000, 500)],
            subtotal_minor=110_000,
            paid_minor=50_000,
            status="PARTIALLY_PAID",
        )
    )
    counted(  # the same issue date: the keyset breaks the tie on the id
        await _invoice(
            sessions,
            customer_name="Müller GmbH",
            currency="GBP",
            region="GB",
            issued=date(2026, 3, 10),
            tax_lines=[tax("VAT", "0.2", 50_000, 10_000)],
            subtotal_minor=50_000,
            status="VOID",
        )
    )
    two_taxes = counted(
        await _invoice(
            sessions,
            customer_name="Maple Leaf Supplies",
            currency="CAD",
            region="CA-BC",
            issued=date(2026, 6, 1),
            tax_lines=[tax("GST", "0.05", 100_000, 5_000), tax("PST", "0.07", 100_000, 7_000)],
            subtotal_minor=100_000,
            credited_minor=56_000,
        )
    )
    counted(  # the period's last day is in it
        await _invoice(
            sessions,
            customer_name="Kyoto Works",
            currency="JPY",
            region="GB",
            issued=LAST,
            tax_lines=[tax("VAT", "0", 5_000, 0, "zero")],
            subtotal_minor=5_000,
        )
    )
    older = await _invoice(
        sessions,
        customer_name="Old Rate Ltd",
        currency="GBP",
        region="GB",
        issued=date(2025, 12, 31),
        tax_lines=[tax("VAT", "0.175", 10_000, 1_750)],
        subtotal_minor=10_000,
    )
    later = await _invoice(
        sessions,
        customer_name="Next Year Ltd",
        currency="GBP",
        region="GB",
        issued=date(2027, 1, 1),
        tax_lines=[tax("VAT", "0.20", 10_000, 2_000)],
        subtotal_minor=10_000,
    )
    assert older.number and later.number
    seeded.outside |= {older.number, later.number}
    await _invoice(  # not numbered: never issued, not exported
        sessions,
        customer_name="Pending Ltd",
        currency="GBP",
        region="GB",
        issued=date(2026, 5, 1),
        tax_lines=[],
        subtotal_minor=1_000,
        status="PENDING",
        numbered=False,
    )

    async def credit(invoice: Invoice, amount: int, created: datetime, inside: bool) -> None:
        number = await _credit_note(sessions, invoice, amount, created)
        if inside:
            seeded.credit_note_numbers[number] = invoice.number or ""
        else:
            seeded.outside.add(number)

    async def pay(invoice: Invoice, amount: int, paid: datetime, inside: bool) -> None:
        payment_id = await _payment(sessions, invoice, amount, paid)
        if inside:
            seeded.payment_ids[payment_id] = invoice.number or ""
        else:
            seeded.outside.add(payment_id)

    await credit(two_taxes, 56_000, _at(2026, 6, 15), inside=True)
    await credit(older, 1_175, _at(2026, 1, 1, 0, 0), inside=True)  # an older invoice's rate
    await credit(two_rates, 1_000, _at(2027, 1, 1, 0, 0), inside=False)
    await pay(two_rates, 50_000, _at(2026, 3, 20), inside=True)
    await pay(two_taxes, 1_000, _at(2026, 12, 31, 23, 59), inside=True)
    await pay(two_rates, 80_500, _at(2025, 12, 31, 23, 59), inside=False)
    return seeded
