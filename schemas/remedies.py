"""Inputs and results of the remedy activities: a refund at the payment provider, and the
credit notes and write-offs posted to accounting. Ids are the business ids the dispute
chose, so every key derived from them stays the same across retries."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from schemas.invoice import PostingResult

__all__ = [
    "PostCreditNoteInput",
    "PostVoidInput",
    "PostWriteOffInput",
    "PostingResult",
    "RefundInput",
    "RefundMade",
    "RefundResult",
]

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class RefundInput(BaseModel):
    """Activity ``payments.refund``: give `amount_minor` of the invoice's payments back."""

    invoice_id: str
    credit_note_id: str
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: str = Field(min_length=1)  # schemas.disputes.CreditReason, or free text
    # only these of the invoice's payments (an overpayment's credit goes back to the payment
    # that brought it); None: any, newest first. `credit_note_id` is then what the refund
    # is for (a credit refund's crf_ id), which keys it.
    payment_ids: list[str] | None = None


class RefundMade(BaseModel):
    refund_id: str  # the provider's
    payment_id: str
    amount_minor: int


class RefundResult(BaseModel):
    credit_note_id: str
    refunded_minor: int
    # one per payment refunded from, in the order they were made
    refunds: list[RefundMade]


class PostCreditNoteInput(BaseModel):
    """Activity ``accounting.post_credit_note``."""

    invoice_id: str
    credit_note_id: str
    number: str  # CN-2026-0001
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: str = Field(min_length=1)
    issued_at: AwareDatetime


class PostWriteOffInput(BaseModel):
    """Activity ``accounting.post_write_off``."""

    invoice_id: str
    write_off_id: str
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: str = Field(min_length=1)


class PostVoidInput(BaseModel):
    """Activity ``accounting.post_void``: an invoice voided and replaced by another."""

    invoice_id: str
    replaced_by_invoice_id: str | None = None
    reason: str = Field(min_length=1)
