"""PO matching: an invoice against its purchase order (2-way) and the delivery records
(3-way), with tolerances, duplicate detection and what issuing it consumes.

Pure and deterministic (dates are arguments), so the match stage of the invoice workflow
calls it directly. `model` holds the values; `match` the matcher (with `quantities`,
`amounts` and `limits`); `duplicates` the duplicate check and the line keys the store
records for it.
"""

from domain.matching.duplicates import invoice_line_keys, line_key, possible_duplicates
from domain.matching.match import match_invoice
from domain.matching.model import (
    Consumption,
    InvoiceToMatch,
    LineToMatch,
    LineVariance,
    MatchMode,
    MatchOutcome,
    MatchReason,
    MatchReasonCode,
    MatchResult,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    RecentInvoice,
    Tolerances,
)
from domain.matching.text import quantity_text

__all__ = [
    "Consumption",
    "InvoiceToMatch",
    "LineToMatch",
    "LineVariance",
    "MatchMode",
    "MatchOutcome",
    "MatchReason",
    "MatchReasonCode",
    "MatchResult",
    "POStatus",
    "PurchaseOrderLine",
    "PurchaseOrderSnapshot",
    "RecentInvoice",
    "Tolerances",
    "invoice_line_keys",
    "line_key",
    "match_invoice",
    "possible_duplicates",
    "quantity_text",
]
