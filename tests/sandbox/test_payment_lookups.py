"""The payment provider's look-ups and the faults that make them necessary: an operation
found by its Idempotency-Key (also once the provider forgot the key), payments listed by
reference, and webhooks dropped so that only a look-up finds the payment."""

from __future__ import annotations

import asyncio

import httpx

from sandbox.runner import SandboxHandle
from tests.sandbox.support import LINK, WebhookReceiver, auth, create_link, pay, set_faults


async def operation(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.get(
        "/payments/v1/operations", params={"idempotency_key": key}, headers=auth()
    )


async def links(http: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await http.get(
        "/payments/v1/links", params={"reference": str(LINK["reference"])}, headers=auth()
    )
    assert response.status_code == 200
    found: list[dict[str, object]] = response.json()
    return found


async def test_an_operation_is_found_by_its_key_as_it_is_now_and_an_unknown_key_is_404(
    http: httpx.AsyncClient,
) -> None:
    link = await create_link(http, key="link-k")
    assert (await pay(http, link["id"], 4_000, "pay-k")).status_code == 201

    found = await operation(http, "link-k")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["object"] == "payment_link" and body["status"] == "succeeded"
    assert body["resource"]["id"] == link["id"]
    assert body["resource"]["paid_minor"] == 4_000  # as it is now, not as first answered
    assert (await operation(http, "pay-k")).json()["object"] == "payment"

    missing = await operation(http, "never-used")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (
        await http.get("/payments/v1/operations", params={"idempotency_key": "x"})
    ).status_code == 401


async def test_a_lost_answer_is_found_by_its_key_although_the_provider_forgot_the_key(
    http: httpx.AsyncClient,
) -> None:
    """`fail_after_commit` made the link and lost the answer; `forget_idempotency_keys`
    makes the retry with the same key a new request (a second link): the look-up is the
    only thing between a retry and a duplicate."""
    await set_faults(http, api="payments", fail_after_commit=1, forget_idempotency_keys=True)
    lost = await http.post("/payments/v1/links", json=LINK, headers=auth("link-lost"))
    assert lost.status_code == 500
    found = (await operation(http, "link-lost")).json()
    assert found["object"] == "payment_link"
    assert [link["id"] for link in await links(http)] == [found["resource"]["id"]]

    retried = await http.post("/payments/v1/links", json=LINK, headers=auth("link-lost"))
    assert retried.status_code == 201 and retried.headers.get("Idempotent-Replayed") is None
    assert len(await links(http)) == 2  # what a retry without the look-up does
    # the key still names its first operation
    assert (await operation(http, "link-lost")).json()["resource"]["id"] == found["resource"]["id"]


async def test_payments_are_listed_by_reference_oldest_first(http: httpx.AsyncClient) -> None:
    link = await create_link(http)
    for n, amount in enumerate((1_000, 2_000)):
        assert (await pay(http, link["id"], amount, f"p-{n}")).status_code == 201
    response = await http.get(
        "/payments/v1/payments", params={"reference": str(LINK["reference"])}, headers=auth()
    )
    assert response.status_code == 200
    assert [p["amount_minor"] for p in response.json()] == [1_000, 2_000]
    other = await http.get("/payments/v1/payments", params={"reference": "INV-0"}, headers=auth())
    assert other.json() == []


async def test_dropped_webhooks_never_reach_the_receiver_and_are_not_retried(
    http: httpx.AsyncClient, receiver: WebhookReceiver, sandbox: SandboxHandle
) -> None:
    await set_faults(http, api="payments", drop_webhooks=True)
    link = await create_link(http)
    assert (await pay(http, link["id"], 1_000, "p-dropped")).status_code == 201
    await asyncio.sleep(0.5)  # the schedule's retries run 10,000 times faster here
    assert receiver.received == []
    calls = (await http.get("/_sandbox/calls", params={"api": "webhooks"})).json()
    assert len(calls) == 1 and calls[0]["note"].endswith("dropped")

    (await http.delete("/_sandbox/faults")).raise_for_status()  # mended: new payments arrive
    assert (await pay(http, link["id"], 1_000, "p-delivered")).status_code == 201
    assert len(await receiver.wait_for(1)) == 1
