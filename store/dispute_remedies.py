"""Dispute remedies that change the invoice: credit notes (numbered CN-YYYY-NNNN),
small-balance write-offs, and the instalments of a payment plan.

Each write is idempotent: a credit note by its business id, a write-off by its key (its
audit step), an instalment by (invoice, dispute, sequence). A credit note's number is
taken in the transaction that stores it, inside a savepoint rolled back when a concurrent
repeat stored it first, so CN has no gaps. Credit notes and write-offs move the invoice's
`credited_minor` / `written_off_minor` (and the dispute's) once, guarded in the UPDATE
itself, so two remedies racing for the last creditable amount cannot both get it
(`NotCreditable`). `store.disputes` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, BindParameter, bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.dispute_tables import CreditNoteRow, DisputeRow, InstalmentRow
from schemas.disputes import InstalmentPlan
from schemas.tables import Invoice
from store import audit, numbering
from store.db import insert_if_absent

CREDIT_NOTE_SERIES = "CN"
SETTLEMENTS = frozenset({"balance", "refund", "customer_credit"})
INSTALMENT_STATUSES = frozenset({"due", "paid", "overdue"})


class NotCreditable(Exception):
    """The amount is more than the invoice has left to credit or write off (not worth
    retrying: a concurrent remedy took it, or the amount was never there)."""


async def _one(session: AsyncSession, query: Any) -> Any:
    return (await session.exec(query.execution_options(populate_existing=True))).first()


# The guards: what is left to credit is the total less what was credited and written off
# (a credit on a paid invoice is refunded or kept as customer credit); a write-off takes
# only what is still to be paid. Each is one conditional UPDATE, so two racing remedies
# cannot both take the last amount.
_AMOUNT: BindParameter[int] = bindparam("amount", type_=BigInteger)
_INVOICE = col(Invoice.id) == bindparam("invoice_id")
_KEEP_ROWCOUNT = {"synchronize_session": False, "preserve_rowcount": True}
_ADD_CREDIT = (
    update(Invoice)
    .where(
        _INVOICE,
        col(Invoice.credited_minor) + col(Invoice.written_off_minor) + _AMOUNT
        <= col(Invoice.total_minor),
    )
    .values(credited_minor=col(Invoice.credited_minor) + _AMOUNT, updated_at=bindparam("at"))
    .execution_options(**_KEEP_ROWCOUNT)
)
_ADD_WRITE_OFF = (
    update(Invoice)
    .where(
        _INVOICE,
        col(Invoice.paid_minor)
        + col(Invoice.credited_minor)
        + col(Invoice.written_off_minor)
        + _AMOUNT
        <= col(Invoice.total_minor),
    )
    .values(written_off_minor=col(Invoice.written_off_minor) + _AMOUNT, updated_at=bindparam("at"))
    .execution_options(**_KEEP_ROWCOUNT)
)
_DISPUTE = col(DisputeRow.id) == bindparam("dispute_id")
_DISPUTE_CREDIT = (
    update(DisputeRow)
    .where(_DISPUTE)
    .values(credited_minor=col(DisputeRow.credited_minor) + _AMOUNT, updated_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)
_DISPUTE_WRITE_OFF = (
    update(DisputeRow)
    .where(_DISPUTE)
    .values(
        written_off_minor=col(DisputeRow.written_off_minor) + _AMOUNT, updated_at=bindparam("at")
    )
    .execution_options(synchronize_session=False)
)


async def _take(
    session: AsyncSession,
    guard: Any,
    on_dispute: Any,
    *,
    invoice_id: str,
    dispute_id: str | None,
    amount_minor: int,
    at: datetime,
    what: str,
) -> None:
    if amount_minor <= 0:
        raise NotCreditable(f"a {what} takes a positive amount, not {amount_minor}")
    connection = await session.connection()
    values = {"amount": amount_minor, "invoice_id": invoice_id, "at": at}
    if (await connection.execute(guard, values)).rowcount != 1:
        raise NotCreditable(f"invoice {invoice_id} has less than {amount_minor} left for a {what}")
    if dispute_id is not None:
        await connection.execute(on_dispute, {**values, "dispute_id": dispute_id})


async def issue_credit_note(
    session: AsyncSession,
    *,
    credit_note_id: str,
    invoice_id: str,
    dispute_id: str | None,
    currency: str,
    amount_minor: int,
    reason: str,
    settlement: str,
    created_at: datetime,
) -> tuple[CreditNoteRow, bool]:
    """Issue the credit note with its number and take its amount off the invoice (and the
    dispute), or find the one issued already under this id (nothing taken twice). Raises
    `NotCreditable` when the invoice has less than the amount left to credit."""
    if settlement not in SETTLEMENTS:
        raise ValueError(f"unknown settlement {settlement!r}")
    by_id = select(CreditNoteRow).where(CreditNoteRow.id == credit_note_id)
    existing = await _one(session, by_id)
    if existing is not None:
        return existing, False
    savepoint = await session.begin_nested()
    try:
        series = numbering.series_for(CREDIT_NOTE_SERIES, created_at.year)
        number = await numbering.allocate(session, series)
        created = await insert_if_absent(
            session,
            CreditNoteRow,
            id=credit_note_id,
            number=number,
            invoice_id=invoice_id,
            dispute_id=dispute_id,
            currency=currency,
            amount_minor=amount_minor,
            reason=str(reason),
            settlement=settlement,
            refund_id=None,
            status="issued",
            created_at=created_at,
        )
        if created:
            await _take(
                session,
                _ADD_CREDIT,
                _DISPUTE_CREDIT,
                invoice_id=invoice_id,
                dispute_id=dispute_id,
                amount_minor=amount_minor,
                at=created_at,
                what="credit note",
            )
    except BaseException:
        await savepoint.rollback()
        raise
    if not created:  # a concurrent repeat issued it first
        await savepoint.rollback()
        return await _one(session, by_id), False
    await audit.record(
        session,
        step_key=f"{credit_note_id}:issued",
        invoice_id=invoice_id,
        entity="credit_note",
        action="credit_note.issued",
        actor="workflow",
        data={
            "credit_note_id": credit_note_id,
            "number": number,
            "dispute_id": dispute_id,
            "amount_minor": amount_minor,
            "settlement": settlement,
        },
        at=created_at,
    )
    await savepoint.commit()
    return await _one(session, by_id), True


async def set_credit_note_refund(
    session: AsyncSession, credit_note_id: str, refund_id: str
) -> CreditNoteRow | None:
    """Record the provider's refund of a credit note on a paid invoice."""
    row = await session.get(CreditNoteRow, credit_note_id)
    if row is None:
        return None
    row.refund_id = refund_id
    session.add(row)
    await session.flush()
    return row


