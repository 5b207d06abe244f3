"""The portal's invoice page as a business sends it: seller and customer, number, dates
and PO, lines with unit prices, a line per tax rate, payments, credit notes, balance and
due date, in the customer's locale; Pay while something is due; the invoice's disputes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.portal_view import render_invoice_page
from core.links import PORTAL_VIEW_MAX_AGE_S, PORTAL_VIEW_SALT, portal_view_url
from tests.api.portal_samples import TODAY, listed, payments, sample_lines, sample_portal
from tests.api.portal_support import running_portal, text


class PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - PORTAL_VIEW_MAX_AGE_S - 60


EXPECTED = {
    "en_GB": [
        "Invoice INV-2026-0042",
        "From Northwind Consulting Ltd 12 Harbour Street Bristol BS1 4RN United Kingdom",
        "Tax number: GB 284 1937 02",
        "Billed to ACME Trading Ltd accounts@acme.test",
        "Due date 17 November 2026",
        "Issue date 2 November 2026",
        "Purchase order PO-77",
        "Senior consultant, October 8 hours × £150.00",
        "8 hours £150.00 £1,200.00",
        "12.5 hours £100.00 £1,250.00",
        "Subtotal £3,410.00",
        "VAT at 20% £682.00",
        "Total £4,092.00",
        "Paid on 5 November 2026 −£500.00",
        "Balance due £3,592.00",
        "Amount due £3,592.00",
        "Pay now",
        "Dispute this invoice",
    ],
    "fr_CA": [
        "Facture INV-2026-0042",
        "De Northwind Consulting Ltd",
        "Numéro de taxe\u00a0: GB 284 1937 02",
        "Facturé à Érable & Fils compta@erable.test",
        "Date d’échéance 17 novembre 2026",
        "Date de facturation 2 novembre 2026",
        "Bon de commande PO-77",
        "8 heures 150,00\u00a0$ 1\u00a0200,00\u00a0$",
        "12,5 heures 100,00\u00a0$ 1\u00a0250,00\u00a0$",
        "Sous-total 3\u00a0410,00\u00a0$",
        "TPS à 5\u00a0% 170,50\u00a0$",
        "TVQ à 9,975\u00a0% 340,15\u00a0$",
        "Payé le 5 novembre 2026 −500,00\u00a0$",
        "Solde à payer 3\u00a0420,65\u00a0$",
        "Payer maintenant",
        "Contester cette facture",
    ],
}


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_the_page_shows_seller_customer_lines_tax_and_balance_in_the_customers_locale(
    locale: str,
) -> None:
    portal = sample_portal(locale, paid_minor=50000, status="PARTIALLY_PAID")
    html = render_invoice_page(portal, sample_lines(locale), payments(portal, 50000), TODAY)
    words = text(html)
    assert f'<html lang="{locale.replace("_", "-")}">' in html
    for expected in EXPECTED[locale]:
        assert expected in words, (locale, expected)
    assert 'href="https://pay.test/p/1"' in html
    assert "/portal/invoices/inv_1/disputes/new?token=tok" in html
    assert "<script" not in html
    assert "Disputes" not in words and "Contestations" not in words  # none yet


def test_pay_and_dispute_are_hidden_when_nothing_is_due() -> None:
    portal = sample_portal("en_GB", status="PAID")
    portal.invoice.paid_minor = portal.invoice.total_minor
    html = render_invoice_page(
        portal, sample_lines(), payments(portal, portal.invoice.total_minor), TODAY
    )
    words = text(html)
    assert "Balance due £0.00" in words and "Paid" in words
    assert "Pay now" not in words and "pay.test" not in html
    assert "Dispute this invoice" not in words


def test_an_open_dispute_shows_disputed_its_amount_and_a_link_to_its_page() -> None:
    portal = sample_portal("en_GB", status="DISPUTED")
    html = render_invoice_page(portal, sample_lines(), [], TODAY, disputes=[listed(portal)])
    words = text(html)
    assert re.search(r'<span class="status disputed">Disputed</span>', html)
    assert "Being prepared" not in words  # DISPUTED is not shown as a raw status
    assert "Amount due £4,092.00 of which £360.00 disputed" in words
    assert "the disputed amount is not due; please pay the rest" in words
    assert 'href="/portal/invoices/inv_1/disputes/dsp_1?token=tok"' in html
    assert "DSP-2026-0007 Proposal awaiting your answer opened on 6 November 2026" in words


def test_credit_notes_and_write_offs_are_listed_and_taken_off_the_balance() -> None:
    portal = sample_portal("fr_CA")
    portal.invoice.credited_minor = 20000
    note = {
        "number": "CN-2026-0003",
        "created_at": datetime(2026, 11, 8, 12, tzinfo=UTC),
        "amount_minor": 20000,
    }
    html = render_invoice_page(portal, sample_lines("fr_CA"), [], TODAY, credit_notes=[note])
    words = text(html)
    assert "Note de crédit CN-2026-0003 du 8 novembre 2026 −200,00\u00a0$" in words
    total = portal.invoice.total_minor - 20000
    assert f"Solde à payer {portal.formats.money(total)}" in words


def test_a_voided_invoice_says_so_and_offers_neither_pay_nor_dispute() -> None:
    portal = sample_portal("en_GB")
    portal.invoice.voided_at = datetime(2026, 11, 9, tzinfo=UTC)
    words = text(render_invoice_page(portal, sample_lines(), [], TODAY))
    assert "Void" in words and "Pay now" not in words and "Dispute this invoice" not in words


async def test_the_link_opens_the_page_and_bad_links_get_their_error_page(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_portal(sqlite_url, tmp_path, monkeypatch) as portal:
        page = await portal.browser.get(portal.url)
        assert page.status_code == 200
        words = text(page.text)
        assert "Northwind Consulting Ltd" in words and "ACME Trading Ltd" in words
        assert "Senior consultant 8 hours × £150.00 8 hours £150.00 £1,200.00" in words
        assert "VAT at 20% £432.00" in words and "Balance due £2,592.00" in words
        assert "Pay now" in words and "Dispute this invoice" in words
        base, token = portal.url.split("?token=")
        tampered = await portal.browser.get(f"{base}?token={token[:-2]}xx")
        assert tampered.status_code == 403 and "Invalid link" in tampered.text
        other = await portal.browser.get(portal.path(invoice_id="inv_unknown"))
        assert other.status_code == 403  # the token is bound to its invoice
        secret = portal.settings.link_signing_secret.get_secret_value()
        unknown = await portal.browser.get(portal_view_url("", secret, "inv_unknown"))
        assert unknown.status_code == 404 and "We could not find this invoice." in unknown.text
        stale = URLSafeTimedSerializer(secret, salt=PORTAL_VIEW_SALT, signer=PastSigner).dumps(
            {"invoice_id": portal.invoice_id}
        )
        expired = await portal.browser.get(f"{base}/disputes/new?token={stale}")
        assert expired.status_code == 410 and "Link expired" in expired.text
        form = await portal.browser.get(
            f"{base}/disputes/new?token={token[:-2]}xx",
            headers={"Accept-Language": "fr-CA"},
        )
        assert form.status_code == 403 and "Lien non valide" in form.text


def test_credit_from_the_account_and_credit_kept_on_it_are_shown_in_the_balance() -> None:
    portal = sample_portal("en_GB")
    portal.invoice.credit_applied_minor = 50000
    applied = [{"number": "CN-2026-0004", "amount_minor": 50000}]
    words = text(render_invoice_page(portal, sample_lines(), [], TODAY, credits_applied=applied))
    assert "Credit from credit note CN-2026-0004 −£500.00" in words
    assert f"Balance due {portal.formats.money(portal.invoice.total_minor - 50000)}" in words

    paid = sample_portal("fr_CA")
    paid.invoice.paid_minor = paid.invoice.total_minor
    paid.invoice.credited_minor = paid.invoice.credit_carried_minor = 20000
    words = text(render_invoice_page(paid, sample_lines("fr_CA"), [], TODAY))
    assert "Conservé en crédit à votre compte +200,00\u00a0$" in words
    assert f"Solde à payer {paid.formats.money(0)}" in words
