"""Bodies of the exception-queue API: the queue as it lists, one exception with its
invoice lines side by side with their PO lines, and a resolution as a person sends it.

Quantities travel as decimal strings ("2.5"), as in the PO API; money in minor units with
the invoice's currency beside it. A resolution's business rules (a justification to accept
or cancel, what a correction needs, who may resolve) are the workflow's: its update
validator refuses, and the API passes its code on (`api.exception_actions`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.invoicing import BillableItem, ExplicitLine
from domain.matching.model import MatchReason
from schemas.matching import Resolution

ExceptionStatus = Literal["open", "resolved", "cancelled"]


class ExceptionSummary(BaseModel):
    """One exception as the queue lists it."""

    id: str
    invoice_id: str
    invoice_number: str | None
    customer_id: str
    customer_name: str | None
    po_number: str | None
    reasons: list[MatchReason]
    owner_id: str | None
    owner_name: str | None
    group_id: str | None
    opened_at: datetime
    age_hours: float = Field(description="hours since it opened (until it closed, if closed)")
    escalates_at: datetime | None
    escalated_at: datetime | None
    waiting_on: str | None = Field(description="set once a person chose to wait")
    status: ExceptionStatus
    resolution: str | None = Field(
        default=None,
        description="accept_variance, correct or cancel by a person; released when a PO"
        " change let the invoice match by itself",
    )
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    justification: str | None = None


class ExceptionPage(BaseModel):
    items: list[ExceptionSummary]
    limit: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class InvoiceLineSide(BaseModel):
    position: int
    description: str
    item_code: str | None
    quantity: Decimal
    unit: str
    unit_price_minor: int
    net_minor: int
    po_line: int | None = Field(description="the PO line the invoice line names, if any")


class POLineSide(BaseModel):
    line_number: int
    item_code: str
    description: str
    unit: str
    unit_price_minor: int
    ordered: Decimal
    received: Decimal
    invoiced_by_others: Decimal = Field(description="consumed by other invoices, not released")
    remaining: Decimal = Field(
        description="what is left to invoice before tolerance: of the ordered quantity, and"
        " 3-way also of the received one, the stricter"
    )


class LineVarianceOut(BaseModel):
    """How an invoice line differs from its PO line; `flagged` when a reason names it."""

    flagged: bool
    codes: list[str] = Field(description="the reason codes on this line")
    unit_mismatch: bool = False
    price_minor: int = Field(default=0, description="invoice unit price less the PO's, per unit")
    price_pct: Decimal | None = Field(default=None, description="of the PO's unit price")
    quantity_over: Decimal = Field(
        default=Decimal(0), description="quantity beyond what is left of the PO line (0 if within)"
    )


class LineComparison(BaseModel):
    invoice_line: InvoiceLineSide
    po_line: POLineSide | None = Field(description="null: the line maps to no PO line")
    variance: LineVarianceOut
    reasons: list[MatchReason]


class ReceiptOut(BaseModel):
    line_number: int
    quantity: Decimal
    unit: str
    delivered_on: date
    reference: str
    kind: str


class ExceptionDetail(ExceptionSummary):
    currency: str | None
    invoice_net_minor: int | None
    invoice_total_minor: int | None
    po_id: str | None
    po_currency: str | None
    match_mode: str | None = Field(description="2-way or 3-way; null without a PO")
    po_amount_minor: int | None
    po_invoiced_by_others_minor: int | None
    lines: list[LineComparison] = Field(description="in the invoice's order")
    other_po_lines: list[POLineSide] = Field(description="PO lines no invoice line bills")
    receipts: list[ReceiptOut]
    invoice_reasons: list[MatchReason] = Field(
        description="reasons about the whole invoice or PO, not one line"
    )


class ResolutionBody(BaseModel):
    """`justification` is required to accept the variance or cancel; `correct` needs
    items, lines or another `po_number` (corrected lines are checked as on creation)."""

    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(min_length=1, max_length=200, description="who resolves")
    resolution: Resolution
    justification: str | None = Field(default=None, max_length=2000)
    items: list[BillableItem] = Field(default_factory=list, max_length=1000)
    lines: list[ExplicitLine] = Field(default_factory=list, max_length=1000)
    po_number: str | None = Field(default=None, min_length=1, max_length=100)


class ResolutionOut(BaseModel):
    exception_id: str
    invoice_id: str
    resolution: Resolution
    invoice_status: str = Field(description="the invoice's status once it was applied")
