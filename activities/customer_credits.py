"""Customer credit: the grant (a local activity of the invoice workflow) when a dispute's
credit note on a paid invoice is kept on account, or a payment brings more than the
balance (`keep_overpayment`); and the credit a new invoice takes, in the delivery step's
transaction before the payment link is made (`take_credit`). Each is idempotent (see
`store.customer_credits`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from schemas.credit_tables import CustomerCreditRow
from schemas.customer_credit import AppliedCredit, GrantCreditInput
from schemas.dispute_tables import CreditNoteRow
from schemas.invoice import InvoiceSnapshot
from schemas.payment_checks import KeepOverpaymentInput
from schemas.tables import Invoice
from store import customer_credits
from store.db import SessionFactory, transaction


class CustomerCreditActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn(name="credits.grant")
    async def grant(self, data: GrantCreditInput) -> None:
        async with transaction(self._sessions) as session:
            await customer_credits.grant(
                session,
                credit_note_id=data.credit_note_id,
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                currency=data.currency,
                amount_minor=data.amount_minor,
                at=datetime.now(UTC),
            )

    @activity.defn(name="credits.keep_overpayment")
    async def keep_overpayment(self, data: KeepOverpaymentInput) -> None:
        """A payment beyond the invoice's balance: the excess on the customer's account,
        once per payment."""
        async with transaction(self._sessions) as session:
            await customer_credits.grant(
                session,
                credit_note_id=customer_credits.overpayment_key(data.payment_id),
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                currency=data.currency,
                amount_minor=data.amount_minor,
                at=datetime.now(UTC),
                payment_id=data.payment_id,
            )


async def may_take_credit(session: AsyncSession, invoice: InvoiceSnapshot) -> bool:
    """Whether the customer has credit in the invoice's currency, or the invoice took some."""
    if await customer_credits.available(session, invoice.customer_id, invoice.currency):
        return True
    return bool(await customer_credits.applied_to(session, invoice.invoice_id))


async def take_credit(session: AsyncSession, invoice: InvoiceSnapshot) -> list[AppliedCredit]:
    """Credit from the customer's account taken off the invoice (or what it took before),
    each with its credit note's number. Part of the delivery step: the invoice as sent."""
    taken = await customer_credits.apply_to_invoice(
        session,
        invoice_id=invoice.invoice_id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        limit_minor=invoice.total_minor,
        at=datetime.now(UTC),
    )
    return await credits_taken(session, invoice.invoice_id) if taken else []


async def credits_taken(session: AsyncSession, invoice_id: str) -> list[AppliedCredit]:
    """What the invoice took from the customer's account (an earlier attempt's work)."""
    rows = await customer_credits.applied_to(session, invoice_id)
    ids = [r.credit_note_id for r in rows]
    notes = (await session.exec(select(CreditNoteRow).where(col(CreditNoteRow.id).in_(ids)))).all()
    numbers = {n.id: n.number for n in notes}
    # an overpayment's credit is named by the invoice it was paid on
    overpaid = (
        await session.exec(
            select(CustomerCreditRow.credit_note_id, Invoice.number)
            .join(Invoice, col(Invoice.id) == col(CustomerCreditRow.invoice_id))
            .where(col(CustomerCreditRow.credit_note_id).in_(ids))
            .where(CustomerCreditRow.source == "overpayment")
        )
    ).all()
    sources = {key: number or key for key, number in overpaid}
    return [
        AppliedCredit(
            credit_note_id=r.credit_note_id,
            credit_note_number=sources.get(r.credit_note_id)
            or numbers.get(r.credit_note_id, r.credit_note_id),
            amount_minor=r.amount_minor,
            source="overpayment" if r.credit_note_id in sources else "credit_note",
        )
        for r in rows
    ]
