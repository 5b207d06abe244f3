"""Sample portal pages without a server: an invoice, its dispute form, and a dispute with
a proposed remedy, in any market of `tests.rendering.samples`.

``python -m tests.api.portal_samples OUT_DIR`` writes them as HTML files (for the README's
screenshots, taken with headless Chromium; see the README).
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from api.portal_dispute_view import FormState, render_dispute, render_form
from api.portal_forms import FormTicket
from api.portal_labels import STATUSES, label
from api.portal_pages import Portal, Seller
from api.portal_view import ListedDispute, render_invoice_page
from core.settings import Settings
from rendering.i18n import babel_locale
from schemas.dispute_api import DisputeDetail
from schemas.disputes import DisputeEventView, EvidenceView
from schemas.tables import Customer, Invoice
from tests.rendering.samples import sample_invoice

TODAY = date(2026, 11, 10)
OPENED = datetime(2026, 11, 6, 9, 12, tzinfo=UTC)
SETTINGS = Settings(
    environment="test",
    seller_name="Northwind Consulting Ltd",
    seller_address="12 Harbour Street\nBristol BS1 4RN\nUnited Kingdom",
    seller_tax_id="GB 284 1937 02",
    seller_email="accounts@northwind.test",
)
LINES = {
    "en_GB": [
        ("Senior consultant, October", "8", "hour", 15000),
        ("Workshop", "1", "day", 90000),
        ("Support", "12.5", "hour", 10000),
        ("Licences", "3", "unit", 2000),
    ],
    "fr_CA": [
        ("Conseiller principal, octobre", "8", "hour", 15000),
        ("Atelier", "1", "day", 90000),
        ("Soutien", "12.5", "hour", 10000),
        ("Licences", "3", "unit", 2000),
    ],
}


def sample_portal(locale: str = "en_GB", *, paid_minor: int = 0, status: str = "ISSUED") -> Portal:
    snapshot = sample_invoice(locale, LINES[locale])
    invoice = Invoice(
        id=snapshot.invoice_id,
        customer_id=snapshot.customer_id,
        contract_id="con_1",
        number=snapshot.number,
        status=status,
        currency=snapshot.currency,
        tax_region=snapshot.tax_region,
        po_number="PO-77",
        issue_date=snapshot.issue_date,
        due_date=snapshot.due_date,
        subtotal_minor=snapshot.subtotal_minor,
        tax_minor=snapshot.tax_minor,
        total_minor=snapshot.total_minor,
        paid_minor=paid_minor,
        tax_lines=[line.model_dump(mode="json") for line in snapshot.tax_lines],
        payment_url="https://pay.test/p/1",
        created_by="test",
        created_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        closed_at=None,
        voided_at=None,
    )
    customer = Customer(
        id=snapshot.customer_id,
        name="Érable & Fils" if locale == "fr_CA" else "ACME Trading Ltd",
        email="compta@erable.test" if locale == "fr_CA" else "accounts@acme.test",
        locale=locale,
    )
    return Portal(invoice, customer, babel_locale(locale), "tok", Seller.of(SETTINGS))


def sample_lines(locale: str = "en_GB") -> list[dict[str, Any]]:
    return [line.model_dump(mode="json") for line in sample_invoice(locale, LINES[locale]).lines]


def payments(portal: Portal, amount_minor: int) -> list[dict[str, Any]]:
    return [
        {
            "amount_minor": amount_minor,
            "currency": portal.invoice.currency,
            "paid_at": "2026-11-05T10:00:00Z",
        }
    ]


def listed(portal: Portal, status: str = "remedy_proposed") -> ListedDispute:
    words = label(STATUSES, status, portal.t)
    return ListedDispute("dsp_1", "DSP-2026-0007", status, words, OPENED, 36000, 36000)


def ticket(name: str = "dispute") -> FormTicket:
    return FormTicket(csrf=f"csrf-{name}", submission_id=f"sub-{name}")


def tickets() -> FormState:
    return FormState(tickets={n: ticket(n) for n in ("dispute", "reply", "remedy", "evidence")})


def event(
    kind: str,
    at: datetime,
    text: str = "",
    visible: bool = True,
    data: dict[str, Any] | None = None,
    actor: str = "olivia",
) -> DisputeEventView:
    return DisputeEventView(
        at=at, kind=kind, actor=actor, text=text, visible_to_customer=visible, data=data or {}
    )


def remedy_data(**data: Any) -> dict[str, Any]:
    return {"kind": "credit_note", "amount_minor": None, "note": "", "instalments": [], **data}


def sample_dispute(status: str = "remedy_proposed", invoice_id: str = "inv_1") -> DisputeDetail:
    at = OPENED
    events = [
        event("opened", at, "opened by customer"),
        event("owner_assigned", at + timedelta(minutes=1), "Olivia Park (level 1)"),
        event("note", at + timedelta(hours=2), "internal: check the timesheets", visible=False),
        event(
            "information_requested",
            at + timedelta(hours=3),
            "Could you send us the timesheet your team signed for October?",
            data={"respond_by": "2026-11-13"},
        ),
        event("customer_replied", at + timedelta(days=1), "Attached: the signed timesheet."),
    ]
    if status == "remedy_proposed":
        events.append(
            event(
                "remedy_proposed",
                at + timedelta(days=2),
                "We billed 8 hours where 5 were signed off.",
                data=remedy_data(
                    amount_minor=36000,
                    note="We billed 8 hours where 5 were signed off; we credit the 3 extra hours.",
                ),
            )
        )
    evidence = [
        EvidenceView(
            evidence_id="evd_1",
            dispute_id="dsp_1",
            filename="timesheet-october.pdf",
            media_type="application/pdf",
            size=184_320,
            sha256="0" * 64,
            side="customer",
            added_by="customer",
            added_at=at + timedelta(days=1),
        ),
        EvidenceView(
            evidence_id="evd_2",
            dispute_id="dsp_1",
            filename="hours-export.csv",
            media_type="text/csv",
            size=2_150,
            sha256="1" * 64,
            side="staff",
            added_by="olivia",
            added_at=at + timedelta(days=2),
        ),
    ]
    return DisputeDetail(
        id="dsp_1",
        number="DSP-2026-0007",
        invoice_id=invoice_id,
        invoice_number="INV-2026-0042",
        customer_id="cus_1",
        customer_name="ACME Trading Ltd",
        currency="GBP",
        status=status,
        reason="quantity",
        lines=[1],
        original_amount_minor=36000,
        disputed_minor=36000,
        credited_minor=0,
        written_off_minor=0,
        level=1,
        owner_id="olivia",
        owner_name="Olivia Park",
        group_id="ar",
        sla_due_at=at + timedelta(days=5),
        sla_breached=False,
        channel="portal",
        opened_by="customer",
        opened_at=at,
        age_days=4,
        resolution=None,
        resolved_level=None,
        resolved_at=None,
        updated_at=at,
        description="We signed off 5 hours of senior consulting for October, not 8.",
        resolution_note=None,
        root_cause=None,
        events=events,
        evidence=evidence,
        credit_notes=[],
        instalments=[],
    )


def pages(locale: str = "en_GB") -> dict[str, str]:
    portal = sample_portal(locale, paid_minor=50000, status="PARTIALLY_PAID")
    lines = sample_lines(locale)
    limit = SETTINGS.evidence_max_bytes
    invoice = render_invoice_page(
        portal, lines, payments(portal, 50000), TODAY, disputes=[listed(portal)]
    )
    form = render_form(
        portal, lines, tickets(), limit, balance_minor=portal.invoice.total_minor - 50000 - 36000
    )
    dispute = render_dispute(portal, sample_dispute(), lines, tickets(), limit)
    return {
        "portal-invoice": invoice,
        "portal-dispute-form": bytes(form.body).decode(),
        "portal-dispute": bytes(dispute.body).decode(),
    }


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/portal")
    out.mkdir(parents=True, exist_ok=True)
    for locale in ("en_GB", "fr_CA"):
        for name, html in pages(locale).items():
            (out / f"{name}-{locale}.html").write_text(html)
    print(out)
