"""Customer credit: granted from a credit note on a paid invoice (the customer kept the
money on account instead of a refund), taken off the customer's next invoices in the same
currency, oldest credit first.

Both writes are idempotent: a grant by its credit note (unique), an application by
(credit, invoice) and by invoice as a whole (an invoice that took credit once finds what
it took; its row is locked while it does, so two runs of the step agree). Taking from a
credit is a guarded UPDATE (``remaining >= amount``), so two invoices applying at once can
never take more than the credit holds: the loser reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.credit_tables import CreditApplicationRow, CustomerCreditRow
from schemas.ids import new_id
from schemas.tables import Invoice
from store import audit
from store.db import insert_if_absent

_AMOUNT = bindparam("amount", type_=BigInteger)
_TAKE = (
    update(CustomerCreditRow)
    .where(
        col(CustomerCreditRow.id) == bindparam("credit_id"),
        col(CustomerCreditRow.remaining_minor) >= _AMOUNT,
    )
    .values(remaining_minor=col(CustomerCreditRow.remaining_minor) - _AMOUNT)
    .execution_options(synchronize_session=False, preserve_rowcount=True)
)
_GIVE_BACK = (
    update(CustomerCreditRow)
    .where(col(CustomerCreditRow.id) == bindparam("credit_id"))
    .values(remaining_minor=col(CustomerCreditRow.remaining_minor) + _AMOUNT)
    .execution_options(synchronize_session=False)
)
_RACED_TRIES = 5  # a concurrent invoice took from the same credit: read again


async def take_from(session: AsyncSession, credit_id: str, amount_minor: int) -> bool:
    """Lower the credit by `amount_minor` if it still holds that much (one guarded UPDATE,
    so whoever spends it second, an invoice or a refund, finds it gone): whether it did."""
    connection = await session.connection()
    values = {"amount": amount_minor, "credit_id": credit_id}
    return bool((await connection.execute(_TAKE, values)).rowcount == 1)


async def give_back(session: AsyncSession, credit_id: str, amount_minor: int) -> None:
    """Return what a refund reserved and the provider would not pay out."""
    connection = await session.connection()
    await connection.execute(_GIVE_BACK, {"amount": amount_minor, "credit_id": credit_id})


_OVERPAYMENT = "overpayment:"


def overpayment_key(payment_id: str) -> str:
    """The unique source key of the credit one payment's excess became."""
    return f"{_OVERPAYMENT}{payment_id}"


def overpaid_payment(credit_note_id: str) -> str | None:
    """The payment an overpayment credit's source key names (None for a credit note)."""
    if credit_note_id.startswith(_OVERPAYMENT):
        return credit_note_id.removeprefix(_OVERPAYMENT)
    return None


@dataclass(frozen=True)
class Applied:
    """One credit taken off an invoice."""

    credit_id: str
    credit_note_id: str
    amount_minor: int


