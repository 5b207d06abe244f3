"""The values dispute policy works on: the vocabulary, the figures of an invoice and of a
case, and the one refusal every check raises.

The vocabulary (reason categories, remedy kinds, credit-note reasons) is defined here
rather than in `schemas.disputes` because `domain` may not import `schemas`; the schemas
re-export these enums, so the API, the portal, the tables and the reports share one set
of values.

Amounts are integer minor units of the invoice's currency (`domain.money`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.money import MAX_MINOR

_FROZEN = ConfigDict(frozen=True)


class DisputeReason(StrEnum):
    """Why the customer disputes, as receivables systems categorise it."""

    PRICING = "pricing"
    QUANTITY = "quantity"
    QUALITY = "quality"
    NOT_RECEIVED = "not_received"
    DUPLICATE = "duplicate"
    TAX = "tax"
    OTHER = "other"


class RemedyKind(StrEnum):
    CREDIT_NOTE = "credit_note"
    ADJUSTED_INVOICE = "adjusted_invoice"
    PAYMENT_PLAN = "payment_plan"
    REJECTION = "rejection"
    WRITE_OFF = "write_off"


class CreditReason(StrEnum):
    """A credit note's reason (the card-network / receivables vocabulary)."""

    DUPLICATE_CHARGE = "duplicate_charge"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"
    ORDER_CHANGE = "order_change"
    ORDER_CANCELLATION = "order_cancellation"
    FRAUDULENT_CHARGE = "fraudulent_charge"
    OTHER = "other"


DisputeRefusalCode = Literal[
    # intake
    "unknown_lines",
    "duplicate_lines",
    "lines_already_disputed",
    "amount_above_lines",
    "amount_above_balance",
    "nothing_to_dispute",
    "invalid_amount",
    # remedies
    "amount_required",
    "above_creditable",
    "credit_reason_required",
    "above_write_off_limit",
    "above_disputed",
    "plan_too_few_instalments",
    "plan_dates_invalid",
    "plan_sum_mismatch",
    "adjusted_invoice_empty",
    "note_required",
]


class DisputeRefused(Exception):
    """A dispute intake or remedy the rules refuse: `code` is stable (API problem types,
    `ApplicationError` types, portal messages), `detail` a sentence naming the amounts
    or lines at fault. `lines` carries the line positions at fault, when there are any,
    so a form can mark them.

    A business refusal: workflows raise it as a non-retryable error, and an update
    validator raises it so a refused click writes nothing to history.
    """

    def __init__(
        self, code: DisputeRefusalCode, detail: str, *, lines: tuple[int, ...] = ()
    ) -> None:
        super().__init__(detail)
        self.code: DisputeRefusalCode = code
        self.detail = detail
        self.lines = lines

    @property
    def message(self) -> str:
        return self.detail

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"DisputeRefused({self.code!r}, {self.detail!r})"


class LineAmount(BaseModel):
    """An invoice line's gross amount (its net plus its share of the tax)."""

    model_config = _FROZEN

    position: int = Field(ge=1)
    gross_minor: int = Field(ge=0, le=MAX_MINOR)


class InvoiceFigures(BaseModel):
    """What intake needs to know about the invoice being disputed."""

    model_config = _FROZEN

    currency: str
    total_minor: int = Field(ge=0, le=MAX_MINOR)
    paid_minor: int = Field(default=0, ge=0)
    credited_minor: int = Field(default=0, ge=0)
    written_off_minor: int = Field(default=0, ge=0)
    lines: tuple[LineAmount, ...] = ()  # see `line_gross_amounts`

    @model_validator(mode="after")
    def _check_lines(self) -> Self:
        positions = [line.position for line in self.lines]
        if len(set(positions)) != len(positions):
            raise ValueError(f"line positions must be unique; got {positions}")
        return self

    @property
    def open_balance_minor(self) -> int:
        """What the customer still owes: never negative (an overpayment is not a balance
        to dispute)."""
        settled = self.paid_minor + self.credited_minor + self.written_off_minor
        return max(0, self.total_minor - settled)


class OpenDispute(BaseModel):
    """Another dispute on the same invoice that is not resolved yet."""

    model_config = _FROZEN

    dispute_id: str
    number: str | None = None  # DSP-2026-0001, for messages; the id when not numbered
    lines: tuple[int, ...] = ()  # empty: the whole invoice
    amount_minor: int = Field(ge=0)  # the amount still disputed

    @property
    def label(self) -> str:
        return self.number or self.dispute_id


class AcceptedIntake(BaseModel):
    """An intake the rules accept: the disputed lines (sorted; empty for the whole
    invoice) and the amount, defaulted when the customer named none."""

    model_config = _FROZEN

    lines: tuple[int, ...]
    amount_minor: int = Field(gt=0)


class CaseFigures(BaseModel):
    """What remedy checks need to know about a dispute and its invoice, all in minor units
    of `currency`: the invoice's total and what settled it so far, and the amount the
    dispute still contests."""

    model_config = _FROZEN

    currency: str
    total_minor: int = Field(ge=0, le=MAX_MINOR)
    paid_minor: int = Field(default=0, ge=0)
    credited_minor: int = Field(default=0, ge=0)
    written_off_minor: int = Field(default=0, ge=0)
    disputed_minor: int = Field(ge=0)

    @property
    def open_balance_minor(self) -> int:
        settled = self.paid_minor + self.credited_minor + self.written_off_minor
        return max(0, self.total_minor - settled)

    @property
    def creditable_minor(self) -> int:
        """What a credit note may still take off: the total less earlier credit notes and
        write-offs. Payments do not reduce it: a credit on a paid amount is refunded (or
        kept as customer credit)."""
        return max(0, self.total_minor - self.credited_minor - self.written_off_minor)
