"""The PDFs read right in each supported locale, with what a tax invoice needs: the text
pypdf extracts from the generated file (not the HTML) carries the number, the dates and
amounts in the locale's formats, the region's tax-number label and wording ("Tax invoice"
in AU and NZ, an AU credit note an "Adjustment note"), tax per rate and the totals."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from domain.documents import credit_note_document
from rendering.pdf import (
    CreditNoteFigures,
    PdfParty,
    print_in_processes,
    render_credit_note_pdf,
    render_invoice_pdf,
)
from schemas.customer_credit import AppliedCredit
from schemas.invoice import InvoiceSnapshot
from tests.documents.samples import CA_SELLER, au_gst, ca_hst, credit_note, uk_standard

SELLER = PdfParty.of("Harbour Digital Ltd", "1 Quay Street\nAuckland 1010", "123-456-789", None)
BUYER = PdfParty.of("ACME Ltd", "22 George Street\nBrisbane QLD 4000", "53 004 085 616", None)


def text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    pages = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(pages.split())  # words as read, whatever the layout's line breaks


def in_locale(invoice: InvoiceSnapshot, locale: str, region: str | None = None) -> InvoiceSnapshot:
    return invoice.model_copy(
        update={"customer_locale": locale, **({"tax_region": region} if region else {})}
    )


@pytest.mark.parametrize(
    ("locale", "region", "expected"),
    [
        ("en_GB", "GB", ["Invoice", "VAT registration number: 123-456-789", "2 March 2026"]),
        ("en_AU", "AU", ["Tax invoice", "ABN: 123-456-789", "2 March 2026", "$2,583.75"]),
        ("en_NZ", "NZ", ["Tax invoice", "GST number: 123-456-789", "2 March 2026"]),
        ("en_CA", "CA-ON", ["Invoice", "GST/HST registration number", "March 2, 2026"]),
        ("fr_CA", "CA-ON", ["Facture", "TPS/TVH", "2 mars 2026", "2\u00a0583,75\u00a0$"]),
    ],
)
def test_each_locale_has_its_formats_labels_and_wording(
    locale: str, region: str, expected: list[str]
) -> None:
    # the AU sample (GST 10% on 712.50, an input-taxed 1,800.00), printed for each market
    invoice = in_locale(au_gst(), locale, region)
    found = text(render_invoice_pdf(invoice, SELLER, BUYER)).replace(" ", "\u00a0")
    for words in expected:
        assert words.replace(" ", "\u00a0") in found, (words, found)
    assert "INV-2026-0042" in found
    if locale != "en_AU" and region not in ("AU", "NZ"):
        assert "Tax\u00a0invoice" not in found


def test_tax_per_rate_credit_taken_and_the_amount_due() -> None:
    credit = AppliedCredit(
        credit_note_id="cn_1", credit_note_number="CN-2026-0003", amount_minor=5_000
    )
    invoice = uk_standard().model_copy(update={"credits_applied": [credit]})
    found = text(render_invoice_pdf(invoice, SELLER, BUYER))
    rates = {f"{line.rate * 100:.0f}%" for line in invoice.tax_lines}
    for rate in rates:
        assert f"VAT at {rate} on £" in found
    assert "Credit from credit note CN-2026-0003 −£50.00" in found
    due = invoice.total_minor - 5_000
    assert f"Amount due £{due // 100:,}.{due % 100:02d}" in found
    assert "Date of supply" in found and "PO-7781" in found


def test_a_credit_note_states_its_invoice_reason_split_and_where_the_money_goes() -> None:
    invoice = ca_hst()
    note = credit_note(invoice, 11_300, "CN-2026-0009").model_copy(
        update={"reason": "order_change", "settlement": "refund"}
    )
    model = credit_note_document(note, invoice, seller=CA_SELLER)
    figures = CreditNoteFigures(reason=note.reason, settlement=note.settlement, invoice=invoice)
    found = text(render_credit_note_pdf(model, figures, SELLER, BUYER))
    for words in (
        "Credit note",
        "CN-2026-0009",
        "Credits invoice INV-2026-0042",
        "Order change",
        "Total credited CA$113.00",
        "Refunded to the payment method used.",
    ):
        assert words in found, (words, found)
    au = au_gst()
    au_note = credit_note(au, 1_000, "CN-2026-0010")
    au_model = credit_note_document(au_note, au, seller=CA_SELLER)
    au_figures = CreditNoteFigures(reason="other", settlement="balance", invoice=au)
    assert "Adjustment note" in text(render_credit_note_pdf(au_model, au_figures, SELLER, BUYER))


def test_pdfs_print_the_same_in_a_process_of_their_own() -> None:
    """The worker prints in a spawned process (off its own core); the file reads the same."""
    invoice = uk_standard()
    pool = print_in_processes(1)
    try:
        assert pool is not None
        found = text(render_invoice_pdf(invoice, SELLER, BUYER))
        assert pool._processes  # the printing ran in the pool's process  # noqa: SLF001
    finally:
        print_in_processes(0)
        if pool is not None:
            pool.shutdown()
    assert "INV-2026-0042" in found and found == text(render_invoice_pdf(invoice, SELLER, BUYER))
