"""Quiet hours in the invoice process: an invoice issued outside the customer's delivery
window waits for it with a durable timer (time-skipping server), named in the current
details, and goes out at the opening; inside the window nothing is waited for and the
history is exactly as long as with quiet hours off (dev server)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from domain.delivery_window import QuietHours
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack


async def an_invoice(stack: Stack, email: str, **delivery: Any) -> str:
    customer, contract = await customer_and_contract(stack, email=email)
    if delivery:
        changed = await stack.api.patch(f"/customers/{customer['id']}", json=delivery)
        assert changed.status_code == 200, changed.text
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": "1"}],
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["invoice_id"])


async def history(stack: Stack, invoice_id: str) -> WorkflowHistory:
    return await stack.temporal.get_workflow_handle(f"invoice-{invoice_id}").fetch_history()


def timers(found: WorkflowHistory) -> list[Any]:
    return [e for e in found.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]


def two_days_ahead(now: datetime, tz: str) -> tuple[int, datetime]:
    """A window only on the weekday two days from now (so now is outside it), and when it
    opens: 08:00 that day in `tz`."""
    day = now.astimezone(ZoneInfo(tz)).date() + timedelta(days=2)
    opens = datetime.combine(day, time(8), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return day.weekday(), opens


@pytest.mark.parametrize("source", ["customer", "settings"])
async def test_an_invoice_outside_the_window_waits_for_it_and_goes_at_its_opening(
    time_skipping: WorkflowEnvironment, sqlite_url: str, source: str
) -> None:
    tz = "Australia/Sydney"
    now = await time_skipping.get_current_time()
    weekday, opens = two_days_ahead(now, tz)
    window = QuietHours(working_days=[weekday])
    if source == "customer":  # the customer's own zone and window over the defaults
        overrides: dict[str, Any] = {}
        delivery = {"timezone": tz, "quiet_hours": window.model_dump(mode="json")}
    else:  # INVOICEFLOW_DEFAULT_TIMEZONE and INVOICEFLOW_QUIET_HOURS
        overrides = {"default_timezone": tz, "quiet_hours": window}
        delivery = {}
    async with running_stack(time_skipping.client, sqlite_url, **overrides) as stack:
        invoice_id = await an_invoice(stack, "night@harbour.test", **delivery)

        async def held() -> dict[str, Any] | None:
            body = await stack.invoice(invoice_id)
            waits = (body.get("live") or {}).get("waiting_for") or ""
            return body if waits.startswith("the customer's delivery window") else None

        waiting = await stack.wait_for(held)
        local = opens.astimezone(ZoneInfo(tz))
        assert f"opens {local:%a %Y-%m-%d %H:%M}" in waiting["live"]["waiting_for"]
        assert f"({opens:%Y-%m-%d %H:%M} UTC)" in waiting["live"]["waiting_for"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert "delivery window (08:00-20:00 Australia/Sydney)" in metadata.current_details
        assert await stack.mailbox("night@harbour.test") == []
        assert waiting["invoice"]["payment_url"] is None  # nothing went out yet

        await time_skipping.sleep(opens - now + timedelta(minutes=1))
        await stack.wait_until_awaiting_payment(invoice_id)
        assert len(await stack.mailbox("night@harbour.test")) == 1

        found = await history(stack, invoice_id)
        timer = timers(found)[0]  # the window's, before the delivery (collection's follow)
        [deliver] = [
            e
            for e in found.events
            if e.activity_task_scheduled_event_attributes.activity_type.name == "invoice.deliver"
        ]
        assert timer.event_id < deliver.event_id
        # The workflow's clock is its task's start (the timer's own event is stamped when
        # the task completed, which on a loaded machine can be seconds later).
        [clock] = [
            e
            for e in found.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
            and e.event_id < timer.event_id
        ][-1:]
        fires = clock.event_time.ToDatetime(tzinfo=UTC) + (
            timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        )
        assert abs(fires - opens) < timedelta(seconds=1)  # to the opening, DST and all


async def test_inside_the_window_the_history_is_the_same_as_with_quiet_hours_off(
    temporal: Client, sqlite_url: str
) -> None:
    always = QuietHours(start=time(0), end=time(23, 59, 59), working_days=list(range(7)))
    async with running_stack(temporal, sqlite_url) as stack:
        off = await an_invoice(stack, "off@acme.test")  # the suite's default: quiet hours off
        inside = await an_invoice(
            stack, "inside@acme.test", quiet_hours=always.model_dump(mode="json"), timezone="UTC"
        )
        for invoice_id in (off, inside):
            issued = await stack.wait_until_awaiting_payment(invoice_id)
            link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
            await stack.pay(link_id, 14400)
        for invoice_id in (off, inside):
            await stack.wait_for_status(invoice_id, "CLOSED")

        kinds = [[e.event_type for e in (await history(stack, i)).events] for i in (off, inside)]
        assert kinds[0] == kinds[1]  # not one event more: no timer, no patch marker
