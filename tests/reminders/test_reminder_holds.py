"""Reminder holds on the time-skipping server: a step due during a hold waits for its end
(or its release) and is then sent once; what the API refuses about holds and terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_lifecycle import customer_and_contract
from tests.reminders.test_reminder_schedule import _reminders
from tests.support.stack import Stack, running_stack

ONE_STEP = {"steps": [{"key": "overdue-1", "days": 1, "tone": "gentle"}]}


async def _issue(stack: Stack, today: Any, email: str) -> tuple[str, str, dict[str, Any]]:
    customer, contract = await customer_and_contract(
        stack, email=email, payment_terms_days=14, reminders=ONE_STEP
    )
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "issue_date": today.isoformat(),
            "items": [{"rate_code": "senior", "quantity": "1"}],
        },
    )
    invoice_id = response.json()["invoice_id"]
    issued = await stack.wait_until_awaiting_payment(invoice_id)
    return invoice_id, issued["invoice"]["number"], customer


async def test_a_held_step_waits_for_the_release_then_goes_once(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        now = await time_skipping.get_current_time()
        invoice_id, number, customer = await _issue(stack, now.date(), "held@acme.test")
        until = now + timedelta(days=40)
        held = await stack.api.post(
            f"/customers/{customer['id']}/reminder-holds",
            json={
                "reason": "pays on the 15th, agreed by phone",
                "until": until.isoformat(),
                "held_by": "ann",
            },
        )
        assert held.status_code == 201, held.text
        assert held.json()["active"] is True

        await time_skipping.sleep(timedelta(days=17))  # the step fell due 2 days ago
        waiting = await stack.wait_for(lambda: _waiting(stack, invoice_id))
        assert waiting["live"]["reminders_waiting"] == (
            "on hold: pays on the 15th, agreed by phone"
        )
        assert await _reminders(stack, "held@acme.test", number) == []

        released = await stack.api.post(
            f"/customers/{customer['id']}/reminder-holds/release", json={"released_by": "ann"}
        )
        assert [h["active"] for h in released.json()] == [False]
        sent = await stack.wait_for(lambda: _one_reminder(stack, number))
        assert sent[0]["subject"] == f"Invoice {number} is overdue: £144.00"
        await time_skipping.sleep(timedelta(days=30))
        assert len(await _reminders(stack, "held@acme.test", number)) == 1
        record = await stack.invoice(invoice_id)
        assert [(r["step_key"], r["outcome"]) for r in record["reminders"]] == [
            ("overdue-1", "sent")
        ]
        actions = [event["action"] for event in record["audit"]]
        assert actions.count("invoice.reminder_sent") == 1
        holds = (await stack.api.get(f"/customers/{customer['id']}/reminder-holds")).json()
        assert [(h["held_by"], h["released_by"], h["active"]) for h in holds] == [
            ("ann", "ann", False)
        ]


async def _waiting(stack: Stack, invoice_id: str) -> dict[str, Any] | None:
    body = await stack.invoice(invoice_id)
    return body if (body["live"] or {}).get("reminders_waiting") else None


async def _one_reminder(stack: Stack, number: str) -> list[dict[str, Any]] | None:
    found = await _reminders(stack, "held@acme.test", number)
    return found or None


async def test_the_api_refuses_holds_and_terms_that_cannot_apply(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url, run_worker=False) as stack:
        customer, _ = await customer_and_contract(stack, email="rules@acme.test")
        past = await stack.api.post(
            f"/customers/{customer['id']}/reminder-holds",
            json={"reason": "x", "until": "2020-01-01T00:00:00Z", "held_by": "ann"},
        )
        assert past.status_code == 422
        assert past.json()["code"] == "hold_in_the_past"
        unknown = await stack.api.post(
            "/invoices/inv_nope/reminder-holds",
            json={
                "reason": "x",
                "until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "held_by": "ann",
            },
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        euro_uk = await stack.api.post(
            "/contracts",
            json={
                "customer_id": customer["id"],
                "currency": "EUR",
                "tax_region": "GB",
                "payment_terms_days": 30,
                "rates": [
                    {"code": "a", "description": "A", "unit": "hour", "unit_price_minor": 100}
                ],
                "reminders": {
                    "steps": [{"key": "late", "days": 14, "charge": True}],
                    "late_charge": {"kind": "statutory_uk"},
                },
            },
        )
        assert euro_uk.status_code == 422
        assert "UK statutory interest applies to debts in GBP" in euro_uk.text
