"""UBL 2.1 serialization of an `InvoiceDocument`, per Peppol BIS Billing 3.0.

An invoice becomes a UBL `Invoice`, a credit note a UBL `CreditNote` (its lines are
`CreditNoteLine` with `CreditedQuantity`; UBL 2.1's CreditNote has no header due date, so
BT-9 is not written for one: a credit note asks nobody to pay by a date). Elements are
written in the order the UBL 2.1 schemas declare; amounts carry the document currency.
The e-mail addresses are the parties' electronic addresses (BT-34/BT-49, scheme EM), which
Peppol requires (PEPPOL-EN16931-R010/R020).
"""

from __future__ import annotations

from lxml import etree

from domain.documents.model import (
    DocumentLine,
    DocumentType,
    InvoiceDocument,
    Party,
)
from domain.documents.xml import Builder, amount, iso_date, number, serialize

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def to_ubl(document: InvoiceDocument) -> bytes:
    """The UBL 2.1 Invoice or CreditNote of `document`, UTF-8 encoded."""
    is_credit = document.document_type is DocumentType.CREDIT_NOTE
    root_ns = CREDIT_NOTE_NS if is_credit else INVOICE_NS
    x = Builder({"cac": CAC, "cbc": CBC}, default=root_ns)
    root = x.root("CreditNote" if is_credit else "Invoice")
    currency = document.currency

    x.add(root, "cbc:CustomizationID", CUSTOMIZATION_ID)
    x.add(root, "cbc:ProfileID", PROFILE_ID)
    x.add(root, "cbc:ID", document.number)  # BT-1
    x.add(root, "cbc:IssueDate", iso_date(document.issue_date))  # BT-2
    if document.due_date is not None and not is_credit:
        x.add(root, "cbc:DueDate", iso_date(document.due_date))  # BT-9
    type_code = "cbc:CreditNoteTypeCode" if is_credit else "cbc:InvoiceTypeCode"
    x.add(root, type_code, document.document_type.value)  # BT-3
    x.add_if(root, "cbc:Note", document.note)  # BT-22
    x.add(root, "cbc:DocumentCurrencyCode", currency)  # BT-5
    x.add_if(root, "cbc:BuyerReference", document.buyer_reference)  # BT-10
    if document.order_reference:
        x.add(x.add(root, "cac:OrderReference"), "cbc:ID", document.order_reference)  # BT-13
    if document.preceding_invoice is not None:  # BG-3
        reference = x.add(x.add(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        x.add(reference, "cbc:ID", document.preceding_invoice.number)
        x.add(reference, "cbc:IssueDate", iso_date(document.preceding_invoice.issue_date))
    _party(x, x.add(root, "cac:AccountingSupplierParty"), document.seller)  # BG-4
    _party(x, x.add(root, "cac:AccountingCustomerParty"), document.buyer)  # BG-7
    if document.payment_terms:
        x.add(x.add(root, "cac:PaymentTerms"), "cbc:Note", document.payment_terms)  # BT-20
    _tax_total(x, root, document)
    _monetary_total(x, root, document)
    for line in document.lines:
        _line(x, root, line, currency, is_credit)
    return serialize(root)


def _party(x: Builder, role: etree._Element, party: Party) -> None:
    element = x.add(role, "cac:Party")
    if party.email:
        x.add(element, "cbc:EndpointID", party.email, schemeID="EM")  # BT-34 / BT-49
    address = x.add(element, "cac:PostalAddress")
    lines = party.address.lines
    if lines:
        x.add(address, "cbc:StreetName", lines[0])
    if len(lines) > 1:
        x.add(address, "cbc:AdditionalStreetName", lines[1])
    x.add_if(address, "cbc:CityName", party.address.city)
    x.add_if(address, "cbc:PostalZone", party.address.postal_code)
    x.add_if(address, "cbc:CountrySubentity", party.address.subdivision)
    if len(lines) > 2:
        x.add(x.add(address, "cac:AddressLine"), "cbc:Line", lines[2])
    x.add(x.add(address, "cac:Country"), "cbc:IdentificationCode", party.address.country_code)
    for company_id, scheme in ((party.vat_id, "VAT"), (party.tax_registration_id, "TAX")):
        if company_id:  # BT-31 / BT-48 (VAT), BT-32 (any other tax scheme)
            tax_scheme = x.add(element, "cac:PartyTaxScheme")
            x.add(tax_scheme, "cbc:CompanyID", company_id)
            x.add(x.add(tax_scheme, "cac:TaxScheme"), "cbc:ID", scheme)
    legal = x.add(element, "cac:PartyLegalEntity")
    x.add(legal, "cbc:RegistrationName", party.name)  # BT-27 / BT-44
    x.add_if(legal, "cbc:CompanyID", party.legal_registration_id)  # BT-30


def _tax_total(x: Builder, root: etree._Element, document: InvoiceDocument) -> None:
    currency = document.currency
    total = x.add(root, "cac:TaxTotal")
    x.add(total, "cbc:TaxAmount", amount(document.totals.vat_total), currencyID=currency)
    for part in document.vat_breakdown:  # BG-23
        subtotal = x.add(total, "cac:TaxSubtotal")
        x.add(subtotal, "cbc:TaxableAmount", amount(part.taxable_amount), currencyID=currency)
        x.add(subtotal, "cbc:TaxAmount", amount(part.tax_amount), currencyID=currency)
        category = x.add(subtotal, "cac:TaxCategory")
        x.add(category, "cbc:ID", part.category.value)  # BT-118
        x.add(category, "cbc:Percent", number(part.rate))  # BT-119
        x.add_if(category, "cbc:TaxExemptionReason", part.exemption_reason)  # BT-120
        x.add(x.add(category, "cac:TaxScheme"), "cbc:ID", "VAT")


def _monetary_total(x: Builder, root: etree._Element, document: InvoiceDocument) -> None:
    totals, currency = document.totals, document.currency
    monetary = x.add(root, "cac:LegalMonetaryTotal")
    for name, value in (
        ("cbc:LineExtensionAmount", totals.line_net_total),  # BT-106
        ("cbc:TaxExclusiveAmount", totals.total_without_vat),  # BT-109
        ("cbc:TaxInclusiveAmount", totals.total_with_vat),  # BT-112
    ):
        x.add(monetary, name, amount(value), currencyID=currency)
    if totals.prepaid:
        x.add(monetary, "cbc:PrepaidAmount", amount(totals.prepaid), currencyID=currency)
    x.add(monetary, "cbc:PayableAmount", amount(totals.amount_due), currencyID=currency)


def _line(
    x: Builder, root: etree._Element, line: DocumentLine, currency: str, is_credit: bool
) -> None:
    element = x.add(root, "cac:CreditNoteLine" if is_credit else "cac:InvoiceLine")
    x.add(element, "cbc:ID", line.line_id)  # BT-126
    quantity = "cbc:CreditedQuantity" if is_credit else "cbc:InvoicedQuantity"
    x.add(element, quantity, number(line.quantity), unitCode=line.unit_code)  # BT-129/130
    x.add(element, "cbc:LineExtensionAmount", amount(line.net_amount), currencyID=currency)
    if line.order_line_reference:
        x.add(x.add(element, "cac:OrderLineReference"), "cbc:LineID", line.order_line_reference)
    item = x.add(element, "cac:Item")
    x.add(item, "cbc:Name", line.description)  # BT-153
    category = x.add(item, "cac:ClassifiedTaxCategory")
    x.add(category, "cbc:ID", line.vat_category.value)  # BT-151
    x.add(category, "cbc:Percent", number(line.vat_rate))  # BT-152
    x.add(x.add(category, "cac:TaxScheme"), "cbc:ID", "VAT")
    price = x.add(element, "cac:Price")
    x.add(price, "cbc:PriceAmount", amount(line.net_price), currencyID=currency)  # BT-146
