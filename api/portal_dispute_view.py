"""The customer portal's dispute pages as the customer reads them: the form that opens a
dispute, and a dispute's page (its figures, the timeline the customer may see, the
evidence, and the form its status calls for).

Pure rendering: the routes (`api.routes.portal_disputes`) read and act, and hand over
what to show. Every word is in the customer's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from babel.units import format_unit
from fastapi.responses import HTMLResponse

from api.portal_forms import MAX_FILES, FormTicket
from api.portal_labels import (
    EVENTS,
    EVENTS_WITH_TEXT,
    EVIDENCE_REFUSALS,
    REASONS,
    REASONS_SHORT,
    REMEDIES,
    STATUSES,
    label,
)
from api.portal_pages import Portal
from domain.disputes.model import DisputeReason
from domain.evidence import EvidenceRefused
from schemas.dispute_api import DisputeDetail
from schemas.disputes import DisputeStatus

MEDIA_NAMES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "text/plain": "TXT",
    "text/csv": "CSV",
    "message/rfc822": "EML",
}
# an answer the workflow records when the customer wrote nothing: not worth showing
_FILLER = {"accepted", "declined"}


@dataclass
class FormState:
    """What the customer entered (kept when a form comes back with errors), the errors,
    and the forms' tickets by purpose."""

    tickets: dict[str, FormTicket] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failed: str | None = None  # the purpose of the form the errors belong to


def size_text(portal: Portal, size: int) -> str:
    """``180 kB``, ``10 MB``, ``10 Mo``: CLDR's short digital units in the reader's locale."""
    for unit, scale in (("digital-megabyte", 1024 * 1024), ("digital-kilobyte", 1024)):
        if size >= scale:
            value = (Decimal(size) / scale).quantize(Decimal("0.1")).normalize()
            return format_unit(value, unit, length="short", locale=portal.locale)
    return portal.t.ngettext("%(num)s byte", "%(num)s bytes", size) % {"num": size}


def when(portal: Portal, at: datetime) -> str:
    """A moment as the customer reads it (times are UTC: we know no customer's zone)."""
    day = format_date(at, format="long", locale=portal.locale)
    return f"{day}, {format_time(at, format='short', locale=portal.locale)} UTC"


def evidence_refusal(
    portal: Portal, refused: EvidenceRefused, filename: str, max_bytes: int
) -> str:
    """A refused file in the customer's words. English readers get the checker's own
    sentence about a file's type, which says what the file really is."""
    if portal.english and refused.code == "evidence_type_not_allowed":
        return f"{filename}: {refused.message}."
    words = EVIDENCE_REFUSALS.get(refused.code, EVIDENCE_REFUSALS["evidence_type_not_allowed"])
    return portal.t.gettext(words) % {"name": filename, "limit": size_text(portal, max_bytes)}


def _lines(lines: list[dict[str, Any]], positions: list[int]) -> list[dict[str, Any]]:
    chosen = set(positions)
    return [line for line in lines if line["position"] in chosen]


def render_form(
    portal: Portal,
    lines: list[dict[str, Any]],
    state: FormState,
    max_bytes: int,
    *,
    balance_minor: int,
    status: int = 200,
) -> HTMLResponse:
    t = portal.t
    reasons = [(reason.value, label(REASONS, reason.value, t)) for reason in DisputeReason]
    return portal.render(
        "portal_dispute_form.html",
        status,
        lines=lines,
        reasons=reasons,
        ticket=state.tickets["dispute"],
        values=state.values,
        errors=state.errors,
        balance_minor=balance_minor,
        amount_example=format_decimal(Decimal("120.50"), format="#,##0.00", locale=portal.locale),
        max_size=size_text(portal, max_bytes),
        max_files=MAX_FILES,
    )


