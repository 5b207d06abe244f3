"""The payment receipt in the customer's language: the amount, what is paid so far and the
balance, with the right words for a part payment and for the last one."""

from __future__ import annotations

from datetime import date

import pytest

from rendering.formatting import money
from rendering.i18n import babel_locale
from rendering.receipt_email import render_receipt_email
from tests.rendering.samples import sample_invoice

# (locale, part payment shown, "balance" words, "paid in full" words)
EXPECTED = {
    "en_GB": ("£100.00", "Balance: £", "This invoice is now paid in full."),
    "en_AU": ("$100.00", "Balance: $", "This invoice is now paid in full."),
    "fr_CA": ("100,00\xa0$", "Solde\xa0: ", "Cette facture est maintenant payée en entier."),
}


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_a_part_payment_receipt_shows_the_amount_and_the_balance_left(locale: str) -> None:
    invoice = sample_invoice(locale)
    amount, balance_words, _ = EXPECTED[locale]
    receipt = render_receipt_email(
        invoice,
        amount_minor=10_000,
        paid_minor=10_000,
        paid_on=date(2026, 11, 20),
        payment_url="https://pay.test/l/1",
    )
    assert amount in receipt.subject and invoice.number in receipt.subject
    assert balance_words in receipt.text
    assert "https://pay.test/l/1" in receipt.html and "https://pay.test/l/1" in receipt.text
    left = money(invoice.total_minor - 10_000, invoice.currency, babel_locale(locale))
    assert receipt.text.count(left) == 2  # the balance line and "the balance of … is due"
    assert f'lang="{locale.replace("_", "-")}"' in receipt.html


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_the_last_payment_receipt_says_paid_in_full_and_offers_no_link(locale: str) -> None:
    invoice = sample_invoice(locale)
    *_, full_words = EXPECTED[locale]
    receipt = render_receipt_email(
        invoice,
        amount_minor=invoice.total_minor,
        paid_minor=invoice.total_minor,
        paid_on=date(2026, 11, 20),
        payment_url="https://pay.test/l/1",
    )
    assert full_words in receipt.text and full_words in receipt.html
    assert "https://pay.test/l/1" not in receipt.html
