"""Build the EN 16931 document model from the project's stored invoice and credit notes.

`invoice_document` takes a numbered invoice (`schemas.invoice.InvoiceSnapshot` has every
field of `InvoiceFacts`); `credit_note_document` takes a credit note
(`schemas.dispute_tables.CreditNoteRow` has every field of `CreditNoteFacts`) and the
invoice it credits. Both are pure: the caller reads the records and the seller settings
(`seller_party(...)` from `settings.seller_*`) and passes them in. The domain layer does not
import `schemas`, so the inputs are described here as protocols.

Amounts move from integer minor units to two-decimal `Decimal`s without rounding: the
project has already rounded every line net and every tax amount by its one rule, and the
sums are taken again here, so the document's totals are those of the stored invoice and
`InvoiceDocument` checks that they close. A currency with more than two minor digits (KWD)
cannot be written at all (EN 16931 allows two decimals) and is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.documents import codes
from domain.documents.credit_split import VatPart, split_credit
from domain.documents.model import (
    CENT,
    DocumentLine,
    DocumentTotals,
    DocumentType,
    InvoiceDocument,
    Party,
    PostalAddress,
    PrecedingInvoice,
    VatBreakdown,
    VatCategory,
)
from domain.errors import InvoiceRuleError
from domain.invoicing import InvoiceLine, TaxLine
from domain.money import DECIMAL_CONTEXT, exponent
from domain.tax import TaxCategory


class UnsupportedDocument(InvoiceRuleError):
    """The invoice cannot be written as an EN 16931 e-invoice (the detail says why)."""

    code = "einvoice_unsupported"


class InvoiceFacts(Protocol):
    """The parts of a stored invoice (`InvoiceSnapshot`) a document is built from."""

    @property
    def number(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def customer_email(self) -> str: ...
    @property
    def tax_region(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def issue_date(self) -> dt.date: ...
    @property
    def due_date(self) -> dt.date: ...
    @property
    def lines(self) -> Sequence[InvoiceLine]: ...
    @property
    def tax_lines(self) -> Sequence[TaxLine]: ...
    @property
    def subtotal_minor(self) -> int: ...
    @property
    def tax_minor(self) -> int: ...
    @property
    def total_minor(self) -> int: ...
    @property
    def po_number(self) -> str | None: ...
    @property
    def credit_applied_minor(self) -> int: ...


class CreditNoteFacts(Protocol):
    """The parts of a stored credit note (`CreditNoteRow`) a document is built from."""

    @property
    def number(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...  # gross
    @property
    def reason(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...


class BuyerDetails(BaseModel):
    """What the customer record may add to the buyer (BG-7) beyond the invoice's name and
    e-mail. Without an address, the buyer's country (BT-55, required) is the invoice's
    tax region's."""

    model_config = ConfigDict(frozen=True)

    address: PostalAddress | None = None
    vat_id: str | None = Field(default=None, pattern=r"^[A-Z]{2}\S+$")  # BT-48
    buyer_reference: str | None = None  # BT-10: the buyer's own routing reference


def seller_party(
    *,
    name: str,
    address: str,
    tax_id: str | None,
    email: str | None,
    country_code: str | None = None,
) -> Party:
    """The seller (BG-4) from the `seller_*` settings. `address` is their multi-line text;
    a last line naming the country becomes BT-40. A tax id with a country prefix
    (GB123456789) is the VAT identifier BT-31, one without (an ABN) is BT-32."""
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    named_country = codes.COUNTRY_NAMES.get(lines[-1].lower()) if lines else None
    if named_country:
        lines.pop()
    vat_id = tax_id if tax_id and tax_id[:2].isalpha() and tax_id[:2].isupper() else None
    country = country_code or named_country or (vat_id[:2] if vat_id else None)
    if country is None:
        raise UnsupportedDocument(
            "the seller's country is unknown: pass country_code or end the address with it"
        )
    if len(lines) > 3:  # BG-5 has three address lines
        lines = [*lines[:2], ", ".join(lines[2:])]
    return Party(
        name=name,
        address=PostalAddress(lines=tuple(lines), country_code=country),
        vat_id=vat_id,
        # without a VAT identifier the tax number also identifies the seller (BR-CO-26):
        # an ABN is the Australian business's registration, a GST/HST number holds the
        # Canadian business number
        tax_registration_id=tax_id if tax_id and not vat_id else None,
        legal_registration_id=tax_id if tax_id and not vat_id else None,
        email=email,
    )


