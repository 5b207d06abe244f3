"""The work queues of the ops dashboard: open PO exceptions and open disputes, with who
owns each, why, how old it is, its level and its SLA due time; breached ones first.

An exception's SLA is its escalation time (`escalates_at`) while it is with its first
owner (level 1); once escalated (level 2) it is the time it expires to operations
(opened + `exception_expire_after_h`). A dispute's SLA is its level's due time
(`sla_due_at`, paused while it waits on the customer); it is breached when the workflow
marked it so or the due time has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.dispute_tables import DisputeRow
from schemas.disputes import OPEN_DISPUTE_STATUSES
from schemas.exception_tables import InvoiceExceptionRow
from schemas.ids import invoice_workflow_id
from schemas.tables import Customer, Invoice


@dataclass(frozen=True)
class QueueItem:
    kind: str  # exception | dispute
    case_id: str
    reference: str  # the dispute's number; the invoice's number for an exception
    invoice_id: str
    invoice_number: str | None
    customer_name: str
    owner: str  # the owner's name, else their group, else "unassigned"
    reasons: list[str]
    level: int
    status: str
    opened_at: datetime
    age_days: float
    sla_due_at: datetime | None
    breached: bool
    workflow_id: str
    amount_minor: int | None = None  # a dispute's disputed amount
    currency: str | None = None


def _owner(name: str | None, owner_id: str | None, group: str | None) -> str:
    return name or owner_id or (f"group {group}" if group else "unassigned")


def _age(opened: datetime, now: datetime) -> float:
    return round((now - opened).total_seconds() / 86400, 1)


async def open_exceptions(
    session: AsyncSession, now: datetime, expire_after: timedelta, *, case_id: str | None = None
) -> list[QueueItem]:
    query = (
        select(InvoiceExceptionRow, Invoice.number, Customer.name)
        .join(Invoice, col(Invoice.id) == col(InvoiceExceptionRow.invoice_id))
        .join(Customer, col(Customer.id) == col(InvoiceExceptionRow.customer_id))
        .where(col(InvoiceExceptionRow.status) == "open")
    )
    if case_id is not None:
        query = query.where(col(InvoiceExceptionRow.id) == case_id)
    items = []
    for row, number, customer in (await session.exec(query)).all():
        level = 2 if row.escalated_at is not None else 1
        due = row.escalates_at if level == 1 else row.opened_at + expire_after
        items.append(
            QueueItem(
                kind="exception",
                case_id=row.id,
                reference=number or row.invoice_id,
                invoice_id=row.invoice_id,
                invoice_number=number,
                customer_name=customer,
                owner=_owner(row.owner_name, row.owner_id, row.group_id),
                reasons=[code for code in row.reason_codes.split(",") if code],
                level=level,
                status=f"waiting on {row.waiting_on}" if row.waiting_on else "open",
                opened_at=row.opened_at,
                age_days=_age(row.opened_at, now),
                sla_due_at=due,
                breached=due is not None and due < now,
                workflow_id=invoice_workflow_id(row.invoice_id),
            )
        )
    return items


async def open_disputes(
    session: AsyncSession, now: datetime, *, case_id: str | None = None
) -> list[QueueItem]:
    query = (
        select(DisputeRow, Invoice.number, Customer.name)
        .join(Invoice, col(Invoice.id) == col(DisputeRow.invoice_id))
        .join(Customer, col(Customer.id) == col(DisputeRow.customer_id))
        .where(col(DisputeRow.status).in_(OPEN_DISPUTE_STATUSES))
    )
    if case_id is not None:
        query = query.where(col(DisputeRow.id) == case_id)
    items = []
    for row, number, customer in (await session.exec(query)).all():
        due = row.sla_due_at
        items.append(
            QueueItem(
                kind="dispute",
                case_id=row.id,
                reference=row.number,
                invoice_id=row.invoice_id,
                invoice_number=number,
                customer_name=customer,
                owner=_owner(row.owner_name, row.owner_id, row.group_id),
                reasons=[row.reason],
                level=row.level,
                status=row.status,
                opened_at=row.opened_at,
                age_days=_age(row.opened_at, now),
                sla_due_at=due,
                breached=row.sla_breached or (due is not None and due < now),
                workflow_id=f"dispute-{row.id}",
                amount_minor=row.disputed_minor,
                currency=row.currency,
            )
        )
    return items


def breached_first(items: list[QueueItem]) -> list[QueueItem]:
    """Breached first; then the soonest SLA due; cases without an SLA last, oldest first."""
    far = datetime.max.replace(tzinfo=items[0].opened_at.tzinfo) if items else None
    return sorted(
        items,
        key=lambda i: (not i.breached, i.sla_due_at or far, i.opened_at, i.case_id),
    )


async def work_queues(
    session: AsyncSession, now: datetime, exception_expire_after: timedelta
) -> tuple[list[QueueItem], list[QueueItem]]:
    """(exceptions, disputes), each breached first."""
    exceptions = await open_exceptions(session, now, exception_expire_after)
    disputes = await open_disputes(session, now)
    return breached_first(exceptions), breached_first(disputes)
