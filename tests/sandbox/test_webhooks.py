"""Payment webhooks: signed, retried until acknowledged, never sent for a replay."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from integrations.webhook_signing import verify
from tests.sandbox.support import WEBHOOK_SECRET, WebhookReceiver, create_link, pay, set_faults


async def test_payment_sends_a_signed_webhook_that_verify_accepts(
    http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    link = await create_link(http)

    payment = (await pay(http, link["id"], 2_500, "pay-1")).json()
    [request] = await receiver.wait_for(1)

    verify(WEBHOOK_SECRET, request.body, request.headers["sandbox-signature"], int(time.time()))
    assert (request.method, request.path) == ("POST", "/webhooks/payments")
    event = json.loads(request.body)
    assert event["id"].startswith("evt_")
    assert event["type"] == "payment.succeeded"
    assert abs(event["created"] - time.time()) < 60
    assert event["data"] == {
        "payment_id": payment["id"],
        "link_id": link["id"],
        "reference": "INV-7",
        "amount_minor": 2_500,
        "currency": "GBP",
        "paid_at": payment["paid_at"],
    }


async def test_webhook_is_retried_until_acknowledged_and_every_attempt_recorded(
    http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.fail_next = 2
    link = await create_link(http)

    await pay(http, link["id"], 100, "pay-1")
    received = await receiver.wait_for(3)
    await asyncio.sleep(0.1)

    assert len({json.loads(r.body)["id"] for r in received}) == 1
    attempts = (await http.get("/_sandbox/calls", params={"api": "webhooks"})).json()
    assert [a["status"] for a in attempts] == [500, 500, 200]
    assert [a["note"] for a in attempts] == ["attempt 1/10", "attempt 2/10", "attempt 3/10"]


async def test_replayed_payment_sends_no_second_webhook(
    http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    link = await create_link(http)

    await pay(http, link["id"], 100, "pay-1")
    replay = await pay(http, link["id"], 100, "pay-1")
    await receiver.wait_for(1)
    await asyncio.sleep(0.2)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(receiver.received) == 1


async def test_payment_whose_response_was_lost_still_sends_its_webhook(
    http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    link = await create_link(http)
    await set_faults(http, api="payments", fail_after_commit=1)

    lost = await pay(http, link["id"], 100, "pay-1")
    [request] = await receiver.wait_for(1)

    assert lost.status_code == 500
    assert json.loads(request.body)["data"]["amount_minor"] == 100


async def test_redeliver_sends_the_same_event_again(
    http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    link = await create_link(http)
    await pay(http, link["id"], 100, "pay-1")
    [first] = await receiver.wait_for(1)
    event_id = json.loads(first.body)["id"]

    response = await http.post(f"/_sandbox/webhooks/{event_id}/redeliver")
    second = (await receiver.wait_for(2))[1]

    assert response.status_code == 202
    assert json.loads(second.body) == json.loads(first.body)
    verify(WEBHOOK_SECRET, second.body, second.headers["sandbox-signature"], int(time.time()))


async def test_redeliver_of_an_unknown_event_is_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/_sandbox/webhooks/evt_unknown/redeliver")

    assert response.status_code == 404
