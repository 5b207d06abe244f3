"""Customer credit between workflows, activities and the API: a grant from a credit note
on a paid invoice, and the credit an invoice takes off what it asks the customer to pay."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AppliedCredit(BaseModel):
    """Credit from one credit note taken off an invoice (shown on it: "Credit CN-…"), or
    from an overpayment (`source`; `credit_note_number` is then the overpaid invoice's)."""

    credit_note_id: str
    credit_note_number: str
    amount_minor: int
    source: str = "credit_note"


class GrantCreditInput(BaseModel):
    credit_note_id: str
    invoice_id: str
    customer_id: str
    currency: str
    amount_minor: int


class PostCreditAllocationInput(BaseModel):
    """One credit note allocated to a later invoice in the ledger, once."""

    invoice_id: str
    credit_note_id: str
    amount_minor: int
    currency: str


class CreditRefundEntry(BaseModel):
    """One refund asked of a credit, in `GET /customers/{id}/credit`."""

    id: str
    status: str = Field(description="pending (at the provider), refunded or failed")
    amount_minor: int
    currency: str
    requested_by: str
    reason: str
    detail: str | None = None
    requested_at: datetime
    settled_at: datetime | None = None


class CustomerCreditEntry(BaseModel):
    id: str = ""  # ccr_...
    source: str = Field(
        default="credit_note",
        description="credit_note, or overpayment: paid beyond the invoice by `payment_id`",
    )
    # an overpayment's credit: "overpayment:{payment id}" (no credit note)
    credit_note_id: str
    credit_note_number: str
    payment_id: str | None = None
    invoice_id: str  # the invoice it was credited on
    currency: str
    amount_minor: int
    remaining_minor: int
    created_at: datetime
    refunds: list[CreditRefundEntry] = Field(
        default_factory=list,
        description="refunds asked of it (POST …/credit/{credit_id}/refund), oldest first",
    )


class CustomerCreditOut(BaseModel):
    """`GET /customers/{id}/credit`: what the customer has on account, per currency."""

    customer_id: str
    balances: dict[str, int] = Field(description="currency -> credit left, minor units")
    credits: list[CustomerCreditEntry]
