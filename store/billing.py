"""Billable entries and the reads a billing run needs.

An entry belongs to one contract and one period. It is billed when an invoice for that
period takes it: `store.invoices.create_invoice` loads the unbilled entries and marks them
with its invoice id in the transaction that stores the invoice, under a lock on the
contract row that `add_entries` takes too, so an entry is billed once and an entry added
while the invoice is generated is either on it or refused, never silently left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.billing import parse_period
from domain.invoicing import BillableItem
from schemas.billing import BillableContract, BillableEntryIn, BillingRunInvoices
from schemas.ids import new_id
from schemas.invoice import InvoiceStatus
from schemas.tables import BillableEntry, Contract, Customer, Invoice


async def lock_contract(session: AsyncSession, contract_id: str) -> Contract | None:
    """The contract row, locked until the transaction ends (FOR UPDATE on PostgreSQL;
    SQLite transactions begin IMMEDIATE and so are serialised already)."""
    rows = await session.exec(select(Contract).where(Contract.id == contract_id).with_for_update())
    return rows.first()


async def period_invoiced(session: AsyncSession, contract_id: str, period: str) -> bool:
    """Whether an invoice for this contract and period exists (generated or rejected)."""
    rows = await session.exec(
        select(Invoice.id)
        .where(Invoice.contract_id == contract_id, Invoice.billing_period == period)
        .limit(1)
    )
    return rows.first() is not None


async def add_entries(
    session: AsyncSession,
    contract_id: str,
    period: str,
    entries: Sequence[BillableEntryIn],
    now: datetime,
) -> list[BillableEntry]:
    batch = new_id("ble")  # ids sort in the order sent, so invoice lines keep that order
    rows = [
        BillableEntry(
            id=f"{batch}-{position:04d}",
            contract_id=contract_id,
            period=period,
            kind=entry.kind,
            rate_code=entry.rate_code,
            quantity=str(entry.quantity),
            description=entry.description,
            service_date=entry.service_date,
            created_at=now,
        )
        for position, entry in enumerate(entries, start=1)
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def list_entries(
    session: AsyncSession, contract_id: str, period: str | None = None
) -> list[BillableEntry]:
    query = select(BillableEntry).where(BillableEntry.contract_id == contract_id)
    if period is not None:
        query = query.where(BillableEntry.period == period)
    order = (col(BillableEntry.period), col(BillableEntry.created_at), col(BillableEntry.id))
    rows = await session.exec(query.order_by(*order))
    return list(rows)


async def unbilled_entries(
    session: AsyncSession, contract_id: str, period: str
) -> list[BillableEntry]:
    rows = await session.exec(
        select(BillableEntry)
        .where(
            BillableEntry.contract_id == contract_id,
            BillableEntry.period == period,
            col(BillableEntry.invoice_id).is_(None),
        )
        # the order they were entered in, so the invoice lines read like the timesheet
        .order_by(col(BillableEntry.created_at), col(BillableEntry.id))
    )
    return list(rows)


def as_items(entries: Sequence[BillableEntry]) -> list[BillableItem]:
    return [
        BillableItem(
            kind=entry.kind,  # type: ignore[arg-type]
            rate_code=entry.rate_code,
            quantity=entry.quantity,  # type: ignore[arg-type]
            description=entry.description,
            service_date=entry.service_date,
        )
        for entry in entries
    ]


async def mark_billed(
    session: AsyncSession, entries: Sequence[BillableEntry], invoice_id: str
) -> None:
    if not entries:
        return
    await session.exec(  # type: ignore[call-overload]
        update(BillableEntry)
        .where(
            col(BillableEntry.id).in_([entry.id for entry in entries]),
            col(BillableEntry.invoice_id).is_(None),
        )
        .values(invoice_id=invoice_id)
    )


async def billable_contracts(
    session: AsyncSession, period: str, after_contract_id: str | None, limit: int
) -> tuple[list[BillableContract], int]:
    """Contracts valid during the period that have unbilled entries in it, ordered by id,
    after the cursor; and how many such contracts there are after the cursor in all."""
    conditions = _billable(period)
    if after_contract_id is not None:
        conditions.append(col(Contract.id) > after_contract_id)
    rows = await session.exec(
        select(Contract.id, Contract.customer_id, Customer.name)
        .join(Customer, col(Customer.id) == col(Contract.customer_id))
        .where(*conditions)
        .order_by(col(Contract.id))
        .limit(limit)
    )
    page = [
        BillableContract(contract_id=contract_id, customer_id=customer_id, customer_name=name)
        for contract_id, customer_id, name in rows
    ]
    if len(page) < limit:
        return page, len(page)
    return page, await _count_contracts(session, *conditions)


async def _count_contracts(session: AsyncSession, *conditions: Any) -> int:
    query = select(func.count()).select_from(Contract).where(*conditions)
    return int((await session.exec(query)).one())


def _billable(period: str) -> list[Any]:
    """Where-conditions on Contract: valid during the period, with unbilled entries in it."""
    first, last = parse_period(period)
    return [
        exists().where(
            col(BillableEntry.contract_id) == col(Contract.id),
            col(BillableEntry.period) == period,
            col(BillableEntry.invoice_id).is_(None),
        ),
        or_(col(Contract.valid_from).is_(None), col(Contract.valid_from) <= last),
        or_(col(Contract.valid_to).is_(None), col(Contract.valid_to) >= first),
    ]


async def period_invoice_counts(session: AsyncSession, period: str) -> BillingRunInvoices:
    async def count(*conditions: object) -> int:
        query = (
            select(func.count())
            .select_from(Invoice)
            .where(
                Invoice.billing_period == period,
                *conditions,  # type: ignore[arg-type]
            )
        )
        return int((await session.exec(query)).one())

    return BillingRunInvoices(
        generated=await count(col(Invoice.number).is_not(None)),
        rejected=await count(Invoice.status == InvoiceStatus.REJECTED.value),
        contracts_not_invoiced=await _count_contracts(
            session,
            *_billable(period),
            ~exists().where(
                col(Invoice.contract_id) == col(Contract.id),
                col(Invoice.billing_period) == period,
            ),
        ),
    )
