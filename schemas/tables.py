"""SQLModel tables: the business records InvoiceFlow keeps beside Temporal's process state.

Every table that an activity writes has a natural or idempotency key, so that a retried
activity writes its row once. The audit trail is append-only: rows are inserted, never
updated or deleted, each keyed by the step that wrote it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that leaves the database as an aware UTC datetime on every engine.

    SQLite keeps no offset, so its values came back naive and left the API without one
    (RFC 3339 needs it); PostgreSQL answers in the session's time zone. Values are stored
    as UTC and read back as UTC; a naive value handed in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _utc_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True)
    name: str
    key_hash: str = Field(unique=True, index=True)
    created_at: datetime = _utc_column()
    revoked_at: datetime | None = _utc_column(nullable=True)


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a POST with an ``Idempotency-Key``, replayed for repeats."""

    __tablename__ = "idempotency_records"

    api_key_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    method: str
    path: str
    request_hash: str
    status_code: int
    response_body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    location: str | None = None
    created_at: datetime = _utc_column()


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True)
    name: str
    email: str
    phone: str | None = None
    locale: str = "en_GB"
    external_ref: str | None = Field(default=None, index=True)
    created_at: datetime = _utc_column()
    po_required: bool = False  # every invoice must name one of the customer's POs
    # on a tax invoice: the customer's postal address (lines separated by "\n") and tax
    # number (VAT, GST/HST, ABN); the e-invoice they want with the PDF (ubl, cii or none)
    address: str | None = None
    tax_id: str | None = None
    einvoice_format: str | None = None
    # domain.matching.model.Tolerances as JSON: the customer's defaults for PO matching
    match_tolerances: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id", index=True)
    currency: str
    tax_region: str
    payment_terms_days: int
    rates: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    cap_minor: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    invoice_series: str = "INV"
    created_at: datetime = _utc_column()
    po_required: bool = False  # invoices under this contract must name a PO
    # schemas.reminders.ReminderTerms as JSON: the reminder schedule and late charge
    # (null: the settings' default schedule, no charge)
    reminders: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class InvoiceNumberSeries(SQLModel, table=True):
    """Gapless counters: one row per series (``INV-2026``), advanced inside the invoice insert."""

    __tablename__ = "invoice_number_series"

    series: str = Field(primary_key=True)
    last_value: int = 0


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    # the accountant's export reads a period in (issue date, id) order
    __table_args__ = (Index("ix_invoices_issue_date_id", "issue_date", "id"),)

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id", index=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True)
    number: str | None = Field(default=None, unique=True)
    status: str = Field(index=True)
    rejection_reason: str | None = None
    currency: str
    tax_region: str
    po_number: str | None = None
    external_ref: str | None = None  # the upstream app's reference (duplicate checks)
    issue_date: date | None = None
    due_date: date | None = Field(default=None, index=True)
    subtotal_minor: int = 0
    tax_minor: int = 0
    total_minor: int = 0
    paid_minor: int = 0
    # taken off the balance by disputes: credit notes and small-balance write-offs
    # (balance = total - paid - credited - written off)
    credited_minor: int = 0
    written_off_minor: int = 0
    # customer credit: taken off this invoice from the customer's account, and an
    # overpayment here carried to the account (balance less applied, plus carried)
    credit_applied_minor: int = 0
    credit_carried_minor: int = 0
    tax_lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    payment_link_id: str | None = None
    payment_url: str | None = None
    # "YYYY-MM" for an invoice generated from that period's billable entries (billing run)
    billing_period: str | None = Field(default=None, index=True)
    created_by: str
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()
    closed_at: datetime | None = _utc_column(nullable=True)
    # an adjusted invoice: the original is voided (its number kept) and linked both ways
    voided_at: datetime | None = _utc_column(nullable=True)
    replaces_invoice_id: str | None = None
    replaced_by_invoice_id: str | None = None
    # a late-payment charge's own invoice: the overdue invoice it charges for
    late_charge_for: str | None = Field(default=None, index=True)


