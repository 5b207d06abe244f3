"""The approval request e-mail: what the approver decides on, and a personal link.

The link opens a confirmation page; nothing is decided by opening it. Approvers have no
language of their own yet, so the e-mail is in ``locale`` (by default en_GB, the
organisation's); amounts are in the invoice's currency.
"""

from __future__ import annotations

from rendering.formatting import Formats
from rendering.i18n import DEFAULT_LOCALE, babel_locale, environment, translations
from rendering.invoice_email import RenderedEmail
from schemas.invoice import InvoiceSnapshot

KINDS = ("request", "reminder", "escalation")


def _subject(kind: str, invoice: InvoiceSnapshot, total: str, formats: Formats) -> str:
    t = translations(formats.locale)
    values = {"number": invoice.number, "customer": invoice.customer_name, "total": total}
    if kind == "reminder":
        return t.gettext("Reminder: approval needed for %(number)s · %(total)s") % values
    if kind == "escalation":
        return t.gettext("Escalated to you: approval needed for %(number)s · %(total)s") % values
    return t.gettext("Approval needed: %(number)s · %(customer)s · %(total)s") % values


def render_approval_email(
    invoice: InvoiceSnapshot,
    *,
    kind: str,
    approver_name: str,
    url: str,
    level: int,
    levels: int,
    why: str,
    delegated_from: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> RenderedEmail:
    if kind not in KINDS:
        raise ValueError(f"unknown approval e-mail kind {kind!r} (known: {', '.join(KINDS)})")
    reader = babel_locale(locale)
    formats = Formats(reader, invoice.currency)
    context = {
        **formats.context(),
        "invoice": invoice,
        "kind": kind,
        "approver_name": approver_name,
        "url": url,
        "level": level,
        "levels": levels,
        "why": why,
        "delegated_from": delegated_from,
    }
    env = environment(reader)
    return RenderedEmail(
        subject=_subject(kind, invoice, formats.money(invoice.total_minor), formats),
        html=env.get_template("approval_email.html").render(context),
        text=env.get_template("approval_email.txt").render(context),
    )
