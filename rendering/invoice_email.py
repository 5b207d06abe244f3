"""Render the invoice e-mail from Jinja2 templates, with Babel formatting for the locale.

Amounts are stored in integer minor units; they become a Decimal only here, for display
(``1 234,56 $`` in fr-CA, ``£1,234.56`` in en-GB).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Environment, PackageLoader, select_autoescape

from domain.money import exponent
from schemas.invoice import InvoiceSnapshot

_env = Environment(
    loader=PackageLoader("rendering", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def babel_locale(tag: str) -> Locale:
    """``fr-CA``, ``fr_CA`` and ``en`` all work; an unknown tag falls back to en_GB."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


def money(amount_minor: int, currency: str, locale: Locale) -> str:
    major = Decimal(amount_minor).scaleb(-exponent(currency))
    return format_currency(major, currency, locale=locale)


_SUBJECTS = {
    "fr": "Facture {number} de {total}",
    "en": "Invoice {number} for {total}",
}


def render_invoice_email(
    invoice: InvoiceSnapshot, *, payment_url: str, view_url: str | None = None
) -> RenderedEmail:
    locale = babel_locale(invoice.customer_locale)
    french = locale.language == "fr"
    context = {
        "invoice": invoice,
        "fr": french,
        "payment_url": payment_url,
        "view_url": view_url,
        "money": lambda minor: money(minor, invoice.currency, locale),
        "quantity": lambda q: format_decimal(q, locale=locale),
        "percent": lambda r: format_percent(r, locale=locale, decimal_quantization=False),
        "date": lambda d: format_date(d, format="long", locale=locale),
    }
    total = money(invoice.total_minor, invoice.currency, locale)
    subject = _SUBJECTS["fr" if french else "en"].format(number=invoice.number, total=total)
    return RenderedEmail(
        subject=subject,
        html=_env.get_template("invoice_email.html").render(context),
        text=_env.get_template("invoice_email.txt").render(context),
    )
