"""Outgoing webhooks end to end (real dev server, worker, API, sandbox receiver): an
endpoint gets exactly the events it subscribed to, each signed per Standard Webhooks;
failures are retried under one event id with every attempt logged; Retry-After is
honoured; a 410 turns the endpoint off; a resend sends the same event id again."""

from __future__ import annotations

import json
from datetime import datetime

from standardwebhooks import Webhook
from temporalio.client import Client

from tests.support.dispute_flow import issued_invoice
from tests.support.stack import Stack
from tests.webhooks.support import deliveries, received, script, subscribe, webhook_stack


async def _pay_in_full(stack: Stack, invoice_id: str, body: dict) -> None:  # type: ignore[type-arg]
    link_id = body["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
    await stack.pay(link_id, body["invoice"]["total_minor"])
    await stack.wait_for_status(invoice_id, "CLOSED")


async def test_a_subscriber_gets_exactly_issued_and_paid_signed_and_a_resend_repeats_the_id(
    temporal: Client, sqlite_url: str
) -> None:
    async with webhook_stack(temporal, sqlite_url) as stack:
        endpoint = await subscribe(stack, "billing-app", ["invoice.issued", "invoice.paid"])
        everything = await subscribe(stack, "all", ["*"])
        assert endpoint["secret"].startswith("whsec_")
        shown = await stack.api.get(f"/webhook-endpoints/{endpoint['id']}")
        assert "secret" not in shown.json()

        invoice_id, body = await issued_invoice(stack, "ap@hooks.test")
        await _pay_in_full(stack, invoice_id, body)

        async def two() -> list:  # type: ignore[type-arg]
            got = await received(stack, "billing-app")
            return got if len(got) >= 2 else []

        calls = await stack.wait_for(two)
        # the receiver checks each delivery as an upstream app would
        hook = Webhook(endpoint["secret"])
        payloads = [hook.verify(call["body"], call["headers"]) for call in calls]
        assert [p["type"] for p in payloads] == ["invoice.issued", "invoice.paid"]
        assert {p["data"]["invoice_id"] for p in payloads} == {invoice_id}
        assert payloads[1]["data"]["balance_minor"] == 0
        assert all(call["headers"]["webhook-id"].startswith("evt_") for call in calls)
        # another endpoint's secret does not verify them
        other = Webhook(everything["secret"])
        try:
            other.verify(calls[0]["body"], calls[0]["headers"])
            raise AssertionError("verified with the wrong secret")
        except Exception as refused:  # noqa: BLE001
            assert "signature" in str(refused).lower()

        lifecycle = ["invoice.issued", "invoice.delivered", "invoice.paid", "invoice.closed"]

        async def all_seen() -> list:  # type: ignore[type-arg]
            got = await received(stack, "all")
            kinds = [json.loads(c["body"])["type"] for c in got]
            return kinds if set(lifecycle) <= set(kinds) else []

        # each event is its own delivery workflow, so they may arrive in any order (paid
        # after closed, say): wait for all of them, then check each came exactly once
        kinds = await stack.wait_for(all_seen)
        assert sorted(kinds) == sorted(lifecycle)

        listed = await deliveries(stack, endpoint["id"])
        assert sorted(d["event_type"] for d in listed) == ["invoice.issued", "invoice.paid"]
        assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in listed)

        paid = next(d for d in listed if d["event_type"] == "invoice.paid")
        resent = await stack.api.post(f"/webhook-deliveries/{paid['id']}/resend")
        assert resent.status_code == 202, resent.text
        assert resent.json()["series"] == 2

        async def third() -> list:  # type: ignore[type-arg]
            got = await received(stack, "billing-app")
            return got if len(got) >= 3 else []

        again = (await stack.wait_for(third))[2]
        assert again["headers"]["webhook-id"] == paid["event_id"]
        assert hook.verify(again["body"], again["headers"])["type"] == "invoice.paid"
        after = next(d for d in await deliveries(stack, endpoint["id"]) if d["id"] == paid["id"])
        assert [(a["series"], a["attempt"]) for a in after["attempts"]] == [(1, 1), (2, 1)]


async def test_failures_retry_under_one_id_retry_after_is_honoured_and_410_turns_off(
    temporal: Client, sqlite_url: str
) -> None:
    async with webhook_stack(temporal, sqlite_url) as stack:
        flaky = await subscribe(stack, "flaky", ["invoice.issued"])
        busy = await subscribe(stack, "busy", ["invoice.issued"])
        gone = await subscribe(stack, "gone", ["invoice.issued"])
        await script(stack, "flaky", 500, count=2)
        await script(stack, "busy", 429, count=1, retry_after="2")
        await script(stack, "gone", 410, count=1000)

        await issued_invoice(stack, "ap@flaky.test")

        async def flaky_done() -> list:  # type: ignore[type-arg]
            got = await received(stack, "flaky")
            return got if got and got[-1]["answered"] == 200 else []

        calls = await stack.wait_for(flaky_done)
        assert [c["answered"] for c in calls] == [500, 500, 200]
        assert len({c["headers"]["webhook-id"] for c in calls}) == 1
        hook = Webhook(flaky["secret"])
        assert all(hook.verify(c["body"], c["headers"]) for c in calls)  # each signed anew
        logged = (await deliveries(stack, flaky["id"]))[0]
        assert logged["status"] == "delivered"
        assert [(a["attempt"], a["status_code"], a["outcome"]) for a in logged["attempts"]] == [
            (1, 500, "retry"),
            (2, 500, "retry"),
            (3, 200, "delivered"),
        ]

        async def busy_done() -> list:  # type: ignore[type-arg]
            got = await received(stack, "busy")
            return got if len(got) >= 2 else []

        first, second = await stack.wait_for(busy_done)
        waited = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
        assert waited.total_seconds() >= 2.0  # not the schedule's 0.3 s
        busy_log = (await deliveries(stack, busy["id"]))[0]
        assert busy_log["attempts"][0]["retry_after_s"] == 2.0

        async def turned_off() -> dict:  # type: ignore[type-arg]
            shown = (await stack.api.get(f"/webhook-endpoints/{gone['id']}")).json()
            return shown if not shown["active"] else {}

        off = await stack.wait_for(turned_off)
        assert off["disabled_reason"] == "gone"

        async def settled() -> list:  # type: ignore[type-arg]
            listed = await deliveries(stack, gone["id"])
            return listed if listed and all(d["status"] != "pending" for d in listed) else []

        gone_log = await stack.wait_for(settled)
        assert [len(d["attempts"]) for d in gone_log] == [1]  # a 410 is not retried
        assert gone_log[0]["status"] == "disabled"

        # the next invoice: the others get it, the endpoint that is gone does not
        await issued_invoice(stack, "ap@second.test")

        async def flaky_again() -> list:  # type: ignore[type-arg]
            got = await received(stack, "flaky")
            return got if len(got) >= 4 else []

        await stack.wait_for(flaky_again)
        assert len(await received(stack, "gone")) == 1
        assert len(await deliveries(stack, gone["id"])) == 1
        refused = await stack.api.post(f"/webhook-deliveries/{gone_log[0]['id']}/resend")
        assert refused.status_code == 409
        assert refused.json()["code"] == "endpoint_disabled"
