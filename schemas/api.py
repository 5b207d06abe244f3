"""Bodies of the HTTP API (requests validated here, so bad input fails before any write)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.delivery_window import QuietHours
from domain.invoicing import BillableItem, ExplicitLine, Rate
from domain.matching.model import Tolerances
from domain.money import CURRENCY_EXPONENTS, MAX_MINOR
from domain.reminders.charges import check_currency
from domain.tax import SUPPORTED_REGIONS
from schemas.delivery import DeliveryAttemptOut, DeliveryPreferencesIn
from schemas.reminders import ReminderTerms
from schemas.tolerances import TolerancesIn

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9]\d{6,14}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _currency(value: str) -> str:
    if value not in CURRENCY_EXPONENTS:
        raise ValueError(f"unsupported currency {value!r}; supported: {sorted(CURRENCY_EXPONENTS)}")
    return value


class CustomerCreate(_Strict, DeliveryPreferencesIn):
    """A customer; `timezone`, `quiet_hours` and `channel_order` (DeliveryPreferencesIn)
    can be changed later with `PATCH /customers/{id}`, the rest is fixed."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    phone: str | None = Field(default=None, pattern=E164_PATTERN)
    locale: str = Field(default="en_GB", description="e.g. en_GB, fr_CA, en-AU")
    external_ref: str | None = Field(default=None, max_length=200)
    po_required: bool = Field(
        default=False, description="every invoice for this customer must name one of its POs"
    )
    match_tolerances: TolerancesIn | None = Field(
        default=None, description="the customer's default tolerances for PO matching"
    )
    address: str | None = Field(
        default=None,
        max_length=500,
        description="postal address for the tax invoice, lines separated by a newline",
    )
    tax_id: str | None = Field(
        default=None,
        min_length=2,
        max_length=50,
        description="the customer's tax number (VAT, GST/HST, ABN), printed on the invoice",
    )
    einvoice_format: Literal["ubl", "cii"] | None = Field(
        default=None,
        description="an e-invoice with each invoice e-mail: UBL (Peppol BIS 3.0) attached,"
        " or CII inside the PDF (Factur-X)",
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            return str(Locale.parse(value.replace("-", "_")))
        except (UnknownLocaleError, ValueError) as err:
            raise ValueError(f"unknown locale {value!r}") from err


class CustomerOut(BaseModel):
    id: str
    name: str
    email: str
    phone: str | None
    locale: str
    external_ref: str | None
    created_at: datetime
    po_required: bool = False
    match_tolerances: Tolerances | None = None
    address: str | None = None
    tax_id: str | None = None
    einvoice_format: str | None = None
    # delivery: the zone and channel order in force (the customer's or the default), the
    # customer's own quiet hours (null: the default window, INVOICEFLOW_QUIET_HOURS)
    timezone: str | None = None
    quiet_hours: QuietHours | None = None
    channel_order: list[str] | None = None


class ContractCreate(_Strict):
    customer_id: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tax_region: str
    payment_terms_days: int = Field(ge=0, le=365)
    rates: list[Rate] = Field(min_length=1)
    cap_minor: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    valid_from: date | None = None
    valid_to: date | None = None
    invoice_series: str = Field(default="INV", pattern=r"^[A-Z]{2,10}$")
    po_required: bool = Field(
        default=False, description="every invoice under this contract must name a PO"
    )
    reminders: ReminderTerms | None = Field(
        default=None,
        description="the reminder schedule and late-payment charge (null: the default"
        " schedule, no charge; an empty step list: no reminders)",
    )

    _check_currency = field_validator("currency")(_currency)

    @field_validator("tax_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in SUPPORTED_REGIONS:
            raise ValueError(
                f"unsupported tax region {value!r}; supported: {sorted(SUPPORTED_REGIONS)}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ContractCreate:
        codes = [rate.code for rate in self.rates]
        if len(codes) != len(set(codes)):
            raise ValueError("rate codes must be unique within a contract")
        if any(rate.unit_price_minor < 0 for rate in self.rates):
            raise ValueError("rate prices must not be negative")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.reminders is not None and self.reminders.late_charge is not None:
            check_currency(self.reminders.late_charge, self.currency)
        return self


class ContractOut(BaseModel):
    id: str
    customer_id: str
    currency: str
    tax_region: str
    payment_terms_days: int
    rates: list[Rate]
    cap_minor: int | None
    valid_from: date | None
    valid_to: date | None
    invoice_series: str
    created_at: datetime
    po_required: bool = False
    reminders: ReminderTerms | None = None


class InvoiceCreate(_Strict):
    customer_id: str
    contract_id: str
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    issue_date: date | None = None
    po_number: str | None = Field(default=None, max_length=100)
    external_ref: str | None = Field(
        default=None,
        max_length=200,
        description="your own reference for the invoice (a repeat with the same PO is a"
        " possible duplicate)",
    )
    items: list[BillableItem] = Field(default_factory=list)
    lines: list[ExplicitLine] = Field(default_factory=list)
    created_by: str | None = Field(
        default=None,
        max_length=200,
        description="the person who created the invoice (kept from approving it)",
    )
    allow_past_due: bool = Field(
        default=False,
        description=(
            "an issue date in the past is accepted while its due date is today or later;"
            " true also accepts one whose due date has passed (refused otherwise with"
            " due_date_passed)"
        ),
    )


class InvoicePreview(BaseModel):
    currency: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    due_date: date


class InvoiceAccepted(BaseModel):
    invoice_id: str
    workflow_id: str
    status: str
    preview: InvoicePreview
    links: dict[str, str]


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: str
    customer_id: str
    contract_id: str
    currency: str
    issue_date: date | None
    due_date: date | None
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    paid_minor: int
    credited_minor: int = Field(default=0, description="taken off by credit notes")
    written_off_minor: int = Field(default=0, description="taken off by write-offs")
    credit_applied_minor: int = Field(
        default=0, description="taken off from credit on the customer's account"
    )
    credit_carried_minor: int = Field(
        default=0, description="an overpayment kept as credit on the customer's account"
    )
    balance_minor: int = Field(
        description="total less paid, credited, written off and credit applied, plus credit"
        " carried to the customer's account (0 once void)"
    )
    overdue: bool
    rejection_reason: str | None
    po_number: str | None
    payment_url: str | None
    # an adjusted invoice: the original is VOID (its number kept), linked both ways
    voided_at: datetime | None = None
    replaces_invoice_id: str | None = None
    replaced_by_invoice_id: str | None = None
    late_charge_for: str | None = Field(
        default=None, description="a late-payment charge: the overdue invoice it charges for"
    )
    created_at: datetime
    closed_at: datetime | None


class InvoiceDetail(BaseModel):
    invoice: InvoiceOut | None = Field(description="The stored record; null until generated")
    lines: list[dict[str, Any]]
    tax_lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    accounting: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    delivery_attempts: list[DeliveryAttemptOut] = Field(
        default_factory=list,
        description="every channel tried for the invoice's messages: sent, refused (for"
        " good), unavailable (an outage), skipped (no address, refused earlier)",
    )
    reminders: list[dict[str, Any]] = Field(
        default_factory=list,
        description="each reminder step as it went (sent, superseded, failed), with the"
        " late charge it added and that charge's invoice",
    )
    reminder_holds: list[dict[str, Any]] = Field(
        default_factory=list, description="holds placed on this invoice's reminders"
    )
    match: dict[str, Any] | None = Field(
        default=None,
        description=(
            "How the invoice matched its PO: outcome (MATCHED, MATCHED_WITH_VARIANCE, or"
            " ACCEPTED by a person with a justification), the PO and its revision, the"
            " variances within tolerance per line; null when it was not matched"
        ),
    )
    approval_links: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "Every approval link event, oldest first: sent, opened (each GET of the page),"
            " decided, refused (a click the process refused, with its code); each with the"
            " link's round, level (1-based) and approver"
        ),
    )
    live: dict[str, Any] | None = Field(
        description="The workflow's own view (query), or null if Temporal is unreachable"
    )


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    total: int
    limit: int
    offset: int


class ContractPage(BaseModel):
    items: list[ContractOut]
    total: int
    limit: int
    offset: int


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    total: int
    limit: int
    offset: int
