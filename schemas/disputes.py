"""Disputes: the models shared by the API, the portal, the dispute workflow and its activities.

A dispute is a customer questioning (part of) an issued invoice. Its vocabulary (reason
categories, statuses, remedies, credit-note reasons) is fixed here, so the API, the portal
form, the tables and the reports agree on every value.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

# the domain's vocabulary, re-exported: one definition of each value
from domain.disputes.model import CreditReason as CreditReason
from domain.disputes.model import DisputeReason as DisputeReason
from domain.disputes.model import RemedyKind as RemedyKind


class DisputeStatus(StrEnum):
    OPEN = "open"  # with its owner at the current level
    WAITING_ON_CUSTOMER = "waiting_on_customer"  # information requested; SLA clock paused
    AWAITING_APPROVAL = "awaiting_approval"  # a proposed credit note above the threshold
    REMEDY_PROPOSED = "remedy_proposed"  # waiting for the customer to accept or decline
    RESOLVED = "resolved"


OPEN_DISPUTE_STATUSES = tuple(s.value for s in DisputeStatus if s != DisputeStatus.RESOLVED)


class CreditSettlement(StrEnum):
    """What a credit note does with money already paid: refund it at the payment provider,
    or keep it as credit on the customer's account."""

    REFUND = "refund"
    CUSTOMER_CREDIT = "customer_credit"


EvidenceSide = Literal["customer", "staff"]


# --- intake ---------------------------------------------------------------------------


class DisputeIntake(BaseModel):
    """What the customer (portal) or the upstream app (API) says is wrong.

    `lines` are invoice line positions (1-based); empty means the invoice as a whole.
    `amount_minor` defaults to the gross amount of the disputed lines (the whole open
    balance when no lines are named); it is never more than the open, undisputed balance.
    """

    reason: DisputeReason
    description: str = Field(min_length=1, max_length=4000)
    lines: list[int] = Field(default_factory=list)
    amount_minor: int | None = Field(default=None, gt=0)
    contact_email: str | None = None


class OpenDisputeInput(BaseModel):
    """The invoice workflow's `open_dispute` update. `request_id` is also the update id,
    so a double submit is one update and opens one dispute."""

    request_id: str
    intake: DisputeIntake
    channel: Literal["portal", "api"]
    opened_by: str
    # evidence stored before the update (the portal's attachments): added to the timeline
    evidence_ids: list[str] = Field(default_factory=list)


class DisputeOpened(BaseModel):
    dispute_id: str
    number: str
    invoice_id: str
    amount_minor: int
    currency: str
    created: bool = True  # False: the same request had opened it already


# --- the dispute workflow ---------------------------------------------------------------


class InstalmentPlan(BaseModel):
    due_date: date
    amount_minor: int = Field(gt=0)


class RemedyProposal(BaseModel):
    """A remedy the owner proposes (update `propose_remedy`)."""

    person_id: str
    operator: bool = False
    kind: RemedyKind
    note: str = Field(min_length=1, max_length=4000)
    amount_minor: int | None = Field(default=None, gt=0)  # credit note, write-off
    credit_reason: CreditReason | None = None
    settlement: CreditSettlement = CreditSettlement.REFUND
    instalments: list[InstalmentPlan] = Field(default_factory=list)  # payment plan
    # adjusted invoice: the corrected lines, as `POST /invoices` takes explicit lines
    lines: list[dict[str, Any]] = Field(default_factory=list)
    root_cause: str | None = None


class DisputeAction(BaseModel):
    """An owner's note or information request (updates `add_note`, `request_information`)."""

    person_id: str
    operator: bool = False
    text: str = Field(min_length=1, max_length=4000)
    respond_by: date | None = None  # an information request's deadline


class CustomerReply(BaseModel):
    """The customer's answer (portal): to an information request, or to a proposed remedy."""

    request_id: str
    text: str = Field(default="", max_length=4000)
    accept: bool | None = None  # a remedy: True accepts, False declines
    evidence_ids: list[str] = Field(default_factory=list)


class DisputeActionResult(BaseModel):
    dispute_id: str
    status: DisputeStatus
    level: int
    message: str


class DisputeEventView(BaseModel):
    at: datetime
    kind: str
    actor: str
    text: str
    visible_to_customer: bool
    data: dict[str, Any] = Field(default_factory=dict)


class EvidenceView(BaseModel):
    evidence_id: str
    dispute_id: str
    filename: str
    media_type: str
    size: int
    sha256: str
    side: EvidenceSide
    added_by: str
    added_at: datetime