async def record_write_off(
    session: AsyncSession,
    *,
    dispute_id: str,
    invoice_id: str,
    amount_minor: int,
    key: str,
    actor: str = "workflow",
    at: datetime | None = None,
) -> bool:
    """Write off part of what is still to be paid, once per `key` (its audit step is
    ``write_off:{key}``); True if this call wrote it off. Raises `NotCreditable` when less
    than the amount is still to be paid."""
    at = at or datetime.now(UTC)
    savepoint = await session.begin_nested()
    try:
        new = await audit.record(
            session,
            step_key=f"write_off:{key}",
            invoice_id=invoice_id,
            entity="dispute",
            action="dispute.written_off",
            actor=actor,
            data={"dispute_id": dispute_id, "amount_minor": amount_minor, "key": key},
            at=at,
        )
        if new:
            await _take(
                session,
                _ADD_WRITE_OFF,
                _DISPUTE_WRITE_OFF,
                invoice_id=invoice_id,
                dispute_id=dispute_id,
                amount_minor=amount_minor,
                at=at,
                what="write-off",
            )
    except BaseException:
        await savepoint.rollback()
        raise
    await savepoint.commit()
    return new


async def insert_instalments(
    session: AsyncSession,
    *,
    dispute_id: str,
    invoice_id: str,
    instalments: Sequence[InstalmentPlan],
) -> list[InstalmentRow]:
    """Store the plan's instalments, numbered 1.. in due-date order; a repeat stores
    nothing more. Returns the dispute's instalments."""
    ordered = sorted(instalments, key=lambda plan: plan.due_date)
    for sequence, plan in enumerate(ordered, start=1):
        await insert_if_absent(
            session,
            InstalmentRow,
            dispute_id=dispute_id,
            invoice_id=invoice_id,
            sequence=sequence,
            due_date=plan.due_date,
            amount_minor=plan.amount_minor,
            paid_minor=0,
            status="due",
        )
    return await instalments_of(session, invoice_id, dispute_id)


async def instalments_of(
    session: AsyncSession, invoice_id: str, dispute_id: str | None = None
) -> list[InstalmentRow]:
    query = select(InstalmentRow).where(InstalmentRow.invoice_id == invoice_id)
    if dispute_id is not None:
        query = query.where(InstalmentRow.dispute_id == dispute_id)
    query = query.order_by(col(InstalmentRow.dispute_id), col(InstalmentRow.sequence))
    return list(await session.exec(query.execution_options(populate_existing=True)))


async def update_instalment(
    session: AsyncSession,
    *,
    invoice_id: str,
    dispute_id: str,
    sequence: int,
    paid_minor: int | None = None,
    status: str | None = None,
) -> InstalmentRow | None:
    """Set an instalment's paid amount and/or status (values, so a repeat is harmless)."""
    if status is not None and status not in INSTALMENT_STATUSES:
        raise ValueError(f"unknown instalment status {status!r}")
    row = await _one(
        session,
        select(InstalmentRow).where(
            InstalmentRow.invoice_id == invoice_id,
            InstalmentRow.dispute_id == dispute_id,
            InstalmentRow.sequence == sequence,
        ),
    )
    if row is None:
        return None
    if paid_minor is not None:
        row.paid_minor = paid_minor
    if status is not None:
        row.status = status
    session.add(row)
    await session.flush()
    return row
