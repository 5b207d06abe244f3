"""The payment receipt: a short e-mail, in the customer's language, for each payment
applied to an invoice, with the amount received and the balance left."""

from __future__ import annotations

import datetime as dt

from rendering.formatting import Formats
from rendering.i18n import babel_locale, environment, translations
from rendering.invoice_email import RenderedEmail
from schemas.invoice import InvoiceSnapshot


def render_receipt_email(
    invoice: InvoiceSnapshot,
    *,
    amount_minor: int,
    paid_minor: int,
    paid_on: dt.date,
    payment_url: str | None,
) -> RenderedEmail:
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    balance_minor = max(invoice.total_minor - paid_minor, 0)
    context = {
        **formats.context(),
        "invoice": invoice,
        "amount_minor": amount_minor,
        "paid_minor": paid_minor,
        "balance_minor": balance_minor,
        "paid_on": paid_on,
        "payment_url": payment_url,
    }
    subject = translations(locale).gettext(
        "Payment received for invoice %(number)s: %(amount)s"
    ) % {"number": invoice.number, "amount": formats.money(amount_minor)}
    env = environment(locale)
    return RenderedEmail(
        subject=subject,
        html=env.get_template("receipt_email.html").render(context),
        text=env.get_template("receipt_email.txt").render(context),
    )
