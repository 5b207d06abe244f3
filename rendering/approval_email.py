"""The approval request e-mail: what the approver decides on, and a personal link.

The link opens a confirmation page; nothing is decided by opening it.
"""

from __future__ import annotations

from rendering.invoice_email import RenderedEmail, _env, babel_locale, money
from schemas.invoice import InvoiceSnapshot

_SUBJECTS = {
    "request": "Approval needed: {number} · {customer} · {total}",
    "reminder": "Reminder: approval needed for {number} · {total}",
    "escalation": "Escalated to you: approval needed for {number} · {total}",
}


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
) -> RenderedEmail:
    locale = babel_locale("en_GB")
    total = money(invoice.total_minor, invoice.currency, locale)
    context = {
        "invoice": invoice,
        "kind": kind,
        "approver_name": approver_name,
        "url": url,
        "level": level,
        "levels": levels,
        "why": why,
        "delegated_from": delegated_from,
        "money": lambda minor: money(minor, invoice.currency, locale),
    }
    subject = _SUBJECTS[kind].format(
        number=invoice.number, customer=invoice.customer_name, total=total
    )
    return RenderedEmail(
        subject=subject,
        html=_env.get_template("approval_email.html").render(context),
        text=_env.get_template("approval_email.txt").render(context),
    )
