"""Refunding customer credit on request (`POST /customers/{id}/credit/{credit_id}/refund`):
the `CreditRefund` workflow's input and result, and its activities' inputs (the refund as
the API lists it is `schemas.customer_credit.CreditRefundEntry`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.remedies import RefundMade


def credit_refund_workflow_id(credit_id: str, refund_id: str) -> str:
    """One workflow per request: a repeat with the same Idempotency-Key joins it."""
    return f"credit-refund-{credit_id}-{refund_id}"


class CreditRefundInput(BaseModel):
    """The `CreditRefund` workflow, and its reservation step (`credits.reserve_refund`)."""

    refund_id: str  # crf_..., from the request's Idempotency-Key
    credit_id: str
    customer_id: str
    requested_by: str
    reason: str


class ReservedRefund(BaseModel):
    """What the reservation took off the credit, and where it goes back to."""

    refund_id: str
    credit_id: str
    invoice_id: str  # the credit's invoice, whose payments are refunded
    credit_note_id: str  # the credit's source key: a credit note, or overpayment:{payment}
    payment_ids: list[str]
    amount_minor: int
    currency: str
    status: str  # pending; refunded or failed when a repeat finds it settled
    refunded: list[RefundMade] = Field(default_factory=list)


class SettleRefundInput(BaseModel):
    refund_id: str
    refunded: list[RefundMade] = Field(default_factory=list)  # as the refund step answered
    detail: str | None = None  # why the provider refused


class PostCreditRefundInput(BaseModel):
    """The refund as the ledger takes it: money given back from a credit note's or an
    overpaid payment's credit."""

    refund_id: str
    invoice_id: str
    credit_note_id: str
    amount_minor: int
    currency: str
    reason: str
    resume: bool = False  # after AccountingSyncFailing: look up first, never give up


class CreditRefundResult(BaseModel):
    refund_id: str
    credit_id: str
    status: str = Field(
        description="refunded; failed (the provider refused: the credit was given back);"
        " refused (nothing to refund when the request was reserved: `code`)"
    )
    amount_minor: int
    currency: str
    refunds: list[RefundMade] = Field(default_factory=list)
    detail: str | None = None
    code: str | None = None  # a refusal's problem code
    accounting_ref: str | None = None  # the ledger's document, once posted
