"""Receivables aging for the ops dashboard: what customers owe, by how long past due.

An invoice is open when its status is one of `OPEN_STATUSES` (issued, partially paid,
overdue, disputed, in collections) and something is left to pay (`balance_of`). Its
balance is the one recorded now; the as-of date decides how far past due it is and the
DSO window (`domain.receivables`). A disputed invoice stays in: it is still a receivable.

Rows are aggregated in Python from one narrow query: bucketing by due date needs date
arithmetic that SQLite and PostgreSQL spell differently, and the open book of one company
is thousands of rows, not millions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.receivables import BUCKETS, DSO_WINDOW_DAYS, bucket_of, days_past_due, dso
from schemas.invoice import OPEN_STATUSES, InvoiceStatus
from schemas.tables import Customer, Invoice
from store.queries import balance_of

# what counts as invoiced (sales) for DSO: issued to the customer, and not replaced
SALES_STATUSES = [s.value for s in (*OPEN_STATUSES, InvoiceStatus.PAID, InvoiceStatus.CLOSED)]
_OPEN = [s.value for s in OPEN_STATUSES]


def _zero() -> dict[str, int]:
    return dict.fromkeys(BUCKETS, 0)


@dataclass
class AgingRow:
    customer_id: str
    customer_name: str
    currency: str
    buckets: dict[str, int] = field(default_factory=_zero)
    total_minor: int = 0
    invoices: int = 0


@dataclass
class CurrencyTotal:
    currency: str
    buckets: dict[str, int] = field(default_factory=_zero)
    total_minor: int = 0
    invoices: int = 0
    invoiced_in_window_minor: int = 0
    dso_days: Decimal | None = None


@dataclass(frozen=True)
class AgingReport:
    as_of: date
    rows: list[AgingRow]  # by currency, then largest balance first
    totals: list[CurrencyTotal]  # by currency
    dso_window_days: int = DSO_WINDOW_DAYS


@dataclass(frozen=True)
class OpenInvoice:
    invoice_id: str
    number: str | None
    customer_id: str
    customer_name: str
    status: str
    currency: str
    issue_date: date | None
    due_date: date | None
    days_past_due: int
    bucket: str
    total_minor: int
    balance_minor: int


async def open_invoices(
    session: AsyncSession,
    as_of: date,
    *,
    customer_id: str | None = None,
    currency: str | None = None,
    bucket: str | None = None,
) -> list[OpenInvoice]:
    """The open invoices issued by `as_of`, oldest due date first, optionally narrowed."""
    query = (
        select(Invoice, Customer.name)
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(col(Invoice.status).in_(_OPEN), col(Invoice.voided_at).is_(None))
        .where(col(Invoice.issue_date) <= as_of)
    )
    if customer_id:
        query = query.where(col(Invoice.customer_id) == customer_id)
    if currency:
        query = query.where(col(Invoice.currency) == currency)
    found = []
    for invoice, name in (await session.exec(query)).all():
        balance = balance_of(invoice)
        placed = bucket_of(invoice.due_date, as_of)
        if balance <= 0 or (bucket and placed != bucket):
            continue
        found.append(
            OpenInvoice(
                invoice_id=invoice.id,
                number=invoice.number,
                customer_id=invoice.customer_id,
                customer_name=name,
                status=invoice.status,
                currency=invoice.currency,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                days_past_due=days_past_due(invoice.due_date, as_of),
                bucket=placed,
                total_minor=invoice.total_minor,
                balance_minor=balance,
            )
        )
    found.sort(key=lambda i: (i.due_date or as_of, i.number or i.invoice_id))
    return found


async def invoiced_in_window(session: AsyncSession, as_of: date) -> dict[str, int]:
    """Per currency: the totals of invoices issued in the DSO window ending at `as_of`."""
    start = as_of - timedelta(days=DSO_WINDOW_DAYS)
    query = select(Invoice.currency, Invoice.total_minor).where(
        col(Invoice.status).in_(SALES_STATUSES),
        col(Invoice.issue_date) > start,
        col(Invoice.issue_date) <= as_of,
    )
    sums: dict[str, int] = {}
    for currency, total in (await session.exec(query)).all():
        sums[currency] = sums.get(currency, 0) + total
    return sums


async def aging(session: AsyncSession, as_of: date) -> AgingReport:
    rows: dict[tuple[str, str], AgingRow] = {}
    totals: dict[str, CurrencyTotal] = {}
    for invoice in await open_invoices(session, as_of):
        key = (invoice.currency, invoice.customer_id)
        row = rows.setdefault(
            key, AgingRow(invoice.customer_id, invoice.customer_name, invoice.currency)
        )
        total = totals.setdefault(invoice.currency, CurrencyTotal(invoice.currency))
        for target in (row, total):
            target.buckets[invoice.bucket] += invoice.balance_minor
            target.total_minor += invoice.balance_minor
            target.invoices += 1
    sales = await invoiced_in_window(session, as_of)
    for currency, invoiced in sales.items():
        totals.setdefault(currency, CurrencyTotal(currency)).invoiced_in_window_minor = invoiced
    for total in totals.values():
        total.dso_days = dso(total.total_minor, total.invoiced_in_window_minor)
    ordered = sorted(rows.values(), key=lambda r: (r.currency, -r.total_minor, r.customer_name))
    return AgingReport(as_of, ordered, [totals[c] for c in sorted(totals)])
