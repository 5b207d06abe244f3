"""What the workflow and the delivery steps know of a stored invoice: its snapshot (own
fields, lines, reminder terms, delivery plan and the customer's contact details), read in
one place so generation, revision and documents build it alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.invoicing import InvoiceLine, TaxLine
from domain.tax import TaxCategory
from schemas.invoice import InvoiceSnapshot
from schemas.reminders import ReminderTerms, default_terms
from schemas.tables import Contract, Customer, Invoice, InvoiceLineRow
from store import delivery


def reminder_terms(contract: Contract, late_charge_for: str | None) -> ReminderTerms:
    """The contract's reminder schedule (the API stores the settings' default with a
    contract created without one; a contract older than reminders has the built-in
    default); a late-charge invoice follows it without a charge of its own."""
    terms = (
        ReminderTerms.model_validate(contract.reminders)
        if contract.reminders is not None
        else default_terms()
    )
    return terms.model_copy(update={"late_charge": None}) if late_charge_for else terms


async def snapshot(session: AsyncSession, invoice: Invoice) -> InvoiceSnapshot:
    customer = await session.get(Customer, invoice.customer_id)
    contract = await session.get(Contract, invoice.contract_id)
    assert customer is not None and invoice.number and invoice.issue_date and invoice.due_date
    assert contract is not None
    return snapshot_of(
        customer,
        invoice_id=invoice.id,
        number=invoice.number,
        tax_region=invoice.tax_region,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        lines=[_line(row) for row in await lines(session, invoice.id)],
        tax_lines=[TaxLine.model_validate(t) for t in invoice.tax_lines],
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        po_number=invoice.po_number,
        reminders=reminder_terms(contract, invoice.late_charge_for),
        late_charge_for=invoice.late_charge_for,
        delivery=await delivery.plan_of(session, invoice.id),
    )


def snapshot_of(customer: Customer, **invoice: Any) -> InvoiceSnapshot:
    """What the workflow and the delivery steps know of an invoice: its own fields and its
    customer's contact details."""
    return InvoiceSnapshot(
        customer_id=customer.id,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        customer_locale=customer.locale,
        **invoice,
    )


async def lines(session: AsyncSession, invoice_id: str) -> list[InvoiceLineRow]:
    rows = await session.exec(
        select(InvoiceLineRow)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(col(InvoiceLineRow.position))
    )
    return list(rows)


def _line(row: InvoiceLineRow) -> InvoiceLine:
    return InvoiceLine(
        position=row.position,
        description=row.description,
        quantity=Decimal(row.quantity),
        unit=row.unit,
        unit_price_minor=row.unit_price_minor,
        net_minor=row.net_minor,
        tax_category=TaxCategory(row.tax_category),
        rate_code=row.rate_code,
        po_line=row.po_line,
    )
