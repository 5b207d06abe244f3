"""The PDF of an invoice or a credit note, as tax authorities want it on paper: seller and
customer with addresses and tax numbers, number, issue date and date of supply, lines,
tax per rate, totals, in the customer's locale. One HTML template per document type
(``invoice_pdf.html``, ``credit_note_pdf.html`` on ``document_base.html``), printed by
WeasyPrint as PDF/A-3b, the archival profile Factur-X builds on: for a customer who asked
for CII, `with_factur_x` embeds the EN 16931 XML in the same file.

Wording per tax region: "Tax invoice" in Australia (the ATO's requirement for a GST
invoice) and New Zealand, "Invoice" elsewhere; an Australian credit note is an
"Adjustment note". The date of supply is the issue date (the tax point: InvoiceFlow bills
work at issue). Pure: no I/O but the fonts WeasyPrint reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import facturx
import structlog
import weasyprint
from babel.support import NullTranslations
from weasyprint.text.fonts import FontConfiguration

from domain.documents import InvoiceDocument
from domain.money import exponent
from rendering.formatting import Formats
from rendering.i18n import N_, babel_locale, environment
from schemas.invoice import InvoiceSnapshot

log = structlog.get_logger()

TAX_NUMBER_LABELS = {
    "GB": N_("VAT registration number"),
    "AU": N_("ABN"),
    "NZ": N_("GST number"),
    "CA": N_("GST/HST registration number"),
}
TAX_NUMBER = N_("Tax number")  # elsewhere
CREDIT_REASONS = {
    "duplicate_charge": N_("Duplicate charge"),
    "product_unsatisfactory": N_("Product or service unsatisfactory"),
    "order_change": N_("Order change"),
    "order_cancellation": N_("Order cancellation"),
    "fraudulent_charge": N_("Fraudulent charge"),
    "other": N_("Other"),
}
SETTLEMENTS = {
    "balance": N_("Taken off the balance of the invoice."),
    "refund": N_("Refunded to the payment method used."),
    "customer_credit": N_("Kept as credit on your account for your next invoices."),
}


@dataclass(frozen=True)
class PdfParty:
    """A party as printed: name, address lines, tax number, e-mail."""

    name: str
    address_lines: list[str] = field(default_factory=list)
    tax_id: str | None = None
    email: str | None = None

    @classmethod
    def of(cls, name: str, address: str | None, tax_id: str | None, email: str | None) -> PdfParty:
        lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
        return cls(name, lines, tax_id, email)


@dataclass(frozen=True)
class CreditNoteFigures:
    """What a credit note's PDF states beyond its EN 16931 document (which has the split
    of its amount per tax rate): why it was issued and what happens to the money."""

    reason: str
    settlement: str
    invoice: InvoiceSnapshot


def _country(tax_region: str) -> str:
    return tax_region.split("-", 1)[0]


def _context(
    formats: Formats, t: NullTranslations, region: str, seller: PdfParty, buyer: PdfParty
) -> dict[str, Any]:
    country = _country(region)
    return {
        **formats.context(),
        "seller": seller,
        "buyer": buyer,
        "tax_number_label": t.gettext(TAX_NUMBER_LABELS.get(country, TAX_NUMBER)),
        "tax_invoice": country in ("AU", "NZ"),
        "country": country,
    }


# One font configuration for the process: WeasyPrint makes a new one (a fontconfig and
# Pango font map, never freed) per document unless given one, which grew a worker by about
# 0.25 MiB per PDF (bench/documents.py). Pango's font map is not thread-safe, and documents
# render in threads (`asyncio.to_thread`), so one document renders at a time; rendering is
# CPU under the GIL anyway.
_FONTS: FontConfiguration | None = None
_RENDERING = threading.Lock()
# Where PDFs are printed: in processes of their own once the worker asked for them
# (`print_in_processes`), else here. WeasyPrint is CPU under the GIL: in the worker's own
# process each PDF (~0.1 s) took the core its workflows and activities need.
_POOL: ProcessPoolExecutor | None = None


def print_in_processes(processes: int) -> ProcessPoolExecutor | None:
    """From now on print PDFs in `processes` processes (spawned: the worker has threads
    and an event loop a fork would copy); 0 keeps printing in this one. The caller shuts
    the pool down."""
    global _POOL
    _POOL = None
    if processes > 0:
        _POOL = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_follow_parent,
            initargs=(os.getpid(),),
        )
    return _POOL


def _follow_parent(parent_pid: int) -> None:
    """A printing process ends with the worker that started it, even one killed with
    SIGKILL (which no pool shutdown sees): Linux's parent-death signal, and a watch on the
    parent's pid where that is not available."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def _pdf(html: str) -> bytes:
    pool = _POOL
    if pool is not None:
        try:
            return pool.submit(print_pdf, html).result()
        except BrokenProcessPool:  # a printing process died: print here, and go on
            log.exception("pdf.printing_process_lost")
    return print_pdf(html)


