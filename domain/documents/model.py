"""One model of an invoice or credit note along the EN 16931 semantic model.

Both e-invoice syntaxes (UBL 2.1 Peppol BIS Billing 3.0 in `domain.documents.ubl`, UN/CEFACT
CII at the Factur-X EN 16931 profile in `domain.documents.cii`) serialize this model and
nothing else, so the two documents of one invoice cannot disagree.

Amounts are `Decimal` in major units with at most two decimals (BR-DEC-*: EN 16931 allows
no more), built from the project's integer minor units in `domain.documents.build`. The
model refuses to exist when a sum rule is broken: `InvoiceDocument`'s validator checks
BR-CO-10, BR-CO-13, BR-CO-14, BR-CO-15, BR-CO-16, BR-S-08/BR-Z-08/BR-E-08 and the tax
amount of each VAT breakdown, so a serializer never writes a document whose sums do not
close. Each BT-/BG- term is named where it lives.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.money import DECIMAL_CONTEXT, ROUNDING

_FROZEN = ConfigDict(frozen=True)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# BR-S-09 and friends allow the breakdown's tax amount to be off by one currency unit
# from taxable x rate; we allow one cent, enough for a credit note's gross split (see
# `domain.documents.credit_split`) and far stricter than the standard.
TAX_AMOUNT_TOLERANCE = CENT


class SumRuleViolation(ValueError):
    """An EN 16931 sum rule does not hold; the message names the rule (e.g. BR-CO-10)."""


class DocumentType(StrEnum):
    """BT-3 Invoice type code (UNTDID 1001)."""

    INVOICE = "380"  # commercial invoice
    CREDIT_NOTE = "381"


class VatCategory(StrEnum):
    """BT-118 / BT-151 VAT category code (UNTDID 5305, the subset EN 16931 allows).

    Reverse charge (AE) is not here: `domain.tax` has no reverse-charge category, so no
    invoice of the project can be one.
    """

    STANDARD = "S"  # standard and reduced rates alike: the rate tells them apart
    ZERO_RATED = "Z"
    EXEMPT = "E"


def round_cents(value: Decimal) -> Decimal:
    """The project's rounding rule (half away from zero) at two decimals."""
    return value.quantize(CENT, rounding=ROUNDING, context=DECIMAL_CONTEXT)


