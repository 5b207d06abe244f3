"""A reminder that falls due at night waits for the customer's delivery window (a durable
timer, its wait in the live view), then goes once when the window opens."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_lifecycle import customer_and_contract
from tests.reminders.test_reminder_schedule import _reminders
from tests.support.stack import Stack, running_stack

WINDOW = {"start": "08:00", "end": "20:00", "working_days": [0, 1, 2, 3, 4, 5, 6]}
EMAIL = "night@acme.test"


async def test_a_reminder_due_at_night_waits_for_the_window(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    now = await time_skipping.get_current_time()
    ten = datetime.combine(now.date() + timedelta(days=1), time(10), tzinfo=UTC)
    await time_skipping.sleep(ten - now)  # 10:00 UTC: inside the window, nothing running
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        schedule = {"steps": [{"key": "late-night", "anchor": "issue", "days": 1, "at": "22:00"}]}
        customer, contract = await customer_and_contract(
            stack, email=EMAIL, payment_terms_days=30, reminders=schedule
        )
        changed = await stack.api.patch(
            f"/customers/{customer['id']}", json={"timezone": "UTC", "quiet_hours": WINDOW}
        )
        assert changed.status_code == 200, changed.text
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "issue_date": ten.date().isoformat(),  # the server's day, skipped ahead
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        number = issued["invoice"]["number"]

        await time_skipping.sleep(timedelta(hours=37))  # 23:00 the next day: quiet
        waiting = await stack.wait_for(lambda: _waits(stack, invoice_id))
        opens = datetime.combine(ten.date() + timedelta(days=2), time(8), tzinfo=UTC)
        assert waiting["live"]["reminders_waiting"] == "quiet hours"
        assert datetime.fromisoformat(waiting["live"]["next_reminder_at"]) == opens
        assert await _reminders(stack, EMAIL, number) == []

        await time_skipping.sleep(timedelta(hours=9, minutes=30))  # 08:30: the window is open
        sent = await stack.wait_for(lambda: _sent(stack, number))
        assert len(sent) == 1


async def _waits(stack: Stack, invoice_id: str) -> dict[str, Any] | None:
    body = await stack.invoice(invoice_id)
    return body if (body["live"] or {}).get("reminders_waiting") == "quiet hours" else None


async def _sent(stack: Stack, number: str) -> list[dict[str, Any]] | None:
    return await _reminders(stack, EMAIL, number) or None
