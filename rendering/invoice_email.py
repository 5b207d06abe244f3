"""The invoice e-mail (HTML and text) and its SMS fallback in the customer's language and locale.

Words come from the gettext catalogs (``rendering/locales``), numbers, units, dates and
amounts from Babel/CLDR (``rendering.formatting``), tax names per language
(``rendering.labels``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rendering.formatting import Formats, money
from rendering.i18n import babel_locale, environment, translations
from schemas.invoice import InvoiceSnapshot

__all__ = ["RenderedEmail", "babel_locale", "money", "render_invoice_email", "render_invoice_sms"]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render_invoice_email(
    invoice: InvoiceSnapshot, *, payment_url: str | None, view_url: str | None = None
) -> RenderedEmail:
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    context = {
        **formats.context(),
        "invoice": invoice,
        "payment_url": payment_url,
        "view_url": view_url,
    }
    t = translations(locale)
    subject = t.gettext("Invoice %(number)s for %(total)s") % {
        "number": invoice.number,
        "total": formats.money(invoice.amount_due_minor),
    }
    env = environment(locale)
    return RenderedEmail(
        subject=subject,
        html=env.get_template("invoice_email.html").render(context),
        text=env.get_template("invoice_email.txt").render(context),
    )


def render_invoice_sms(invoice: InvoiceSnapshot, *, payment_url: str) -> str:
    """The SMS sent when the mailbox refused the e-mail: short, plain, one link."""
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    text = translations(locale).gettext(
        "Invoice %(number)s: %(amount)s due %(date)s. We could not reach you by e-mail. "
        "View and pay: %(url)s"
    )
    return text % {
        "number": invoice.number,
        "amount": formats.money(invoice.amount_due_minor),
        "date": formats.date(invoice.due_date),
        "url": payment_url,
    }
