"""Inputs and results of the match stage's activities and of the `resolve_exception`
update (the payload operations use from the Temporal UI too)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.invoicing import BillableItem, ExplicitLine
from domain.matching.model import (
    InvoiceToMatch,
    MatchReason,
    MatchResult,
    PurchaseOrderSnapshot,
    RecentInvoice,
    Tolerances,
)
from domain.tasks import Assignee, TaskTimers

Resolution = Literal["accept_variance", "correct", "wait", "cancel"]


class LoadMatchInput(BaseModel):
    invoice_id: str


class MatchContext(BaseModel):
    """All matching needs, read in one transaction: the invoice, its PO as it stands (less
    this invoice's own consumption), the tolerances in force and the invoices a duplicate
    check compares with."""

    invoice: InvoiceToMatch
    po: PurchaseOrderSnapshot | None
    po_of_another_customer: bool = False
    tolerances: Tolerances
    recent: list[RecentInvoice] = []
    duplicate_window_days: int = 7


class RecordMatchInput(BaseModel):
    """Consume the PO and keep the outcome on the invoice. `accepted_by` and
    `justification` are set when a person accepted an exception's variance."""

    invoice_id: str
    result: MatchResult
    accepted_by: str | None = None
    justification: str | None = None
    attempt: int = 1


class RecordMatchResult(BaseModel):
    consumed: bool  # False: another invoice took what this one needed; match again


class OpenExceptionInput(BaseModel):
    invoice_id: str
    exception_id: str
    customer_id: str
    po_number: str | None
    reasons: list[MatchReason]


class ExceptionAssignment(BaseModel):
    """Who the exception's human task waits on, and its timers."""

    exception_id: str
    owners: list[Assignee]  # the owner first, then the rest of the owner's group
    backup: Assignee | None  # the escalation owner: the new owner once escalated
    escalation_group: list[Assignee]
    group_id: str | None
    timers: TaskTimers
    link_path: str = "/exception-review"


class UpdateExceptionInput(BaseModel):
    exception_id: str
    step: str  # names the move in the audit trail, once: "rematched:3", "escalated"
    actor: str = "workflow"
    status: str | None = None
    reasons: list[MatchReason] | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    escalated_at: datetime | None = None
    waiting_on: str | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    justification: str | None = None
    resolved_at: datetime | None = None


class ResolveExceptionInput(BaseModel):
    """Update `resolve_exception`. From the review link: the person's id; from the
    Temporal UI: ``{"person_id": "alice", "operator": true, "resolution": "cancel",
    "justification": "customer withdrew"}``."""

    person_id: str = Field(min_length=1, max_length=200)
    # the exception it resolves: a link or id of an earlier one is refused (task_closed)
    exception_id: str | None = Field(default=None, max_length=200)
    resolution: Resolution
    justification: str | None = Field(default=None, max_length=2000)
    operator: bool = False
    items: list[BillableItem] = []  # "correct": the corrected lines, as a correction has
    lines: list[ExplicitLine] = []
    po_number: str | None = Field(default=None, max_length=100)  # "correct": another PO
    ip: str | None = None
    user_agent: str | None = None


class ResolveExceptionResult(BaseModel):
    resolution: Resolution
    status: str  # the invoice's status after it
