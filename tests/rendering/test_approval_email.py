"""The approval e-mail in en-GB, en-AU and fr-CA: words, units, plurals, one line per tax."""

from __future__ import annotations

import pytest

from rendering.approval_email import render_approval_email
from tests.rendering.samples import EXPECTED, MARKETS, sample_invoice

SUBJECTS = {
    "en_GB": "Approval needed: INV-2026-0042 · Érable & Fils · £9,672.00",
    "en_AU": "Approval needed: INV-2026-0042 · Érable & Fils · $8,866.00",
    "fr_CA": "Approbation requise\u00a0: INV-2026-0042 · Érable & Fils · 9\u00a0266,98\u00a0$",
}
WORDS = {
    "en_GB": ["Hello Alice,", "needs approval (level 1 of 2)", "Review and decide"],
    "en_AU": ["Hello Alice,", "needs approval (level 1 of 2)", "Review and decide"],
    "fr_CA": ["Bonjour Alice,", "doit être approuvée (niveau 1 sur 2)", "Examiner et décider"],
}


def render(locale: str, kind: str = "request", **extra: str):  # type: ignore[no-untyped-def]
    return render_approval_email(
        sample_invoice(locale),
        kind=kind,
        approver_name="Alice",
        url="https://app.test/approvals/tok",
        level=1,
        levels=2,
        why="over 5,000",
        locale=locale,
        **extra,
    )


@pytest.mark.parametrize("locale", sorted(MARKETS))
def test_approval_email_reads_in_its_locale_with_units_plurals_and_each_tax(locale: str) -> None:
    email = render(locale)
    assert email.subject == SUBJECTS[locale]
    expected = EXPECTED[locale]
    for body in (email.html, email.text):
        for word in expected["quantities"] + expected["taxes"] + WORDS[locale]:
            assert word in body, (locale, word)
        for foreign in expected["foreign"]:
            assert foreign not in body.replace("&amp;", "&"), (locale, foreign)
    assert f'<html lang="{locale.replace("_", "-")}">' in email.html
    assert 'href="https://app.test/approvals/tok"' in email.html


@pytest.mark.parametrize(
    ("kind", "locale", "start"),
    [
        ("reminder", "en_GB", "Reminder: approval needed for INV-2026-0042"),
        ("escalation", "en_AU", "Escalated to you: approval needed for INV-2026-0042"),
        ("reminder", "fr_CA", "Rappel\u00a0: approbation requise pour INV-2026-0042"),
        ("escalation", "fr_CA", "Remontée jusqu’à vous\u00a0: approbation requise"),
    ],
)
def test_reminders_and_escalations_say_so(kind: str, locale: str, start: str) -> None:
    assert render(locale, kind).subject.startswith(start)


def test_a_delegate_is_told_whose_approval_it_is_and_data_is_escaped() -> None:
    email = render("en_GB", delegated_from="<bob>")
    assert "You receive this as the delegate of &lt;bob&gt;." in email.html
    assert "delegate of <bob>." in email.text
    french = render("fr_CA", delegated_from="Bob")
    assert "en tant que délégué de Bob." in french.text


def test_without_a_locale_the_approval_email_is_in_british_english() -> None:
    email = render_approval_email(
        sample_invoice("fr_CA"),
        kind="request",
        approver_name="Alice",
        url="https://app.test/approvals/tok",
        level=1,
        levels=1,
        why="over 5,000",
    )
    assert email.subject.startswith("Approval needed: INV-2026-0042")
    assert "GST at 5%" in email.text and "8 hours" in email.text
