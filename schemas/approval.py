"""Inputs and results of the approval steps of the invoice workflow and its `decide` and
`correct` updates (the payloads operations use from the Temporal UI too)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.approval import ApprovalPolicy, ApprovalTimers, Decision, EligibleApprover
from domain.invoicing import BillableItem, ExplicitLine
from schemas.invoice import InvoiceSnapshot


class LoadApprovalContextInput(BaseModel):
    invoice_id: str


class ApprovalContext(BaseModel):
    """The policy and timers in force when an approval round starts."""

    policy: ApprovalPolicy
    timers: ApprovalTimers


class SendApprovalLinksInput(BaseModel):
    invoice: InvoiceSnapshot
    round: int
    level_index: int
    levels: int
    version: int
    why: str
    kind: Literal["request", "reminder", "escalation"]
    sequence: int = 0  # which reminder: each one is its own e-mail
    recipients: list[EligibleApprover]


class DecideInput(BaseModel):
    """Update `decide`. From a link: the link's claims plus who clicked from where.

    From the Temporal UI, operations send ``{"operator": "alice", "decision": "approve",
    "reason": "..."}``: an operator decides the active level (or an expired chain) on the
    approvers' behalf, and the audit trail says so.
    """

    decision: Literal["approve", "reject", "request_changes"]
    reason: str | None = Field(default=None, max_length=2000)
    approver_id: str | None = None
    level_index: int | None = None
    round: int | None = None
    version: int | None = None
    request_id: str | None = None
    operator: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class DecideResult(BaseModel):
    outcome: str  # applied | level_complete | chain_complete | rejected | changes_requested
    status: str  # the invoice status after the decision
    earlier: Decision | None = None


class RecordDecisionInput(BaseModel):
    invoice_id: str
    request_id: str
    decision: str
    reason: str | None
    actor: str
    ip: str | None
    user_agent: str | None
    at: datetime


class CorrectInput(BaseModel):
    """Update `correct`: the invoice's new items and lines after a rejection."""

    items: list[BillableItem] = Field(default_factory=list)
    lines: list[ExplicitLine] = Field(default_factory=list)
    changed_by: str
    note: str | None = None
    po_number: str | None = Field(default=None, max_length=100)  # None: keep the invoice's


class ReviseInvoiceInput(BaseModel):
    invoice_id: str
    correction: CorrectInput
    version: int
    round: int


class ReviseInvoiceResult(BaseModel):
    invoice: InvoiceSnapshot | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None
