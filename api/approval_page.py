"""What the approval page shows: the invoice as the customer will get it (customer, PO,
lines, tax per rate, totals that add up) and, once the approver's part is settled, the
decision taken, by whom and when, instead of the buttons.

Read from the stored invoice and approval requests, with the workflow's live state when
Temporal answers (an operator's decision is only there); the page changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_percent
from sqlmodel.ext.asyncio.session import AsyncSession

from core.links import ApprovalLink
from rendering.formatting import money
from rendering.i18n import N_, babel_locale, translations
from rendering.labels import quantity_with_unit, tax_label
from schemas.tables import ApprovalRequestRow, ApproverRow, Customer, Invoice
from store import approvals, invoices

# Approvers have no locale of their own yet: the page follows the browser's Accept-Language
# (rendering.i18n.negotiate), en_GB by default.
LOCALE = babel_locale("en_GB")

VERBS = {
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "request_changes": N_("Changes requested"),
}


def _when(value: datetime | str, locale: Locale = LOCALE) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    return translations(locale).gettext("%(date)s at %(time)s UTC") % {
        "date": format_date(at, "long", locale=locale),
        "time": format_time(at, "HH:mm", locale=locale),
    }


def _percent(rate: Any, locale: Locale = LOCALE) -> str:
    return format_percent(Decimal(str(rate)), locale=locale, decimal_quantization=False)


def _verb(decision: str, locale: Locale) -> str:
    return translations(locale).gettext(VERBS[decision]) if decision in VERBS else decision


async def _names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    names = {}
    for approver_id in ids:
        row = await session.get(ApproverRow, approver_id)
        names[approver_id] = row.name if row else approver_id
    return names


def _settling(rows: list[ApprovalRequestRow]) -> ApprovalRequestRow | None:
    """Of a level's decided requests, the one that settled it: a reject or request for
    changes settles at once; otherwise the last approval."""
    decided = sorted(
        (r for r in rows if r.decided_at is not None), key=lambda r: r.decided_at or datetime.min
    )
    closing = [r for r in decided if r.decision != "approve"]
    chosen = closing or decided
    return chosen[-1] if chosen else None


async def decision_panel(
    session: AsyncSession,
    link: ApprovalLink,
    invoice: Invoice,
    state: dict[str, Any],
    locale: Locale = LOCALE,
) -> dict[str, Any] | None:
    """The decision to show instead of the buttons, or None while this person may decide."""
    t = translations(locale)
    requests = await approvals.requests_for(session, invoice.id)
    own = next((r for r in requests if r.id == link.request_id), None)
    level = [r for r in requests if r.round == link.round and r.level == link.level]
    live = state.get("approval") or {}
    open_here = (
        own is not None
        and own.status == "sent"
        and (
            not state  # Temporal away: the stored record decides
            and invoice.status == "AWAITING_APPROVAL"
            or live.get("round") == link.round
            and live.get("status") == "pending"
            and live.get("level") == link.level + 1
        )
    )
    if open_here:
        return None
    chosen = own if own is not None and own.status == "decided" else _settling(level)
    if chosen is not None and chosen.decision:
        names = await _names(session, {chosen.approver_id})
        return {
            "title": _verb(chosen.decision, locale),
            "decision": chosen.decision,
            "by": names[chosen.approver_id],
            "by_id": chosen.approver_id,
            "yours": chosen.approver_id == link.approver_id,
            "at": _when(chosen.decided_at, locale) if chosen.decided_at else None,
            "reason": chosen.reason,
        }
    decisions = live.get("decisions") or []
    if decisions and live.get("round") == link.round:  # e.g. an operator, from the Temporal UI
        last = decisions[-1]
        who = str(last["approver_id"])
        operator = who.removeprefix("operator:")
        by = t.gettext("%(name)s (operations)") % {"name": operator} if operator != who else who
        return {
            "title": _verb(last["decision"], locale),
            "decision": last["decision"],
            "by": by,
            "by_id": who,
            "yours": who == link.approver_id,
            "at": _when(last["at"], locale),
            "reason": last.get("reason"),
        }
    if own is not None and own.status == "superseded":
        return {
            "title": t.gettext("Changed"),
            "decision": None,
            "note": t.gettext(
                "The invoice changed since this link was sent; its new version has its own link."
            ),
        }
    if own is not None and own.status == "expired" or live.get("status") == "expired":
        return {
            "title": t.gettext("Expired"),
            "decision": None,
            "note": t.gettext("Nobody decided in time."),
        }
    return {
        "title": t.gettext("Settled"),
        "decision": None,
        "note": t.gettext("This invoice's approval is no longer waiting for you."),
    }


async def page_context(
    session: AsyncSession,
    link: ApprovalLink,
    invoice: Invoice,
    state: dict[str, Any],
    locale: Locale = LOCALE,
) -> dict[str, Any]:
    """Everything the page (and its JSON form) shows, in `locale`."""
    t = translations(locale)
    customer = await session.get(Customer, invoice.customer_id)
    lines = await invoices.lines(session, invoice.id)
    approval = state.get("approval") or {}

    def fmt(minor: int) -> str:
        return money(minor, invoice.currency, locale)

    summary = {
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "customer_name": customer.name if customer else invoice.customer_id,
        "po_number": invoice.po_number,
        "issue_date": format_date(invoice.issue_date, "long", locale=locale)
        if invoice.issue_date
        else None,
        "due_date": format_date(invoice.due_date, "long", locale=locale)
        if invoice.due_date
        else None,
        "subtotal": fmt(invoice.subtotal_minor),
        "subtotal_minor": invoice.subtotal_minor,
        "tax_minor": invoice.tax_minor,
        "total": fmt(invoice.total_minor),
        "total_minor": invoice.total_minor,
        "currency": invoice.currency,
        "status": state.get("status", invoice.status),
        "level": link.level + 1,
        "levels": approval.get("levels"),
        "why": approval.get("rule"),
        "version": link.version,
        "current_version": state.get("version"),
    }
    shown_lines = [
        {
            "description": line.description,
            "quantity": quantity_with_unit(line.quantity, line.unit, locale, t),
            "unit_price": fmt(line.unit_price_minor),
            "net": fmt(line.net_minor),
            "net_minor": line.net_minor,
        }
        for line in lines
    ]
    taxes = [
        {
            "label": f"{tax_label(tax['name'], t)} {_percent(tax['rate'], locale)}",
            "on": fmt(int(tax["taxable_minor"])),
            "amount": fmt(int(tax["tax_minor"])),
            "tax_minor": int(tax["tax_minor"]),
        }
        for tax in invoice.tax_lines
    ]
    return {
        "summary": summary,
        "lines": shown_lines,
        "taxes": taxes,
        "decided": await decision_panel(session, link, invoice, state, locale),
        "approval": approval,
    }
