"""What the customer reads about a dispute: the e-mail (HTML and text) and a short SMS per
notice kind, in the customer's language and locale.

One template pair (``dispute_email.html`` / ``.txt``) switches on the kind; the words that
describe a remedy are built here, once, for both parts (and they differ by tense: proposed
in ``remedy_proposed``, done in ``resolved``). Every message names the dispute number and
carries the portal link where the customer follows, answers, accepts or declines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from babel.support import NullTranslations
from markupsafe import Markup

from domain.disputes.model import RemedyKind
from rendering.formatting import Formats
from rendering.i18n import babel_locale, environment
from rendering.invoice_email import RenderedEmail
from schemas.dispute_notices import DisputeCustomerNotice, RemedySummary
from schemas.disputes import CreditSettlement

SMS_MAX_CHARS = 300


@dataclass(frozen=True)
class DisputeReader:
    """Who reads the notice, and about which invoice (the notice names only ids)."""

    customer_name: str
    locale: str | None
    invoice_number: str
    portal_url: str
    due_date: dt.date | None = None  # the invoice's: the undisputed part stays due by it


@dataclass(frozen=True)
class RemedyWords:
    headline: str
    details: list[str]  # a payment plan's instalments
    settlement: str  # a credit note: what becomes of money already paid
    note_label: str  # "Our reason" for a rejection, "Our note" otherwise


def _subject(notice: DisputeCustomerNotice, reader: DisputeReader, t: NullTranslations) -> str:
    values = {"number": notice.dispute_number, "invoice": reader.invoice_number}
    if notice.kind == "acknowledged":
        text = t.gettext("We received your dispute %(number)s about invoice %(invoice)s")
    elif notice.kind == "information_requested":
        text = t.gettext("Dispute %(number)s: a question about invoice %(invoice)s")
    elif notice.kind == "remedy_proposed":
        text = t.gettext("Dispute %(number)s: our proposal for invoice %(invoice)s")
    else:
        text = t.gettext("Dispute %(number)s is resolved (invoice %(invoice)s)")
    return text % values


def _proposed(remedy: RemedySummary, invoice: str, f: Formats, t: NullTranslations) -> str:
    amount = f.money(remedy.amount_minor or 0)
    if remedy.kind == RemedyKind.CREDIT_NOTE:
        return t.gettext("A credit note of %(amount)s against invoice %(invoice)s.") % {
            "amount": amount,
            "invoice": invoice,
        }
    if remedy.kind == RemedyKind.WRITE_OFF:
        return t.gettext(
            "A write-off of %(amount)s on invoice %(invoice)s: you would not have to pay it."
        ) % {"amount": amount, "invoice": invoice}
    if remedy.kind == RemedyKind.PAYMENT_PLAN:
        count = len(remedy.instalments)
        return t.ngettext(
            "A payment plan: the balance of invoice %(invoice)s in %(num)d instalment.",
            "A payment plan: the balance of invoice %(invoice)s in %(num)d instalments.",
            count,
        ) % {"invoice": invoice, "num": count}
    if remedy.kind == RemedyKind.ADJUSTED_INVOICE:
        if remedy.amount_minor is None:
            return t.gettext(
                "A corrected invoice in place of invoice %(invoice)s, which would be voided."
            ) % {"invoice": invoice}
        return t.gettext(
            "A corrected invoice for %(amount)s in place of invoice %(invoice)s, "
            "which would be voided."
        ) % {"amount": amount, "invoice": invoice}
    return t.gettext(
        "We reviewed your dispute and found invoice %(invoice)s correct as issued: "
        "we propose no change."
    ) % {"invoice": invoice}


def _done(remedy: RemedySummary, invoice: str, f: Formats, t: NullTranslations) -> str:
    amount = f.money(remedy.amount_minor or 0)
    if remedy.kind == RemedyKind.CREDIT_NOTE:
        return t.gettext("We issued a credit note of %(amount)s against invoice %(invoice)s.") % {
            "amount": amount,
            "invoice": invoice,
        }
    if remedy.kind == RemedyKind.WRITE_OFF:
        return t.gettext("We wrote off %(amount)s of invoice %(invoice)s.") % {
            "amount": amount,
            "invoice": invoice,
        }
    if remedy.kind == RemedyKind.PAYMENT_PLAN:
        count = len(remedy.instalments)
        return t.ngettext(
            "Your payment plan for invoice %(invoice)s is in place: %(num)d instalment.",
            "Your payment plan for invoice %(invoice)s is in place: %(num)d instalments.",
            count,
        ) % {"invoice": invoice, "num": count}
    if remedy.kind == RemedyKind.ADJUSTED_INVOICE and remedy.amount_minor is not None:
        return t.gettext(
            "Invoice %(invoice)s is voided; a corrected invoice for %(amount)s replaces it "
            "and reaches you separately."
        ) % {"amount": amount, "invoice": invoice}
    if remedy.kind == RemedyKind.ADJUSTED_INVOICE:
        return t.gettext(
            "Invoice %(invoice)s is voided; a corrected invoice replaces it and reaches you "
            "separately."
        ) % {"invoice": invoice}
    return t.gettext("Invoice %(invoice)s stands as issued.") % {"invoice": invoice}


def remedy_words(remedy: RemedySummary, *, invoice: str, f: Formats, proposed: bool) -> RemedyWords:
    t = f.translations
    headline = (_proposed if proposed else _done)(remedy, invoice, f, t)
    details = [
        t.gettext("%(amount)s due by %(date)s")
        % {"amount": f.money(i.amount_minor), "date": f.date(i.due_date)}
        for i in remedy.instalments
    ]
    settlement = ""
    if remedy.kind == RemedyKind.CREDIT_NOTE and remedy.settlement == CreditSettlement.REFUND:
        settlement = t.gettext(
            "If you have already paid the invoice, the credited amount is refunded."
        )
    elif remedy.kind == RemedyKind.CREDIT_NOTE and remedy.settlement is not None:
        settlement = t.gettext(
            "If you have already paid the invoice, the credited amount stays on your account."
        )
    label = (
        t.gettext("Our reason") if remedy.kind == RemedyKind.REJECTION else t.gettext("Our note")
    )
    return RemedyWords(headline, details, settlement, note_label=label)


def _context(notice: DisputeCustomerNotice, reader: DisputeReader, f: Formats) -> dict[str, Any]:
    remedy = None
    if notice.remedy is not None:
        remedy = remedy_words(
            notice.remedy,
            invoice=reader.invoice_number,
            f=f,
            proposed=notice.kind != "resolved",
        )
    return {
        **f.context(),
        "notice": notice,
        "reader": reader,
        "remedy": remedy,
        "note": (notice.remedy.note if notice.remedy else "") or "",
        "balance_minor": resolved_balance(notice),
        "nobr": nobr,
    }


def nobr(text: str) -> Markup:
    """A number ("INV-2026-0042") kept on one line in the HTML part (escaped)."""
    return Markup('<span style="white-space: nowrap;">%s</span>') % text


def resolved_balance(notice: DisputeCustomerNotice) -> int | None:
    """The invoice's balance to state on resolution. None before, and for an adjusted
    invoice: the original is voided, and the corrected one brings its own amount."""
    if notice.kind != "resolved" or notice.balance_minor is None:
        return None
    if notice.remedy is not None and notice.remedy.kind == RemedyKind.ADJUSTED_INVOICE:
        return None
    return notice.balance_minor


def render_dispute_email(notice: DisputeCustomerNotice, reader: DisputeReader) -> RenderedEmail:
    locale = babel_locale(reader.locale)
    formats = Formats(locale, notice.currency)
    context = _context(notice, reader, formats)
    subject = _subject(notice, reader, formats.translations)
    context["subject"] = subject
    env = environment(locale)
    return RenderedEmail(
        subject=subject,
        html=env.get_template("dispute_email.html").render(context),
        text=env.get_template("dispute_email.txt").render(context),
    )


def render_dispute_sms(notice: DisputeCustomerNotice, reader: DisputeReader) -> str:
    """Short, plain, one link: the dispute number, what is asked, the portal link."""
    f = Formats(babel_locale(reader.locale), notice.currency)
    t = f.translations
    values = {
        "number": notice.dispute_number,
        "invoice": reader.invoice_number,
        "amount": f.money(notice.amount_minor),
        "date": f.date(notice.respond_by),
        "url": reader.portal_url,
    }
    if notice.kind == "acknowledged":
        text = t.gettext(
            "Dispute %(number)s received (invoice %(invoice)s, %(amount)s). "
            "That amount is on hold. Follow it: %(url)s"
        )
    elif notice.kind == "information_requested" and notice.respond_by is not None:
        text = t.gettext(
            "Dispute %(number)s: we have a question for you. Please answer by %(date)s: %(url)s"
        )
    elif notice.kind == "information_requested":
        text = t.gettext("Dispute %(number)s: we have a question for you. Please answer: %(url)s")
    elif notice.kind == "remedy_proposed":
        text = t.gettext("Dispute %(number)s: we propose a solution. Accept or decline it: %(url)s")
    elif (balance := resolved_balance(notice)) is not None:
        values["amount"] = f.money(balance)
        text = t.gettext(
            "Dispute %(number)s is resolved. Invoice %(invoice)s balance: %(amount)s. "
            "Details: %(url)s"
        )
    else:
        text = t.gettext("Dispute %(number)s is resolved. Details: %(url)s")
    sms = text % values
    if len(sms) > SMS_MAX_CHARS:  # a long portal address: keep the number and the link
        sms = t.gettext("Dispute %(number)s: %(url)s") % values
    return sms