class BillableEntry(SQLModel, table=True):
    """Work to bill in a period (hours, usage, a milestone), sent by an upstream app.

    ``invoice_id`` stays null until an invoice for the period takes the entry; it is set in
    the same transaction that stores that invoice, so an entry is billed exactly once.
    """

    __tablename__ = "billable_entries"
    __table_args__ = (Index("ix_billable_entries_contract_period", "contract_id", "period"),)

    id: str = Field(primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id")
    period: str  # YYYY-MM
    kind: str  # time | usage | milestone
    rate_code: str
    quantity: str  # Decimal as text, like invoice lines
    description: str | None = None
    service_date: date | None = None
    created_at: datetime = _utc_column()
    invoice_id: str | None = Field(default=None, foreign_key="invoices.id", index=True)


class InvoiceLineRow(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    position: int
    description: str
    quantity: str  # Decimal as text: exact on SQLite and PostgreSQL alike
    unit: str
    unit_price_minor: int
    net_minor: int
    tax_category: str
    rate_code: str | None = None
    po_line: int | None = None


class Delivery(SQLModel, table=True):
    """One message sent to the customer; the id is the message's idempotency key."""

    __tablename__ = "deliveries"

    id: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    channel: str
    recipient: str
    purpose: str
    status: str
    sent_at: datetime = _utc_column()


class Payment(SQLModel, table=True):
    """A payment reported by the provider; the provider's payment id keeps it unique."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_paid_at_id", "paid_at", "id"),)  # the export

    id: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    amount_minor: int
    currency: str
    paid_at: datetime = _utc_column()
    recorded_at: datetime = _utc_column()


class AccountingPosting(SQLModel, table=True):
    """What went to the accounting system, keyed ``invoice:{id}`` or ``payment:{id}``."""

    __tablename__ = "accounting_postings"

    key: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    kind: str
    external_id: str
    posted_at: datetime = _utc_column()


class AuditEvent(SQLModel, table=True):
    """Append-only trail. ``step_key`` makes a retried step write its event once."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    step_key: str = Field(unique=True)
    invoice_id: str | None = Field(default=None, index=True)
    entity: str
    action: str
    actor: str
    at: datetime = _utc_column()
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- approval: configuration (written by the API) and records (written by activities) ---


class ApproverRow(SQLModel, table=True):
    """A person who approves by link. ``id`` is the user id that documents name as their
    creator or last editor, so separation of duties can compare the two."""

    __tablename__ = "approvers"

    id: str = Field(primary_key=True)
    name: str
    email: str
    time_zone: str = "UTC"
    active: bool = True
    created_at: datetime = _utc_column()
    version: int = 1  # +1 on every update or deactivation; each version is in the audit
    updated_at: datetime | None = _utc_column(nullable=True)


class ApproverGroupRow(SQLModel, table=True):
    __tablename__ = "approver_groups"

    id: str = Field(primary_key=True)
    name: str
    backup_approver_id: str | None = Field(default=None, foreign_key="approvers.id")
    members: list[str] = Field(sa_column=Column(JSON, nullable=False))  # approver ids, in order
    created_at: datetime = _utc_column()
    active: bool = True
    version: int = 1
    updated_at: datetime | None = _utc_column(nullable=True)


class ApprovalRuleRow(SQLModel, table=True):
    """One rule of the policy; ``definition`` holds the ``domain.approval.ApprovalRule``
    fields other than ``id`` and ``description``. ``position`` keeps the order rules were
    added in, which breaks ties between equally specific rules."""

    __tablename__ = "approval_rules"

    id: str = Field(primary_key=True)
    description: str
    position: int = Field(index=True)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = _utc_column()
    version: int = 1
    updated_at: datetime | None = _utc_column(nullable=True)


class DelegationRow(SQLModel, table=True):
    """``approver_id`` is away from ``starts`` to ``ends`` (inclusive); ``delegate_id``
    stands in. Revoked delegations stay, with ``revoked_at`` set, for the audit."""

    __tablename__ = "delegations"

    id: str = Field(primary_key=True)
    approver_id: str = Field(foreign_key="approvers.id", index=True)
    delegate_id: str = Field(foreign_key="approvers.id")
    starts: date
    ends: date
    created_at: datetime = _utc_column()
    revoked_at: datetime | None = _utc_column(nullable=True)
    version: int = 1
    updated_at: datetime | None = _utc_column(nullable=True)


class ApprovalRequestRow(SQLModel, table=True):
    """One approval link sent to one person for one level of one approval round.

    The id is deterministic (``{invoice_id}:r{round}:l{level}:{approver_id}``), so a
    retried "send the link" step finds its row already there.
    """

    __tablename__ = "approval_requests"

    id: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    round: int
    level: int
    approver_id: str
    delegated_from: str | None = None
    version: int  # the invoice version the link was sent for
    status: str  # sent | decided | superseded | expired
    sent_at: datetime = _utc_column()
    decided_at: datetime | None = _utc_column(nullable=True)
    decision: str | None = None  # approve | reject | request_changes
    reason: str | None = None


class ApprovalLinkEvent(SQLModel, table=True):
    """Append-only: every link sent, opened, decided or refused. Never holds the token."""

    __tablename__ = "approval_link_events"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    event: str  # sent | opened | decided | refused
    at: datetime = _utc_column()
    ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
