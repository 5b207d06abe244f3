"""Read models for the API: an invoice with everything recorded about it, and filtered lists."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.accounting_sync import SyncStatus
from schemas.api import InvoiceOut
from schemas.exception_tables import InvoiceMatchRow
from schemas.invoice import OPEN_STATUSES, InvoiceStatus
from schemas.reminder_tables import ReminderHoldRow, ReminderRow
from schemas.tables import (
    AccountingPosting,
    AuditEvent,
    Contract,
    Customer,
    Delivery,
    Invoice,
    InvoiceLineRow,
    Payment,
)
from store import approvals
from store import sync_status as sync


def balance_of(invoice: Invoice) -> int:
    """What the customer still owes: the total less payments, credit notes, write-offs and
    credit taken from the customer's account, plus an overpayment kept on that account."""
    return (
        invoice.total_minor
        - invoice.paid_minor
        - invoice.credited_minor
        - invoice.written_off_minor
        - invoice.credit_applied_minor
        + invoice.credit_carried_minor
    )


# overdue is for these: a DISPUTED invoice is not (its disputed part is not due, and the
# rest is reminded once the dispute ends), a VOID one owes nothing
_MAY_BE_OVERDUE = [s.value for s in OPEN_STATUSES if s != InvoiceStatus.DISPUTED]


def invoice_out(invoice: Invoice, today: date) -> InvoiceOut:
    balance = 0 if invoice.status == InvoiceStatus.VOID.value else balance_of(invoice)
    overdue = bool(
        invoice.due_date
        and invoice.due_date < today
        and balance > 0
        and invoice.status in _MAY_BE_OVERDUE
    )
    return InvoiceOut(
        **invoice.model_dump(
            include={
                "id",
                "number",
                "status",
                "customer_id",
                "contract_id",
                "currency",
                "issue_date",
                "due_date",
                "subtotal_minor",
                "tax_minor",
                "total_minor",
                "paid_minor",
                "credited_minor",
                "written_off_minor",
                "credit_applied_minor",
                "credit_carried_minor",
                "rejection_reason",
                "po_number",
                "payment_url",
                "created_at",
                "closed_at",
                "voided_at",
                "replaces_invoice_id",
                "replaced_by_invoice_id",
                "late_charge_for",
            }
        ),
        balance_minor=balance,
        overdue=overdue,
    )


async def _rows(
    session: AsyncSession, table: Any, invoice_id: str, order: Any
) -> list[dict[str, Any]]:
    rows = await session.exec(select(table).where(table.invoice_id == invoice_id).order_by(order))
    return [row.model_dump(mode="json") for row in rows]


async def invoice_records(session: AsyncSession, invoice_id: str) -> dict[str, Any]:
    match = await session.get(InvoiceMatchRow, invoice_id)
    return {
        "match": match.model_dump(mode="json") if match else None,
        "lines": await _rows(session, InvoiceLineRow, invoice_id, col(InvoiceLineRow.position)),
        "payments": await _rows(session, Payment, invoice_id, col(Payment.paid_at)),
        "deliveries": await _rows(session, Delivery, invoice_id, col(Delivery.sent_at)),
        "accounting": await _rows(
            session, AccountingPosting, invoice_id, col(AccountingPosting.posted_at)
        ),
        "audit": await _rows(session, AuditEvent, invoice_id, col(AuditEvent.id)),
        "approval_links": await approvals.link_trail(session, invoice_id),
        "reminders": await _rows(session, ReminderRow, invoice_id, col(ReminderRow.due_at)),
        "reminder_holds": await _rows(
            session, ReminderHoldRow, invoice_id, col(ReminderHoldRow.created_at)
        ),
    }


async def list_invoices(
    session: AsyncSession,
    *,
    today: date,
    status: str | None,
    customer_id: str | None,
    overdue: bool | None,
    limit: int,
    offset: int,
    sync_status: SyncStatus | None = None,
) -> tuple[list[Invoice], int]:
    query = select(Invoice)
    if status:
        query = query.where(Invoice.status == status)
    if customer_id:
        query = query.where(Invoice.customer_id == customer_id)
    if overdue is not None:
        is_overdue = (
            col(Invoice.due_date).is_not(None)
            & (col(Invoice.due_date) < today)
            & (
                col(Invoice.total_minor) + col(Invoice.credit_carried_minor)
                > col(Invoice.paid_minor)
                + col(Invoice.credited_minor)
                + col(Invoice.written_off_minor)
                + col(Invoice.credit_applied_minor)
            )
            & col(Invoice.status).in_(_MAY_BE_OVERDUE)
        )
        query = query.where(is_overdue if overdue else ~is_overdue)
    if sync_status is not None:
        query = query.where(sync.status_clause(sync_status))
    order = (col(Invoice.created_at).desc(), col(Invoice.id))
    return await page(session, query, order, limit=limit, offset=offset)


async def page(
    session: AsyncSession, query: Any, order: tuple[Any, ...], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of a filtered query and the count of all its rows."""
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(query.order_by(*order).limit(limit).offset(offset))
    return list(rows), int(total)


async def list_customers(
    session: AsyncSession,
    *,
    name: str | None,
    email: str | None,
    external_ref: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Customer], int]:
    query = select(Customer)
    if name:
        query = query.where(func.lower(Customer.name).contains(name.lower(), autoescape=True))
    if email:
        query = query.where(func.lower(Customer.email) == email.lower())
    if external_ref:
        query = query.where(Customer.external_ref == external_ref)
    order = (col(Customer.created_at).desc(), col(Customer.id))
    return await page(session, query, order, limit=limit, offset=offset)


async def list_contracts(
    session: AsyncSession,
    *,
    customer_id: str | None,
    currency: str | None,
    valid_on: date | None,
    limit: int,
    offset: int,
) -> tuple[list[Contract], int]:
    query = select(Contract)
    if customer_id:
        query = query.where(Contract.customer_id == customer_id)
    if currency:
        query = query.where(Contract.currency == currency)
    if valid_on:
        query = query.where(
            (col(Contract.valid_from).is_(None) | (col(Contract.valid_from) <= valid_on))
            & (col(Contract.valid_to).is_(None) | (col(Contract.valid_to) >= valid_on))
        )
    order = (col(Contract.created_at).desc(), col(Contract.id))
    return await page(session, query, order, limit=limit, offset=offset)
