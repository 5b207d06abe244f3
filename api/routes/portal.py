"""Customer portal: the signed "view invoice" page linked from the invoice e-mail.

GET only shows; it changes nothing, so a mail scanner that prefetches the link is harmless.
The invoice page is in the customer's locale (words, amounts, dates, units, tax names);
the error pages, which have no customer to ask, follow the browser's Accept-Language.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from babel import Locale
from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from core.links import InvalidLink, verify_portal_view_token
from rendering.formatting import Formats
from rendering.i18n import N_, babel_locale, environment, html_lang, negotiate, translations
from schemas.tables import Customer, Invoice
from store import queries

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

_EXPIRED = (N_("Link expired"), N_("This link has expired. Please ask us for a new one."))
_INVALID = (N_("Invalid link"), N_("This link is not valid."))
_NOT_FOUND = (N_("Not found"), N_("We could not find this invoice."))


def _page(status: int, locale: Locale, text: tuple[str, str]) -> HTMLResponse:
    t = translations(locale)
    html = (
        environment(locale, "api")
        .get_template("message.html")
        .render(lang=html_lang(locale), title=t.gettext(text[0]), message=t.gettext(text[1]))
    )
    return HTMLResponse(html, status_code=status)


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def view_invoice(
    invoice_id: str,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    try:
        verify_portal_view_token(settings.link_signing_secret.get_secret_value(), token, invoice_id)
    except InvalidLink as bad:
        reader = negotiate(accept_language)
        if bad.reason == "expired":
            return _page(410, reader, _EXPIRED)
        return _page(403, reader, _INVALID)
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return _page(404, negotiate(accept_language), _NOT_FOUND)
    customer = await session.get(Customer, invoice.customer_id)
    records = await queries.invoice_records(session, invoice_id)
    html = render_invoice_page(
        invoice, customer, records["lines"], records["payments"], datetime.now(UTC).date()
    )
    return HTMLResponse(html)


def render_invoice_page(
    invoice: Invoice,
    customer: Customer | None,
    lines: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    today: date,
) -> str:
    """The portal page of a numbered invoice, in its customer's locale: lines with units,
    one line per tax rate, totals, the payments received and the balance."""
    locale = babel_locale(customer.locale if customer else None)
    tax_lines = [{**line, "rate": Decimal(str(line["rate"]))} for line in invoice.tax_lines]
    return (
        environment(locale, "api")
        .get_template("portal_invoice.html")
        .render(
            **Formats(locale, invoice.currency).context(),
            invoice=queries.invoice_out(invoice, today),
            customer_name=customer.name if customer else "",
            lines=lines,
            tax_lines=tax_lines,
            payments=[p for p in payments if p["currency"] == invoice.currency],
        )
    )
