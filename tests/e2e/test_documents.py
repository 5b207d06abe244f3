"""Invoice documents end to end (real dev server, SMTP catcher, provider sandbox): the
invoice e-mail carries the invoice's PDF, issued once and stored (the API and the portal
serve the very same bytes, its SHA-256 in the audit trail); a customer who asked for CII
gets a Factur-X PDF/A-3 whose embedded XML passes the Factur-X EN 16931 XSD and Schematron,
one who asked for UBL gets the Peppol BIS 3.0 XML beside the PDF; the PDF reads right in
the customer's locale (extracted with pypdf); a credit note has its own PDF and e-invoice;
bad requests get problem+json and nothing is rendered."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import facturx
from lxml import etree
from pypdf import PdfReader
from temporalio.client import Client

from core.links import portal_view_url
from tests.documents.validation import (
    CII_SCHEMATRON,
    CII_XSD,
    UBL_INVOICE_XSD,
    run_schematron,
    xsd_errors,
)
from tests.e2e.test_lifecycle import RATES
from tests.support.stack import Stack, running_stack

UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


async def customer_invoice(
    stack: Stack, email: str, *, region: str = "GB", currency: str = "GBP", **customer: Any
) -> tuple[str, dict[str, Any]]:
    """A customer (with what the test gives: locale, address, tax number, e-invoice
    format), a contract in `region`, and an invoice of 10 senior hours, delivered."""
    created = await stack.api.post(
        "/customers", json={"name": "ACME Ltd", "email": email, **customer}
    )
    assert created.status_code == 201, created.text
    contract = await stack.api.post(
        "/contracts",
        json={
            "customer_id": created.json()["id"],
            "currency": currency,
            "tax_region": region,
            "payment_terms_days": 30,
            "rates": RATES,
        },
    )
    assert contract.status_code == 201, contract.text
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": created.json()["id"],
            "contract_id": contract.json()["id"],
            "items": [{"rate_code": "senior", "quantity": "10"}],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id = response.json()["invoice_id"]
    return invoice_id, await stack.wait_until_awaiting_payment(invoice_id)


async def attachments(stack: Stack, email: str) -> list[tuple[dict[str, Any], bytes]]:
    [mail] = await stack.mailbox(email)
    files = []
    for attached in mail["attachments"]:
        response = await stack.sandbox.get(attached["url"])
        assert response.status_code == 200
        files.append((attached, response.content))
    return files


def pdf_a3_facts(content: bytes) -> dict[str, object]:
    """What can be checked of PDF/A-3 and Factur-X offline: the XMP identification
    (part 3, conformance B, the Factur-X level and file name), the embedded file's
    relationship to the document, and an output intent (the colour profile PDF/A needs)."""
    root = PdfReader(io.BytesIO(content)).trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    facts: dict[str, object] = {}
    for key in ("pdfaid:part", "pdfaid:conformance", "fx:ConformanceLevel", "fx:DocumentFileName"):
        found = re.search(rf"<{key}>([^<]+)</{key}>|{key}=\"([^\"]+)\"", xmp)
        facts[key] = next(g for g in found.groups() if g) if found else None
    [spec] = root["/AF"]
    facts["AFRelationship"] = spec.get_object().get("/AFRelationship")
    facts["OutputIntent"] = bool(root.get("/OutputIntents"))
    return facts


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_the_invoice_email_carries_its_pdf_issued_once_and_served_as_sent(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id, issued = await customer_invoice(
            stack,
            "pdf@acme.test",
            address="4 Dock Road\nLeeds LS1 4AP",
            tax_id="GB999888777",
        )
        number = issued["invoice"]["number"]
        [(attached, content)] = await attachments(stack, "pdf@acme.test")
        assert (attached["filename"], attached["content_type"]) == (
            f"{number}.pdf",
            "application/pdf",
        )
        text = pdf_text(content)
        for expected in (
            "Invoice",
            number,
            stack.settings.seller_name,
            "VAT registration number: GB999888777",
            "4 Dock Road",
            "Senior consultant",
            "10 hours",
            "£1,200.00",
            "VAT at 20% on £1,200.00",
            "£1,440.00",
        ):
            assert expected in text, (expected, text)

        api = await stack.api.get(f"/invoices/{invoice_id}/pdf")
        assert api.status_code == 200 and api.headers["content-type"] == "application/pdf"
        assert api.content == content  # the stored file, not a new rendering
        token_url = portal_view_url(
            "", stack.settings.link_signing_secret.get_secret_value(), invoice_id
        )
        path, query = token_url.split("?", 1)
        portal = await stack.api.get(f"{path}/pdf?{query}")
        assert portal.status_code == 200 and portal.content == content
        audit = (await stack.invoice(invoice_id))["audit"]
        [record] = [a for a in audit if a["action"] == "document.issued"]
        assert record["data"]["sha256"] == hashlib.sha256(content).hexdigest()


async def test_a_customer_who_asked_for_cii_gets_a_valid_factur_x_pdf_in_french(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id, issued = await customer_invoice(
            stack,
            "cii@erable.test",
            region="CA-ON",
            currency="CAD",
            locale="fr_CA",
            einvoice_format="cii",
        )
        [(attached, content)] = await attachments(stack, "cii@erable.test")
        name, xml = facturx.get_xml_from_pdf(content, check_xsd=False)
        assert name == "factur-x.xml"
        assert pdf_a3_facts(content) == {
            "pdfaid:part": "3",
            "pdfaid:conformance": "B",
            "fx:ConformanceLevel": "EN 16931",
            "fx:DocumentFileName": "factur-x.xml",
            "AFRelationship": "/Data",
            "OutputIntent": True,
        }
        assert xsd_errors(xml, CII_XSD) == []
        report = run_schematron(xml, CII_SCHEMATRON)
        assert report.fired_rules > 0 and report.fatal == [], [str(f) for f in report.fatal]
        root = etree.fromstring(xml)
        assert issued["invoice"]["number"] in root.xpath(
            "string(//*[local-name()='ExchangedDocument']/*[local-name()='ID'])"
        )
        text = pdf_text(content)
        assert "Facture" in text and "1\u00a0356,00\u00a0$" in text.replace(" ", "\u00a0"), text
        assert "TVH" in text  # HST, in French

        cii = await stack.api.get(f"/invoices/{invoice_id}/einvoice", params={"format": "cii"})
        assert cii.status_code == 200 and xsd_errors(cii.content, CII_XSD) == []


async def test_a_customer_who_asked_for_ubl_gets_it_beside_the_pdf_and_bad_asks_are_refused(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id, issued = await customer_invoice(
            stack, "ubl@acme.test", einvoice_format="ubl", tax_id="GB111222333"
        )
        files = await attachments(stack, "ubl@acme.test")
        assert [a["content_type"] for a, _ in files] == ["application/pdf", "application/xml"]
        ubl = files[1][1]
        assert xsd_errors(ubl, UBL_INVOICE_XSD) == []
        root = etree.fromstring(ubl)
        assert root.findtext(f"{{{UBL_CBC}}}ID") == issued["invoice"]["number"]
        served = await stack.api.get(f"/invoices/{invoice_id}/einvoice", params={"format": "ubl"})
        assert served.content == ubl  # stored once

        unknown = await stack.api.get("/invoices/inv_nope/pdf")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["code"] == "not_found"
        wrong = await stack.api.get(f"/invoices/{invoice_id}/einvoice", params={"format": "pdf"})
        assert wrong.status_code == 422 and wrong.json()["code"] == "validation_failed"
        no_note = await stack.api.get("/credit-notes/cn_nope/pdf")
        assert no_note.status_code == 404 and no_note.json()["code"] == "not_found"