def _check_cents(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(CENT, context=DECIMAL_CONTEXT):
        raise ValueError(f"amount {value} must be finite with at most two decimals (BR-DEC)")
    return value.quantize(CENT, context=DECIMAL_CONTEXT)


class PostalAddress(BaseModel):
    """BG-5 Seller postal address / BG-8 Buyer postal address."""

    model_config = _FROZEN

    lines: tuple[str, ...] = Field(default=(), max_length=3)  # BT-35/36/162, BT-50/51/163
    city: str | None = None  # BT-37 / BT-52
    postal_code: str | None = None  # BT-38 / BT-53
    subdivision: str | None = None  # BT-39 / BT-54, e.g. "ON" for Ontario
    country_code: str = Field(pattern=r"^[A-Z]{2}$")  # BT-40 / BT-55 (ISO 3166-1 alpha-2)


class Party(BaseModel):
    """BG-4 Seller or BG-7 Buyer.

    `vat_id` is BT-31/BT-48, which must start with a country prefix (BR-CO-09); a tax
    number without one (an ABN, a Canadian business number) is BT-32, the seller's tax
    registration identifier, in `tax_registration_id`.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1)  # BT-27 / BT-44
    address: PostalAddress  # BG-5 / BG-8
    vat_id: str | None = Field(default=None, pattern=r"^[A-Z]{2}\S+$")  # BT-31 / BT-48
    tax_registration_id: str | None = None  # BT-32 (seller only)
    # BT-30 (seller only): a seller without a VAT identifier needs it (BR-CO-26)
    legal_registration_id: str | None = None
    email: str | None = None  # BT-34 / BT-49 electronic address, scheme EM (e-mail)


class DocumentLine(BaseModel):
    """BG-25 Invoice line."""

    model_config = _FROZEN

    line_id: str  # BT-126
    description: str = Field(min_length=1)  # BT-153 Item name
    quantity: Decimal = Field(gt=0)  # BT-129
    unit_code: str  # BT-130 (UN/ECE Recommendation 20)
    net_price: Decimal = Field(ge=0)  # BT-146 Item net price
    net_amount: Decimal  # BT-131 Invoice line net amount
    vat_category: VatCategory  # BT-151
    vat_rate: Decimal = Field(ge=0)  # BT-152, percent
    order_line_reference: str | None = None  # BT-132 (the PO line it bills)

    two_decimals = field_validator("net_price", "net_amount")(_check_cents)


class VatBreakdown(BaseModel):
    """BG-23 VAT breakdown: one per VAT category code and rate."""

    model_config = _FROZEN

    category: VatCategory  # BT-118
    rate: Decimal = Field(ge=0)  # BT-119, percent
    taxable_amount: Decimal  # BT-116
    tax_amount: Decimal  # BT-117
    exemption_reason: str | None = None  # BT-120, required for E (BR-E-10)

    two_decimals = field_validator("taxable_amount", "tax_amount")(_check_cents)


class DocumentTotals(BaseModel):
    """BG-22 Document totals. No document-level allowances or charges (BT-107/BT-108 are
    zero), and no rounding amount (BT-114): the project bills exact minor units."""

    model_config = _FROZEN

    line_net_total: Decimal  # BT-106 Sum of invoice line net amount
    total_without_vat: Decimal  # BT-109
    vat_total: Decimal  # BT-110
    total_with_vat: Decimal  # BT-112
    prepaid: Decimal = ZERO  # BT-113 Paid amount (credit taken from the customer's account)
    amount_due: Decimal  # BT-115

    two_decimals = field_validator(
        "line_net_total",
        "total_without_vat",
        "vat_total",
        "total_with_vat",
        "prepaid",
        "amount_due",
    )(_check_cents)


class PrecedingInvoice(BaseModel):
    """BG-3 Preceding invoice reference: the invoice a credit note corrects."""

    model_config = _FROZEN

    number: str  # BT-25
    issue_date: dt.date  # BT-26


class InvoiceDocument(BaseModel):
    """BG-0: an invoice or credit note as EN 16931 sees it, with its sums checked."""

    model_config = _FROZEN

    document_type: DocumentType  # BT-3
    number: str = Field(min_length=1)  # BT-1
    issue_date: dt.date  # BT-2
    due_date: dt.date | None = None  # BT-9
    currency: str = Field(pattern=r"^[A-Z]{3}$")  # BT-5
    note: str | None = None  # BT-22
    buyer_reference: str | None = None  # BT-10
    order_reference: str | None = None  # BT-13 Purchase order reference
    seller: Party  # BG-4
    buyer: Party  # BG-7
    payment_terms: str | None = None  # BT-20
    preceding_invoice: PrecedingInvoice | None = None  # BG-3
    lines: tuple[DocumentLine, ...] = Field(min_length=1)  # BG-25
    vat_breakdown: tuple[VatBreakdown, ...] = Field(min_length=1)  # BG-23
    totals: DocumentTotals  # BG-22

    @model_validator(mode="after")
    def _sum_rules_hold(self) -> Self:
        check_sum_rules(self)
        return self


def check_sum_rules(doc: InvoiceDocument) -> None:
    """Raise `SumRuleViolation` naming the first EN 16931 rule `doc` breaks."""
    totals = doc.totals
    line_sum = sum((line.net_amount for line in doc.lines), ZERO)
    _require(
        "BR-CO-10",
        totals.line_net_total == line_sum,
        f"BT-106 {totals.line_net_total} != sum of line net amounts {line_sum}",
    )
    # BR-CO-13: BT-109 = BT-106 - BT-107 + BT-108; there are no document allowances or
    # charges, so BT-109 is BT-106.
    _require(
        "BR-CO-13",
        totals.total_without_vat == totals.line_net_total,
        f"BT-109 {totals.total_without_vat} != BT-106 {totals.line_net_total}",
    )
    vat_sum = sum((b.tax_amount for b in doc.vat_breakdown), ZERO)
    _require(
        "BR-CO-14",
        totals.vat_total == vat_sum,
        f"BT-110 {totals.vat_total} != sum of breakdown tax amounts {vat_sum}",
    )
    _require(
        "BR-CO-15",
        totals.total_with_vat == totals.total_without_vat + totals.vat_total,
        f"BT-112 {totals.total_with_vat} != BT-109 {totals.total_without_vat} "
        f"+ BT-110 {totals.vat_total}",
    )
    _require(
        "BR-CO-16",
        totals.amount_due == totals.total_with_vat - totals.prepaid,
        f"BT-115 {totals.amount_due} != BT-112 {totals.total_with_vat} - BT-113 {totals.prepaid}",
    )
    _check_breakdown(doc)
    if doc.document_type is DocumentType.CREDIT_NOTE:
        _require(
            "BG-3",
            doc.preceding_invoice is not None,
            "a credit note must reference the invoice it corrects",
        )


def _check_breakdown(doc: InvoiceDocument) -> None:
    keys = [(b.category, b.rate) for b in doc.vat_breakdown]
    _require("BR-CO-18", len(set(keys)) == len(keys), f"repeated VAT breakdown in {keys}")
    missing = {(line.vat_category, line.vat_rate) for line in doc.lines} - set(keys)
    _require(
        "BR-S-08/BR-Z-08/BR-E-08",
        not missing,
        f"lines use VAT {sorted(missing)} and no breakdown has it",
    )
    for b in doc.vat_breakdown:
        code = b.category.value
        taxable = sum(
            (
                line.net_amount
                for line in doc.lines
                if line.vat_category is b.category and line.vat_rate == b.rate
            ),
            ZERO,
        )
        _require(
            f"BR-{code}-08",
            b.taxable_amount == taxable,
            f"{code} {b.rate}%: taxable amount {b.taxable_amount} != its lines' net {taxable}",
        )
        if b.category is VatCategory.STANDARD:
            expected = round_cents(b.taxable_amount * b.rate / 100)
            _require(
                "BR-S-09",
                abs(b.tax_amount - expected) <= TAX_AMOUNT_TOLERANCE,
                f"S {b.rate}%: tax amount {b.tax_amount}, taxable x rate is {expected}",
            )
        else:
            _require(
                f"BR-{code}-05/BR-{code}-09",
                b.rate == 0 and b.tax_amount == 0,
                f"{code} must have rate 0 and tax 0, not {b.rate}% and {b.tax_amount}",
            )
        if b.category is VatCategory.EXEMPT:
            _require("BR-E-10", bool(b.exemption_reason), "exempt VAT needs a reason (BT-120)")


def _require(rule: str, holds: bool, detail: str) -> None:
    if not holds:
        raise SumRuleViolation(f"[{rule}] {detail}")