async def grant(
    session: AsyncSession,
    *,
    credit_note_id: str,
    invoice_id: str,
    customer_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
    payment_id: str | None = None,
) -> CustomerCreditRow:
    """Put the credit note's amount on the customer's account, once per credit note; the
    invoice it was credited on records the overpayment it carried there. With
    `payment_id`, the credit is what that payment brought beyond the invoice's balance
    (`credit_note_id` is then `overpayment_key(payment_id)`)."""
    if amount_minor <= 0:
        raise ValueError(f"a customer credit is a positive amount, not {amount_minor}")
    credit_id = new_id("ccr")
    created = await insert_if_absent(
        session,
        CustomerCreditRow,
        id=credit_id,
        customer_id=customer_id,
        currency=currency,
        credit_note_id=credit_note_id,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        remaining_minor=amount_minor,
        created_at=at,
        source="credit_note" if payment_id is None else "overpayment",
        payment_id=payment_id,
    )
    if created:
        invoice = await session.get(Invoice, invoice_id, populate_existing=True)
        if invoice is not None:
            invoice.credit_carried_minor += amount_minor
            invoice.updated_at = at
            session.add(invoice)
        await audit.record(
            session,
            step_key=f"{credit_note_id}:customer-credit",
            invoice_id=invoice_id,
            entity="customer_credit",
            action="customer_credit.granted",
            actor="workflow",
            data={
                "credit_id": credit_id,
                "credit_note_id": credit_note_id,
                "source": "credit_note" if payment_id is None else "overpayment",
                "payment_id": payment_id,
                "customer_id": customer_id,
                "amount_minor": amount_minor,
                "currency": currency,
            },
            at=at,
        )
        await session.flush()
    found = (
        await session.exec(
            select(CustomerCreditRow)
            .where(CustomerCreditRow.credit_note_id == credit_note_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return found


async def available(
    session: AsyncSession, customer_id: str, currency: str | None = None
) -> list[CustomerCreditRow]:
    """The customer's credits with something left, oldest first."""
    query = select(CustomerCreditRow).where(
        CustomerCreditRow.customer_id == customer_id, col(CustomerCreditRow.remaining_minor) > 0
    )
    if currency is not None:
        query = query.where(CustomerCreditRow.currency == currency)
    query = query.order_by(col(CustomerCreditRow.created_at), col(CustomerCreditRow.id))
    return list((await session.exec(query.execution_options(populate_existing=True))).all())


async def applied_to(session: AsyncSession, invoice_id: str) -> list[CreditApplicationRow]:
    query = (
        select(CreditApplicationRow)
        .where(CreditApplicationRow.invoice_id == invoice_id)
        .order_by(col(CreditApplicationRow.applied_at), col(CreditApplicationRow.id))
    )
    return list((await session.exec(query)).all())


async def apply_to_invoice(
    session: AsyncSession,
    *,
    invoice_id: str,
    customer_id: str,
    currency: str,
    limit_minor: int,
    at: datetime,
) -> list[Applied]:
    """Take the customer's credit off the invoice, up to `limit_minor` (what it owes), or
    find what it took already. The caller commits.

    The invoice's row is locked first (PostgreSQL; SQLite has one writer anyway), so a
    repeat of this step running beside the first waits for it and answers what it took,
    instead of finding the credit gone and answering "nothing"."""
    await session.exec(
        select(Invoice.id).where(Invoice.id == invoice_id).with_for_update()  # type: ignore[arg-type]
    )
    done = await applied_to(session, invoice_id)
    if done:
        return [Applied(r.credit_id, r.credit_note_id, r.amount_minor) for r in done]
    taken: list[Applied] = []
    need = limit_minor
    for _ in range(_RACED_TRIES):
        credits = await available(session, customer_id, currency)
        if need <= 0 or not credits:
            break
        raced = False
        for credit in credits:
            if need <= 0:
                break
            if any(t.credit_id == credit.id for t in taken):
                continue
            amount = min(credit.remaining_minor, need)
            if not await take_from(session, credit.id, amount):
                raced = True  # another invoice took from it first
                continue
            inserted = await insert_if_absent(
                session,
                CreditApplicationRow,
                id=new_id("cca"),
                credit_id=credit.id,
                invoice_id=invoice_id,
                credit_note_id=credit.credit_note_id,
                amount_minor=amount,
                currency=currency,
                applied_at=at,
            )
            if not inserted:  # a repeat of this step got here first: roll all of it back
                raise RuntimeError(f"credit {credit.id} is being applied to {invoice_id}")
            taken.append(Applied(credit.id, credit.credit_note_id, amount))
            need -= amount
        if not raced:
            break
    if taken:
        total = sum(t.amount_minor for t in taken)
        invoice = await session.get(Invoice, invoice_id, populate_existing=True)
        if invoice is not None:
            invoice.credit_applied_minor += total
            invoice.updated_at = at
            session.add(invoice)
        await audit.record(
            session,
            step_key=f"{invoice_id}:customer-credit-applied",
            invoice_id=invoice_id,
            entity="invoice",
            action="customer_credit.applied",
            actor="workflow",
            data={
                "amount_minor": total,
                "credits": [
                    {"credit_note_id": t.credit_note_id, "amount_minor": t.amount_minor}
                    for t in taken
                ],
            },
            at=at,
        )
        await session.flush()
    return taken
