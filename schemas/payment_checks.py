"""Asking the payment provider what it took for an invoice (a webhook may never have
reached us), and the customer's "I have paid" that asks at once; plus an overpayment kept
on the customer's account and a credit refunded on request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from schemas.invoice import PaymentReceived

# a payment found by asking the provider (its audit actor): the webhook's is payments-webhook
CHECK_SOURCE = "payments-check"


class CheckPaymentsInput(BaseModel):
    invoice_id: str
    currency: str
    # why it asks: the schedule while a payment link is open, or the customer's word
    reason: Literal["schedule", "customer"] = "schedule"


class CheckPaymentsResult(BaseModel):
    """Every payment the provider took for the invoice, as the webhook would have given
    each (same payment id, so a late webhook is a duplicate)."""

    payments: list[PaymentReceived] = Field(default_factory=list)


class PaymentClaimed(BaseModel):
    """Signal ``payment_claimed``: the customer says they paid (the portal's "I have paid"
    button, or operations: ``{"claimed_by": "operator:alice"}``); the invoice asks the
    payment provider at once instead of at its next scheduled check."""

    claimed_by: str = "customer"


class KeepOverpaymentInput(BaseModel):
    """A payment beyond the invoice's balance, the excess kept on the customer's account."""

    invoice_id: str
    customer_id: str
    payment_id: str
    currency: str
    amount_minor: int


class RefundCreditInput(BaseModel):
    """`POST /customers/{id}/credit/{credit_id}/refund`: give what is left of a credit back
    through the payment provider (only a credit from an overpayment has a payment to refund)."""

    customer_id: str
    credit_id: str
    requested_by: str
    reason: str = Field(default="customer credit refunded on request", max_length=500)


class RefundCreditResult(BaseModel):
    credit_id: str
    refund_id: str
    payment_id: str
    amount_minor: int
    currency: str
    refunded_at: datetime
