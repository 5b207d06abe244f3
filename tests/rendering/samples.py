"""Invoices as each market sees them: en-GB with VAT, en-AU with GST, fr-CA with GST+QST."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.invoicing import InvoiceLine, TaxLine
from domain.tax import TaxCategory, components
from schemas.invoice import InvoiceSnapshot

# (description, quantity, unit, unit price in minor units)
LINES = [
    ("Conseil <senior>", "8", "hour", 15000),
    ("Atelier", "1", "hour", 15000),
    ("Support", "12.5", "hour", 10000),
    ("Accompagnement", "5", "day", 90000),
    ("Formation", "1", "day", 90000),
    ("Licences", "3", "unit", 2000),
]

MARKETS = {  # locale: (currency, tax region)
    "en_GB": ("GBP", "GB"),
    "en_AU": ("AUD", "AU"),
    "fr_CA": ("CAD", "CA-QC"),
}


def sample_invoice(locale: str, lines: list[tuple[str, str, str, int]] = LINES) -> InvoiceSnapshot:
    currency, region = MARKETS[locale]
    invoice_lines = [
        InvoiceLine(
            position=position,
            description=description,
            quantity=Decimal(quantity),
            unit=unit,
            unit_price_minor=price,
            net_minor=int(Decimal(quantity) * price),
            tax_category=TaxCategory.STANDARD,
            rate_code=f"r{position}",
        )
        for position, (description, quantity, unit, price) in enumerate(lines, start=1)
    ]
    subtotal = sum(line.net_minor for line in invoice_lines)
    tax_lines = [
        TaxLine(
            name=component.name,
            rate=component.rate,
            category=TaxCategory.STANDARD,
            taxable_minor=subtotal,
            tax_minor=int((component.rate * subtotal).to_integral_value()),
        )
        for component in components(region, TaxCategory.STANDARD)
    ]
    tax = sum(line.tax_minor for line in tax_lines)
    return InvoiceSnapshot(
        invoice_id="inv_1",
        number="INV-2026-0042",
        customer_id="cus_1",
        customer_name="Érable & Fils",
        customer_email="compta@erable.test",
        customer_locale=locale,
        tax_region=region,
        currency=currency,
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 17),
        lines=invoice_lines,
        tax_lines=tax_lines,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
    )


# What each market must read: quantities with units and plurals, tax labels, words.
EXPECTED = {
    "en_GB": {
        "quantities": ["8 hours", "1 hour", "12.5 hours", "5 days", "1 day", "3 units"],
        "taxes": ["VAT at 20%"],
        "words": ["Invoice INV-2026-0042", "Subtotal", "Pay now", "17 November 2026"],
        "foreign": ["GST", "TPS", "Facture", "heure"],
    },
    "en_AU": {
        "quantities": ["8 hours", "1 hour", "12.5 hours", "5 days", "1 day", "3 units"],
        "taxes": ["GST at 10%"],
        "words": ["Invoice INV-2026-0042", "Subtotal", "Pay now", "17 November 2026"],
        "foreign": ["VAT", "TPS", "Facture", "heure"],
    },
    "fr_CA": {
        "quantities": ["8 heures", "1 heure", "12,5 heures", "5 jours", "1 jour", "3 unités"],
        "taxes": ["TPS à 5\u00a0%", "TVQ à 9,975\u00a0%"],
        "words": ["Facture INV-2026-0042", "Sous-total", "Payer maintenant", "17 novembre 2026"],
        "foreign": ["GST", "QST", "Subtotal", "hour", "Invoice "],
    },
}
