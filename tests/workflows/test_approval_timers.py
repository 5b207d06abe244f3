"""Approval timers with the production defaults on the time-skipping server: a reminder
after 24 h, escalation to the group's backup after 48 h, expiry after 120 h, and an
operator deciding from the Temporal UI through the same `decide` update."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.approval import add_business_hours
from schemas.approval import DecideInput, DecideResult
from tests.e2e.test_approval_links import finance_policy
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import links, wait_for_links, wait_for_live
from tests.support.stack import Stack, running_stack


async def start_big_invoice(stack: Stack, env: WorkflowEnvironment, email: str) -> str:
    customer, contract = await customer_and_contract(stack, email=email)
    today = (await env.get_current_time()).date().isoformat()
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "issue_date": today,
            "items": [{"rate_code": "senior", "quantity": "10"}],
        },
    )
    return response.json()["invoice_id"]


async def test_silent_approvers_are_reminded_then_the_backup_is_asked_and_can_approve(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await start_big_invoice(stack, time_skipping, "slow@acme.test")
        await wait_for_links(stack, "alice")

        async def waiting_on_both() -> dict[str, Any] | None:
            # the status moves before the links go out; the details follow the send
            live = (await stack.invoice(invoice_id)).get("live") or {}
            waits = live.get("waiting_for") or ""
            return live if live.get("status") == "AWAITING_APPROVAL" and "remind" in waits else None

        details = await stack.wait_for(waiting_on_both)
        assert "Alice, Bob" in details["waiting_for"] and "remind at" in details["waiting_for"]

        await time_skipping.sleep(timedelta(hours=23))
        assert len(await links(stack, "alice")) == 1
        await time_skipping.sleep(timedelta(hours=2))  # 25 h: the reminder is out
        assert len(await wait_for_links(stack, "alice", count=2)) == 2
        assert len(await wait_for_links(stack, "bob", count=2)) == 2
        reminder = (await stack.mailbox("alice@corp.test"))[-1]
        assert reminder["subject"].startswith("Reminder:")
        assert await links(stack, "carol") == []

        await time_skipping.sleep(timedelta(hours=24))  # 49 h: escalated to the backup
        carol_link = (await wait_for_links(stack, "carol"))[0]
        assert (await stack.mailbox("carol@corp.test"))[0]["subject"].startswith("Escalated")
        async with httpx.AsyncClient() as browser:
            approved = await browser.post(carol_link, data={"decision": "approve"})
        assert approved.status_code == 200, approved.text
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["approval"]["decisions"][0]["approver_id"] == "carol"


async def test_unanswered_approval_expires_and_an_operator_decides_from_the_temporal_ui(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await start_big_invoice(stack, time_skipping, "expired@acme.test")
        await wait_for_links(stack, "alice")
        await time_skipping.sleep(timedelta(hours=121))
        expired = await wait_for_live(stack, invoice_id, status="APPROVAL_EXPIRED")
        assert "operations" in expired["live"]["waiting_for"]
        alice_link = (await links(stack, "alice"))[0]
        async with httpx.AsyncClient() as browser:
            too_late = await browser.post(alice_link, data={"decision": "approve"})
        assert too_late.status_code == 409

        handle = time_skipping.client.get_workflow_handle(f"invoice-{invoice_id}")
        result = await handle.execute_update(
            "decide",
            DecideInput(operator="ops-olga", decision="approve", reason="customer confirmed"),
            result_type=DecideResult,
        )
        assert result.outcome == "chain_complete"
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["status"] == "ISSUED"
        trail = issued["audit"]
        operator = [e for e in trail if e["actor"] == "operator:ops-olga"]
        assert operator and operator[0]["data"]["reason"] == "customer confirmed"


async def test_business_hour_timers_remind_on_the_next_working_day_in_the_approvers_zone(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        stack.settings.approval_business_hours = True  # the worker reads it per round
        stack.settings.approval_remind_after_h = 8  # one working day
        await finance_policy(stack)
        invoice_id = await start_big_invoice(stack, time_skipping, "office@acme.test")

        async def reminder_planned() -> str | None:
            waiting = (await stack.invoice(invoice_id))["live"]["waiting_for"] or ""
            return waiting.split("remind at ")[1] if "remind at " in waiting else None

        remind_at = await stack.wait_for(reminder_planned)
        now = await time_skipping.get_current_time()
        # eight business hours never end in a weekend or outside 09:00-17:00 UTC
        due = datetime.strptime(remind_at, "%Y-%m-%d %H:%M UTC")
        assert due.weekday() < 5 and 9 <= due.hour <= 17
        assert due - now.replace(tzinfo=None) >= timedelta(hours=8)
        expected = add_business_hours(now, 8, "UTC")  # level activated within the same minute
        assert abs(due - expected.replace(tzinfo=None, second=0, microsecond=0)) <= timedelta(
            minutes=1
        )
