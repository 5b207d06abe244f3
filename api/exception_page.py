"""What the exception review page shows, in words and formatted figures: built from the
same `ExceptionDetail` the JSON API answers (`api.exception_view`), so the page and the
API never disagree about a line.

Staff-facing and in English (en_GB formats); every string the template shows is made
here or in the template, nothing is computed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_datetime, format_timedelta

from domain.errors import UnsupportedCurrency
from domain.matching.model import MatchReason, MatchReasonCode
from domain.matching.text import amount_text, quantity_text
from rendering.formatting import money
from rendering.i18n import babel_locale, translations
from rendering.labels import quantity_with_unit, status_label
from schemas.exception_api import ExceptionDetail, LineComparison, POLineSide
from workflows.stages.match import MUST_FIX

LOCALE = babel_locale("en_GB")

REASON_LABELS: dict[MatchReasonCode, str] = {
    MatchReasonCode.PRICE_VARIANCE: "Price differs from the PO",
    MatchReasonCode.QUANTITY_OVER_ORDERED: "More than was ordered",
    MatchReasonCode.QUANTITY_OVER_RECEIVED: "More than was received",
    MatchReasonCode.NOT_ON_PO: "Not on the PO",
    MatchReasonCode.UOM_MISMATCH: "Another unit than the PO's",
    MatchReasonCode.ITEM_MISMATCH: "Another item than the PO line's",
    MatchReasonCode.PO_LINE_UNKNOWN: "No such PO line",
    MatchReasonCode.PO_EXHAUSTED: "PO used up",
    MatchReasonCode.PO_EXPIRED: "PO expired",
    MatchReasonCode.PO_NOT_YET_VALID: "PO not valid yet",
    MatchReasonCode.PO_CLOSED: "PO closed",
    MatchReasonCode.CURRENCY_MISMATCH: "Another currency than the PO's",
    MatchReasonCode.PO_MISSING: "No PO",
    MatchReasonCode.PO_OF_ANOTHER_CUSTOMER: "Another customer's PO",
    MatchReasonCode.POSSIBLE_DUPLICATE: "Possible duplicate",
}

RESOLVED = {
    "accept_variance": "Variance accepted",
    "correct": "Corrected",
    "cancel": "Invoice cancelled",
    "released": "Released",
}


def when(at: datetime) -> str:
    return f"{format_datetime(at, 'd MMM y, HH:mm', tzinfo=UTC, locale=LOCALE)} UTC"


def relative(at: datetime, now: datetime) -> str:
    """'in 2 days', '3 hours ago'."""
    return format_timedelta(at - now, add_direction=True, threshold=1.5, locale=LOCALE)


def _money(minor: int | None, currency: str | None) -> str:
    if minor is None or currency is None:
        return "—"
    try:
        return money(minor, currency, LOCALE)
    except UnsupportedCurrency:
        return amount_text(minor, currency)


def _signed_money(minor: int, currency: str | None) -> str:
    return ("+" if minor > 0 else "−") + _money(abs(minor), currency)


def _quantity(quantity: Decimal, unit: str) -> str:
    return quantity_with_unit(quantity, unit, LOCALE, translations(LOCALE))


def reason_words(reason: MatchReason) -> dict[str, str]:
    detail = reason.detail[:1].upper() + reason.detail[1:]
    return {
        "code": reason.code.value,
        "label": REASON_LABELS.get(reason.code, ""),
        "detail": detail,
    }


def _po_cells(po: POLineSide, currency: str | None) -> dict[str, str]:
    return {
        "title": f"PO line {po.line_number} · {po.item_code}"
        + (f" · {po.description}" if po.description else ""),
        "item": po.item_code,
        "ordered": _quantity(po.ordered, po.unit),
        "unit_price": _money(po.unit_price_minor, currency),
        "received": _quantity(po.received, po.unit),
        "invoiced_by_others": _quantity(po.invoiced_by_others, po.unit),
        "remaining": _quantity(po.remaining, po.unit),
    }


_PRICE = {MatchReasonCode.PRICE_VARIANCE.value}
_QUANTITY = {
    MatchReasonCode.QUANTITY_OVER_ORDERED.value,
    MatchReasonCode.QUANTITY_OVER_RECEIVED.value,
    MatchReasonCode.UOM_MISMATCH.value,
}
_ITEM = {MatchReasonCode.ITEM_MISMATCH.value}


def _line(
    compared: LineComparison, currency: str | None, po_currency: str | None
) -> dict[str, Any]:
    """A line card: what differs is marked `off` when a reason names it (red), and noted
    as within tolerance when it differs all the same (muted)."""
    line, po, variance = compared.invoice_line, compared.po_line, compared.variance
    codes = set(variance.codes)
    price_off, quantity_off = bool(codes & _PRICE), bool(codes & _QUANTITY)
    price_note = None
    if po is not None and variance.price_minor:
        pct = quantity_text(variance.price_pct or Decimal(0))
        sign = "+" if variance.price_minor > 0 else ""
        price_note = f"{_signed_money(variance.price_minor, currency)} a unit ({sign}{pct}%)"
        if not price_off:
            price_note += ", within tolerance"
    quantity_note = None
    if po is not None and variance.unit_mismatch:
        quantity_note = f"billed in {line.unit!r}, the PO line is in {po.unit!r}"
    elif po is not None and variance.quantity_over > 0:
        over = _quantity(variance.quantity_over, po.unit)
        quantity_note = f"{over} over what is left" + ("" if quantity_off else ", within tolerance")
    return {
        "position": line.position,
        "title": f"Line {line.position} · {line.description}",
        "flagged": variance.flagged,
        "item": line.item_code or "—",
        "quantity": _quantity(line.quantity, line.unit),
        "unit_price": _money(line.unit_price_minor, currency),
        "amount": _money(line.net_minor, currency),
        "po": _po_cells(po, po_currency) if po else None,
        "price_off": price_off,
        "price_note": price_note,
        "quantity_off": quantity_off,
        "quantity_note": quantity_note,
        "item_off": bool(codes & _ITEM),
        "reasons": [reason_words(r) for r in compared.reasons],
    }


def _po_left(shown: ExceptionDetail) -> str | None:
    if shown.po_amount_minor is None:
        return None
    left = shown.po_amount_minor - (shown.po_invoiced_by_others_minor or 0)
    amount = _money(shown.po_amount_minor, shown.po_currency)
    return f"{_money(left, shown.po_currency)} of {amount} net, before this invoice"


def resolver(person: str | None, names: Mapping[str, str]) -> str:
    """A person's name for an actor id; an operator (``operator:ann``) as "Ann (operations)"."""
    if not person:
        return "operations"
    plain = person.removeprefix("operator:")
    name = names.get(plain, plain)
    return f"{name} (operations)" if plain != person else name


