"""Audit rows -> public events: which types, stable ids, one issued and one paid per
invoice whichever step records them; Retry-After as a delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.webhooks import SourceRow, events_for, outcome_of, retry_after, subscribed

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def row(action: str, step_key: str, **data: object) -> SourceRow:
    return SourceRow(step_key, action, "inv_1", AT, dict(data))


def test_a_delivery_means_issued_and_delivered_and_an_approval_issues_the_same_event() -> None:
    delivered = events_for(row("invoice.delivered", "inv_1:delivered:email", channel="email"))
    assert [e.type for e in delivered] == ["invoice.issued", "invoice.delivered"]
    approved = events_for(row("invoice.issued", "inv_1:approved:v1"))
    assert [e.id for e in approved] == [delivered[0].id]  # one issued event per invoice
    assert delivered[1].payload["data"] == {"invoice_id": "inv_1", "channel": "email"}
    assert delivered[1].payload["timestamp"] == "2026-12-01T10:00:00Z"


def test_payments_are_paid_once_or_partially_paid_each() -> None:
    first = events_for(row("payment.recorded", "inv_1:payment:p1", balance_minor=500))
    second = events_for(row("payment.recorded", "inv_1:payment:p2", balance_minor=0))
    by_dispute = events_for(row("invoice.paid", "inv_1:dispute-resolved:dsp_1"))
    assert [e.type for e in first] == ["invoice.partially_paid"]
    assert [e.type for e in second] == ["invoice.paid"]
    assert by_dispute[0].id == second[0].id
    old = events_for(row("payment.recorded", "inv_1:payment:p0"))  # before webhooks existed
    assert old == []


def test_ids_are_stable_and_unrelated_rows_mean_nothing() -> None:
    one = events_for(row("invoice.overdue", "inv_1:overdue"))
    again = events_for(row("invoice.overdue", "inv_1:overdue"))
    assert one == again and one[0].id.startswith("evt_")
    assert events_for(row("invoice.generated", "inv_1:generated")) == []
    assert events_for(row("accounting.invoice_posted", "inv_1:accounting:x")) == []
    disputed = events_for(row("dispute.opened", "dsp_1:opened", dispute_id="dsp_1", reason="tax"))
    assert disputed[0].type == "invoice.disputed"
    assert disputed[0].payload["data"]["reason"] == "tax"


def test_only_public_fields_leave() -> None:
    sent = events_for(
        row("invoice.delivered", "k", channel="sms", recipient="+447700900000", link="pl_1")
    )
    assert "recipient" not in sent[1].payload["data"] and "link" not in sent[1].payload["data"]


def test_subscriptions_and_outcomes() -> None:
    assert subscribed(["*"], "invoice.closed")
    assert not subscribed(["invoice.paid"], "invoice.closed")
    assert [outcome_of(s) for s in (200, 204, 410, 429, 500, 404)] == [
        "delivered",
        "delivered",
        "gone",
        "retry",
        "retry",
        "retry",
    ]


def test_retry_after_in_seconds_or_as_a_date_capped_at_six_hours() -> None:
    assert retry_after("2", AT) == timedelta(seconds=2)
    assert retry_after("Tue, 01 Dec 2026 10:01:00 GMT", AT) == timedelta(minutes=1)
    assert retry_after("999999", AT) == timedelta(hours=6)
    assert retry_after("soon", AT) is None
    assert retry_after(None, AT) is None


def test_a_reminder_is_an_event_without_the_recipient() -> None:
    sent = events_for(
        row(
            "invoice.reminder_sent",
            "inv_1:reminder:overdue-7",
            recipient="ap@acme.test",
            channel="email",
            step="overdue-7",
            tone="firm",
            amount_minor=10_000,
            charge_minor=2_500,
        )
    )
    assert [e.type for e in sent] == ["invoice.reminder_sent"]
    assert sent[0].payload["data"] == {
        "invoice_id": "inv_1",
        "channel": "email",
        "step": "overdue-7",
        "tone": "firm",
        "amount_minor": 10_000,
        "charge_minor": 2_500,
    }
