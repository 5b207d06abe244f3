"""Possible duplicates: an invoice that looks like one already issued to the customer.

Two rules, either enough, both only for an invoice of the same customer, currency and total
issued within the window (days between the two issue dates, either way, at most
`window_days`):

- the same PO number and the same non-empty external reference (the customer's own
  reference for the purchase); this applies whether or not the customer requires a PO;
- the same lines: the same multiset of line keys (item code, or description for a line
  without one; quantity as `quantity_text`; unit price), whatever their order.

The window bounds both rules, not only the second: a customer that quotes one contract
reference on every monthly invoice would otherwise see each month flagged. A credit note is
never a duplicate nor the original of one (it reverses an invoice, and matches its figures
by design). Nor is the invoice an adjusted invoice replaces (`replaces_invoice_id`): the
replacement takes the original's place, and the original is voided alongside, so the two
look alike by design when the adjustment changes only the due date, the PO number or the
address. Texts (PO number, reference, item or description) are compared trimmed and
case-insensitively.

Which earlier invoices are candidates at all is the caller's: the match stage's load
(`activities.matching`) leaves out an invoice never sent (pending, rejected, cancelled)
and a VOID one, since neither is owed: a new invoice billing what a voided one billed
bills it once.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal

from domain.matching.model import (
    InvoiceToMatch,
    LineToMatch,
    MatchReason,
    MatchReasonCode,
    RecentInvoice,
)
from domain.matching.text import amount_text, quantity_text

LineKey = tuple[str, str, int]


def line_key(
    item_code: str | None, description: str, quantity: Decimal, unit_price_minor: int
) -> LineKey:
    """The key a line is compared by; the store builds `RecentInvoice.line_keys` with it."""
    return (_text(item_code or description), quantity_text(quantity), unit_price_minor)


def invoice_line_keys(lines: Sequence[LineToMatch]) -> tuple[LineKey, ...]:
    """An invoice's line keys, sorted, so two invoices with the same lines in another order
    compare equal."""
    return tuple(
        sorted(
            line_key(line.item_code, line.description, line.quantity, line.unit_price_minor)
            for line in lines
        )
    )


def possible_duplicates(
    invoice: InvoiceToMatch, recent: Sequence[RecentInvoice], window_days: int
) -> tuple[MatchReason, ...]:
    """One POSSIBLE_DUPLICATE reason per earlier invoice that looks like `invoice`, in the
    order of `recent` (never `invoice` itself nor the invoice it replaces: both skipped)."""
    if invoice.is_credit_note:
        return ()
    keys: tuple[LineKey, ...] | None = None  # built on the first candidate only
    po_number = _text(invoice.po_number)
    reference = _text(invoice.external_ref)
    reasons: list[MatchReason] = []
    for other in recent:
        if (
            other.invoice_id in (invoice.invoice_id, invoice.replaces_invoice_id)
            or other.is_credit_note
            or other.customer_id != invoice.customer_id
            or other.currency != invoice.currency
            or other.total_minor != invoice.total_minor
        ):
            continue
        days_apart = abs((invoice.issue_date - other.issue_date).days)
        if days_apart > window_days:
            continue
        same_reference = bool(
            po_number
            and reference
            and _text(other.po_number) == po_number
            and _text(other.external_ref) == reference
        )
        if keys is None:
            keys = invoice_line_keys(invoice.lines)
        same_lines = bool(keys) and _normalized(other.line_keys) == keys
        if same_reference or same_lines:
            reasons.append(_reason(invoice, other, same_reference, days_apart))
    return tuple(reasons)


def _reason(
    invoice: InvoiceToMatch, other: RecentInvoice, same_reference: bool, days_apart: int
) -> MatchReason:
    total = amount_text(invoice.total_minor, invoice.currency)
    if same_reference:
        same = f"same PO {invoice.po_number} and reference {invoice.external_ref}, total {total}"
    else:
        same = f"same lines and total {total}"
    name = (
        f"invoice {other.number} ({other.invoice_id})"
        if other.number
        else f"invoice {other.invoice_id}"
    )
    apart = (
        "the same day"
        if days_apart == 0
        else f"{days_apart} day{'s' if days_apart != 1 else ''} apart"
    )
    return MatchReason(
        code=MatchReasonCode.POSSIBLE_DUPLICATE,
        detail=f"possibly a duplicate of {name} of {other.issue_date.isoformat()}: {same}, {apart}",
    )


def _normalized(keys: Sequence[LineKey]) -> tuple[LineKey, ...]:
    """Keys as the store gave them, normalized as `line_key` does, so a key built by older
    code ("1.50", "Consulting ") still compares."""
    return tuple(sorted((_text(text), _quantity(qty), price) for text, qty, price in keys))


def _quantity(text: str) -> str:
    try:
        return quantity_text(Decimal(text.strip()))
    except (decimal.InvalidOperation, ValueError):
        return text.strip()


def _text(value: str | None) -> str:
    return (value or "").strip().casefold()
