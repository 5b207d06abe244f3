"""Customer credit: what a credit note gave back on an invoice already paid, kept on the
customer's account (the customer chose it over a refund) and taken off their next invoices.

A `CustomerCreditRow` is one grant, from one credit note (unique: a retried grant writes it
once); `remaining_minor` is what is left of it, lowered by a guarded UPDATE so two invoices
applying at once cannot both take the last of it. A `CreditApplicationRow` is one grant
taken off one invoice, unique per (credit, invoice), so an invoice takes each grant once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class CustomerCreditRow(SQLModel, table=True):
    """Credit on a customer's account in one currency, from one credit note."""

    __tablename__ = "customer_credits"

    id: str = Field(primary_key=True)  # ccr_...
    customer_id: str = Field(index=True)
    currency: str
    # the credit note it came from; for an overpayment, "overpayment:{payment id}"
    credit_note_id: str = Field(unique=True)
    invoice_id: str = Field(foreign_key="invoices.id")  # the invoice it was credited on
    # "credit_note", or "overpayment": paid beyond the invoice by `payment_id` (migration 0015)
    source: str = Field(default="credit_note")
    payment_id: str | None = Field(default=None)
    amount_minor: int = Field(sa_type=BigInteger)
    remaining_minor: int = Field(sa_type=BigInteger)
    created_at: datetime = _utc()


class CreditApplicationRow(SQLModel, table=True):
    """Part (or all) of one customer credit taken off one later invoice."""

    __tablename__ = "customer_credit_applications"
    __table_args__ = (UniqueConstraint("credit_id", "invoice_id"),)

    id: str = Field(primary_key=True)  # cca_...
    credit_id: str = Field(foreign_key="customer_credits.id", index=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    credit_note_id: str  # the credit note the credit came from (what accounting allocates)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str
    applied_at: datetime = _utc()


class CreditRefundRow(SQLModel, table=True):
    """A request to give (what is left of) one customer credit back through the payment
    provider (migration 0017). The credit is decremented when the request is reserved, by
    the same guarded UPDATE an invoice taking credit uses, so the two never both spend it;
    a refund the provider refuses gives it back (`status` failed)."""

    __tablename__ = "customer_credit_refunds"

    id: str = Field(primary_key=True)  # crf_..., from the request's Idempotency-Key
    credit_id: str = Field(foreign_key="customer_credits.id", index=True)
    customer_id: str = Field(index=True)
    invoice_id: str = Field(foreign_key="invoices.id")  # the credit's (where it was paid)
    currency: str
    amount_minor: int = Field(sa_type=BigInteger)
    status: str = Field(default="pending")  # pending, refunded, failed
    requested_by: str
    reason: str
    detail: str | None = Field(default=None)  # why it failed
    requested_at: datetime = _utc()
    settled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