def invoice_document(
    invoice: InvoiceFacts, *, seller: Party, buyer: BuyerDetails | None = None
) -> InvoiceDocument:
    """The EN 16931 invoice (BT-3 = 380) of a numbered invoice."""
    _check_currency(invoice.currency)
    parts = vat_parts(invoice)
    if (
        sum(line.net_minor for line in invoice.lines) != invoice.subtotal_minor
        or sum(part.tax_minor for part in parts) != invoice.tax_minor
    ):
        raise UnsupportedDocument(
            f"invoice {invoice.number}: its stored totals do not match its lines and taxes"
        )
    digits = exponent(invoice.currency)
    has_po = invoice.po_number is not None
    # each line's rate is its category's stored tax line's (exempt lines have none: 0%)
    rates = {tax_line.category: tax_line.rate for tax_line in invoice.tax_lines}
    lines = tuple(
        DocumentLine(
            line_id=str(line.position),
            description=line.description,
            quantity=line.quantity,
            unit_code=codes.unit_code(line.unit),
            net_price=_amount(line.unit_price_minor, digits),
            net_amount=_amount(line.net_minor, digits),
            vat_category=codes.vat_category(line.tax_category),
            vat_rate=_percent(rates.get(line.tax_category, Decimal(0))),
            order_line_reference=str(line.po_line) if has_po and line.po_line else None,
        )
        for line in invoice.lines
    )
    terms = f"Payment due by {invoice.due_date.isoformat()}."
    if invoice.credit_applied_minor:
        terms += " Credit from your account is taken off the amount due."
    return _document(
        DocumentType.INVOICE,
        number=invoice.number,
        issue_date=invoice.issue_date,
        invoice=invoice,
        seller=seller,
        buyer=buyer,
        lines=lines,
        parts=parts,
        prepaid_minor=invoice.credit_applied_minor,
        due_date=invoice.due_date,
        payment_terms=terms,
        note=None,
        preceding=None,
    )


def credit_note_document(
    credit_note: CreditNoteFacts,
    invoice: InvoiceFacts,
    *,
    seller: Party,
    buyer: BuyerDetails | None = None,
    issue_date: dt.date | None = None,
) -> InvoiceDocument:
    """The EN 16931 credit note (BT-3 = 381) of a credit note on `invoice`: one line per
    VAT rate credited, its gross split as `domain.documents.credit_split` says. The issue
    date is the UTC date of `created_at` unless given."""
    if credit_note.currency != invoice.currency:
        raise UnsupportedDocument(
            f"credit note {credit_note.number} is in {credit_note.currency}, "
            f"its invoice {invoice.number} in {invoice.currency}"
        )
    _check_currency(invoice.currency)
    digits = exponent(invoice.currency)
    parts = split_credit(credit_note.amount_minor, vat_parts(invoice))
    lines = tuple(
        DocumentLine(
            line_id=str(position),
            description=f"Credit on invoice {invoice.number}: {credit_note.reason}",
            quantity=Decimal(1),
            unit_code=codes.PIECE,
            net_price=_amount(part.taxable_minor, digits),
            net_amount=_amount(part.taxable_minor, digits),
            vat_category=part.category,
            vat_rate=_percent(part.rate),
        )
        for position, part in enumerate(parts, start=1)
    )
    return _document(
        DocumentType.CREDIT_NOTE,
        number=credit_note.number,
        issue_date=issue_date or credit_note.created_at.astimezone(dt.UTC).date(),
        invoice=invoice,
        seller=seller,
        buyer=buyer,
        lines=lines,
        parts=parts,
        prepaid_minor=0,
        due_date=None,
        payment_terms=f"Credited against invoice {invoice.number}.",
        note=credit_note.reason,
        preceding=PrecedingInvoice(number=invoice.number, issue_date=invoice.issue_date),
    )


