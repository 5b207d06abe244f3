"""The invoice e-mail: amounts and dates in the customer's locale, fr-CA included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.invoicing import InvoiceLine, TaxLine
from domain.tax import TaxCategory
from rendering.invoice_email import render_invoice_email
from schemas.invoice import InvoiceSnapshot


def snapshot(locale: str, currency: str = "CAD") -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_id="inv_1",
        number="INV-2026-0042",
        customer_id="cus_1",
        customer_name="Érable & Fils",
        customer_email="compta@erable.test",
        customer_locale=locale,
        currency=currency,
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 17),
        lines=[
            InvoiceLine(
                position=1,
                description="Conseil <senior>",
                quantity=Decimal("8.5"),
                unit="hour",
                unit_price_minor=15000,
                net_minor=127500,
                tax_category=TaxCategory.STANDARD,
                rate_code="consulting",
            )
        ],
        tax_lines=[
            TaxLine(
                name="GST",
                rate=Decimal("0.05"),
                category=TaxCategory.STANDARD,
                taxable_minor=127500,
                tax_minor=6375,
            ),
            TaxLine(
                name="QST",
                rate=Decimal("0.09975"),
                category=TaxCategory.STANDARD,
                taxable_minor=127500,
                tax_minor=12718,
            ),
        ],
        subtotal_minor=127500,
        tax_minor=19093,
        total_minor=146593,
    )


def test_fr_ca_email_uses_french_words_and_canadian_french_amounts() -> None:
    email = render_invoice_email(snapshot("fr_CA"), payment_url="https://pay.test/p/1")
    assert email.subject == "Facture INV-2026-0042 de 1\u00a0465,93\u00a0$"
    assert "1\u00a0275,00\u00a0$" in email.html  # line amount
    assert "9,975\u00a0%" in email.html  # QST rate
    assert "17 novembre 2026" in email.html
    assert "Payer maintenant" in email.html
    assert "8,5" in email.text


def test_en_gb_email_and_html_escaping() -> None:
    email = render_invoice_email(
        snapshot("en_GB", "GBP"), payment_url="https://pay.test/p/1?a=1&b=2"
    )
    assert email.subject == "Invoice INV-2026-0042 for £1,465.93"
    assert "17 November 2026" in email.html
    assert "Conseil &lt;senior&gt;" in email.html  # customer data is escaped
    assert "https://pay.test/p/1?a=1&amp;b=2" in email.html
    assert "Total: £1,465.93" in email.text