def print_pdf(html: str) -> bytes:
    """The HTML printed as PDF/A-3b, in this process."""
    global _FONTS
    with _RENDERING:
        if _FONTS is None:
            _FONTS = FontConfiguration()
        document = weasyprint.HTML(string=html)
        return bytes(document.write_pdf(pdf_variant="pdf/a-3b", font_config=_FONTS))


def render_invoice_pdf(invoice: InvoiceSnapshot, seller: PdfParty, buyer: PdfParty) -> bytes:
    """The invoice as a PDF/A-3b file, in the customer's locale."""
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    t = formats.translations
    context = _context(formats, t, invoice.tax_region, seller, buyer)
    html = (
        environment(locale)
        .get_template("invoice_pdf.html")
        .render(invoice=invoice, supply_date=invoice.issue_date, **context)
    )
    return _pdf(html)


def render_credit_note_pdf(
    document: InvoiceDocument,
    figures: CreditNoteFigures,
    seller: PdfParty,
    buyer: PdfParty,
) -> bytes:
    """A credit note as a PDF/A-3b file: its amount split per tax rate as its e-invoice
    states it (`domain.documents.credit_split`), the invoice it credits, its reason."""
    invoice = figures.invoice
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    t = formats.translations
    digits = exponent(invoice.currency)

    def minor(amount: Decimal) -> int:
        return int(amount.scaleb(digits))

    rows = [
        {
            "rate": part.rate / 100,
            "net_minor": minor(part.taxable_amount),
            "tax_minor": minor(part.tax_amount),
            "gross_minor": minor(part.taxable_amount + part.tax_amount),
        }
        for part in document.vat_breakdown
    ]
    html = (
        environment(locale)
        .get_template("credit_note_pdf.html")
        .render(
            note=document,
            rows=rows,
            net_minor=minor(document.totals.total_without_vat),
            tax_minor=minor(document.totals.vat_total),
            total_minor=minor(document.totals.total_with_vat),
            reason=t.gettext(CREDIT_REASONS.get(figures.reason, CREDIT_REASONS["other"])),
            settlement=t.gettext(SETTLEMENTS.get(figures.settlement, SETTLEMENTS["balance"])),
            invoice=invoice,
            tax_name=(invoice.tax_lines[0].name if invoice.tax_lines else "VAT"),
            **_context(formats, t, invoice.tax_region, seller, buyer),
        )
    )
    return _pdf(html)


def with_factur_x(pdf: bytes, cii_xml: bytes) -> bytes:
    """The PDF/A-3 with its CII XML embedded as ``factur-x.xml`` (profile EN 16931), the
    XMP metadata Factur-X readers look for, by the `factur-x` package."""
    out = facturx.generate_from_binary(
        pdf, cii_xml, flavor="factur-x", level="en16931", check_xsd=True, pdf_metadata=None
    )
    return bytes(out)