def _timeline(portal: Portal, detail: DisputeDetail) -> list[dict[str, Any]]:
    t, items = portal.t, []
    for event in detail.events:
        if not event.visible_to_customer:
            continue
        said = event.text if event.kind in EVENTS_WITH_TEXT else ""
        if event.kind in ("remedy_proposed", "resolved") and event.data.get("kind"):
            said = _remedy_words(portal, event.data)  # the workflow's own text is English
        if said.strip().lower() in _FILLER:
            said = ""
        respond_by = event.data.get("respond_by") if event.kind == "information_requested" else None
        items.append(
            {
                "kind": event.kind,
                "title": label(EVENTS, event.kind, t),
                "when": when(portal, event.at),
                "said": said,
                "respond_by": portal.formats.date(respond_by) if respond_by else "",
            }
        )
    return items


def _remedy_words(portal: Portal, data: dict[str, Any]) -> str:
    """A remedy in one line: its kind (and amount), then the owner's note."""
    kind = label(REMEDIES, str(data["kind"]), portal.t)
    if data.get("amount_minor"):
        kind = portal.t.gettext("%(remedy)s: %(amount)s") % {
            "remedy": kind,
            "amount": portal.formats.money(data["amount_minor"]),
        }
    note = str(data.get("note") or "")
    return f"{kind}. {note}" if note else kind


def _evidence(portal: Portal, detail: DisputeDetail) -> list[dict[str, Any]]:
    t = portal.t
    return [
        {
            "filename": item.filename,
            "type": MEDIA_NAMES.get(item.media_type, item.media_type),
            "size": size_text(portal, item.size),
            "when": when(portal, item.added_at),
            "by": t.gettext("You") if item.side == "customer" else portal.seller.name,
        }
        for item in detail.evidence
    ]


def _proposal(portal: Portal, detail: DisputeDetail) -> dict[str, Any] | None:
    """The latest proposed remedy, while the customer is to answer it."""
    if detail.status != DisputeStatus.REMEDY_PROPOSED:
        return None
    proposed = [e for e in detail.events if e.kind == "remedy_proposed"]
    if not proposed:
        return None
    data = proposed[-1].data
    formats = portal.formats
    return {
        "kind": label(REMEDIES, str(data.get("kind", "")), portal.t),
        "amount": formats.money(data["amount_minor"]) if data.get("amount_minor") else "",
        "note": data.get("note") or proposed[-1].text,
        "instalments": [
            {"due": formats.date(i["due_date"]), "amount": formats.money(i["amount_minor"])}
            for i in data.get("instalments") or []
        ],
    }


def render_dispute(
    portal: Portal,
    detail: DisputeDetail,
    lines: list[dict[str, Any]],
    state: FormState,
    max_bytes: int,
    *,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    t = portal.t
    resolved = detail.status == DisputeStatus.RESOLVED
    css = {"resolved": "resolved", "waiting_on_customer": "waiting", "remedy_proposed": "proposed"}
    timeline = _timeline(portal, detail)
    asked = [item for item in timeline if item["kind"] == "information_requested"]
    proposal = _proposal(portal, detail)
    asks = detail.status == DisputeStatus.WAITING_ON_CUSTOMER
    shown = {"reply": asks, "remedy": proposal is not None, "evidence": not resolved}
    failed = state.failed if shown.get(state.failed or "") else None  # else: at the top
    return portal.render(
        "portal_dispute.html",
        status,
        dispute=detail,
        status_words=label(STATUSES, detail.status, t),
        status_css=css.get(detail.status, ""),
        reason=label(REASONS_SHORT, detail.reason, t),
        disputed_lines=_lines(lines, detail.lines),
        timeline=timeline,
        question=asked[-1] if asked else None,
        evidence=_evidence(portal, detail),
        proposal=proposal,
        asks=asks,
        resolved=resolved,
        resolution=label(REMEDIES, detail.resolution, t) if resolved and detail.resolution else "",
        tickets=state.tickets,
        values=state.values,
        errors=state.errors,
        failed=failed,
        done=done,
        max_size=size_text(portal, max_bytes),
    )
