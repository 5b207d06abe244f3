"""Refunds of customer credit on request: the reservation that takes the credit's amount
off before the provider is asked, and the settlement once it answered.

Why reserve first: while the provider call is in flight (or retried through an outage for
hours) an invoice issued meanwhile must not take the same money off its balance. The
reservation lowers the credit with the guarded UPDATE an invoice's take uses
(`customer_credits.take_from`), so whichever comes second finds it gone. A refund the
provider refuses for good gives the reservation back.

What can be refunded is what the credit's invoice's payments have left at the provider
(their amounts less the refunds recorded on them): an overpayment's credit goes back to
the payment that brought it; a credit note's credit to its invoice's payments, and none
of it when that invoice was paid with account credit only (there is no payment to
refund). One request (its id from the Idempotency-Key) reserves once: a repeat finds its
row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import InvoiceRuleError
from schemas.credit_tables import CreditRefundRow, CustomerCreditRow
from schemas.refund_tables import RefundRow
from schemas.tables import Payment
from store import audit, customer_credits
from store.db import insert_if_absent

_RACED_TRIES = 5


class NothingToRefund(InvoiceRuleError):
    """The credit has nothing left: invoices took it, or an earlier refund did."""

    code = "nothing_to_refund"


class CreditNotRefundable(InvoiceRuleError):
    """No payment stands behind the credit (its invoice was paid with account credit), or
    the payments behind it were refunded already."""

    code = "credit_not_refundable"


async def refundable_payments(
    session: AsyncSession, credit: CustomerCreditRow
) -> tuple[list[str], int]:
    """The payments the credit can go back to, and how much they have left to refund."""
    query = select(Payment).where(
        Payment.invoice_id == credit.invoice_id, Payment.currency == credit.currency
    )
    if credit.source == "overpayment":
        query = query.where(Payment.id == credit.payment_id)
    payments = list((await session.exec(query)).all())
    refunds = await session.exec(
        select(RefundRow).where(col(RefundRow.payment_id).in_([p.id for p in payments]))
    )
    refunded: dict[str, int] = defaultdict(int)
    for row in refunds:
        refunded[row.payment_id] += row.amount_minor
    left = {p.id: p.amount_minor - refunded[p.id] for p in payments}
    ids = sorted(pid for pid, amount in left.items() if amount > 0)
    return ids, sum(left[pid] for pid in ids)


async def reserve(
    session: AsyncSession,
    *,
    refund_id: str,
    credit_id: str,
    requested_by: str,
    reason: str,
    at: datetime,
) -> CreditRefundRow:
    """Take what can be refunded of the credit off it, once per `refund_id` (a repeat
    answers the first reservation). The caller commits; a refusal writes nothing."""
    existing = await session.get(CreditRefundRow, refund_id, populate_existing=True)
    if existing is not None:
        return existing
    for _ in range(_RACED_TRIES):
        credit = await session.get(CustomerCreditRow, credit_id, populate_existing=True)
        if credit is None:
            raise LookupError(f"customer credit {credit_id} does not exist")
        payment_ids, left = await refundable_payments(session, credit)
        if credit.remaining_minor <= 0:
            raise NothingToRefund(f"customer credit {credit_id} has nothing left to refund")
        if not payment_ids:
            raise CreditNotRefundable(
                f"customer credit {credit_id} came from no payment that can be refunded"
            )
        amount = min(credit.remaining_minor, left)
        if await customer_credits.take_from(session, credit_id, amount):
            break
        # an invoice (or another refund) took from it meanwhile: read it again
    else:
        raise NothingToRefund(f"customer credit {credit_id} was taken meanwhile")
    inserted = await insert_if_absent(
        session,
        CreditRefundRow,
        id=refund_id,
        credit_id=credit_id,
        customer_id=credit.customer_id,
        invoice_id=credit.invoice_id,
        currency=credit.currency,
        amount_minor=amount,
        status="pending",
        requested_by=requested_by,
        reason=reason,
        requested_at=at,
    )
    if not inserted:  # a repeat of this request got here first: roll all of this back
        raise RuntimeError(f"refund {refund_id} is being reserved by another attempt")
    await audit.record(
        session,
        step_key=f"{refund_id}:reserved",
        invoice_id=credit.invoice_id,
        entity="customer_credit",
        action="customer_credit.refund_requested",
        actor=requested_by,
        data={
            "refund_id": refund_id,
            "credit_id": credit_id,
            "payment_ids": payment_ids,
            "amount_minor": amount,
            "currency": credit.currency,
            "reason": reason,
        },
        at=at,
    )
    row = await session.get(CreditRefundRow, refund_id, populate_existing=True)
    assert row is not None
    return row


async def settle(
    session: AsyncSession,
    *,
    refund_id: str,
    detail: str | None,
    at: datetime,
) -> CreditRefundRow:
    """The provider's outcome, once, from the refunds recorded for the request (keyed by
    `refund_id`; not from what the caller believes, so a refusal after part of a split
    refund was paid out gives back only the rest): refunded (any part not paid out goes
    back on the credit), or failed with the whole reservation given back."""
    row = await session.get(CreditRefundRow, refund_id, populate_existing=True)
    if row is None:
        raise LookupError(f"credit refund {refund_id} does not exist")
    if row.status != "pending":
        return row
    made = list(
        (await session.exec(select(RefundRow).where(RefundRow.credit_note_id == refund_id))).all()
    )
    refunded_minor = sum(r.amount_minor for r in made)
    provider_refund_ids = [r.id for r in made]
    unpaid = row.amount_minor - refunded_minor
    if unpaid > 0:
        await customer_credits.give_back(session, row.credit_id, unpaid)
    row.status = "refunded" if refunded_minor > 0 else "failed"
    row.amount_minor = refunded_minor if refunded_minor > 0 else row.amount_minor
    row.detail = detail
    row.settled_at = at
    session.add(row)
    await audit.record(
        session,
        step_key=f"{refund_id}:settled",
        invoice_id=row.invoice_id,
        entity="customer_credit",
        action="customer_credit.refunded"
        if refunded_minor > 0
        else "customer_credit.refund_failed",
        actor="workflow",
        data={
            "refund_id": refund_id,
            "credit_id": row.credit_id,
            "refunded_minor": refunded_minor,
            "given_back_minor": max(unpaid, 0),
            "provider_refund_ids": provider_refund_ids,
            "detail": detail,
        },
        at=at,
    )
    await session.flush()
    return row


async def refunds_of(session: AsyncSession, credit_ids: list[str]) -> list[CreditRefundRow]:
    """Every refund asked of these credits, oldest first."""
    query = (
        select(CreditRefundRow)
        .where(col(CreditRefundRow.credit_id).in_(credit_ids))
        .order_by(col(CreditRefundRow.requested_at), col(CreditRefundRow.id))
    )
    return list((await session.exec(query)).all())
