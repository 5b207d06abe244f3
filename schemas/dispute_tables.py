"""Tables of disputes: the case, its timeline, its evidence, and the remedies that change
the invoice's balance (credit notes, payment-plan instalments).

Every table has the key a retried activity writes under, so it writes once: a dispute its
intake `request_id`, a timeline event its `event_key`, evidence its (dispute, SHA-256), a
credit note its business id, an instalment its (invoice, dispute, sequence).

`dispute_evidence.dispute_id` has no foreign key on purpose: the portal stores a
customer's attachments before the dispute they belong to is written (the dispute's id
follows from the intake's request id, `store.disputes.dispute_id_for`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _money(default: int | None = None) -> Any:
    if default is None:
        return Field(sa_type=BigInteger)
    return Field(default=default, sa_type=BigInteger)


class DisputeRow(SQLModel, table=True):
    """One dispute: what the customer questions, who owns it at which level, its clock,
    and how it ended. Amounts are in the invoice's currency (minor units):
    `original_amount_minor` as opened, `disputed_minor` what is still disputed,
    `credited_minor` and `written_off_minor` what the remedies took off the invoice."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_status_opened", "status", "opened_at"),)

    id: str = Field(primary_key=True)  # dsp_...
    number: str = Field(unique=True)  # DSP-2026-0001
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    customer_id: str = Field(index=True)
    currency: str
    status: str  # schemas.disputes.DisputeStatus
    reason: str  # schemas.disputes.DisputeReason
    description: str
    lines: list[int] = Field(sa_column=Column(JSON, nullable=False))  # invoice line positions
    original_amount_minor: int = _money()
    disputed_minor: int = _money()
    credited_minor: int = _money(0)
    written_off_minor: int = _money(0)
    level: int = 1
    owner_id: str | None = Field(default=None, index=True)
    owner_name: str | None = None
    group_id: str | None = None
    sla_due_at: datetime | None = _utc(nullable=True)
    sla_breached: bool = False
    channel: str  # portal | api
    opened_by: str
    request_id: str = Field(unique=True)  # the intake's idempotency key
    resolution: str | None = None  # schemas.disputes.RemedyKind
    resolution_note: str | None = None
    root_cause: str | None = None
    resolved_level: int | None = None
    opened_at: datetime = _utc()
    resolved_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()


class DisputeEventRow(SQLModel, table=True):
    """The dispute's timeline, append-only. `visible_to_customer` decides what the portal
    shows (internal notes and approvals are staff-only)."""

    __tablename__ = "dispute_events"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: str = Field(foreign_key="disputes.id", index=True)
    event_key: str = Field(unique=True)
    at: datetime = _utc()
    kind: str  # opened, owner_assigned, escalated, ... (store.disputes.EVENT_KINDS)
    actor: str
    text: str = ""
    visible_to_customer: bool = False
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DisputeEvidenceRow(SQLModel, table=True):
    """A file added to a dispute; its bytes are in the evidence store under `sha256`. The
    same file added twice to one dispute is one row."""

    __tablename__ = "dispute_evidence"
    __table_args__ = (UniqueConstraint("dispute_id", "sha256"),)

    id: str = Field(primary_key=True)  # evd_...
    dispute_id: str = Field(index=True)
    sha256: str
    size: int = Field(sa_type=BigInteger)
    media_type: str
    filename: str
    side: str  # customer | staff
    added_by: str
    added_at: datetime = _utc()


class CreditNoteRow(SQLModel, table=True):
    """A credit note against an invoice. `id` is the business id the remedy chose, and the
    idempotency key of its issue and its accounting post."""

    __tablename__ = "credit_notes"
    __table_args__ = (Index("ix_credit_notes_created_at_id", "created_at", "id"),)  # export

    id: str = Field(primary_key=True)  # cn_...
    number: str = Field(unique=True)  # CN-2026-0001
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    dispute_id: str | None = Field(default=None, index=True)
    currency: str
    amount_minor: int = _money()
    reason: str  # schemas.disputes.CreditReason
    settlement: str  # balance | refund | customer_credit
    refund_id: str | None = None  # the payment provider's refund, once made
    status: str = "issued"
    created_at: datetime = _utc()


class InstalmentRow(SQLModel, table=True):
    """One instalment of a payment plan agreed in a dispute, collected on its own."""

    __tablename__ = "payment_plan_instalments"
    __table_args__ = (UniqueConstraint("invoice_id", "dispute_id", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: str
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    sequence: int  # 1-based, in due-date order
    due_date: date
    amount_minor: int = _money()
    paid_minor: int = _money(0)
    status: str = "due"  # due | paid | overdue
