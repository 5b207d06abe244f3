"""The reminder schedule over weeks, on Temporal's time-skipping test server: each step
once, in its tone, for what is still due after a partial payment; the charging steps'
late fee as an invoice of its own; the last step hands the invoice to collections, where
`GET /invoices?status=COLLECTIONS` finds it; paid in full, it closes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack

FEE = {"kind": "fixed", "amount_minor": 2500}


async def _reminders(stack: Stack, to: str, number: str = "") -> list[dict[str, Any]]:
    """The reminders in the customer's mailbox (of one invoice: its number), oldest first."""
    kinds = ("Reminder:", "is overdue", "Final notice", "Second notice")
    return [
        m
        for m in await stack.mailbox(to)
        if number in m["subject"] and any(kind in m["subject"] for kind in kinds)
    ]


async def _wait_reminders(stack: Stack, to: str, count: int, number: str) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        found = await _reminders(stack, to, number)
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = await stack.wait_for(enough)
    return found


async def test_each_step_goes_once_and_the_last_hands_the_invoice_to_collections(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        email = "slow@acme.test"
        schedule = {
            "steps": [
                {"key": "before-due-3", "days": -3, "tone": "gentle"},
                {"key": "overdue-1", "days": 1, "tone": "gentle"},
                {"key": "overdue-7", "days": 7, "tone": "firm", "charge": True},
                {"key": "overdue-30", "days": 30, "tone": "final", "collections": True},
            ],
            "late_charge": FEE,
        }
        customer, contract = await customer_and_contract(
            stack, email=email, payment_terms_days=14, reminders=schedule
        )
        assert contract["reminders"]["late_charge"]["amount_minor"] == 2500
        today = (await time_skipping.get_current_time()).date()
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
        number = issued["invoice"]["number"]
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        assert await _reminders(stack, email) == []

        await time_skipping.sleep(timedelta(days=12))  # past due - 3 days
        first = await _wait_reminders(stack, email, 1, number)
        assert first[0]["subject"].startswith(f"Reminder: invoice {number} is due on")

        await stack.pay(link_id, 4400)  # part of it: the next step asks for the rest
        await stack.wait_for(lambda: _paid(stack, invoice_id, 4400))
        await time_skipping.sleep(timedelta(days=4))  # due + 1
        second = await _wait_reminders(stack, email, 2, number)
        assert second[1]["subject"] == f"Invoice {number} is overdue: £100.00"

        await time_skipping.sleep(timedelta(days=7))  # due + 7: firm, with the fee
        third = await _wait_reminders(stack, email, 3, number)
        assert third[2]["subject"].startswith(f"Second notice: invoice {number}")
        charged = await stack.wait_for(lambda: _charge_invoice(stack, invoice_id))
        assert charged["total_minor"] == 2500  # outside VAT: compensation, not a supply
        fee = await stack.wait_until_awaiting_payment(charged["id"])
        assert fee["invoice"]["late_charge_for"] == invoice_id
        assert [line["description"] for line in fee["lines"]] == [
            f"Late-payment fee on invoice {number}"
        ]
        assert third[2]["subject"].endswith("£100.00 overdue")

        await time_skipping.sleep(timedelta(days=24))  # due + 31: final, collections
        fourth = await _wait_reminders(stack, email, 4, number)
        assert fourth[3]["subject"].startswith(f"Final notice: invoice {number}")
        held = await stack.wait_for_status(invoice_id, "COLLECTIONS")
        assert held["invoice"]["status"] == "COLLECTIONS"
        found = await stack.api.get("/invoices", params={"status": "COLLECTIONS"})
        assert [item["id"] for item in found.json()["items"]] == [invoice_id]
        live = held["live"]
        assert [(r["key"], r["outcome"]) for r in live["reminders"]] == [
            ("before-due-3", "sent"),
            ("overdue-1", "sent"),
            ("overdue-7", "sent"),
            ("overdue-30", "sent"),
        ]
        assert [r["amount_minor"] for r in live["reminders"]] == [14400, 10000, 10000, 10000]

        await time_skipping.sleep(timedelta(days=30))  # nothing more is sent
        assert len(await _reminders(stack, email, number)) == 4
        await stack.pay(link_id, 10000)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 14400


async def _paid(stack: Stack, invoice_id: str, paid: int) -> dict[str, Any] | None:
    body = await stack.invoice(invoice_id)
    return body if body["live"]["paid_minor"] == paid else None


async def _charge_invoice(stack: Stack, invoice_id: str) -> dict[str, Any] | None:
    listed = await stack.api.get("/invoices", params={"limit": 200})
    for item in listed.json()["items"]:
        if item["id"] != invoice_id and item.get("total_minor") == 2500:
            return dict(item)
    return None
