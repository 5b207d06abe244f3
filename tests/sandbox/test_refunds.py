"""Refunds at the payment provider: against one payment, never more than it has left,
idempotent on the key, subject to the payments API's faults."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sandbox.support import auth, create_link, pay, set_faults

REFUND = {"amount_minor": 3_000, "currency": "GBP", "reason": "product_unsatisfactory"}


async def a_payment(http: httpx.AsyncClient, amount: int = 10_000) -> dict[str, Any]:
    link = await create_link(http)
    response = await pay(http, link["id"], amount, "pay-1")
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def refund(
    http: httpx.AsyncClient, payment_id: str, key: str, **body: object
) -> httpx.Response:
    return await http.post(
        f"/payments/v1/payments/{payment_id}/refunds",
        json={**REFUND, **body},
        headers=auth(key),
    )


async def refunds(http: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/payments/v1/payments/{payment_id}/refunds", headers=auth())
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def test_a_refund_gives_back_part_of_a_payment_and_is_listed(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)

    response = await refund(http, payment["id"], "cn_1:refund", reference="cn_1")

    assert response.status_code == 201, response.text
    made = response.json()
    assert made["id"].startswith("re_")
    assert (made["payment_id"], made["amount_minor"], made["currency"]) == (
        payment["id"],
        3_000,
        "GBP",
    )
    assert (made["status"], made["reason"], made["reference"]) == (
        "succeeded",
        "product_unsatisfactory",
        "cn_1",
    )
    assert made["payment_reference"] == "INV-7"
    assert await refunds(http, payment["id"]) == [made]


async def test_the_same_key_replays_the_refund_without_a_second_one(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)

    first = await refund(http, payment["id"], "cn_1:refund")
    again = await refund(http, payment["id"], "cn_1:refund")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(await refunds(http, payment["id"])) == 1


async def test_the_same_key_for_another_amount_is_422_and_refunds_nothing_more(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)
    await refund(http, payment["id"], "cn_1:refund")

    response = await refund(http, payment["id"], "cn_1:refund", amount_minor=2_000)

    assert response.status_code == 422
    assert response.json()["title"] == "Idempotency key reused"
    assert [r["amount_minor"] for r in await refunds(http, payment["id"])] == [3_000]


async def test_refunds_add_up_to_the_payment_and_more_is_refused_with_what_is_left(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)
    await refund(http, payment["id"], "r-1", amount_minor=6_000)

    over = await refund(http, payment["id"], "r-2", amount_minor=4_001)
    rest = await refund(http, payment["id"], "r-2", amount_minor=4_000)

    assert over.status_code == 422
    assert over.headers["content-type"].startswith("application/problem+json")
    assert over.json()["detail"] == (
        f"amount_minor 4001 exceeds what is left refundable on payment {payment['id']}: 4000"
    )
    assert rest.status_code == 201, "a refused refund leaves its key usable"
    assert [r["amount_minor"] for r in await refunds(http, payment["id"])] == [6_000, 4_000]
    spent = await refund(http, payment["id"], "r-3", amount_minor=1)
    assert spent.status_code == 422


async def test_a_refund_in_another_currency_is_refused(http: httpx.AsyncClient) -> None:
    payment = await a_payment(http)

    response = await refund(http, payment["id"], "r-1", currency="EUR")

    assert response.status_code == 422
    assert "differs from the payment's GBP" in response.json()["detail"]
    assert await refunds(http, payment["id"]) == []


async def test_an_unknown_payment_is_404_for_refunding_and_listing(
    http: httpx.AsyncClient,
) -> None:
    posted = await refund(http, "pay_missing", "r-1")
    listed = await http.get("/payments/v1/payments/pay_missing/refunds", headers=auth())

    assert (posted.status_code, listed.status_code) == (404, 404)
    assert posted.json()["detail"] == "No payment pay_missing"


async def test_an_invalid_refund_body_is_422(http: httpx.AsyncClient) -> None:
    payment = await a_payment(http)

    zero = await refund(http, payment["id"], "r-1", amount_minor=0)
    no_reason = await refund(http, payment["id"], "r-2", reason="")

    assert (zero.status_code, no_reason.status_code) == (422, 422)


async def test_a_refund_needs_the_api_key_and_an_idempotency_key(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)
    url = f"/payments/v1/payments/{payment['id']}/refunds"

    no_auth = await http.post(url, json=REFUND, headers={"Idempotency-Key": "r-1"})
    no_key = await http.post(url, json=REFUND, headers=auth())

    assert (no_auth.status_code, no_key.status_code) == (401, 400)
    assert await refunds(http, payment["id"]) == []


async def test_an_outage_refunds_nothing_and_the_retry_refunds_once(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)
    await set_faults(http, api="payments", outage=True)

    down = await refund(http, payment["id"], "r-1")
    listing = await http.get(f"/payments/v1/payments/{payment['id']}/refunds", headers=auth())
    (await http.delete("/_sandbox/faults")).raise_for_status()
    retry = await refund(http, payment["id"], "r-1")

    assert (down.status_code, listing.status_code, retry.status_code) == (503, 503, 201)
    assert "Idempotent-Replayed" not in retry.headers
    assert len(await refunds(http, payment["id"])) == 1


async def test_a_lost_answer_is_replayed_on_retry_with_one_refund(
    http: httpx.AsyncClient,
) -> None:
    payment = await a_payment(http)
    await set_faults(http, api="payments", fail_after_commit=1)

    lost = await refund(http, payment["id"], "r-1")
    retry = await refund(http, payment["id"], "r-1")

    assert lost.status_code == 500
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert [r["id"] for r in await refunds(http, payment["id"])] == [retry.json()["id"]]
    calls = (await http.get("/_sandbox/calls", params={"api": "payments"})).json()
    refund_calls = [c for c in calls if c["path"].endswith("/refunds") and c["method"] == "POST"]
    assert [(c["status"], c["effect"], c["note"]) for c in refund_calls] == [
        (500, True, "fail_after_commit"),
        (201, False, None),
    ]
