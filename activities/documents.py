"""The documents an invoice and its credit notes are issued with: the PDF (a Factur-X
PDF/A-3 with the CII XML inside for a customer who asked for CII) and the UBL e-invoice
(Peppol BIS 3.0, for a customer who asked for UBL).

Each document is rendered once per version and stored: its bytes content-addressed (the
SHA-256 is the key and the checksum, also in the audit trail), a row saying what they are.
A retried delivery or a second download gets the stored file, never a new rendering; two
renderings racing keep the first one recorded. Used by the delivery step (the e-mail's
attachments) and by the API and the portal (downloads). Rendering is CPU work and runs in a
thread, so the event loop (heartbeats, other activities) keeps going.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog

from activities.customer_credits import credits_taken
from core.settings import Settings
from domain.documents import (
    BuyerDetails,
    InvoiceDocument,
    Party,
    SumRuleViolation,
    UnsupportedDocument,
    credit_note_document,
    invoice_document,
    seller_party,
    to_cii,
    to_ubl,
)
from domain.documents.codes import country_of_region
from domain.documents.model import PostalAddress
from integrations.evidence_storage import EvidenceStorage
from rendering.pdf import (
    CreditNoteFigures,
    PdfParty,
    render_credit_note_pdf,
    render_invoice_pdf,
    with_factur_x,
)
from schemas.dispute_tables import CreditNoteRow
from schemas.invoice import InvoiceSnapshot
from schemas.tables import Customer, Invoice
from store import documents, invoices
from store.db import SessionFactory, transaction

log = structlog.get_logger()

PDF = "application/pdf"
XML = "application/xml"
EInvoiceFormat = Literal["ubl", "cii"]


class DocumentUnavailable(Exception):
    """The document cannot be produced (no such invoice or credit note, not numbered yet,
    or an e-invoice its content does not fit: `code` and a message say which)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IssuedDocument:
    filename: str
    media_type: str
    content: bytes
    sha256: str


def buyer_details(customer: Customer | None, tax_region: str) -> BuyerDetails:
    """The customer record's address and VAT number as EN 16931 wants them (BG-8, BT-48):
    up to three address lines, the country from the invoice's tax region."""
    if customer is None or not customer.address:
        return BuyerDetails(vat_id=_vat_id(customer.tax_id if customer else None))
    lines = [line.strip() for line in customer.address.splitlines() if line.strip()]
    if len(lines) > 3:
        lines = [*lines[:2], ", ".join(lines[2:])]
    country, subdivision = country_of_region(tax_region)
    address = PostalAddress(lines=tuple(lines), country_code=country, subdivision=subdivision)
    return BuyerDetails(address=address, vat_id=_vat_id(customer.tax_id))


def printed_buyer(invoice: InvoiceSnapshot, customer: Customer | None) -> PdfParty:
    """The customer as a PDF prints them: the invoice's name and e-mail, the record's
    address and tax number."""
    return PdfParty.of(
        invoice.customer_name,
        customer.address if customer else None,
        customer.tax_id if customer else None,
        invoice.customer_email,
    )


def _vat_id(tax_id: str | None) -> str | None:
    """A tax number with a country prefix (GB123456789) is a VAT identifier; an ABN or a
    GST/HST number is printed on the PDF but is not one."""
    return tax_id if tax_id and tax_id[:2].isalpha() and tax_id[:2].isupper() else None


