"""The reminder e-mail in each tone and language: what is due now, what a dispute sets
aside, the late charge and its legal wording; the SMS; the late-charge invoice's lines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from rendering.reminder_email import (
    ReminderCharge,
    ReminderFacts,
    charge_lines,
    render_reminder_email,
    render_reminder_sms,
)
from tests.rendering.samples import sample_invoice


def _facts(invoice_due: date, **over: object) -> ReminderFacts:
    args: dict[str, object] = {
        "tone": "gentle",
        "balance_minor": 10_000,
        "disputed_minor": 0,
        "today": invoice_due + timedelta(days=1),
        "payment_url": "https://pay.test/l/1",
        "view_url": "https://app.test/portal/x",
        "charge": ReminderCharge(),
    }
    args.update(over)
    return ReminderFacts(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tone", "days", "subject_start", "heading"),
    [
        ("gentle", -3, "Reminder: invoice", "Payment reminder"),
        ("gentle", 1, "Invoice INV", "A gentle reminder"),
        ("firm", 7, "Second notice: invoice", "Payment overdue"),
        ("final", 30, "Final notice: invoice", "Final notice"),
    ],
)
def test_each_tone_has_its_subject_heading_and_words(
    tone: str, days: int, subject_start: str, heading: str
) -> None:
    invoice = sample_invoice("en_GB")
    facts = _facts(invoice.due_date, tone=tone, today=invoice.due_date + timedelta(days=days))
    rendered = render_reminder_email(invoice, facts)
    assert rendered.subject.startswith(subject_start)
    assert f">{heading}</h1>" in rendered.html
    assert "£100.00" in rendered.html and "£100.00" in rendered.text
    assert "https://pay.test/l/1" in rendered.html
    if tone == "final":
        assert "30 days overdue" in rendered.text and "collections" in rendered.text


def test_a_disputed_part_is_set_aside_and_a_statutory_charge_is_explained() -> None:
    invoice = sample_invoice("en_GB")
    charge = ReminderCharge(
        interest_minor=4829,
        compensation_minor=7000,
        annual_rate=Decimal("11.75"),
        statutory="statutory_uk",
    )
    facts = _facts(invoice.due_date, tone="firm", disputed_minor=2_500, charge=charge)
    rendered = render_reminder_email(invoice, facts)
    assert "The £25.00 you dispute is set aside" in rendered.text
    assert "statutory interest of £48.29 (11.75% a year)" in rendered.text
    assert "fixed compensation of £70.00" in rendered.text
    lines = charge_lines(invoice, charge)
    assert [amount for _, amount in lines] == [4829, 7000]
    assert lines[0][0].startswith(f"Statutory interest on invoice {invoice.number}")


def test_french_reminder_and_sms() -> None:
    invoice = sample_invoice("fr_CA")
    facts = _facts(invoice.due_date, tone="final", today=invoice.due_date + timedelta(days=30))
    rendered = render_reminder_email(invoice, facts)
    assert rendered.subject.startswith("Dernier avis\xa0: facture")
    assert "recouvrement" in rendered.text
    sms = render_reminder_sms(invoice, facts)
    assert sms.startswith("Rappel\xa0: facture") and "https://pay.test/l/1" in sms
    fee = charge_lines(invoice, ReminderCharge(fee_minor=2500))
    assert fee == [(f"Frais de retard sur la facture {invoice.number}", 2500)]
