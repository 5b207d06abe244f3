"""Structured e-invoices: one EN 16931 model of an invoice or credit note, two syntaxes.

The entry points, all pure:

- `invoice_document(invoice, seller=..., buyer=None) -> InvoiceDocument` for a numbered
  invoice (an `InvoiceSnapshot`);
- `credit_note_document(credit_note, invoice, seller=..., buyer=None) -> InvoiceDocument`
  for a credit note (a `CreditNoteRow`) on that invoice;
- `seller_party(name=..., address=..., tax_id=..., email=...) -> Party` from the
  `seller_*` settings;
- `to_ubl(document) -> bytes` (UBL 2.1, Peppol BIS Billing 3.0) and
  `to_cii(document) -> bytes` (CII, Factur-X EN 16931 profile: the XML the `factur-x`
  package embeds in a PDF/A-3).
"""

from domain.documents.build import (
    BuyerDetails,
    UnsupportedDocument,
    credit_note_document,
    invoice_document,
    seller_party,
)
from domain.documents.cii import to_cii
from domain.documents.model import InvoiceDocument, Party, SumRuleViolation
from domain.documents.ubl import to_ubl

__all__ = [
    "BuyerDetails",
    "InvoiceDocument",
    "Party",
    "SumRuleViolation",
    "UnsupportedDocument",
    "credit_note_document",
    "invoice_document",
    "seller_party",
    "to_cii",
    "to_ubl",
]