class DocumentIssuer:
    def __init__(self, sessions: SessionFactory, storage: EvidenceStorage, settings: Settings):
        self._sessions = sessions
        self._storage = storage
        s = settings
        self._seller_pdf = PdfParty.of(
            s.seller_name, s.seller_address, s.seller_tax_id, s.seller_email
        )
        self._settings = settings

    def _seller(self) -> Party:
        s = self._settings
        return seller_party(
            name=s.seller_name,
            address=s.seller_address,
            tax_id=s.seller_tax_id,
            email=s.seller_email,
        )

    # --- invoices --------------------------------------------------------------------------

    async def for_delivery(
        self, invoice: InvoiceSnapshot, customer: Customer | None
    ) -> list[IssuedDocument]:
        """What the invoice e-mail carries: the PDF (Factur-X when the customer asked for
        CII), and the UBL e-invoice when they asked for UBL. An e-invoice the invoice does
        not fit is left out (logged): the invoice still goes out, with its PDF."""
        issued = [await self.invoice_pdf(invoice, customer)]
        if customer is not None and customer.einvoice_format == "ubl":
            try:
                issued.append(await self.invoice_einvoice(invoice, customer, "ubl"))
            except DocumentUnavailable as unfit:
                log.warning(
                    "documents.einvoice_skipped", invoice_id=invoice.invoice_id, why=unfit.message
                )
        return issued

    async def invoice_pdf(
        self, invoice: InvoiceSnapshot, customer: Customer | None
    ) -> IssuedDocument:
        factur_x = customer is not None and customer.einvoice_format == "cii"
        buyer = printed_buyer(invoice, customer)

        def render() -> bytes:
            pdf = render_invoice_pdf(invoice, self._seller_pdf, buyer)
            if not factur_x:
                return pdf
            try:
                return with_factur_x(pdf, to_cii(self._invoice_model(invoice, customer)))
            except DocumentUnavailable as unfit:  # the PDF alone, rather than no invoice
                log.warning(
                    "documents.factur_x_skipped", invoice_id=invoice.invoice_id, why=unfit.message
                )
                return pdf

        return await self._ensure(
            invoice.invoice_id,
            invoice.invoice_id,
            "invoice_pdf",
            f"{invoice.number}.pdf",
            PDF,
            render,
        )

    async def invoice_einvoice(
        self, invoice: InvoiceSnapshot, customer: Customer | None, fmt: EInvoiceFormat
    ) -> IssuedDocument:
        model = self._invoice_model(invoice, customer)  # refuses before anything is stored
        serialize = to_ubl if fmt == "ubl" else to_cii
        return await self._ensure(
            invoice.invoice_id,
            invoice.invoice_id,
            f"invoice_{fmt}",
            f"{invoice.number}-{fmt}.xml",
            XML,
            lambda: serialize(model),
        )

    def _invoice_model(
        self, invoice: InvoiceSnapshot, customer: Customer | None
    ) -> InvoiceDocument:
        try:
            return invoice_document(
                invoice, seller=self._seller(), buyer=buyer_details(customer, invoice.tax_region)
            )
        except (UnsupportedDocument, SumRuleViolation, ValueError) as unfit:
            raise DocumentUnavailable("einvoice_unsupported", str(unfit)) from unfit

    async def load_invoice(self, invoice_id: str) -> tuple[InvoiceSnapshot, Customer | None]:
        """The numbered invoice as it was sent (with the account credit it took)."""
        async with transaction(self._sessions, writes=False) as session:
            row = await session.get(Invoice, invoice_id)
            if row is None:
                raise DocumentUnavailable("not_found", f"invoice {invoice_id} does not exist")
            if not (row.number and row.issue_date and row.due_date):
                raise DocumentUnavailable(
                    "not_issued", f"invoice {invoice_id} is not issued yet: it has no number"
                )
            snapshot = await invoices.snapshot(session, row)
            credits = await credits_taken(session, invoice_id)
            customer = await session.get(Customer, row.customer_id)
        return snapshot.model_copy(update={"credits_applied": credits}), customer

    # --- credit notes ----------------------------------------------------------------------

    async def credit_note(
        self, credit_note_id: str, fmt: Literal["pdf", "ubl", "cii"] = "pdf"
    ) -> IssuedDocument:
        async with transaction(self._sessions, writes=False) as session:
            note = await session.get(CreditNoteRow, credit_note_id)
        if note is None:
            raise DocumentUnavailable("not_found", f"credit note {credit_note_id} does not exist")
        invoice, customer = await self.load_invoice(note.invoice_id)
        buyer = buyer_details(customer, invoice.tax_region)
        try:
            model = credit_note_document(note, invoice, seller=self._seller(), buyer=buyer)
        except (UnsupportedDocument, SumRuleViolation, ValueError) as unfit:
            raise DocumentUnavailable("einvoice_unsupported", str(unfit)) from unfit
        if fmt != "pdf":
            serialize = to_ubl if fmt == "ubl" else to_cii
            return await self._ensure(
                note.id,
                note.invoice_id,
                f"credit_note_{fmt}",
                f"{note.number}-{fmt}.xml",
                XML,
                lambda: serialize(model),
            )
        printed = printed_buyer(invoice, customer)
        figures = CreditNoteFigures(reason=note.reason, settlement=note.settlement, invoice=invoice)
        return await self._ensure(
            note.id,
            note.invoice_id,
            "credit_note_pdf",
            f"{note.number}.pdf",
            PDF,
            lambda: render_credit_note_pdf(model, figures, self._seller_pdf, printed),
        )

    # --- stored once -----------------------------------------------------------------------

    async def _ensure(
        self,
        subject_id: str,
        invoice_id: str,
        kind: str,
        filename: str,
        media_type: str,
        render: Callable[[], bytes],
    ) -> IssuedDocument:
        async with transaction(self._sessions, writes=False) as session:
            row = await documents.find(session, subject_id, kind)
        if row is not None:
            content = await self._storage.get(row.sha256)
            return IssuedDocument(row.filename, row.media_type, content, row.sha256)
        content = await asyncio.to_thread(render)
        blob = await self._storage.put(content)
        async with transaction(self._sessions) as session:
            row = await documents.record(
                session,
                subject_id=subject_id,
                invoice_id=invoice_id,
                kind=kind,
                media_type=media_type,
                filename=filename,
                sha256=blob.sha256,
                size=blob.size,
                at=datetime.now(UTC),
            )
        if row.sha256 != blob.sha256:  # a concurrent rendering was recorded first
            content = await self._storage.get(row.sha256)
        return IssuedDocument(row.filename, row.media_type, content, row.sha256)
