"""UN/CEFACT CII (CrossIndustryInvoice D16B) serialization of an `InvoiceDocument`, at the
Factur-X EN 16931 profile (guideline `urn:cen.eu:en16931:2017`).

The same model as `domain.documents.ubl`, so the two syntaxes of one document agree term by
term. CII writes an invoice and a credit note alike (only BT-3 differs, 381 for a credit
note), with positive amounts in both. Elements are written in the order the Factur-X
EN 16931 XSD declares. This XML is what the `factur-x` package embeds in a PDF/A-3.
"""

from __future__ import annotations

from lxml import etree

from domain.documents.model import DocumentLine, InvoiceDocument, Party
from domain.documents.xml import Builder, amount, compact_date, number, serialize

GUIDELINE_ID = "urn:cen.eu:en16931:2017"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"


def to_cii(document: InvoiceDocument) -> bytes:
    """The CII CrossIndustryInvoice of `document`, UTF-8 encoded."""
    x = Builder({"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT})
    root = x.root("rsm:CrossIndustryInvoice")

    context = x.add(root, "rsm:ExchangedDocumentContext")
    guideline = x.add(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    x.add(guideline, "ram:ID", GUIDELINE_ID)  # BT-24

    header = x.add(root, "rsm:ExchangedDocument")
    x.add(header, "ram:ID", document.number)  # BT-1
    x.add(header, "ram:TypeCode", document.document_type.value)  # BT-3
    issued = x.add(header, "ram:IssueDateTime")
    x.add(issued, "udt:DateTimeString", compact_date(document.issue_date), format="102")
    if document.note:
        x.add(x.add(header, "ram:IncludedNote"), "ram:Content", document.note)  # BT-22

    transaction = x.add(root, "rsm:SupplyChainTradeTransaction")
    for line in document.lines:
        _line(x, transaction, line)
    _agreement(x, transaction, document)
    x.add(transaction, "ram:ApplicableHeaderTradeDelivery")
    _settlement(x, transaction, document)
    return serialize(root)


def _line(x: Builder, transaction: etree._Element, line: DocumentLine) -> None:
    item = x.add(transaction, "ram:IncludedSupplyChainTradeLineItem")  # BG-25
    x.add(x.add(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.line_id)
    x.add(x.add(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)  # BT-153
    agreement = x.add(item, "ram:SpecifiedLineTradeAgreement")
    if line.order_line_reference:  # BT-132
        order = x.add(agreement, "ram:BuyerOrderReferencedDocument")
        x.add(order, "ram:LineID", line.order_line_reference)
    price = x.add(agreement, "ram:NetPriceProductTradePrice")
    x.add(price, "ram:ChargeAmount", amount(line.net_price))  # BT-146
    delivery = x.add(item, "ram:SpecifiedLineTradeDelivery")
    x.add(delivery, "ram:BilledQuantity", number(line.quantity), unitCode=line.unit_code)
    settlement = x.add(item, "ram:SpecifiedLineTradeSettlement")
    tax = x.add(settlement, "ram:ApplicableTradeTax")
    x.add(tax, "ram:TypeCode", "VAT")
    x.add(tax, "ram:CategoryCode", line.vat_category.value)  # BT-151
    x.add(tax, "ram:RateApplicablePercent", number(line.vat_rate))  # BT-152
    summation = x.add(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    x.add(summation, "ram:LineTotalAmount", amount(line.net_amount))  # BT-131


def _agreement(x: Builder, transaction: etree._Element, document: InvoiceDocument) -> None:
    agreement = x.add(transaction, "ram:ApplicableHeaderTradeAgreement")
    x.add_if(agreement, "ram:BuyerReference", document.buyer_reference)  # BT-10
    _party(x, x.add(agreement, "ram:SellerTradeParty"), document.seller)  # BG-4
    _party(x, x.add(agreement, "ram:BuyerTradeParty"), document.buyer)  # BG-7
    if document.order_reference:  # BT-13
        order = x.add(agreement, "ram:BuyerOrderReferencedDocument")
        x.add(order, "ram:IssuerAssignedID", document.order_reference)


def _party(x: Builder, element: etree._Element, party: Party) -> None:
    x.add(element, "ram:Name", party.name)  # BT-27 / BT-44
    if party.legal_registration_id:  # BT-30
        legal = x.add(element, "ram:SpecifiedLegalOrganization")
        x.add(legal, "ram:ID", party.legal_registration_id)
    address = x.add(element, "ram:PostalTradeAddress")
    x.add_if(address, "ram:PostcodeCode", party.address.postal_code)
    for name, text in zip(
        ("ram:LineOne", "ram:LineTwo", "ram:LineThree"), party.address.lines, strict=False
    ):
        x.add(address, name, text)
    x.add_if(address, "ram:CityName", party.address.city)
    x.add(address, "ram:CountryID", party.address.country_code)
    x.add_if(address, "ram:CountrySubDivisionName", party.address.subdivision)
    if party.email:  # BT-34 / BT-49
        communication = x.add(element, "ram:URIUniversalCommunication")
        x.add(communication, "ram:URIID", party.email, schemeID="EM")
    for tax_id, scheme in ((party.vat_id, "VA"), (party.tax_registration_id, "FC")):
        if tax_id:  # BT-31 / BT-48 (VA), BT-32 (FC)
            registration = x.add(element, "ram:SpecifiedTaxRegistration")
            x.add(registration, "ram:ID", tax_id, schemeID=scheme)


def _settlement(x: Builder, transaction: etree._Element, document: InvoiceDocument) -> None:
    settlement = x.add(transaction, "ram:ApplicableHeaderTradeSettlement")
    x.add(settlement, "ram:InvoiceCurrencyCode", document.currency)  # BT-5
    for part in document.vat_breakdown:  # BG-23
        tax = x.add(settlement, "ram:ApplicableTradeTax")
        x.add(tax, "ram:CalculatedAmount", amount(part.tax_amount))  # BT-117
        x.add(tax, "ram:TypeCode", "VAT")
        x.add_if(tax, "ram:ExemptionReason", part.exemption_reason)  # BT-120
        x.add(tax, "ram:BasisAmount", amount(part.taxable_amount))  # BT-116
        x.add(tax, "ram:CategoryCode", part.category.value)  # BT-118
        x.add(tax, "ram:RateApplicablePercent", number(part.rate))  # BT-119
    if document.payment_terms or document.due_date:
        terms = x.add(settlement, "ram:SpecifiedTradePaymentTerms")
        x.add_if(terms, "ram:Description", document.payment_terms)  # BT-20
        if document.due_date is not None:  # BT-9
            due = x.add(terms, "ram:DueDateDateTime")
            x.add(due, "udt:DateTimeString", compact_date(document.due_date), format="102")
    _totals(x, settlement, document)
    if document.preceding_invoice is not None:  # BG-3
        reference = x.add(settlement, "ram:InvoiceReferencedDocument")
        x.add(reference, "ram:IssuerAssignedID", document.preceding_invoice.number)  # BT-25
        issued = x.add(reference, "ram:FormattedIssueDateTime")  # BT-26
        date = compact_date(document.preceding_invoice.issue_date)
        x.add(issued, "qdt:DateTimeString", date, format="102")


def _totals(x: Builder, settlement: etree._Element, document: InvoiceDocument) -> None:
    totals = document.totals
    summation = x.add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    x.add(summation, "ram:LineTotalAmount", amount(totals.line_net_total))  # BT-106
    x.add(summation, "ram:TaxBasisTotalAmount", amount(totals.total_without_vat))  # BT-109
    vat_total = amount(totals.vat_total)
    x.add(summation, "ram:TaxTotalAmount", vat_total, currencyID=document.currency)  # BT-110
    x.add(summation, "ram:GrandTotalAmount", amount(totals.total_with_vat))  # BT-112
    if totals.prepaid:
        x.add(summation, "ram:TotalPrepaidAmount", amount(totals.prepaid))  # BT-113
    x.add(summation, "ram:DuePayableAmount", amount(totals.amount_due))  # BT-115
