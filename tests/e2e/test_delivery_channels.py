"""Channels in the customer's order, end to end against the sandbox's SMTP and SMS: the
order decides the first channel, a hard refusal moves on at once, an outage only past
INVOICEFLOW_CHANNEL_OUTAGE_LIMIT, and every try shows in `GET /invoices/{id}`
(`delivery_attempts`) and in the Temporal UI's current details."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack

PHONE = "+447700900456"


async def an_invoice(stack: Stack, email: str, **delivery: Any) -> str:
    customer, contract = await customer_and_contract(stack, email=email, phone=PHONE)
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


def tries(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(a["activity_attempt"], a["channel"], a["outcome"]) for a in body["delivery_attempts"]]


async def details(stack: Stack, invoice_id: str) -> str:
    handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)


async def test_a_customer_who_puts_sms_first_gets_a_text_and_no_email(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id = await an_invoice(stack, "texts@acme.test", channel_order=["sms", "email"])
        issued = await stack.wait_until_awaiting_payment(invoice_id)

        [text] = await stack.calls("sms")
        assert text["request_body"]["to"] == PHONE
        assert issued["live"]["payment_url"] in text["request_body"]["body"]
        assert await stack.mailbox("texts@acme.test") == []
        assert tries(issued) == [(1, "sms", "sent")]
        assert [d["channel"] for d in issued["deliveries"]] == ["sms"]


async def test_a_hard_bounce_moves_to_the_next_channel_and_every_try_is_shown(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id = await an_invoice(stack, "bounce@acme.test")  # default: e-mail, then SMS
        issued = await stack.wait_until_awaiting_payment(invoice_id)

        assert tries(issued) == [(1, "email", "refused"), (1, "sms", "sent")]
        refused = issued["delivery_attempts"][0]
        assert refused["recipient"] == "bounce@acme.test"
        assert refused["detail"]  # the mailbox's own words
        assert len(await stack.calls("sms")) == 1
        shown = await details(stack, invoice_id)
        assert f"Delivered by sms to {PHONE} after: email: refused" in shown


async def test_an_outage_past_the_limit_moves_to_the_next_channel(
    temporal: Client, sqlite_url: str
) -> None:
    limit = timedelta(seconds=3)  # the production default is 30 minutes; the rule is the same
    async with running_stack(temporal, sqlite_url, channel_outage_limit=limit) as stack:
        (
            await stack.sandbox.post("/_sandbox/faults", json={"api": "sms", "outage": True})
        ).raise_for_status()
        invoice_id = await an_invoice(stack, "fallback@acme.test", channel_order=["sms", "email"])
        issued = await stack.wait_until_awaiting_payment(invoice_id, timeout=60)

        [mail] = await stack.mailbox("fallback@acme.test")
        assert issued["live"]["payment_url"] in mail["text"]
        attempts = tries(issued)
        # retried on SMS while within the limit, then past it: the e-mail
        final = attempts[-1][0]
        assert attempts[-2:] == [(final, "sms", "unavailable"), (final, "email", "sent")]
        assert all(channel == "sms" for _, channel, _ in attempts[:-1])
        assert final >= 2
        last_sms = issued["delivery_attempts"][-2]["detail"]
        assert "past the 3 s limit: next channel" in last_sms
        assert "Delivered by email" in await details(stack, invoice_id)
        (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()


async def test_with_no_channel_left_the_tries_are_kept_and_the_details_say_so(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id = await an_invoice(stack, "bounce+sole@acme.test", channel_order=["email"])

        async def flagged() -> dict[str, Any] | None:
            body = await stack.invoice(invoice_id)
            live = body.get("live") or {}
            return body if live.get("payment_url") and body["delivery_attempts"] else None

        found = await stack.wait_for(flagged)
        assert tries(found) == [(1, "email", "refused")]
        assert await stack.calls("sms") == []  # SMS is not in this customer's order
        assert "Delivery failed, no channel left: email: refused" in await details(
            stack, invoice_id
        )
