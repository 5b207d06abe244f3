"""What the customer reads about a dispute, in en-GB and fr-CA: every kind names the dispute
and the invoice, shows its amounts in the customer's format, and carries the portal link;
the SMS says the same in at most 300 characters."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from activities.dispute_notices import dispute_portal_url
from rendering.dispute_email import (
    SMS_MAX_CHARS,
    DisputeReader,
    render_dispute_email,
    render_dispute_sms,
)
from schemas.dispute_notices import NOTICE_KINDS, DisputeCustomerNotice, DisputeNoticeKind

# a portal link as long as production's: real ids and a real signed token
URL = dispute_portal_url(
    "https://billing.example.com", "s" * 32, "inv_0123456789abcdef", "dsp_0123456789abcdef"
)
MARKETS = {  # locale: (currency, how 1234.56 reads, how 500.00 reads, a word per kind)
    "en_GB": ("GBP", "£1,234.56", "£500.00", "Dispute"),
    "fr_CA": ("CAD", "1\xa0234,56\xa0$", "500,00\xa0$", "Contestation"),
}
REMEDY = {
    "kind": "credit_note",
    "amount_minor": 50_000,
    "note": "Billed twice.",
    "settlement": "refund",
}


def reader(locale: str) -> DisputeReader:
    return DisputeReader(
        customer_name="Érable & Fils",
        locale=locale,
        invoice_number="INV-2026-0042",
        portal_url=URL,
        due_date=date(2026, 12, 2),
    )


def notice(kind: DisputeNoticeKind, locale: str, **fields: Any) -> DisputeCustomerNotice:
    values: dict[str, Any] = {
        "dispute_id": "dsp_0123456789abcdef",
        "dispute_number": "DSP-2026-0007",
        "invoice_id": "inv_0123456789abcdef",
        "kind": kind,
        "key": kind,
        "amount_minor": 123_456,
        "currency": MARKETS[locale][0],
        "sla_business_days": 5,
        "text": "Which delivery note do you mean?" if kind == "information_requested" else None,
        "respond_by": date(2026, 11, 20) if kind == "information_requested" else None,
        "remedy": REMEDY if kind in ("remedy_proposed", "resolved") else None,
        "balance_minor": 73_456 if kind == "resolved" else None,
    }
    values.update(fields)
    return DisputeCustomerNotice.model_validate(values)


@pytest.mark.parametrize("locale", sorted(MARKETS))
@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_each_kind_names_the_dispute_and_invoice_shows_the_amount_and_links_the_portal(
    kind: DisputeNoticeKind, locale: str
) -> None:
    email = render_dispute_email(notice(kind, locale), reader(locale))
    _, disputed, _, word = MARKETS[locale]

    assert "DSP-2026-0007" in email.subject and "INV-2026-0042" in email.subject
    for part in (email.text, email.html):
        assert "DSP-2026-0007" in part and "INV-2026-0042" in part
    assert URL in email.text
    assert f'href="{URL.replace("&", "&amp;")}"' in email.html
    assert f'lang="{locale.replace("_", "-")}"' in email.html
    assert '<span style="white-space: nowrap;">INV-2026-0042</span>' in email.html  # unbroken
    assert word in email.text
    if kind != "resolved":
        assert disputed in email.text and disputed in email.html


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_the_acknowledgement_says_what_happens_next(locale: str) -> None:
    email = render_dispute_email(notice("acknowledged", locale), reader(locale))

    expected = {
        "en_GB": ("within 5 business days", "on hold", "stays due by 2 December 2026"),
        "fr_CA": ("d’ici 5 jours ouvrables", "suspendu", "au plus tard le 2 décembre 2026"),
    }[locale]
    for words in expected:
        assert words in email.text and words in email.html


def test_one_business_day_is_singular() -> None:
    email = render_dispute_email(
        notice("acknowledged", "en_GB", sla_business_days=1), reader("en_GB")
    )
    assert "within 1 business day." in email.text


def test_without_an_sla_the_acknowledgement_promises_no_number_of_days() -> None:
    email = render_dispute_email(
        notice("acknowledged", "en_GB", sla_business_days=None), reader("en_GB")
    )
    assert "business day" not in email.text and "reviews your dispute" in email.text


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_an_information_request_shows_the_question_and_the_deadline(locale: str) -> None:
    email = render_dispute_email(notice("information_requested", locale), reader(locale))

    deadline = {"en_GB": "20 November 2026", "fr_CA": "20 novembre 2026"}[locale]
    assert "Which delivery note do you mean?" in email.text
    assert deadline in email.text and deadline in email.html


def test_the_customer_never_gets_markup_from_a_question() -> None:
    question = "Is <b>this</b> & that right?"
    email = render_dispute_email(
        notice("information_requested", "en_GB", text=question), reader("en_GB")
    )
    assert "Is &lt;b&gt;this&lt;/b&gt; &amp; that right?" in email.html
    assert question in email.text


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_a_proposed_credit_note_states_its_amount_and_asks_to_accept_or_decline(
    locale: str,
) -> None:
    email = render_dispute_email(notice("remedy_proposed", locale), reader(locale))
    _, _, credit, _ = MARKETS[locale]

    action = {"en_GB": "Accept or decline", "fr_CA": "Accepter ou refuser"}[locale]
    assert credit in email.text and credit in email.html
    assert "Billed twice." in email.text and "Billed twice." in email.html
    assert action in email.text and action in email.html


@pytest.mark.parametrize(
    ("remedy", "words"),
    [
        ({"kind": "write_off", "amount_minor": 1500}, "A write-off of £15.00 on invoice"),
        (
            {
                "kind": "payment_plan",
                "instalments": [
                    {"due_date": "2026-12-01", "amount_minor": 60_000},
                    {"due_date": "2027-01-01", "amount_minor": 63_456},
                ],
            },
            "in 2 instalments.\n- £600.00 due by 1 December 2026\n- £634.56 due by 1 January 2027",
        ),
        (
            {"kind": "adjusted_invoice", "amount_minor": 100_000},
            "A corrected invoice for £1,000.00",
        ),
        (
            {"kind": "rejection", "note": "The hours match the timesheets."},
            "correct as issued: we propose no change.\n\nOur reason\nThe hours match the "
            "timesheets.",
        ),
    ],
)
def test_each_remedy_is_put_in_words(remedy: dict[str, Any], words: str) -> None:
    email = render_dispute_email(notice("remedy_proposed", "en_GB", remedy=remedy), reader("en_GB"))
    assert words in email.text


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_the_resolution_says_what_was_done_and_the_new_balance(locale: str) -> None:
    email = render_dispute_email(notice("resolved", locale), reader(locale))

    balance = {"en_GB": "£734.56", "fr_CA": "734,56\xa0$"}[locale]
    done = {"en_GB": "We issued a credit note of £500.00", "fr_CA": "Nous avons émis une note"}
    assert done[locale] in email.text and balance in email.text and balance in email.html


def test_a_resolution_that_leaves_nothing_due_says_so() -> None:
    email = render_dispute_email(
        notice(
            "resolved", "en_GB", balance_minor=0, remedy={"kind": "write_off", "amount_minor": 9}
        ),
        reader("en_GB"),
    )
    assert "Nothing more is due on invoice INV-2026-0042." in email.text


def test_an_adjusted_invoice_states_no_balance_for_the_voided_one() -> None:
    email = render_dispute_email(
        notice(
            "resolved",
            "en_GB",
            balance_minor=100_000,
            remedy={"kind": "adjusted_invoice", "amount_minor": 100_000},
        ),
        reader("en_GB"),
    )
    assert "is voided; a corrected invoice for £1,000.00 replaces it" in email.text
    assert "New balance" not in email.text and "balance of invoice" not in email.text


@pytest.mark.parametrize("locale", sorted(MARKETS))
@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_each_sms_is_short_names_the_dispute_and_carries_the_link(
    kind: DisputeNoticeKind, locale: str
) -> None:
    sms = render_dispute_sms(notice(kind, locale), reader(locale))

    assert len(sms) <= SMS_MAX_CHARS
    assert "DSP-2026-0007" in sms and sms.endswith(URL)
    assert len(sms) > len(URL) + 40  # more than the fallback: it says what happened


def test_an_sms_with_a_very_long_link_keeps_the_number_and_the_link() -> None:
    long_reader = DisputeReader("ACME", "en_GB", "INV-1", "https://x.test/" + "a" * 260)
    sms = render_dispute_sms(notice("acknowledged", "en_GB"), long_reader)
    assert sms == f"Dispute DSP-2026-0007: {long_reader.portal_url}"
