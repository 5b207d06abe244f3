"""Invoices and credit notes of every kind the project produces, built the way the
invoice workflow builds them (`generate_invoice` from contract terms), to serialize and
validate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from domain.documents.build import (
    BuyerDetails,
    credit_note_document,
    invoice_document,
    seller_party,
)
from domain.documents.model import InvoiceDocument, Party, PostalAddress
from domain.invoicing import BillableItem, ContractTerms, ExplicitLine, Rate, generate_invoice
from domain.tax import TaxCategory
from schemas.customer_credit import AppliedCredit
from schemas.dispute_tables import CreditNoteRow
from schemas.invoice import InvoiceSnapshot

ISSUE_DATE = dt.date(2026, 3, 2)

UK_SELLER = seller_party(
    name="InvoiceFlow Demo Ltd",
    address="1 Example Street\nLondon EC1A 1AA\nUnited Kingdom",
    tax_id="GB123456789",
    email="billing@invoiceflow.local",
)
CA_SELLER = seller_party(
    name="InvoiceFlow Canada Inc.",
    address="100 King Street West\nToronto ON M5X 1A9\nCanada",
    tax_id="123456789RT0001",  # a GST/HST number: no country prefix, so BT-32
    email="billing@invoiceflow.local",
)
AU_SELLER = seller_party(
    name="InvoiceFlow Australia Pty Ltd",
    address="1 George Street\nSydney NSW 2000\nAustralia",
    tax_id="51824753556",  # an ABN
    email="billing@invoiceflow.local",
)
SELLERS: dict[str, Party] = {"GB": UK_SELLER, "CA": CA_SELLER, "AU": AU_SELLER}


def snapshot(
    *,
    region: str,
    currency: str,
    rates: list[Rate],
    items: list[BillableItem] = [],  # noqa: B006 - read only
    explicit: list[ExplicitLine] = [],  # noqa: B006 - read only
    number: str = "INV-2026-0042",
    po_number: str | None = "PO-7781",
    credit_applied_minor: int = 0,
) -> InvoiceSnapshot:
    terms = ContractTerms(
        contract_id="ctr_1",
        currency=currency,
        tax_region=region,
        payment_terms_days=30,
        rates=rates,
    )
    generated = generate_invoice(terms, items=items, explicit_lines=explicit, issue_date=ISSUE_DATE)
    credits = (
        [
            AppliedCredit(
                credit_note_id="cn_0",
                credit_note_number="CN-2026-0001",
                amount_minor=credit_applied_minor,
            )
        ]
        if credit_applied_minor
        else []
    )
    return InvoiceSnapshot(
        invoice_id="inv_1",
        number=number,
        customer_id="cus_acme",
        customer_name="ACME Ltd",
        customer_email="ap@acme.example",
        customer_locale="en-GB",
        tax_region=region,
        currency=currency,
        issue_date=generated.issue_date,
        due_date=generated.due_date,
        lines=generated.lines,
        tax_lines=generated.tax_lines,
        subtotal_minor=generated.subtotal_minor,
        tax_minor=generated.tax_minor,
        total_minor=generated.total_minor,
        po_number=po_number,
        credits_applied=credits,
    )


CONSULTING = Rate(code="SNR", description="Senior consultant", unit="hour", unit_price_minor=95_000)
WORKSHOP = Rate(code="WS", description="Workshop day", unit="day", unit_price_minor=120_050)


def uk_standard() -> InvoiceSnapshot:
    return snapshot(
        region="GB",
        currency="GBP",
        rates=[CONSULTING, WORKSHOP],
        items=[
            BillableItem(rate_code="SNR", quantity=Decimal("7.25"), po_line=1),
            BillableItem(rate_code="WS", quantity=Decimal("1.5")),
        ],
        credit_applied_minor=10_000,
    )


def uk_multi_rate() -> InvoiceSnapshot:
    return snapshot(
        region="GB",
        currency="GBP",
        rates=[CONSULTING],
        items=[BillableItem(rate_code="SNR", quantity=Decimal("3.3333"))],
        explicit=[
            ExplicitLine(
                description="Site heating (domestic fuel)",
                quantity=Decimal(3),
                unit_price_minor=3_333,
                tax_category=TaxCategory.REDUCED,
            ),
            ExplicitLine(
                description="Printed manuals",
                unit_price_minor=2_499,
                tax_category=TaxCategory.ZERO,
                unit="piece",
            ),
            ExplicitLine(
                description="Training course (exempt education)",
                unit_price_minor=40_000,
                tax_category=TaxCategory.EXEMPT,
            ),
        ],
    )


def uk_zero_rated() -> InvoiceSnapshot:
    return snapshot(
        region="GB",
        currency="GBP",
        rates=[],
        po_number=None,
        explicit=[
            ExplicitLine(
                description="Books",
                quantity=Decimal(12),
                unit_price_minor=1_599,
                tax_category=TaxCategory.ZERO,
            )
        ],
    )


def uk_exempt() -> InvoiceSnapshot:
    return snapshot(
        region="GB",
        currency="GBP",
        rates=[],
        explicit=[
            ExplicitLine(
                description="Insurance brokerage",
                unit_price_minor=250_000,
                tax_category=TaxCategory.EXEMPT,
            )
        ],
    )


def ca_hst() -> InvoiceSnapshot:
    return snapshot(
        region="CA-ON",
        currency="CAD",
        rates=[CONSULTING],
        items=[BillableItem(rate_code="SNR", quantity=Decimal("12.5"))],
        explicit=[
            ExplicitLine(
                description="Basic groceries for the workshop",
                unit_price_minor=8_745,
                tax_category=TaxCategory.ZERO,
            )
        ],
    )


def ca_gst() -> InvoiceSnapshot:
    return snapshot(
        region="CA-AB",
        currency="CAD",
        rates=[WORKSHOP],
        items=[BillableItem(rate_code="WS", quantity=Decimal(2))],
    )


def au_gst() -> InvoiceSnapshot:
    return snapshot(
        region="AU",
        currency="AUD",
        rates=[CONSULTING],
        items=[BillableItem(rate_code="SNR", quantity=Decimal("0.75"))],
        explicit=[
            ExplicitLine(
                description="Residential rent (input-taxed)",
                unit_price_minor=180_000,
                tax_category=TaxCategory.EXEMPT,
            )
        ],
    )


def credit_note(invoice: InvoiceSnapshot, amount_minor: int, number: str) -> CreditNoteRow:
    return CreditNoteRow(
        id=f"cn_{number}",
        number=number,
        invoice_id=invoice.invoice_id,
        currency=invoice.currency,
        amount_minor=amount_minor,
        reason="Two hours billed twice",
        settlement="balance",
        created_at=dt.datetime(2026, 3, 20, 23, 30, tzinfo=dt.UTC),
    )


BUYER_WITH_ADDRESS = BuyerDetails(
    address=PostalAddress(
        lines=("2 Market Road",), city="Leeds", postal_code="LS1 4AP", country_code="GB"
    ),
    vat_id="GB987654321",
    buyer_reference="AP-TEAM-7",
)


def all_documents() -> dict[str, InvoiceDocument]:
    """Every kind of document the project produces, by a name for test ids."""
    uk = uk_standard()
    multi = uk_multi_rate()
    ca = ca_hst()
    au = au_gst()
    return {
        "gbp-standard": invoice_document(uk, seller=UK_SELLER, buyer=BUYER_WITH_ADDRESS),
        "gbp-multi-rate": invoice_document(multi, seller=UK_SELLER),
        "gbp-zero-rated": invoice_document(uk_zero_rated(), seller=UK_SELLER),
        "gbp-exempt": invoice_document(uk_exempt(), seller=UK_SELLER),
        "cad-hst-and-zero": invoice_document(ca, seller=CA_SELLER),
        "cad-gst": invoice_document(ca_gst(), seller=CA_SELLER),
        "aud-gst-and-exempt": invoice_document(au, seller=AU_SELLER),
        "gbp-credit-note": credit_note_document(
            credit_note(uk, 12_345, "CN-2026-0007"),
            uk,
            seller=UK_SELLER,
            buyer=BUYER_WITH_ADDRESS,
        ),
        "gbp-credit-note-multi-rate": credit_note_document(
            credit_note(multi, 50_001, "CN-2026-0008"), multi, seller=UK_SELLER
        ),
        "cad-credit-note": credit_note_document(
            credit_note(ca, ca.total_minor, "CN-2026-0009"), ca, seller=CA_SELLER
        ),
        "aud-credit-note": credit_note_document(
            credit_note(au, 99_999, "CN-2026-0010"), au, seller=AU_SELLER
        ),
    }
