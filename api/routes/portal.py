"""Customer portal: the signed "view invoice" page linked from the invoice e-mail.

GET only shows; it changes nothing, so a mail scanner that prefetches the link is harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from api.deps import SessionDep, SettingsDep
from core.links import InvalidLink, verify_portal_view_token
from rendering.invoice_email import babel_locale, money
from schemas.tables import Customer, Invoice
from store import queries

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
_env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))


def _page(status: int, title: str, message: str) -> HTMLResponse:
    html = _env.get_template("message.html").render(title=title, message=message)
    return HTMLResponse(html, status_code=status)


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def view_invoice(
    invoice_id: str, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    try:
        verify_portal_view_token(settings.link_signing_secret.get_secret_value(), token, invoice_id)
    except InvalidLink as bad:
        if bad.reason == "expired":
            return _page(410, "Link expired", "This link has expired. Please ask us for a new one.")
        return _page(403, "Invalid link", "This link is not valid.")
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return _page(404, "Not found", "We could not find this invoice.")
    customer = await session.get(Customer, invoice.customer_id)
    records = await queries.invoice_records(session, invoice_id)
    locale = babel_locale(customer.locale if customer else "en_GB")
    out = queries.invoice_out(invoice, datetime.now(UTC).date())
    html = _env.get_template("portal_invoice.html").render(
        invoice=out,
        lines=records["lines"],
        payments=records["payments"],
        money=lambda minor: money(minor, invoice.currency, locale),
    )
    return HTMLResponse(html)
