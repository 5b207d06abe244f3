"""Bodies of the staff dispute API: disputes as they list, one dispute with its timeline,
evidence and remedies, and the filters of the list.

Money is in minor units with the dispute's currency beside it (the invoice's). The
timeline and evidence entries are the shared views of `schemas.disputes`, so the portal
and the API show one shape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.disputes.model import DisputeReason, RemedyKind
from schemas.disputes import DisputeEventView, DisputeStatus, EvidenceView

# a status, or "unresolved": every status but resolved
DisputeStatusFilter = Literal[
    "open", "waiting_on_customer", "awaiting_approval", "remedy_proposed", "resolved", "unresolved"
]


class DisputeSummary(BaseModel):
    """One dispute as the list shows it."""

    id: str
    number: str = Field(examples=["DSP-2026-0001"])
    invoice_id: str
    invoice_number: str | None
    customer_id: str
    customer_name: str | None
    currency: str
    status: DisputeStatus
    reason: DisputeReason
    lines: list[int] = Field(description="disputed invoice line positions; empty: the whole")
    original_amount_minor: int = Field(description="disputed at intake")
    disputed_minor: int = Field(description="still disputed")
    credited_minor: int
    written_off_minor: int
    level: int = Field(description="escalation level: 1 the team, 2 senior finance, 3 a manager")
    owner_id: str | None
    owner_name: str | None
    group_id: str | None
    sla_due_at: datetime | None = Field(description="when the current level's SLA runs out")
    sla_breached: bool
    channel: Literal["portal", "api"]
    opened_by: str
    opened_at: datetime
    age_days: float = Field(description="days since it opened (until it was resolved)")
    resolution: RemedyKind | None
    resolved_level: int | None
    resolved_at: datetime | None
    updated_at: datetime


class DisputePage(BaseModel):
    items: list[DisputeSummary]
    limit: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class CreditNoteView(BaseModel):
    credit_note_id: str
    number: str = Field(examples=["CN-2026-0001"])
    invoice_id: str
    dispute_id: str | None
    currency: str
    amount_minor: int
    reason: str
    settlement: Literal["balance", "refund", "customer_credit"]
    refund_id: str | None
    status: str
    created_at: datetime


class InstalmentView(BaseModel):
    sequence: int
    due_date: date
    amount_minor: int
    paid_minor: int
    status: Literal["due", "paid", "overdue"]


class DisputeDetail(DisputeSummary):
    description: str
    resolution_note: str | None
    root_cause: str | None
    events: list[DisputeEventView] = Field(description="the timeline, oldest first")
    evidence: list[EvidenceView] = Field(description="in the order it was added")
    credit_notes: list[CreditNoteView]
    instalments: list[InstalmentView]
