"""What every customer portal page shares: the signed invoice link that opens it, the
customer's locale, the seller's identity, and the error pages.

The link's token (``?token=``, `core.links.portal_view_token`) authorises every page and
every form of one invoice: the invoice page, its dispute form and its disputes' pages.
Pages are in the customer's locale; the error pages for a link that opens nothing (bad,
expired, unknown invoice) have no customer to ask and follow the browser's
Accept-Language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from babel import Locale
from babel.support import NullTranslations
from fastapi.responses import HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from core.links import InvalidLink, verify_portal_view_token
from core.settings import Settings
from rendering.formatting import Formats
from rendering.i18n import N_, babel_locale, environment, html_lang, negotiate, translations
from schemas.tables import Customer, Invoice

EXPIRED = (N_("Link expired"), N_("This link has expired. Please ask us for a new one."))
INVALID = (N_("Invalid link"), N_("This link is not valid."))
NOT_FOUND = (N_("Not found"), N_("We could not find this invoice."))
DISPUTE_NOT_FOUND = (N_("Not found"), N_("We could not find this dispute."))
FORM_REFUSED = (
    N_("This form cannot be sent"),
    N_(
        "This form has expired, or it was not sent from our page. Nothing was recorded."
        " Open the invoice again and fill in the form there."
    ),
)
NOTHING_TO_DISPUTE = (
    N_("This invoice cannot be disputed"),
    N_("Nothing is left to dispute on this invoice."),
)
UNAVAILABLE = (
    N_("Please try again shortly"),
    N_("We could not record this just now. Nothing was changed; please try again in a minute."),
)


def page(status: int, locale: Locale, text: tuple[str, str]) -> HTMLResponse:
    """A page that only says something (an error, mostly), in `locale`."""
    t = translations(locale)
    html = (
        environment(locale, "api")
        .get_template("message.html")
        .render(lang=html_lang(locale), title=t.gettext(text[0]), message=t.gettext(text[1]))
    )
    return HTMLResponse(html, status_code=status)


@dataclass(frozen=True)
class Seller:
    name: str
    address_lines: list[str]
    tax_id: str | None
    email: str | None

    @classmethod
    def of(cls, settings: Settings) -> Seller:
        lines = [line.strip() for line in settings.seller_address.splitlines() if line.strip()]
        return cls(settings.seller_name, lines, settings.seller_tax_id, settings.seller_email)


@dataclass(frozen=True)
class Portal:
    """One opened portal link: the invoice, its customer, their locale, the token."""

    invoice: Invoice
    customer: Customer | None
    locale: Locale
    token: str
    seller: Seller

    @property
    def t(self) -> NullTranslations:
        return translations(self.locale)

    @property
    def formats(self) -> Formats:
        return Formats(self.locale, self.invoice.currency)

    @property
    def english(self) -> bool:
        return self.locale.language == "en"

    def url(self, path: str = "", **query: str) -> str:
        """A portal URL of this invoice, with the token (and `query`)."""
        params = urlencode({"token": self.token, **query})
        return f"/portal/invoices/{quote(self.invoice.id)}{path}?{params}"

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = (
            environment(self.locale, "api")
            .get_template(template)
            .render(**self.formats.context(), seller=self.seller, portal=self, **context)
        )
        return HTMLResponse(html, status_code=status)

    def message(self, status: int, text: tuple[str, str]) -> HTMLResponse:
        """A message page in the customer's locale, with a way back to the invoice."""
        t = self.t
        return self.render(
            "portal_message.html", status, title=t.gettext(text[0]), message=t.gettext(text[1])
        )


def reader(accept_language: str | None) -> Locale:
    return negotiate(accept_language)


async def open_portal(
    session: AsyncSession,
    settings: Settings,
    invoice_id: str,
    token: str,
    accept_language: str | None,
) -> Portal | HTMLResponse:
    """The portal of `invoice_id` if `token` opens it, else its error page: 403 for a
    tampered token or one of another invoice, 410 expired, 404 no such (issued) invoice."""
    try:
        verify_portal_view_token(settings.link_signing_secret.get_secret_value(), token, invoice_id)
    except InvalidLink as bad:
        if bad.reason == "expired":
            return page(410, reader(accept_language), EXPIRED)
        return page(403, reader(accept_language), INVALID)
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return page(404, reader(accept_language), NOT_FOUND)
    customer = await session.get(Customer, invoice.customer_id)
    locale = babel_locale(customer.locale if customer else None)
    return Portal(invoice, customer, locale, token, Seller.of(settings))
