"""Invoice records after generation: payments, status moves and the payment link.

Split from `store.invoices` (which generates, numbers and revises invoices) because these
are the hot writes every invoice takes several times over its life, written as plain Core
statements, and they share nothing with generation but the table. Each write is
idempotent: run twice with the same input, it leaves the database as after the first run
and returns the same answer. `store.invoices` re-exports every name here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.invoice import InvoiceStatus, PaymentReceived, RecordPaymentResult
from schemas.tables import Invoice, Payment
from store import audit, po_consumption
from store.db import insert_if_absent

# An invoice in these states will never be collected: its PO consumption is given back.
# VOID is an adjusted invoice's original, whose replacement takes its place on the PO.
RELEASING = (InvoiceStatus.CANCELLED, InvoiceStatus.VOID)


class NotFound(Exception):
    """A record the step needs does not exist (not worth retrying)."""


# The hot writes (every invoice takes each of them) are plain Core statements: loading an
# ORM object to change two columns cost several times the statement itself.
# what is to be paid: the total less what credit notes and write-offs took off it
_DUE_AND_STATUS = select(
    col(Invoice.total_minor) - col(Invoice.credited_minor) - col(Invoice.written_off_minor),
    Invoice.status,
).where(col(Invoice.id) == bindparam("invoice_id"))
_PAID_SUM = select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
    col(Payment.invoice_id) == bindparam("invoice_id")
)
_UPDATE_INVOICE = update(Invoice).where(col(Invoice.id) == bindparam("invoice_id"))
_SET_PAID = _UPDATE_INVOICE.values(
    paid_minor=bindparam("new_paid"), status=bindparam("new_status"), updated_at=bindparam("now")
)
_SET_STATUS = _UPDATE_INVOICE.values(status=bindparam("new_status"), updated_at=bindparam("now"))
_CLOSE = _SET_STATUS.values(closed_at=bindparam("now"))
_SET_LINK = _UPDATE_INVOICE.values(
    payment_link_id=bindparam("link_id"), payment_url=bindparam("url")
)


async def record_payment(
    session: AsyncSession, invoice_id: str, payment: PaymentReceived
) -> RecordPaymentResult:
    connection = await session.connection()
    found = (await connection.execute(_DUE_AND_STATUS, {"invoice_id": invoice_id})).first()
    if found is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    due_minor, stored_status = found
    now = datetime.now(UTC)
    new = await insert_if_absent(
        session,
        Payment,
        id=payment.payment_id,
        invoice_id=invoice_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        paid_at=payment.paid_at,
        recorded_at=now,
    )
    paid = int((await connection.execute(_PAID_SUM, {"invoice_id": invoice_id})).scalar_one())
    if paid >= due_minor:
        status = InvoiceStatus.PAID
    elif stored_status in (InvoiceStatus.OVERDUE.value, InvoiceStatus.COLLECTIONS.value):
        status = InvoiceStatus(stored_status)  # still late until paid in full
    else:
        status = InvoiceStatus.PARTIALLY_PAID
    if stored_status == InvoiceStatus.CLOSED.value:
        status = InvoiceStatus.CLOSED  # a late extra payment is recorded, the invoice stays closed
    if stored_status == InvoiceStatus.DISPUTED.value:
        status = InvoiceStatus.DISPUTED  # until the dispute's outcome moves it
    if new:
        await connection.execute(
            _SET_PAID,
            {"invoice_id": invoice_id, "new_paid": paid, "new_status": status.value, "now": now},
        )
        await audit.record(
            session,
            step_key=f"{invoice_id}:payment:{payment.payment_id}",
            invoice_id=invoice_id,
            entity="payment",
            action="payment.recorded",
            actor=payment.source,
            data={
                "payment_id": payment.payment_id,
                "amount_minor": payment.amount_minor,
                # what the payment left: the outgoing webhook's paid or partially_paid
                "balance_minor": due_minor - paid,
                "status": status.value,
            },
        )
    return RecordPaymentResult(paid_minor=paid, balance_minor=due_minor - paid, status=status)


async def set_status(
    session: AsyncSession,
    invoice_id: str,
    status: InvoiceStatus,
    *,
    step_key: str,
    actor: str,
    note: str | None = None,
) -> None:
    """Move the invoice to `status` once per step: a retried step finds its audit event
    and changes nothing (the status may have moved on since)."""
    first_time = await audit.record(
        session,
        step_key=f"{invoice_id}:{step_key}",
        invoice_id=invoice_id,
        entity="invoice",
        action=f"invoice.{status.value.lower()}",
        actor=actor,
        data={"note": note} if note else {},
    )
    if not first_time:
        return
    connection = await session.connection()
    moved = await connection.execute(
        _CLOSE if status == InvoiceStatus.CLOSED else _SET_STATUS,
        {"invoice_id": invoice_id, "new_status": status.value, "now": datetime.now(UTC)},
    )
    if not moved.rowcount:  # raised in the transaction: the audit event is rolled back too
        raise NotFound(f"invoice {invoice_id} does not exist")
    if status in RELEASING:  # what it consumed of its PO goes back (once: `release`)
        await po_consumption.release(session, invoice_id)


async def set_payment_link(session: AsyncSession, invoice_id: str, link_id: str, url: str) -> None:
    connection = await session.connection()
    stored = await connection.execute(
        _SET_LINK, {"invoice_id": invoice_id, "link_id": link_id, "url": url}
    )
    if not stored.rowcount:
        raise NotFound(f"invoice {invoice_id} does not exist")
