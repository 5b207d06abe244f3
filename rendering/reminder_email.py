"""The payment reminder: an e-mail (and its SMS form) in the customer's language, in the
tone of its step (gentle before and just after the due date, firm, then a final notice),
with what is due now, what a dispute sets aside, and any late charge the step added.

The charge's own lines (for its invoice) are worded here too, so an invoice's words all
come from the catalogs (``rendering/locales``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from rendering.formatting import Formats
from rendering.i18n import babel_locale, environment, translations
from rendering.invoice_email import RenderedEmail
from schemas.invoice import InvoiceSnapshot


@dataclass(frozen=True)
class ReminderCharge:
    fee_minor: int = 0
    interest_minor: int = 0
    compensation_minor: int = 0
    annual_rate: Decimal | None = None
    statutory: str | None = None  # "statutory_uk", "statutory_eu"

    @property
    def total_minor(self) -> int:
        return self.fee_minor + self.interest_minor + self.compensation_minor


@dataclass(frozen=True)
class ReminderFacts:
    tone: str  # gentle, firm, final
    balance_minor: int  # what is due now (the disputed part left out)
    disputed_minor: int
    today: dt.date
    payment_url: str | None
    view_url: str | None
    charge: ReminderCharge


def _subject(invoice: InvoiceSnapshot, facts: ReminderFacts, formats: Formats) -> str:
    t = translations(formats.locale)
    values = {
        "number": invoice.number,
        "amount": formats.money(facts.balance_minor),
        "date": formats.date(invoice.due_date),
    }
    if facts.tone == "final":
        return t.gettext("Final notice: invoice %(number)s, %(amount)s overdue") % values
    if facts.tone == "firm":
        return t.gettext("Second notice: invoice %(number)s, %(amount)s overdue") % values
    if facts.today <= invoice.due_date:
        return t.gettext("Reminder: invoice %(number)s is due on %(date)s") % values
    return t.gettext("Invoice %(number)s is overdue: %(amount)s") % values


def render_reminder_email(invoice: InvoiceSnapshot, facts: ReminderFacts) -> RenderedEmail:
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    context = {
        **formats.context(),
        "invoice": invoice,
        "facts": facts,
        "charge": facts.charge,
        "overdue_days": max(0, (facts.today - invoice.due_date).days),
        "rate": (
            formats.percent(facts.charge.annual_rate / 100)
            if facts.charge.annual_rate is not None
            else ""
        ),
    }
    env = environment(locale)
    return RenderedEmail(
        subject=_subject(invoice, facts, formats),
        html=env.get_template("reminder_email.html").render(context),
        text=env.get_template("reminder_email.txt").render(context),
    )


def render_reminder_sms(invoice: InvoiceSnapshot, facts: ReminderFacts) -> str:
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    text = translations(locale).gettext(
        "Reminder: invoice %(number)s, %(amount)s due %(date)s. View and pay: %(url)s"
    )
    return text % {
        "number": invoice.number,
        "amount": formats.money(facts.balance_minor),
        "date": formats.date(invoice.due_date),
        "url": facts.payment_url or facts.view_url or "",
    }


def charge_lines(invoice: InvoiceSnapshot, charge: ReminderCharge) -> list[tuple[str, int]]:
    """The late-charge invoice's lines: (description, amount) in the customer's language."""
    locale = babel_locale(invoice.customer_locale)
    formats = Formats(locale, invoice.currency)
    t = translations(locale)
    lines: list[tuple[str, int]] = []
    values = {"number": invoice.number, "date": formats.date(invoice.due_date)}
    if charge.fee_minor:
        lines.append(
            (t.gettext("Late-payment fee on invoice %(number)s") % values, charge.fee_minor)
        )
    if charge.interest_minor:
        rate = formats.percent((charge.annual_rate or Decimal(0)) / 100)
        lines.append(
            (
                t.gettext(
                    "Statutory interest on invoice %(number)s (due %(date)s) at %(rate)s a year"
                )
                % {**values, "rate": rate},
                charge.interest_minor,
            )
        )
    if charge.compensation_minor:
        lines.append(
            (
                t.gettext("Fixed compensation for late payment of invoice %(number)s") % values,
                charge.compensation_minor,
            )
        )
    return lines
