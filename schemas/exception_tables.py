"""Tables of PO matching's outcome on an invoice and of the exception queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class InvoiceMatchRow(SQLModel, table=True):
    """How an invoice matched its PO, as shown on the invoice: the outcome, the variances
    within tolerance, and, for an exception accepted by a person, who and why."""

    __tablename__ = "invoice_matches"

    invoice_id: str = Field(primary_key=True, foreign_key="invoices.id")
    po_id: str | None = None
    po_number: str | None = None
    po_revision: int | None = None
    outcome: str
    variances: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    reasons: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    accepted_by: str | None = None
    justification: str | None = None
    matched_at: datetime = _utc()


class InvoiceExceptionRow(SQLModel, table=True):
    """One PO exception: an invoice that did not match, waiting for its owner.

    `reason_codes` holds the codes as ``,PRICE_VARIANCE,UOM_MISMATCH,`` so a filter by one
    reason is a LIKE on both engines; `reasons` holds the full per-line detail.
    """

    __tablename__ = "invoice_exceptions"
    __table_args__ = (Index("ix_invoice_exceptions_status_opened", "status", "opened_at"),)

    id: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    customer_id: str = Field(index=True)
    po_number: str | None = None
    status: str = "open"  # open | resolved | cancelled
    reason_codes: str
    reasons: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    group_id: str | None = None
    owner_id: str | None = Field(default=None, index=True)
    owner_name: str | None = None
    escalation_owner_id: str | None = None
    escalation_group_id: str | None = None
    opened_at: datetime = _utc()
    escalates_at: datetime | None = _utc(nullable=True)
    escalated_at: datetime | None = _utc(nullable=True)
    waiting_on: str | None = None  # "amendment or receipt" after a person chose to wait
    resolution: str | None = None
    resolved_by: str | None = None
    justification: str | None = None
    resolved_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()


class ExceptionTurn(SQLModel, table=True):
    """The round-robin counter of one group: whose turn the next exception is."""

    __tablename__ = "exception_turns"

    group_id: str = Field(primary_key=True)
    next_turn: int = 0
