"""Auth, idempotency, faults and the call log: what every provider API shares."""

from __future__ import annotations

import asyncio
import time

import httpx

from sandbox.app import create_app
from tests.sandbox.support import auth, sandbox_settings, set_faults

SMS = {"to": "+447700900123", "body": "Your invoice INV-1 is ready", "reference": "INV-1"}


async def sms_count(http: httpx.AsyncClient) -> int:
    response = await http.get("/sms/v1/messages", headers=auth())
    response.raise_for_status()
    return len(response.json())


async def test_call_without_api_key_is_401_and_recorded(http: httpx.AsyncClient) -> None:
    missing = await http.post("/sms/v1/messages", json=SMS, headers={"Idempotency-Key": "k"})
    wrong = await http.post(
        "/sms/v1/messages",
        json=SMS,
        headers={"Authorization": "Bearer nope", "Idempotency-Key": "k"},
    )
    listing = await http.get("/sms/v1/messages")

    assert (missing.status_code, wrong.status_code, listing.status_code) == (401, 401, 401)
    assert await sms_count(http) == 0
    calls = (await http.get("/_sandbox/calls", params={"api": "sms"})).json()
    assert [c["status"] for c in calls[:3]] == [401, 401, 401]
    assert not any(c["effect"] for c in calls)


async def test_mutating_call_without_idempotency_key_is_400_and_does_nothing(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/sms/v1/messages", json=SMS, headers=auth())

    assert response.status_code == 400
    assert await sms_count(http) == 0


async def test_first_call_creates_and_answers_201(http: httpx.AsyncClient) -> None:
    response = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("sms_")
    assert (body["status"], body["to"], body["reference"]) == ("queued", SMS["to"], "INV-1")
    assert "Idempotent-Replayed" not in response.headers


async def test_same_key_and_body_replays_the_first_response_without_a_second_effect(
    http: httpx.AsyncClient,
) -> None:
    first = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    # Same JSON, different key order: still the same request.
    reordered = dict(reversed(list(SMS.items())))
    second = await http.post("/sms/v1/messages", json=reordered, headers=auth("sms-1"))

    assert second.status_code == first.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await sms_count(http) == 1
    replays = (await http.get("/_sandbox/calls", params={"replayed": "true"})).json()
    assert [(c["idempotency_key"], c["effect"]) for c in replays] == [("sms-1", False)]
    firsts = (await http.get("/_sandbox/calls", params={"api": "sms", "replayed": "false"})).json()
    assert [c["effect"] for c in firsts if c["method"] == "POST"] == [True]


async def test_same_key_with_a_different_body_is_422_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    response = await http.post(
        "/sms/v1/messages", json={**SMS, "body": "something else"}, headers=auth("sms-1")
    )

    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert await sms_count(http) == 1


async def test_idempotency_keys_are_scoped_per_api(http: httpx.AsyncClient) -> None:
    sms = await http.post("/sms/v1/messages", json=SMS, headers=auth("shared-key"))
    link = await http.post(
        "/payments/v1/links",
        json={"reference": "INV-1", "amount_minor": 100, "currency": "GBP", "description": "x"},
        headers=auth("shared-key"),
    )

    assert (sms.status_code, link.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in link.headers


async def test_invalid_body_is_422_and_the_key_stays_usable(http: httpx.AsyncClient) -> None:
    bad = await http.post("/sms/v1/messages", json={**SMS, "to": "07700"}, headers=auth("k-1"))
    good = await http.post("/sms/v1/messages", json=SMS, headers=auth("k-1"))

    assert bad.status_code == 422
    assert "to" in bad.json()["detail"]
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers


async def test_outage_answers_503_and_performs_nothing(http: httpx.AsyncClient) -> None:
    await set_faults(http, api="sms", outage=True)

    post = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    listing = await http.get("/sms/v1/messages", headers=auth())

    assert (post.status_code, listing.status_code) == (503, 503)
    (await http.delete("/_sandbox/faults")).raise_for_status()
    assert await sms_count(http) == 0
    calls = (await http.get("/_sandbox/calls", params={"api": "sms"})).json()
    assert [(c["status"], c["effect"], c["note"]) for c in calls[:2]] == [
        (503, False, "outage"),
        (503, False, "outage"),
    ]
    # Nothing was stored under the key either: the retry after the outage performs the effect.
    retry = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers


async def test_faults_for_one_api_leave_the_others_alone(http: httpx.AsyncClient) -> None:
    await set_faults(http, api="accounting", outage=True)

    response = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))

    assert response.status_code == 201


async def test_wildcard_fault_applies_to_every_api(http: httpx.AsyncClient) -> None:
    await set_faults(http, api="*", outage=True)

    sms = await http.get("/sms/v1/messages", headers=auth())
    accounting = await http.get("/accounting/v1/invoices", headers=auth())

    assert (sms.status_code, accounting.status_code) == (503, 503)


async def test_error_rate_fails_that_share_reproducibly_with_a_seed(
    http: httpx.AsyncClient,
) -> None:
    async def statuses() -> list[int]:
        await set_faults(http, api="sms", error_rate=0.5, seed=7)
        return [(await http.get("/sms/v1/messages", headers=auth())).status_code for _ in range(20)]

    first, second = await statuses(), await statuses()

    assert first == second
    assert set(first) == {200, 500}


async def test_error_rate_failures_perform_nothing(http: httpx.AsyncClient) -> None:
    await set_faults(http, api="sms", error_rate=1.0)

    response = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))

    assert response.status_code == 500
    (await http.delete("/_sandbox/faults")).raise_for_status()
    assert await sms_count(http) == 0


async def test_latency_delays_the_answer(http: httpx.AsyncClient) -> None:
    await set_faults(http, api="sms", latency_ms=300)

    started = time.monotonic()
    response = await http.get("/sms/v1/messages", headers=auth())

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_fail_after_commit_performs_the_effect_answers_500_and_replays_on_retry(
    http: httpx.AsyncClient,
) -> None:
    await set_faults(http, api="sms", fail_after_commit=1)

    lost = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    retry = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    fresh = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-2"))

    assert lost.status_code == 500
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert fresh.status_code == 201, "the budget was one call"
    messages = (await http.get("/sms/v1/messages", headers=auth())).json()
    assert [m["id"] for m in messages] == [retry.json()["id"], fresh.json()["id"]]
    faults = (await http.get("/_sandbox/faults")).json()
    assert faults[0]["fail_after_commit_remaining"] == 0


async def test_reset_forgets_records_calls_keys_and_faults(http: httpx.AsyncClient) -> None:
    first = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    await set_faults(http, api="payments", outage=True)

    (await http.post("/_sandbox/reset")).raise_for_status()

    assert (await http.get("/_sandbox/calls")).json() == []
    assert (await http.get("/_sandbox/faults")).json() == []
    again = await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1"))
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]


async def test_concurrent_calls_with_one_key_perform_one_effect(http: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(http.post("/sms/v1/messages", json=SMS, headers=auth("sms-1")) for _ in range(10))
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await sms_count(http) == 1


async def test_control_api_refuses_clients_that_are_not_loopback() -> None:
    app = create_app(sandbox_settings())
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.post("/_sandbox/reset")

    assert response.status_code == 403


async def test_index_page_lists_recent_calls(http: httpx.AsyncClient) -> None:
    await http.post("/sms/v1/messages", json=SMS, headers=auth("sms-index-key"))

    page = await http.get("/")

    assert page.status_code == 200
    assert 'href="/mailbox"' in page.text
    assert "sms-index-key" in page.text