def vat_parts(invoice: InvoiceFacts) -> list[VatPart]:
    """The invoice's VAT breakdown in minor units: its tax lines (one per category with
    tax), plus an exempt part for exempt lines (they have no tax line), merged where two
    of the project's categories share one EN 16931 category and rate."""
    merged: dict[tuple[VatCategory, Decimal], VatPart] = {}

    def add(category: VatCategory, rate: Decimal, taxable: int, tax: int) -> None:
        key = (category, rate)
        if key in merged:
            old = merged[key]
            taxable, tax = taxable + old.taxable_minor, tax + old.tax_minor
        merged[key] = VatPart(category=category, rate=rate, taxable_minor=taxable, tax_minor=tax)

    for category in TaxCategory:
        tax_lines = [t for t in invoice.tax_lines if t.category is category]
        if len(tax_lines) > 1:
            names = " + ".join(f"{t.name} {t.rate:%}" for t in tax_lines)
            raise UnsupportedDocument(
                f"invoice {invoice.number}: {names} on one supply cannot be written as "
                "EN 16931 VAT (one category and rate per line)"
            )
        if tax_lines:
            line = tax_lines[0]
            add(codes.vat_category(category), line.rate, line.taxable_minor, line.tax_minor)
        elif category is TaxCategory.EXEMPT:
            taxable = sum(ln.net_minor for ln in invoice.lines if ln.tax_category is category)
            if taxable or any(ln.tax_category is category for ln in invoice.lines):
                add(VatCategory.EXEMPT, Decimal(0), taxable, 0)
    return list(merged.values())


def _document(
    document_type: DocumentType,
    *,
    number: str,
    issue_date: dt.date,
    invoice: InvoiceFacts,
    seller: Party,
    buyer: BuyerDetails | None,
    lines: tuple[DocumentLine, ...],
    parts: Sequence[VatPart],
    prepaid_minor: int,
    due_date: dt.date | None,
    payment_terms: str,
    note: str | None,
    preceding: PrecedingInvoice | None,
) -> InvoiceDocument:
    digits = exponent(invoice.currency)
    country, subdivision = codes.country_of_region(invoice.tax_region)
    details = buyer or BuyerDetails()
    breakdown = tuple(
        VatBreakdown(
            category=part.category,
            rate=_percent(part.rate),
            taxable_amount=_amount(part.taxable_minor, digits),
            tax_amount=_amount(part.tax_minor, digits),
            exemption_reason=(
                codes.exemption_reason(country) if part.category is VatCategory.EXEMPT else None
            ),
        )
        for part in parts
    )
    net = sum(part.taxable_minor for part in parts)
    tax = sum(part.tax_minor for part in parts)
    return InvoiceDocument(
        document_type=document_type,
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        currency=invoice.currency,
        note=note,
        # Peppol requires BT-10 or BT-13 (PEPPOL-EN16931-R003): the buyer's reference if
        # the customer record has one, else the PO number, else our id of the customer.
        buyer_reference=details.buyer_reference or invoice.po_number or invoice.customer_id,
        order_reference=invoice.po_number,
        seller=seller,
        buyer=Party(
            name=invoice.customer_name,
            address=details.address or PostalAddress(country_code=country, subdivision=subdivision),
            vat_id=details.vat_id,
            email=invoice.customer_email,
        ),
        payment_terms=payment_terms,
        preceding_invoice=preceding,
        lines=lines,
        vat_breakdown=breakdown,
        totals=DocumentTotals(
            line_net_total=_amount(net, digits),
            total_without_vat=_amount(net, digits),
            vat_total=_amount(tax, digits),
            total_with_vat=_amount(net + tax, digits),
            prepaid=_amount(prepaid_minor, digits),
            amount_due=_amount(net + tax - prepaid_minor, digits),
        ),
    )


def _check_currency(currency: str) -> None:
    if exponent(currency) > 2:
        raise UnsupportedDocument(
            f"{currency} has {exponent(currency)} minor digits; EN 16931 amounts have two"
        )


def _amount(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits, context=DECIMAL_CONTEXT).quantize(CENT)


def _percent(rate: Decimal) -> Decimal:
    """BT-119/BT-152 are percentages: 0.20 is 20."""
    percent = DECIMAL_CONTEXT.multiply(rate, Decimal(100)).normalize(DECIMAL_CONTEXT)
    # normalize() writes 20 as 2E+1; keep it a plain integer
    return percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent
