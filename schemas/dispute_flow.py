"""Inputs and results of the dispute workflow and its activities (one model per call, so
fields can be added without breaking running workflows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.tasks import Assignee, TaskTimers
from schemas.disputes import (
    CreditReason,
    CreditSettlement,
    DisputeOpened,
    DisputeReason,
    DisputeStatus,
    InstalmentPlan,
    RemedyKind,
)


class RecordDisputeInput(BaseModel):
    """Store a new dispute (the invoice workflow's `open_dispute` handler)."""

    dispute_id: str
    request_id: str
    invoice_id: str
    customer_id: str
    currency: str
    reason: DisputeReason
    description: str
    lines: list[int]
    amount_minor: int
    channel: str
    opened_by: str
    evidence_ids: list[str] = Field(default_factory=list)


class DisputePolicy(BaseModel):
    """The rules a dispute runs under, from settings when it opened (a change of settings
    does not move a dispute already running)."""

    top_level: int = 3
    credit_approval_threshold_minor: int = 100_000
    write_off_limit_minor: int = 5_000
    info_response_days: int = 7
    remedy_response_days: int = 10
    declines_before_escalation: int = 2


class RecordedDispute(BaseModel):
    opened: DisputeOpened
    opened_at: datetime
    level: int
    policy: DisputePolicy


class DisputeCaseInput(BaseModel):
    """The dispute workflow's input: the case as opened, and the invoice's figures."""

    dispute_id: str
    number: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    customer_name: str
    currency: str
    reason: DisputeReason
    lines: list[int]
    amount_minor: int
    opened_at: datetime
    level: int
    policy: DisputePolicy
    total_minor: int
    paid_minor: int = 0
    credited_minor: int = 0
    written_off_minor: int = 0


class AssignLevelInput(BaseModel):
    dispute_id: str
    level: int
    at: datetime
    # an escalation names why in the timeline: "SLA missed at level 1", "declined twice"
    why: str | None = None


class LevelAssignment(BaseModel):
    """Who owns the dispute at a level, and its SLA."""

    level: int
    level_name: str
    sla_business_days: int
    group_id: str | None
    owners: list[Assignee]  # the owner first, then the rest of the level's group
    sla_due_at: datetime
    timers: TaskTimers


class DisputeMove(BaseModel):
    """One step of the case, written once per `event_key`: a timeline event and the case
    fields it changes (only those given)."""

    dispute_id: str
    event_key: str
    kind: str
    actor: str = "workflow"
    text: str
    visible_to_customer: bool = False
    data: dict[str, Any] = Field(default_factory=dict)
    status: DisputeStatus | None = None
    sla_breached: bool | None = None
    sla_due_at: datetime | None = None
    resolution: RemedyKind | None = None
    resolution_note: str | None = None
    root_cause: str | None = None
    resolved_level: int | None = None
    resolved: bool = False  # sets resolved_at and disputed_minor 0


class ApproversInput(BaseModel):
    dispute_id: str


class CreditApprovers(BaseModel):
    """Who approves a credit note above the threshold, and how long they get."""

    owners: list[Assignee]
    timers: TaskTimers


class IssueCreditNoteInput(BaseModel):
    credit_note_id: str
    dispute_id: str
    invoice_id: str
    currency: str
    amount_minor: int
    reason: CreditReason
    settlement: CreditSettlement


class CreditNoteIssued(BaseModel):
    credit_note_id: str
    number: str
    amount_minor: int
    issued_at: datetime


class WriteOffInput(BaseModel):
    write_off_id: str
    dispute_id: str
    invoice_id: str
    amount_minor: int


class DisputeOutcome(BaseModel):
    """What the dispute ended with; the invoice workflow applies it to the balance."""

    dispute_id: str
    number: str
    resolution: RemedyKind
    resolved_level: int
    note: str
    credit_note_id: str | None = None
    credit_note_number: str | None = None
    credit_reason: CreditReason | None = None
    settlement: CreditSettlement | None = None
    credited_minor: int = 0
    credit_note_issued_at: datetime | None = None
    write_off_id: str | None = None
    written_off_minor: int = 0
    instalments: list[InstalmentPlan] = Field(default_factory=list)
    # an adjusted invoice: its corrected lines, as `POST /invoices` takes explicit lines
    lines: list[dict[str, Any]] = Field(default_factory=list)


class PlanInForce(BaseModel):
    """A payment plan the customer accepted: it replaces the invoice's due date by its
    instalments' (payments after `base_paid_minor` pay them in due-date order)."""

    dispute_id: str
    instalments: list[InstalmentPlan]
    base_paid_minor: int


class TrackPlanInput(BaseModel):
    invoice_id: str
    dispute_id: str
    # (sequence, paid_minor, status) of each instalment now
    positions: list[tuple[int, int, str]]


class RecordPlanInput(BaseModel):
    dispute_id: str
    invoice_id: str
    instalments: list[InstalmentPlan]


class VoidInvoiceInput(BaseModel):
    invoice_id: str
    replaced_by_invoice_id: str
    dispute_id: str
    actor: str


class DisputeLive(BaseModel):
    """The dispute workflow's `state` query."""

    dispute_id: str
    number: str
    status: DisputeStatus
    level: int
    owner: str | None
    sla_due_at: datetime | None
    sla_breached: bool
    declines: int
    respond_by: date | None = None
    proposal: dict[str, Any] | None = None
    task: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
