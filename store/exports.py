"""The rows of an invoice export for a period, read in keyset batches so that a year of
invoices never sits in memory.

A period is whole UTC days, both ends included. What falls in it:

- invoices by issue date; an invoice without a number (PENDING, REJECTED: nothing was
  issued) is left out, every numbered one is in, VOID and CANCELLED included, so the
  numbers of a series show without gaps;
- credit notes by the UTC day they were created, with the invoice they credit;
- payments by the UTC day they were paid, with the invoice they pay.

The file lists invoices, then credit notes, then payments, each in (date, id) order.
Every batch is read in a read-only transaction of its own (`store.db.transaction(...,
writes=False)`), so a slow download never holds a transaction open: on SQLite a reader
would stop the WAL from being checkpointed, on PostgreSQL it would hold back vacuum.
The price is that the batches are not one snapshot: a payment recorded while the file
is being written may or may not be in it. Rows are keyed on (date, id), so none is read
twice or skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select

from domain.exports import TaxColumn, credited_taxes, invoice_taxes, tax_column
from schemas.dispute_tables import CreditNoteRow
from schemas.invoice import InvoiceStatus
from schemas.tables import Customer, Invoice, Payment
from store.db import SessionFactory, transaction
from store.queries import balance_of

BATCH_SIZE = 1000


@dataclass(frozen=True)
class ExportPeriod:
    """Whole UTC days from `first` to `last`, both included."""

    first: dt.date
    last: dt.date

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), tzinfo=dt.UTC)

    @property
    def ends_before(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class ExportRow:
    """One line of the file. Amounts are minor units of `currency`: an invoice's are as
    issued; a credit note's are negative (it takes them back); a payment has only its
    gross (money received, positive) and no tax. `status` and `balance_minor` are the
    invoice's own (a VOID invoice's balance is 0, as the API shows it); a credit note
    carries its status and no balance; `invoice_number` links a credit note or payment to
    its invoice."""

    document_type: str  # invoice | credit_note | payment
    number: str
    date: dt.date
    due_date: dt.date | None
    customer_id: str
    customer_name: str
    currency: str
    net_minor: int | None
    tax_minor: int | None
    gross_minor: int
    taxes: Mapping[TaxColumn, int] = field(default_factory=dict)
    status: str | None = None
    balance_minor: int | None = None
    invoice_number: str | None = None


async def _keyset(
    sessions: SessionFactory,
    query: Any,
    order: tuple[Any, Any],
    key_of: Callable[[Any], tuple[Any, Any]],
    batch_size: int,
) -> AsyncIterator[Any]:
    """The rows of `query` in `order` (a date, then an id to break ties), `batch_size` at a
    time, each batch in a short read transaction of its own; the next batch starts after
    the last row seen (`key_of` gives a row's values of `order`)."""
    sort, key = order
    after: tuple[Any, Any] | None = None
    while True:
        page = query
        if after is not None:
            page = page.where(or_(sort > after[0], and_(sort == after[0], key > after[1])))
        async with transaction(sessions, writes=False) as session:
            rows = list(await session.exec(page.order_by(sort, key).limit(batch_size)))
        for row in rows:
            yield row
        if len(rows) < batch_size:
            return
        after = key_of(rows[-1])


def _invoices_in(period: ExportPeriod) -> ColumnElement[bool]:
    issued = col(Invoice.issue_date)
    return and_(col(Invoice.number).is_not(None), issued >= period.first, issued <= period.last)


def _credit_notes_in(period: ExportPeriod) -> ColumnElement[bool]:
    created = col(CreditNoteRow.created_at)
    return and_(created >= period.starts_at, created < period.ends_before)


def _payments_in(period: ExportPeriod) -> ColumnElement[bool]:
    paid = col(Payment.paid_at)
    return and_(paid >= period.starts_at, paid < period.ends_before)


async def tax_columns(
    sessions: SessionFactory, period: ExportPeriod, *, batch_size: int = BATCH_SIZE
) -> list[TaxColumn]:
    """Every (tax, rate) the period's invoices and credit notes carry, sorted: the file's
    columns are fixed before its first row is written. A first pass that reads only the
    tax lines (of the period's invoices, and of the invoices its credit notes credit,
    which may be older)."""
    seen: set[TaxColumn] = set()
    invoices = select(col(Invoice.issue_date), col(Invoice.id), col(Invoice.tax_lines)).where(
        _invoices_in(period)
    )
    order = (col(Invoice.issue_date), col(Invoice.id))
    async for _, _, lines in _keyset(sessions, invoices, order, lambda r: (r[0], r[1]), batch_size):
        seen.update(tax_column(line) for line in lines)
    credited = (
        select(col(CreditNoteRow.created_at), col(CreditNoteRow.id), col(Invoice.tax_lines))
        .join(Invoice, col(Invoice.id) == col(CreditNoteRow.invoice_id))
        .where(_credit_notes_in(period))
    )
    order = (col(CreditNoteRow.created_at), col(CreditNoteRow.id))
    async for _, _, lines in _keyset(sessions, credited, order, lambda r: (r[0], r[1]), batch_size):
        seen.update(tax_column(line) for line in lines)
    return sorted(seen)


async def export_rows(
    sessions: SessionFactory, period: ExportPeriod, *, batch_size: int = BATCH_SIZE
) -> AsyncIterator[ExportRow]:
    """The period's invoices, then its credit notes, then its payments (module docstring)."""
    async for row in _invoice_rows(sessions, period, batch_size):
        yield row
    async for row in _credit_note_rows(sessions, period, batch_size):
        yield row
    async for row in _payment_rows(sessions, period, batch_size):
        yield row


async def _invoice_rows(
    sessions: SessionFactory, period: ExportPeriod, batch_size: int
) -> AsyncIterator[ExportRow]:
    # the whole invoice, because `balance_of` takes one
    query = (
        select(Invoice, col(Customer.name))
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(_invoices_in(period))
    )
    order = (col(Invoice.issue_date), col(Invoice.id))
    invoice: Invoice
    async for invoice, customer_name in _keyset(
        sessions, query, order, lambda r: (r[0].issue_date, r[0].id), batch_size
    ):
        void = invoice.status == InvoiceStatus.VOID.value
        yield ExportRow(
            document_type="invoice",
            number=invoice.number or "",
            date=invoice.issue_date or period.first,
            due_date=invoice.due_date,
            customer_id=invoice.customer_id,
            customer_name=customer_name,
            currency=invoice.currency,
            net_minor=invoice.subtotal_minor,
            tax_minor=invoice.tax_minor,
            gross_minor=invoice.total_minor,
            taxes=invoice_taxes(invoice.tax_lines),
            status=invoice.status,
            balance_minor=0 if void else balance_of(invoice),
        )


async def _credit_note_rows(
    sessions: SessionFactory, period: ExportPeriod, batch_size: int
) -> AsyncIterator[ExportRow]:
    query = (
        select(CreditNoteRow, Invoice, col(Customer.name))
        .join(Invoice, col(Invoice.id) == col(CreditNoteRow.invoice_id))
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(_credit_notes_in(period))
    )
    order = (col(CreditNoteRow.created_at), col(CreditNoteRow.id))
    note: CreditNoteRow
    invoice: Invoice
    async for note, invoice, customer_name in _keyset(
        sessions, query, order, lambda r: (r[0].created_at, r[0].id), batch_size
    ):
        taxes = credited_taxes(invoice.tax_lines, invoice.total_minor, note.amount_minor)
        tax = sum(taxes.values())
        yield ExportRow(
            document_type="credit_note",
            number=note.number,
            date=note.created_at.astimezone(dt.UTC).date(),
            due_date=None,
            customer_id=invoice.customer_id,
            customer_name=customer_name,
            currency=note.currency,
            net_minor=-(note.amount_minor - tax),
            tax_minor=-tax,
            gross_minor=-note.amount_minor,
            taxes={column: -amount for column, amount in taxes.items()},
            status=note.status,
            invoice_number=invoice.number,
        )


async def _payment_rows(
    sessions: SessionFactory, period: ExportPeriod, batch_size: int
) -> AsyncIterator[ExportRow]:
    query = (
        select(Payment, col(Invoice.number), col(Invoice.customer_id), col(Customer.name))
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(_payments_in(period))
    )
    order = (col(Payment.paid_at), col(Payment.id))
    payment: Payment
    async for payment, invoice_number, customer_id, customer_name in _keyset(
        sessions, query, order, lambda r: (r[0].paid_at, r[0].id), batch_size
    ):
        yield ExportRow(
            document_type="payment",
            number=payment.id,  # the provider's payment id: payments have no number of ours
            date=payment.paid_at.astimezone(dt.UTC).date(),
            due_date=None,
            customer_id=customer_id,
            customer_name=customer_name,
            currency=payment.currency,
            net_minor=None,
            tax_minor=None,
            gross_minor=payment.amount_minor,
            invoice_number=invoice_number,
        )