def resolved_panel(
    shown: ExceptionDetail, names: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """What settled the exception, or None while it is open; `names` by person id."""
    if shown.status == "open":
        return None
    title = RESOLVED.get(shown.resolution or "", shown.status.capitalize())
    if shown.resolution == "released":
        by = "The PO changed and the invoice then matched it."
    else:
        by = f"By {resolver(shown.resolved_by, names or {})}" + (
            f" on {when(shown.resolved_at)}." if shown.resolved_at else "."
        )
    return {
        "title": title,
        "by": by,
        "justification": shown.justification,
        "cancelled": shown.status == "cancelled",
    }


def page_context(
    shown: ExceptionDetail,
    *,
    person_id: str,
    person_name: str | None,
    group_name: str | None = None,
    names: Mapping[str, str] | None = None,
    now: datetime,
) -> dict[str, Any]:
    po_currency = shown.po_currency
    po_left = _po_left(shown)
    codes = {reason.code for reason in shown.reasons}
    po = f"PO {shown.po_number}" if shown.po_number else "its PO"
    escalation = None
    if shown.escalated_at:
        escalation = ("Escalated", when(shown.escalated_at))
    elif shown.escalates_at and shown.status == "open":
        escalation = (
            "Escalates",
            f"{when(shown.escalates_at)} ({relative(shown.escalates_at, now)})",
        )
    owner = shown.owner_name or shown.owner_id or "Unassigned"
    if shown.owner_id == person_id:
        owner += " (you)"
    return {
        "title": f"Invoice {shown.invoice_number or shown.invoice_id} does not match {po}",
        "exception_id": shown.id,
        "facts": [
            ("Customer", shown.customer_name or shown.customer_id),
            (
                "Purchase order",
                f"{shown.po_number} ({shown.match_mode} match)"
                if shown.po_number and shown.match_mode
                else shown.po_number or "none given",
            ),
            ("Invoice net", _money(shown.invoice_net_minor, shown.currency)),
            ("Invoice total", _money(shown.invoice_total_minor, shown.currency)),
            *([("Left on the PO", po_left)] if po_left else []),
            ("Owner", owner),
            ("Group", group_name or shown.group_id or "—"),
            ("Opened", f"{when(shown.opened_at)} ({relative(shown.opened_at, now)})"),
            *([escalation] if escalation else []),
        ],
        "person": person_name or person_id,
        "reasons": [reason_words(r) for r in shown.reasons],
        "lines": [_line(line, shown.currency, po_currency) for line in shown.lines],
        "other_po_lines": [_po_cells(line, po_currency) for line in shown.other_po_lines],
        "receipts": [
            {
                "delivered_on": r.delivered_on.strftime("%-d %b %Y"),
                "reference": r.reference,
                "po_line": r.line_number,
                "quantity": _quantity(r.quantity, r.unit),
                "kind": r.kind.replace("_", " "),
            }
            for r in shown.receipts
        ],
        "waiting_on": shown.waiting_on,
        "acceptable": not codes & set(MUST_FIX),
        "resolved": resolved_panel(shown, names),
        "invoice_status": None,
    }


def status_words(status: str) -> str:
    return status_label(status, translations(LOCALE))
