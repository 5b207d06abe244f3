"""The invoice e-mail in en-GB, en-AU and fr-CA: words, units, plurals, tax labels, amounts."""

from __future__ import annotations

import pytest

from rendering.invoice_email import render_invoice_email, render_invoice_sms
from schemas.customer_credit import AppliedCredit
from tests.rendering.samples import EXPECTED, MARKETS, sample_invoice


def _plain(text: str) -> str:
    return text.replace("&amp;", "&")


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_invoice_email_reads_in_the_customers_language_with_units_plurals_and_tax_names(
    locale: str,
) -> None:
    email = render_invoice_email(
        sample_invoice(locale), payment_url="https://pay.test/p/1", view_url="https://v.test/1"
    )
    expected = EXPECTED[locale]
    for body in (email.html, email.text):
        for word in expected["quantities"] + expected["taxes"] + expected["words"]:
            assert word in body, (locale, word)
        for foreign in expected["foreign"]:
            assert foreign not in _plain(body), (locale, foreign)
    assert f'<html lang="{locale.replace("_", "-")}">' in email.html


def test_fr_ca_email_subject_amounts_and_french_punctuation() -> None:
    email = render_invoice_email(sample_invoice("fr_CA"), payment_url="https://pay.test/p/1")
    assert email.subject == "Facture INV-2026-0042 de 9\u00a0266,98\u00a0$"
    assert "1\u00a0200,00\u00a0$" in email.html  # 8 h x 150,00 $
    assert "Total\u00a0: 9\u00a0266,98\u00a0$" in email.text  # French space before the colon
    assert "Bonjour Érable & Fils," in email.text


def test_en_gb_email_subject_and_html_escaping() -> None:
    email = render_invoice_email(
        sample_invoice("en_GB"), payment_url="https://pay.test/p/1?a=1&b=2"
    )
    assert email.subject == "Invoice INV-2026-0042 for £9,672.00"
    assert "Conseil &lt;senior&gt;" in email.html  # customer data is escaped
    assert "Hello Érable &amp; Fils," in email.html  # also inside a translated sentence
    assert "https://pay.test/p/1?a=1&amp;b=2" in email.html
    assert "Total: £9,672.00" in email.text


def test_an_invoice_with_two_rates_of_one_tax_shows_a_line_for_each() -> None:
    invoice = sample_invoice("en_GB")
    reduced = invoice.tax_lines[0].model_copy(update={"rate": "0.05", "tax_minor": 100})
    invoice = invoice.model_copy(update={"tax_lines": [*invoice.tax_lines, reduced]})
    email = render_invoice_email(invoice, payment_url="https://pay.test/p/1")
    assert "VAT at 20%" in email.html and "VAT at 5%" in email.html


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_GB", "Invoice INV-2026-0042: £9,672.00 due 17 November 2026. We could not reach"),
        ("en_AU", "Invoice INV-2026-0042: $8,866.00 due 17 November 2026. We could not reach"),
        (
            "fr_CA",
            "Facture INV-2026-0042\u00a0: 9\u00a0266,98\u00a0$ payable au plus tard le 17 "
            "novembre 2026. Nous n’avons pas pu vous joindre par courriel.",
        ),
    ],
)
def test_the_sms_fallback_is_in_the_customers_language(locale: str, expected: str) -> None:
    text = render_invoice_sms(sample_invoice(locale), payment_url="https://pay.test/p/1")
    assert text.startswith(expected)
    assert text.endswith("https://pay.test/p/1")


def test_credit_from_the_account_is_taken_off_and_a_covered_invoice_asks_for_nothing() -> None:
    credit = AppliedCredit(
        credit_note_id="cn_1", credit_note_number="CN-2026-0001", amount_minor=67_200
    )
    part = sample_invoice("en_GB").model_copy(update={"credits_applied": [credit]})
    email = render_invoice_email(part, payment_url="https://pay.test/p/1")
    assert email.subject == "Invoice INV-2026-0042 for £9,000.00"  # what is left to pay
    assert "Total: £9,672.00" in email.text
    assert "Credit from credit note CN-2026-0001: -£672.00" in email.text
    assert "Amount due: £9,000.00" in email.text and "Pay now: https://pay.test/p/1" in email.text

    whole = credit.model_copy(update={"amount_minor": 926_698})
    covered = sample_invoice("fr_CA").model_copy(update={"credits_applied": [whole]})
    email = render_invoice_email(covered, payment_url=None)
    assert "Montant dû\u00a0: 0,00\u00a0$" in email.text
    assert "Rien à payer\u00a0: le crédit de votre compte couvre cette facture." in email.text
    assert "Rien à payer" in email.html and "Payer maintenant" not in email.html
    assert "pay.test" not in email.html
