"""Inputs and results of the invoice workflow, its activities, signals and queries.

One model per call, so fields can be added without breaking running workflows.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from domain.invoicing import BillableItem, ExplicitLine, InvoiceLine, TaxLine
from schemas.customer_credit import AppliedCredit
from schemas.delivery import DeliveryPlan
from schemas.reminders import ReminderTerms, ReminderView


class InvoiceStatus(StrEnum):
    PENDING = "PENDING"  # workflow started, invoice not generated yet
    REJECTED = "REJECTED"  # generation refused by a contract rule; nothing was numbered
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # numbered; approvers decide by link
    CHANGES_REQUESTED = "CHANGES_REQUESTED"  # rejected by an approver: waits for a correction
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"  # nobody decided in time: operations decide
    ISSUED = "ISSUED"  # numbered, delivered, awaiting payment
    PARTIALLY_PAID = "PARTIALLY_PAID"
    OVERDUE = "OVERDUE"
    PAID = "PAID"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"  # withdrawn before it was issued; keeps its number, owes nothing
    EXCEPTION = "EXCEPTION"  # does not match its PO: a person resolves it before it goes out
    DISPUTED = "DISPUTED"  # issued; the customer disputes part of it (that part is not due)
    VOID = "VOID"  # replaced by an adjusted invoice after a dispute; keeps its number
    # overdue past the schedule's last reminder: handed to collections (still payable)
    COLLECTIONS = "COLLECTIONS"


OPEN_STATUSES = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PARTIALLY_PAID,
    InvoiceStatus.OVERDUE,
    InvoiceStatus.DISPUTED,
    InvoiceStatus.COLLECTIONS,
)


class StartInvoiceInput(BaseModel):
    """The workflow input: what the upstream app asked for, as validated by the API."""

    invoice_id: str
    customer_id: str
    customer_name: str
    contract_id: str
    currency: str | None = None
    issue_date: date | None = None
    po_number: str | None = None
    external_ref: str | None = None  # the upstream app's own reference for the invoice
    items: list[BillableItem] = Field(default_factory=list)
    lines: list[ExplicitLine] = Field(default_factory=list)
    requested_by: str
    # The person in the upstream app who created the invoice (an approver id, if they are
    # one): separation of duties keeps them from approving it. Default: requested_by.
    created_by: str | None = None
    # "YYYY-MM": bill the contract's unbilled entries of that period (a billing run's invoice)
    billing_period: str | None = None
    # an adjusted invoice: the invoice it replaces (voided by a dispute's remedy)
    replaces_invoice_id: str | None = None
    # a late-payment charge's own invoice: the overdue invoice it charges for (no PO
    # match, no late charge of its own)
    late_charge_for: str | None = None


class CreateInvoiceInput(BaseModel):
    request: StartInvoiceInput
    issue_date: date


class InvoiceSnapshot(BaseModel):
    """The generated, numbered invoice as stored; what later steps work from."""

    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    customer_email: str
    customer_phone: str | None = None
    customer_locale: str
    tax_region: str = ""
    currency: str
    issue_date: date
    due_date: date
    lines: list[InvoiceLine]
    tax_lines: list[TaxLine]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    po_number: str | None = None
    # taken off what the customer is asked to pay, from credit on their account
    credits_applied: list[AppliedCredit] = Field(default_factory=list)
    # the reminder schedule and late charge it was issued under (None: no reminders)
    reminders: ReminderTerms | None = None
    late_charge_for: str | None = None
    # when and how it goes out: the customer's zone, quiet hours, channel order (fixed at
    # generation; the default, any hour by e-mail then SMS, for snapshots from before)
    delivery: DeliveryPlan = Field(default_factory=DeliveryPlan)

    @property
    def credit_applied_minor(self) -> int:
        return sum(c.amount_minor for c in self.credits_applied)

    @property
    def amount_due_minor(self) -> int:
        """What the invoice asks the customer to pay when it is sent."""
        return self.total_minor - self.credit_applied_minor


class CreateInvoiceResult(BaseModel):
    invoice: InvoiceSnapshot | None = None
    # it names a PO, or its customer or contract requires one: the match stage runs
    match_required: bool = False
    rejection_code: str | None = None
    rejection_reason: str | None = None


class DeliverInvoiceInput(BaseModel):
    invoice: InvoiceSnapshot


class DeliverInvoiceResult(BaseModel):
    delivery_id: str
    channel: str
    recipient: str
    # none when the customer's credit covers the whole invoice: nothing to pay
    payment_link_id: str | None = None
    payment_url: str | None = None
    # credit from the customer's account taken off the invoice as it was sent
    credits_applied: list[AppliedCredit] = Field(default_factory=list)
    # the channels tried before it went out, when the first did not take it
    # ("email: refused (550 no such mailbox)"), for the current details
    fallbacks: list[str] = Field(default_factory=list)


class CancelInvoiceInput(BaseModel):
    """Update `cancel`: withdraw an invoice that is not issued yet (waiting for approval,
    a correction, or an operator)."""

    reason: str = Field(min_length=1, max_length=2000)
    cancelled_by: str = Field(min_length=1, max_length=200)


class CancelInvoiceResult(BaseModel):
    status: InvoiceStatus


class ResendInvoiceInput(BaseModel):
    """Update `resend`: e-mail an issued invoice again. `request_id` names the request: the
    same id sends once (use it as the update id too)."""

    request_id: str = Field(min_length=1, max_length=200)
    requested_by: str = Field(min_length=1, max_length=200)
    to: str | None = Field(default=None, description="another address; the customer's if empty")


class ResendInvoiceResult(BaseModel):
    delivery_id: str
    recipient: str


class SendNoticeInput(BaseModel):
    """A resend of the invoice e-mail, or a payment receipt (activity input)."""

    invoice: InvoiceSnapshot
    payment_url: str | None
    key: str  # names the notice: the Message-ID and the delivery record derive from it
    recipient: str | None = None
    requested_by: str = "workflow"
    amount_minor: int = 0  # receipts: the payment, and what is paid with it
    paid_minor: int = 0
    paid_at: datetime | None = None


class PostInvoiceInput(BaseModel):
    invoice: InvoiceSnapshot


class PostPaymentInput(BaseModel):
    invoice: InvoiceSnapshot
    payment_id: str
    amount_minor: int
    paid_at: datetime


class PostingResult(BaseModel):
    key: str
    external_id: str


class PaymentReceived(BaseModel):
    """Signal ``payment_received``: sent by the payments webhook (or by operations)."""

    payment_id: str
    amount_minor: int
    currency: str
    paid_at: datetime
    source: str = "payments-webhook"


class RecordPaymentInput(BaseModel):
    invoice_id: str
    payment: PaymentReceived


class RecordPaymentResult(BaseModel):
    paid_minor: int
    balance_minor: int
    status: InvoiceStatus


class SetStatusInput(BaseModel):
    """Move the stored invoice to a status and write the audit event for it, once."""

    invoice_id: str
    status: InvoiceStatus
    step_key: str
    actor: str = "workflow"
    note: str | None = None


class PaymentView(BaseModel):
    payment_id: str
    amount_minor: int
    paid_at: datetime
    accounting_ref: str | None = None


class RefusedPayment(BaseModel):
    """A payment the invoice did not apply (wrong currency, no positive amount): the money
    is at the provider, and operations decide what to do with it."""

    payment_id: str
    amount_minor: int
    currency: str
    paid_at: datetime
    source: str
    reason: str


class InvoiceState(BaseModel):
    """Query ``state``: the live view of one invoice process."""

    invoice_id: str
    status: InvoiceStatus
    number: str | None = None
    customer_id: str
    currency: str | None = None
    total_minor: int | None = None
    paid_minor: int = 0
    balance_minor: int | None = None
    due_date: date | None = None
    waiting_for: str | None = None
    rejection_reason: str | None = None
    payment_url: str | None = None
    accounting_invoice_ref: str | None = None
    payments: list[PaymentView] = Field(default_factory=list)
    refused_payments: list[RefusedPayment] = Field(default_factory=list)
    version: int = 1
    approval: dict[str, Any] | None = None
    match: dict[str, Any] | None = None  # PO matching: outcome, reasons, the exception
    # disputes: open ones (contested amount, not due) and resolved ones (their remedy)
    disputes: list[dict[str, Any]] = Field(default_factory=list)
    disputed_minor: int = 0
    credited_minor: int = 0
    written_off_minor: int = 0
    refunded_minor: int = 0
    # customer credit: taken off this invoice from the account; an overpayment kept there
    credit_applied_minor: int = 0
    credit_carried_minor: int = 0
    # the reminder schedule so far; when the next step is due, and why it waits if it does
    reminders: list[ReminderView] = Field(default_factory=list)
    next_reminder_at: datetime | None = None
    reminders_waiting: str | None = None


class InvoiceResult(BaseModel):
    invoice_id: str
    status: InvoiceStatus
    number: str | None = None
    paid_minor: int = 0
    rejection_reason: str | None = None
