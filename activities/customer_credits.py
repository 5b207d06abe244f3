"""Customer credit as local activities of the invoice workflow: a grant when a dispute's
credit note on a paid invoice is kept on account, and the credit a new invoice takes before
it is sent. Each is one transaction and idempotent (see `store.customer_credits`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select
from temporalio import activity

from schemas.customer_credit import (
    AppliedCredit,
    ApplyCreditInput,
    CreditsApplied,
    GrantCreditInput,
)
from schemas.dispute_tables import CreditNoteRow
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

    @activity.defn(name="credits.apply")
    async def apply(self, data: ApplyCreditInput) -> CreditsApplied:
        async with transaction(self._sessions) as session:
            taken = await customer_credits.apply_to_invoice(
                session,
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                currency=data.currency,
                limit_minor=data.limit_minor,
                at=datetime.now(UTC),
            )
            ids = [t.credit_note_id for t in taken]
            notes = (
                await session.exec(select(CreditNoteRow).where(col(CreditNoteRow.id).in_(ids)))
            ).all()
            numbers = {n.id: n.number for n in notes}
        return CreditsApplied(
            credits=[
                AppliedCredit(
                    credit_note_id=t.credit_note_id,
                    credit_note_number=numbers.get(t.credit_note_id, t.credit_note_id),
                    amount_minor=t.amount_minor,
                )
                for t in taken
            ]
        )
