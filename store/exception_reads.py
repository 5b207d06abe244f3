"""The exception queue as the API and the review page read it: exceptions with their
invoice's number and their customer's name, in one query, and paged by keyset.

Keyset, not offset: the queue moves while someone pages through it (exceptions close,
new ones open), and an offset would then skip or repeat rows. The page is ordered
oldest first by (opened_at, id), so the cursor is the last row's pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.exception_tables import InvoiceExceptionRow
from schemas.tables import Customer, Invoice


@dataclass(frozen=True)
class ListedException:
    row: InvoiceExceptionRow
    invoice_number: str | None
    customer_name: str | None


async def _listed(session: AsyncSession, *where: Any, limit: int) -> list[ListedException]:
    query = (
        select(InvoiceExceptionRow, Invoice.number, Customer.name)
        .join(Invoice, col(Invoice.id) == col(InvoiceExceptionRow.invoice_id), isouter=True)
        .join(Customer, col(Customer.id) == col(InvoiceExceptionRow.customer_id), isouter=True)
        .where(*where)
        .order_by(col(InvoiceExceptionRow.opened_at), col(InvoiceExceptionRow.id))
        .limit(limit)
    )
    return [ListedException(row, number, name) for row, number, name in await session.exec(query)]


async def list_exceptions(
    session: AsyncSession,
    *,
    status: str = "open",
    reason: str | None = None,
    owner_id: str | None = None,
    customer_id: str | None = None,
    opened_before: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[ListedException]:
    """Exceptions oldest first, after the keyset `after` (opened_at, id) if given."""
    where: list[Any] = [InvoiceExceptionRow.status == status]
    if reason:
        # reason_codes is ",A,B,": one LIKE per code on both engines (store.exceptions)
        where.append(col(InvoiceExceptionRow.reason_codes).like(f"%,{reason},%"))
    if owner_id:
        where.append(InvoiceExceptionRow.owner_id == owner_id)
    if customer_id:
        where.append(InvoiceExceptionRow.customer_id == customer_id)
    if opened_before is not None:
        where.append(col(InvoiceExceptionRow.opened_at) <= opened_before)
    if after is not None:
        opened_at, last_id = after
        where.append(
            or_(
                col(InvoiceExceptionRow.opened_at) > opened_at,
                and_(
                    col(InvoiceExceptionRow.opened_at) == opened_at,
                    col(InvoiceExceptionRow.id) > last_id,
                ),
            )
        )
    return await _listed(session, *where, limit=limit)


async def get_exception(session: AsyncSession, exception_id: str) -> ListedException | None:
    found = await _listed(session, InvoiceExceptionRow.id == exception_id, limit=1)
    return found[0] if found else None
