"""The customer portal's invoice page: the invoice as a business sends it.

Seller and customer, number, dates and PO, the lines with their unit prices, a line per
tax rate, the payments and credit notes, the balance and the due date, the status (with
``Disputed`` while a dispute is open), the **Pay** button while something is due, and the
invoice's disputes. Everything in the customer's locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.portal_labels import STATUSES, label
from api.portal_pages import Portal
from schemas.credit_tables import CreditApplicationRow, CustomerCreditRow
from schemas.dispute_tables import CreditNoteRow, DisputeRow
from schemas.disputes import OPEN_DISPUTE_STATUSES
from schemas.invoice import OPEN_STATUSES
from schemas.tables import Invoice
from store import queries

# statuses in which the customer may still dispute (an open dispute makes it DISPUTED)
DISPUTABLE_STATUSES = frozenset({s.value for s in OPEN_STATUSES} | {"DISPUTED"})


@dataclass(frozen=True)
class ListedDispute:
    dispute_id: str
    number: str
    status: str
    status_words: str
    opened_at: datetime
    disputed_minor: int
    original_amount_minor: int

    @property
    def open(self) -> bool:
        return self.status in OPEN_DISPUTE_STATUSES


async def invoice_disputes(
    session: AsyncSession, portal: Portal, invoice_id: str
) -> list[ListedDispute]:
    rows = await session.exec(
        select(DisputeRow)
        .where(DisputeRow.invoice_id == invoice_id)
        .order_by(col(DisputeRow.opened_at), col(DisputeRow.number))
    )
    t = portal.t
    return [
        ListedDispute(
            dispute_id=row.id,
            number=row.number,
            status=row.status,
            status_words=label(STATUSES, row.status, t),
            opened_at=row.opened_at,
            disputed_minor=row.disputed_minor,
            original_amount_minor=row.original_amount_minor,
        )
        for row in rows
    ]


async def invoice_credit_notes(session: AsyncSession, invoice_id: str) -> list[dict[str, Any]]:
    rows = await session.exec(
        select(CreditNoteRow)
        .where(CreditNoteRow.invoice_id == invoice_id)
        .order_by(col(CreditNoteRow.created_at), col(CreditNoteRow.number))
    )
    return [row.model_dump() for row in rows]


async def invoice_credits_applied(session: AsyncSession, invoice_id: str) -> list[dict[str, Any]]:
    """Credit from the customer's account taken off this invoice, by credit note (or by
    the invoice an overpayment was made on: `source` "overpayment")."""
    rows = await session.exec(
        select(CreditApplicationRow, CreditNoteRow.number, CustomerCreditRow.source, Invoice.number)
        .join(CustomerCreditRow, col(CustomerCreditRow.id) == col(CreditApplicationRow.credit_id))
        .join(Invoice, col(Invoice.id) == col(CustomerCreditRow.invoice_id))
        .outerjoin(CreditNoteRow, col(CreditNoteRow.id) == col(CreditApplicationRow.credit_note_id))
        .where(CreditApplicationRow.invoice_id == invoice_id)
        .order_by(col(CreditApplicationRow.applied_at), col(CreditApplicationRow.id))
    )
    return [
        {
            "number": (invoice_number if source == "overpayment" else note_number) or "",
            "source": source,
            "amount_minor": row.amount_minor,
        }
        for row, note_number, source, invoice_number in rows
    ]


def badges(
    portal: Portal, overdue: bool, balance_minor: int, disputed: bool
) -> list[dict[str, str]]:
    """The status pills: the invoice's status (Overdue when it is), Disputed while a
    dispute is open, Void once a corrected invoice replaced it."""
    invoice, formats, t = portal.invoice, portal.formats, portal.t
    shown: list[dict[str, str]] = []
    if invoice.voided_at is not None:
        return [{"css": "void", "text": str(t.pgettext("invoice status", "Void"))}]
    if invoice.status != "DISPUTED":
        if overdue:
            shown.append({"css": "overdue", "text": formats.status_label("OVERDUE")})
        else:
            css = "paid" if balance_minor <= 0 else ""
            shown.append({"css": css, "text": formats.status_label(invoice.status)})
    if disputed or invoice.status == "DISPUTED":
        shown.append({"css": "disputed", "text": str(t.pgettext("invoice status", "Disputed"))})
    return shown


def render_invoice_page(
    portal: Portal,
    lines: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    today: date,
    *,
    credit_notes: list[dict[str, Any]] | None = None,
    credits_applied: list[dict[str, Any]] | None = None,
    disputes: list[ListedDispute] | None = None,
    done: str | None = None,
) -> str:
    """The invoice page's HTML. `credit_notes`, `credits_applied` (account credit taken
    off it) and `disputes` get rows or a section only when there are any."""
    invoice = portal.invoice
    out = queries.invoice_out(invoice, today)
    disputes = disputes or []
    open_disputes = [d for d in disputes if d.open]
    disputed_minor = sum(d.disputed_minor for d in open_disputes)
    balance = max(out.balance_minor, 0)
    tax_lines = [{**line, "rate": Decimal(str(line["rate"]))} for line in invoice.tax_lines]
    live = invoice.voided_at is None and invoice.status in DISPUTABLE_STATUSES
    response = portal.render(
        "portal_invoice.html",
        invoice=out,
        customer=portal.customer,
        lines=lines,
        tax_lines=tax_lines,
        payments=[p for p in payments if p["currency"] == invoice.currency],
        credit_notes=credit_notes or [],
        credits_applied=credits_applied or [],
        credit_carried_minor=invoice.credit_carried_minor,
        written_off_minor=invoice.written_off_minor,
        balance_minor=balance,
        disputed_minor=min(disputed_minor, balance),
        badges=badges(portal, out.overdue, balance, bool(open_disputes)),
        can_pay=live and balance > 0 and bool(invoice.payment_url),
        can_dispute=live and balance > disputed_minor,
        disputes=disputes,
        done=done,
    )
    return bytes(response.body).decode()
