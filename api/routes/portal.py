"""Customer portal: the signed "view invoice" link from the invoice e-mail and SMS.

``GET /portal/invoices/{id}?token=`` shows the invoice as a business sends it
(`api.portal_view`); its dispute pages are `api.routes.portal_disputes`. A GET only
shows, so a mail scanner that prefetches the link is harmless. Pages are in the customer's
locale; the error pages, which have no customer to ask, follow the browser's
Accept-Language (`api.portal_pages`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, Response

from activities.documents import DocumentUnavailable
from api.deps import SessionDep, SettingsDep
from api.portal_pages import Portal, Seller, open_portal
from api.portal_view import invoice_credit_notes, invoice_credits_applied, invoice_disputes
from api.portal_view import render_invoice_page as render_page
from api.routes import portal_dispute_page, portal_disputes, portal_payment_check
from api.routes.documents import file_response, issuer
from core.settings import Settings
from rendering.i18n import N_, babel_locale
from schemas.tables import Customer, Invoice
from store import queries

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

NO_PDF = (N_("No PDF yet"), N_("This invoice has no PDF yet. Please try again later."))


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def view_invoice(
    invoice_id: str,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    done: str | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    if not isinstance(opened, Portal):
        return opened
    records = await queries.invoice_records(session, invoice_id)
    html = render_page(
        opened,
        records["lines"],
        records["payments"],
        datetime.now(UTC).date(),
        credit_notes=await invoice_credit_notes(session, invoice_id),
        credits_applied=await invoice_credits_applied(session, invoice_id),
        disputes=await invoice_disputes(session, opened, invoice_id),
        done=done,
    )
    await session.commit()  # end the read
    return HTMLResponse(html)


@router.get("/invoices/{invoice_id}/pdf", response_class=Response)
async def download_pdf(
    invoice_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """The invoice's PDF, as the customer received it (a GET that only reads, or renders
    and stores the file once for an invoice issued before documents existed)."""
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    await session.commit()  # end the read
    if not isinstance(opened, Portal):
        return opened
    documents = issuer(request, settings)
    try:
        invoice, customer = await documents.load_invoice(invoice_id)
        document = await documents.invoice_pdf(invoice, customer)
    except DocumentUnavailable:
        return opened.render(
            "portal_message.html",
            status=404,
            title=opened.t.gettext(NO_PDF[0]),
            message=opened.t.gettext(NO_PDF[1]),
        )
    return file_response(document, "inline")


def render_invoice_page(
    invoice: Invoice,
    customer: Customer | None,
    lines: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    today: date,
    settings: Settings | None = None,
    **sections: Any,
) -> str:
    """The portal page of a numbered invoice without a request (tests, screenshots)."""
    locale = babel_locale(customer.locale if customer else None)
    portal = Portal(invoice, customer, locale, "token", Seller.of(settings or Settings()))
    return render_page(portal, lines, payments, today, **sections)


router.include_router(portal_disputes.router)
router.include_router(portal_dispute_page.router)
router.include_router(portal_payment_check.router)
