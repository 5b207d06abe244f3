"""Reminder rows and reminder holds.

A step's row is written once, before its message goes out, with the charge priced for it:
a retried send reads the row back and sends the same reminder with the same charge, so a
step is charged once whatever the retries. Holds are rows too: one for an invoice or for
every invoice of a customer, active until their end date or until released.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.dispute_tables import CreditNoteRow
from schemas.reminder_tables import ReminderHoldRow, ReminderRow
from schemas.reminders import ChargeDay
from schemas.tables import Invoice, Payment
from store import audit
from store.db import insert_if_absent


def reminder_id(invoice_id: str, step_key: str) -> str:
    return f"{invoice_id}:{step_key}"


async def record_step(
    session: AsyncSession,
    invoice_id: str,
    step_key: str,
    *,
    tone: str,
    due_at: datetime,
    outcome: str,
    **fields: Any,
) -> None:
    """A step's row, written once (a row already there stays as it is)."""
    await insert_if_absent(
        session,
        ReminderRow,
        id=reminder_id(invoice_id, step_key),
        invoice_id=invoice_id,
        step_key=step_key,
        tone=tone,
        due_at=due_at,
        outcome=outcome,
        recorded_at=datetime.now(UTC),
        **fields,
    )


async def active_hold(
    session: AsyncSession, invoice_id: str, customer_id: str, now: datetime
) -> ReminderHoldRow | None:
    """The hold on this invoice or its customer that lasts longest, if any is in force."""
    rows = await session.exec(
        select(ReminderHoldRow)
        .where(
            or_(
                col(ReminderHoldRow.invoice_id) == invoice_id,
                col(ReminderHoldRow.customer_id) == customer_id,
            ),
            col(ReminderHoldRow.released_at).is_(None),
            col(ReminderHoldRow.until) > now,
        )
        .order_by(col(ReminderHoldRow.until).desc())
        .limit(1)
    )
    return rows.first()


async def place_hold(
    session: AsyncSession,
    *,
    invoice_id: str | None,
    customer_id: str | None,
    reason: str,
    until: datetime,
    held_by: str,
) -> ReminderHoldRow:
    now = datetime.now(UTC)
    row = ReminderHoldRow(
        id=f"rhd_{secrets.token_hex(8)}",
        invoice_id=invoice_id,
        customer_id=customer_id,
        reason=reason,
        until=until,
        held_by=held_by,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        step_key=f"reminder-hold:{row.id}",
        invoice_id=invoice_id,
        entity="reminder_hold",
        action="reminders.held",
        actor=held_by,
        data={
            "hold_id": row.id,
            "customer_id": customer_id,
            "reason": reason,
            "until": until.isoformat(),
        },
    )
    return row


async def holds_of(
    session: AsyncSession, *, invoice_id: str | None = None, customer_id: str | None = None
) -> list[ReminderHoldRow]:
    query = select(ReminderHoldRow).order_by(col(ReminderHoldRow.created_at))
    if invoice_id is not None:
        query = query.where(col(ReminderHoldRow.invoice_id) == invoice_id)
    if customer_id is not None:
        query = query.where(col(ReminderHoldRow.customer_id) == customer_id)
    return list(await session.exec(query))


async def release_holds(
    session: AsyncSession,
    *,
    invoice_id: str | None = None,
    customer_id: str | None = None,
    released_by: str,
) -> list[ReminderHoldRow]:
    """Release every hold in force on the invoice (or the customer); the released rows."""
    now = datetime.now(UTC)
    released = []
    for row in await holds_of(session, invoice_id=invoice_id, customer_id=customer_id):
        if row.released_at is not None or row.until <= now:
            continue
        row.released_at, row.released_by = now, released_by
        session.add(row)
        released.append(row)
        await audit.record(
            session,
            step_key=f"reminder-hold:{row.id}:released",
            invoice_id=row.invoice_id,
            entity="reminder_hold",
            action="reminders.released",
            actor=released_by,
            data={"hold_id": row.id, "customer_id": row.customer_id},
        )
    await session.flush()
    return released


async def reminders_of(session: AsyncSession, invoice_id: str) -> list[ReminderRow]:
    rows = await session.exec(
        select(ReminderRow)
        .where(col(ReminderRow.invoice_id) == invoice_id)
        .order_by(col(ReminderRow.due_at), col(ReminderRow.recorded_at))
    )
    return list(rows)


async def reductions(session: AsyncSession, invoice: Invoice) -> list[ChargeDay]:
    """What lowered the outstanding amount, and on which day: payments and credit notes."""
    paid = await session.exec(
        select(Payment.paid_at, Payment.amount_minor).where(Payment.invoice_id == invoice.id)
    )
    credited = await session.exec(
        select(CreditNoteRow.created_at, CreditNoteRow.amount_minor).where(
            CreditNoteRow.invoice_id == invoice.id
        )
    )
    days = [ChargeDay(on=at.date(), amount_minor=amount) for at, amount in paid]
    days += [ChargeDay(on=at.date(), amount_minor=amount) for at, amount in credited]
    return days


def charged_so_far(rows: list[ReminderRow]) -> tuple[int, bool]:
    """Interest the invoice's earlier steps charged, and whether compensation was."""
    interest = sum(r.interest_minor for r in rows if r.outcome == "sent")
    compensated = any(r.compensation_minor for r in rows if r.outcome == "sent")
    return interest, compensated
