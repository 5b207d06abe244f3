"""The customer's signed "view invoice" link: works, changes nothing, refuses forgeries, and
reads in the customer's locale (en-GB, en-AU, fr-CA) with a line per tax rate."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.client import Client

from api.routes.portal import render_invoice_page
from core.links import PORTAL_VIEW_MAX_AGE_S, PORTAL_VIEW_SALT
from schemas.tables import Customer, Invoice
from tests.e2e.test_lifecycle import customer_and_contract
from tests.rendering.samples import EXPECTED, MARKETS, sample_invoice
from tests.support.stack import running_stack


def _view_url(html: str) -> str:
    found = re.search(r'href="([^"]*/portal/invoices/[^"]*)"', html)
    assert found, "the e-mail links the portal"
    return found.group(1).replace("&amp;", "&")


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - PORTAL_VIEW_MAX_AGE_S - 60


async def test_view_link_from_the_email_shows_the_invoice_and_refuses_forgeries(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="viewer@acme.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        html = (await stack.mailbox("viewer@acme.test"))[0]["html"]
        view_url = _view_url(html)

        async with httpx.AsyncClient() as browser:  # no API key: customers have none
            page = await browser.get(view_url)
            assert page.status_code == 200
            assert issued["invoice"]["number"] in page.text and "£144.00" in page.text
            again = await browser.get(view_url)  # prefetching scanners: GET changes nothing
            assert again.status_code == 200
            assert (await stack.invoice(invoice_id))["live"]["status"] == "ISSUED"

            base, token = view_url.split("?token=")
            assert (await browser.get(f"{base}?token={token[:-2]}xx")).status_code == 403
            other = view_url.replace(invoice_id, "inv_someoneelse")
            assert (await browser.get(other)).status_code == 403
            secret = stack.settings.link_signing_secret.get_secret_value()
            stale = URLSafeTimedSerializer(secret, salt=PORTAL_VIEW_SALT, signer=_PastSigner).dumps(
                {"invoice_id": invoice_id}
            )
            assert (await browser.get(f"{base}?token={stale}")).status_code == 410


def _page_for(locale: str, *, paid_minor: int = 0) -> str:
    invoice = sample_invoice(locale)
    row = Invoice(
        id=invoice.invoice_id,
        customer_id=invoice.customer_id,
        contract_id="con_1",
        number=invoice.number,
        status="PARTIALLY_PAID" if paid_minor else "ISSUED",
        currency=invoice.currency,
        tax_region=invoice.tax_region,
        po_number="PO-77",
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        paid_minor=paid_minor,
        tax_lines=[line.model_dump(mode="json") for line in invoice.tax_lines],
        payment_url="https://pay.test/p/1",
        created_by="test",
        created_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        closed_at=None,
    )
    customer = Customer(
        id=invoice.customer_id, name="Érable & Fils", email="c@erable.test", locale=locale
    )
    lines = [line.model_dump(mode="json") for line in invoice.lines]
    payments = (
        [
            {
                "amount_minor": paid_minor,
                "currency": invoice.currency,
                "paid_at": "2026-11-05T10:00:00Z",
            }
        ]
        if paid_minor
        else []
    )
    return render_invoice_page(row, customer, lines, payments, date(2026, 11, 10))


PORTAL_WORDS = {
    "en_GB": [
        "Invoice INV-2026-0042",
        "Issued",
        "Subtotal",
        "Balance due",
        "Pay now",
        "Due date",
        "17 November 2026",
        "£9,672.00",
        "Purchase order",
    ],
    "en_AU": [
        "Invoice INV-2026-0042",
        "Issued",
        "Subtotal",
        "Balance due",
        "Pay now",
        "17 November 2026",
        "$8,866.00",
    ],
    "fr_CA": [
        "Facture INV-2026-0042",
        "Émise",
        "Sous-total",
        "Solde à payer",
        "Payer maintenant",
        "Date d’échéance",
        "17 novembre 2026",
        "9\u00a0266,98\u00a0$",
        "Bon de commande",
    ],
}


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_portal_page_is_in_the_customers_locale_with_a_line_per_tax_rate(locale: str) -> None:
    html = _page_for(locale)
    assert f'<html lang="{locale.replace("_", "-")}">' in html
    expected = EXPECTED[locale]
    for word in expected["quantities"] + expected["taxes"] + PORTAL_WORDS[locale]:
        assert word in html, (locale, word)
    for foreign in expected["foreign"]:
        assert foreign not in html.replace("&amp;", "&"), (locale, foreign)
    tax_rows = re.findall(r'<tr class="tax">', html)
    assert len(tax_rows) == len(sample_invoice(locale).tax_lines)  # not one "Tax" line
    assert ">Tax<" not in html


def test_portal_page_lists_payments_and_the_balance_in_french() -> None:
    html = _page_for("fr_CA", paid_minor=100_000)
    assert "Partiellement payée" in html
    assert "Payé le 5 novembre 2026" in html and "−1\u00a0000,00\u00a0$" in html
    assert "8\u00a0266,98\u00a0$" in html  # the balance


async def test_fr_ca_customer_reads_the_portal_in_french_and_error_pages_follow_the_browser(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(
            stack,
            email="compta@erable.test",
            locale="fr_CA",
            currency="CAD",
            tax_region="CA-QC",
            name="Érable & Fils",
        )
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "12.5"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        await stack.wait_until_awaiting_payment(invoice_id)
        mail = (await stack.mailbox("compta@erable.test"))[0]
        assert mail["subject"].startswith("Facture ")
        assert "12,5 heures" in mail["text"] and "TPS à 5\u00a0%" in mail["text"]
        view_url = _view_url(mail["html"])
        async with httpx.AsyncClient() as browser:
            page = await browser.get(view_url, headers={"Accept-Language": "en-GB"})
            assert page.status_code == 200
            assert '<html lang="fr-CA">' in page.text  # the customer's locale, not the browser's
            assert "12,5 heures" in page.text
            assert "TPS à 5\u00a0%" in page.text and "TVQ à 9,975\u00a0%" in page.text
            base, token = view_url.split("?token=")
            forged = await browser.get(
                f"{base}?token={token[:-2]}xx", headers={"Accept-Language": "fr-CA,fr;q=0.9"}
            )
            assert forged.status_code == 403
            assert '<html lang="fr-CA">' in forged.text and "Lien non valide" in forged.text
            english = await browser.get(f"{base}?token={token[:-2]}xx")
            assert "Invalid link" in english.text and '<html lang="en-GB">' in english.text
